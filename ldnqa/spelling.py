"""Stage 5a, before the query: read a misspelt word as the corpus word the user meant.

Patients type fast: "wat side efects", "inflamation", "withdrawl", and British spellings ("diarrhoea",
"randomised") of the corpus's American ones. A word the corpus lacks is otherwise judged a subject the
sources never mention, and the assistant abstains on a typo.

A word is corrected only when all of these hold, because a wrong correction answers a different
question ("covid" is not "Ovid", "reflux" is not "reflex"):
- it is not a corpus word, and not an everyday English word (data/english_words.txt) or a regular
  inflection of one ("hives" is "hive" + s, so it is left alone);
- one edit (a letter dropped, added, changed, or two swapped) turns it into a corpus word, with the same
  first letter (typing errors rarely hit the first letter) and another stem (not "painkiller" for
  "painkillers");
- it has 7 letters or more, or the edit doubles or undoubles a letter ("efects", "aproved").

    >>> speller = Speller.from_words({"effects": 1.0, "inflammation": 1.0, "reflex": 1.0},
    ...                              frozenset({"reflux"}))
    >>> speller.correct("Wat side efects and inflamation? Reflux?")
    ('Wat side effects and inflammation? Reflux?', (('efects', 'effects'), ('inflamation', 'inflammation')))
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

from .lexical import STOPWORDS, tokenize

WORD = re.compile(r"[A-Za-z]+")
MIN_LETTERS = 5  # shorter words are too often another real word one edit away
ANY_EDIT_LETTERS = 7  # from this length any single edit may be a typo; below it, only a doubled letter
LETTERS = "abcdefghijklmnopqrstuvwxyz"
CACHE = 8192  # typed words remembered (a typed word is a few dozen bytes)
SUFFIXES = ("s", "es", "ed", "d", "ing", "ly", "er", "ers", "ness", "ment", "ful", "less", "ies", "ied")


def edits(word: str) -> set[str]:
    """Every string one edit from `word`: a letter dropped, swapped with the next, changed or added."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return ({left + right[1:] for left, right in splits if right}
            | {left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1}
            | {left + c + right[1:] for left, right in splits if right for c in LETTERS}
            | {left + c + right for left, right in splits for c in LETTERS})


def doubling(a: str, b: str) -> bool:
    """Whether one word is the other with a letter doubled: "efects" / "effects".

    >>> doubling("efects", "effects"), doubling("affects", "effects"), doubling("ultram", "ultra")
    (True, False, False)
    """
    short, long = sorted((a, b), key=len)
    return len(long) == len(short) + 1 and any(
        long[i] == long[i - 1] and long[:i] + long[i + 1:] == short for i in range(1, len(long)))


def inflection_of(word: str, english: frozenset[str]) -> bool:
    """Whether `word` is an English word or a regular inflection of one ("hives", "dosed", "rashes")."""
    if word in english:
        return True
    for suffix in SUFFIXES:
        root = word[:-len(suffix)]
        if word.endswith(suffix) and len(root) >= 3:
            if {root, root + "e"} & english or (suffix in ("ies", "ied") and root + "y" in english):
                return True
            if len(root) > 3 and root[-1] == root[-2] and root[:-1] in english:  # "stopped"
                return True
    return False


def stem(word: str) -> str:
    stems = tokenize(word, keep_stopwords=True)
    return stems[0] if stems else word


@dataclass(frozen=True)
class Speller:
    corpus: Mapping[str, float]  # corpus word (lower case) -> preference among candidates (frequency)
    english: frozenset[str]
    # typed word -> correction or None: the same few words come back question after question
    _seen: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_words(cls, corpus: Mapping[str, float], english: Iterable[str]) -> "Speller":
        return cls(dict(corpus), frozenset(english))

    def word(self, typed: str) -> str | None:
        """The corpus word meant by `typed` (lower case), or None to leave it as it is."""
        if typed not in self._seen:
            if len(self._seen) >= CACHE:
                self._seen.clear()
            self._seen[typed] = self._correction(typed)
        return self._seen[typed]

    def _correction(self, typed: str) -> str | None:
        if len(typed) < MIN_LETTERS or typed in self.corpus or typed in STOPWORDS:
            return None
        if inflection_of(typed, self.english):
            return None
        found = [c for c in edits(typed) if c in self.corpus and c[0] == typed[0] and c not in STOPWORDS
                 and (len(typed) >= ANY_EDIT_LETTERS or doubling(typed, c)) and stem(c) != stem(typed)]
        return max(found, key=lambda c: (self.corpus[c], c)) if found else None

    def correct(self, text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        """`text` with misspelt words replaced (keeping a capital first letter), and the replacements."""
        done: list[tuple[str, str]] = []

        def fix(match: re.Match[str]) -> str:
            typed = match.group(0)
            meant = self.word(typed.lower())
            if meant is None:
                return typed
            if (typed.lower(), meant) not in done:
                done.append((typed.lower(), meant))
            return meant.capitalize() if typed[0].isupper() else meant

        return WORD.sub(fix, text), tuple(done)


@lru_cache(maxsize=8)
def load_english(path: str | Path) -> frozenset[str]:
    """One lower-case word per line; lines starting with # are comments. Read once per path: the speller
    and the check of authors' names (naming.by_author) share it."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))
