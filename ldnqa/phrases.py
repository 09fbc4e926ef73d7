"""Stage 5b: pairs of words that name one thing. "half-life" is not "half" and "life"; "drug testing" is
not "drug" and "testing" (a blood test). The sources speak of such a thing only where they write the two
words side by side, in any inflection.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

from .config import DATA_DIR
from .indexing import Index, lexical_text
from .lexical import tokenize

NUMBER_WORDS = frozenset("""one two three four five six seven eight nine ten eleven twelve thirteen fourteen
fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred""".split())
COMPOUND = re.compile(r"\b([^\W\d_]{2,})-([^\W\d_]{2,})\b")
MAX_PHRASE_PASSAGES = 500  # passages searched for a compound's wording; beyond, it is taken as present


def unknown_compounds(question: str, index: Index) -> set[str]:
    """The parts of hyphenated words the corpus never writes, though it has each part: "half-life" is
    not "half" and "life". Written with a hyphen or a space, anywhere, counts as present.
    """
    out: set[str] = set()
    for first, second in COMPOUND.findall(question.lower()):
        if first in NUMBER_WORDS:
            continue  # "the eight-woman study", "a twelve-week trial": a count, said as one word
        stems = [tokenize(first), tokenize(second)]
        if not all(stems) or any(st[0] not in index.lexical.vocab for st in stems):
            continue  # a stop word or an unknown part: the words are judged one by one
        if not anywhere_together(index, stems):
            out |= {first, second}
    return out


def anywhere_together(index: Index, stems: Sequence[Sequence[str]]) -> bool:
    """Whether some passage writes the two words side by side (see `written_together`); beyond
    MAX_PHRASE_PASSAGES passages holding both, taken as yes."""
    lexical = index.lexical
    if any(st[0] not in lexical.vocab for st in stems):
        return False
    rows = [set(lexical.docs[lexical.ptr[t]:lexical.ptr[t + 1]].tolist())
            for t in (lexical.vocab[st[0]] for st in stems)]
    both = sorted(rows[0] & rows[1])
    return len(both) > MAX_PHRASE_PASSAGES or any(
        written_together(lexical_text(index.chunks[i], index.documents[index.chunks[i].doc_id]), stems) for i in both)


@lru_cache(maxsize=1)
def subject_phrases() -> tuple[tuple[str, str], ...]:
    """Two-word subjects (data/subject_phrases.txt), as stems: ("drug", "test") for "drug testing"."""
    out = []
    for line in (DATA_DIR / "subject_phrases.txt").read_text(encoding="utf-8").splitlines():
        stems = tokenize(line.split("#", 1)[0], keep_stopwords=True)
        if len(stems) == 2:
            out.append((stems[0], stems[1]))
    return tuple(out)


def unwritten_phrases(question: str, index: Index) -> list[str]:
    """The two-word subjects of data/subject_phrases.txt the question names and no source writes, as the
    question writes them: "drug testing" is not "drug" and "testing" (a blood test), each of which the
    sources know."""
    wanted = set(subject_phrases())
    out = []
    for first, second in re.findall(r"(?=\b([^\W\d_]+)[-\s]+([^\W\d_]+)\b)", question.lower()):
        stems = (tuple(tokenize(first, keep_stopwords=True)) + tuple(tokenize(second, keep_stopwords=True)))
        if stems in wanted and not anywhere_together(index, [[stems[0]], [stems[1]]]):
            out.append(f"{first} {second}")
    return list(dict.fromkeys(out))


def written_together(text: str, stems: Sequence[Sequence[str]]) -> bool:
    """Whether `text` has the two words side by side in any inflection: "anti-inflammatory" for the
    stems of "anti-inflammatories". (A stem, less its last letter, begins each of its words:
    "inflammatori" -> "inflammatory".)

    >>> written_together("an anti-inflammatory drug", [["anti"], ["inflammatori"]])
    True
    >>> written_together("anti-TNF and inflammatory markers", [["anti"], ["inflammatori"]])
    False
    """
    starts = [re.escape(st[0][:max(2, len(st[0]) - 1)]) for st in stems]
    pairs = re.findall(rf"\b({starts[0]}[^\W\d_]*)[-\s]+({starts[1]}[^\W\d_]*)\b", text.lower())
    return any(tokenize(a, keep_stopwords=True) == list(stems[0]) and
               tokenize(b, keep_stopwords=True) == list(stems[1]) for a, b in pairs)
