"""Stage 5a: turn what the user typed into a search query.

Two things happen here. Synonyms from `data/synonyms.txt` add the corpus's own words ("oxycodone" also
searches "opioid"). And a follow-up that does not name its subject borrows it from the conversation:
after "What is LDN?", "What dose is it usually taken at?" is searched as if it mentioned LDN.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from .lexical import tokenize

CONTINUATION = re.compile(r"^\s*(and|also|but|so|what about|how about|then|plus)\b", re.I)
PRONOUN = re.compile(r"\b(it|its|it's|they|them|this|that|these|those|the drug|the medication|"
                     r"the medicine|the treatment|the same)\b", re.I)


@dataclass(frozen=True)
class Synonyms:
    """Stemmed phrase -> list of expansion phrases (as written)."""

    table: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]

    def expand(self, text: str) -> list[str]:
        """Phrases to add for `text`; each appears once, and never one already in the text.

        >>> Synonyms.parse("lyrica => pregabalin\\nopioid <=> opiate").expand("Lyrica or opioids?")
        ['pregabalin', 'opiate']
        """
        tokens = tokenize(text, keep_stopwords=True)
        have = set(tokens)
        out: list[str] = []
        for alias, targets in self._entries(have):
            if _contains(tokens, alias):
                for target in targets:
                    if target not in out and not self._stems(target) <= have:
                        out.append(target)
        return out

    @cached_property
    def _by_first(self) -> dict[str, list[int]]:
        """Table rows by their alias's first stem: a question's words pick their rows directly."""
        rows: dict[str, list[int]] = {}
        for n, (alias, _) in enumerate(self.table):
            rows.setdefault(alias[0], []).append(n)
        return rows

    def _entries(self, stems: set[str]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
        """The rows whose alias starts with one of `stems`, in table order (the order of expansions)."""
        rows = sorted(n for stem in stems for n in self._by_first.get(stem, ()))
        return [self.table[n] for n in rows]

    @staticmethod
    @lru_cache(maxsize=4096)
    def _stems(phrase: str) -> frozenset[str]:
        return frozenset(tokenize(phrase))

    def phrase_stems(self, text: str) -> dict[str, set[str]]:
        """For each stem of the question inside a matched multi-word alias, the stems of its expansions.

        "Is LDN habit forming?" matches the alias "habit-forming": "habit" and "form" are then
        accounted for by "addiction" and "dependence".
        """
        tokens = tokenize(text, keep_stopwords=True)
        out: dict[str, set[str]] = {}
        have = set(tokens)
        for alias, targets in self._entries(have):
            if len(alias) > 1 and _contains(tokens, alias):
                # The targets' own words, not the alias's other words: in "side effect", "side" must
                # not stand for any "effect" ("the effect of the disease").
                group = {t for target in targets for t in tokenize(target)} - set(alias)
                for stem in alias:
                    out.setdefault(stem, set()).update(group)
        return out

    @classmethod
    def parse(cls, text: str) -> "Synonyms":
        table: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            if "<=>" in line:
                words = [w.strip() for w in line.split("<=>") if w.strip()]
                for word in words:
                    table.append((tuple(tokenize(word, True)), tuple(w for w in words if w != word)))
            elif "=>" in line:
                left, right = line.split("=>", 1)
                targets = tuple(w.strip() for w in right.split(",") if w.strip())
                for alias in left.split(","):
                    if alias.strip():
                        table.append((tuple(tokenize(alias.strip(), True)), targets))
        return cls(tuple((a, t) for a, t in table if a))

    @classmethod
    def load(cls, path: str | Path) -> "Synonyms":
        return cls.parse(Path(path).read_text(encoding="utf-8")) if Path(path).is_file() else cls(())


def _contains(tokens: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tuple(tokens[i:i + n]) == phrase for i in range(len(tokens) - n + 1))


@lru_cache(maxsize=8)
def synonyms_from(path: str) -> Synonyms:
    return Synonyms.load(path)


@dataclass(frozen=True)
class Query:
    question: str  # as the user typed it (cleaned)
    text: str  # what is embedded: the question plus borrowed context and synonyms
    terms: tuple[str, ...]  # stemmed lexical terms
    weights: tuple[float, ...]  # 1.0 for the user's words, less for synonyms and borrowed context
    context: str = ""  # subject borrowed from the conversation, if any


def needs_context(question: str, anchors: frozenset[str]) -> bool:
    """A follow-up needs the conversation when it names none of the corpus's subjects, or when it
    plainly continues the last question ("And for fibromyalgia?")."""
    if CONTINUATION.match(question):
        return True
    tokens = set(tokenize(question))
    return not (tokens & anchors) and (bool(PRONOUN.search(question)) or len(tokens) <= 4)


# One study, pointed at: "the 2024 meta-analysis", "that Stanford pilot", not "review articles". After
# one ("What was the Wolfe 2013 study?"), a short question with "it" is about that study even when it
# names LDN ("Was it even about LDN?"); naming.py finds which study.
ONE_STUDY = re.compile(r"\b(the|that|this)\s+(?:[\w'’-]+\s+){0,5}?(trial|study|review|meta-?analysis|"
                       r"analysis|paper|pilot|experiment)\b(?!s)", re.I)


def about_the_study(question: str, history: list[str]) -> bool:
    """Whether a short question with a pronoun follows one about a study.

    >>> about_the_study("Was it even about LDN?", ["What was the Wolfe 2013 study?"])
    True
    >>> about_the_study("Is LDN safe in pregnancy?", ["What was the Wolfe 2013 study?"])
    False
    """
    return bool(history) and bool(ONE_STUDY.search(history[-1])) and bool(PRONOUN.search(question)) \
        and len(tokenize(question)) <= 4


def conversation_context(history: list[str], anchors: frozenset[str]) -> str:
    """The earlier questions a follow-up continues: the latest, and back to the latest that names a
    subject (at most three). ["What are the side effects of LDN?", "Are they serious?"] -> both."""
    taken: list[str] = []
    for earlier in reversed(history[-3:]):
        taken.insert(0, earlier)
        if set(tokenize(earlier)) & anchors and not CONTINUATION.match(earlier):
            break
    return " ".join(taken)


DEFAULT_SUBJECT = "low-dose naltrexone (LDN) for fibromyalgia"


def build_query(question: str, history: list[str], synonyms: Synonyms, anchors: frozenset[str]) -> Query:
    """The search query for a question. One that names no subject borrows the latest earlier question
    that does, or else the corpus's own subject: "What dose is used?" means the dose of LDN.
    """
    context = ""
    if needs_context(question, anchors) or about_the_study(question, history):
        context = conversation_context(history, anchors) if history else DEFAULT_SUBJECT
    extra = synonyms.expand(question)
    borrowed = tokenize(context) if context else []
    terms, weights = [], []
    for tok in tokenize(question):
        terms.append(tok)
        weights.append(1.0)
    for phrase in extra:
        for tok in tokenize(phrase):
            terms.append(tok)
            weights.append(0.7)
    for tok in dict.fromkeys(borrowed):  # context steers, but the user's own words decide
        if tok not in terms:
            terms.append(tok)
            weights.append(0.25)
    text = question
    if extra:
        text += " (" + ", ".join(extra) + ")"
    if context:
        text = f"{context} {text}"
    return Query(question=question, text=text, terms=tuple(terms), weights=tuple(weights), context=context)
