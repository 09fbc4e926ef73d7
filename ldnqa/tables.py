"""Arrays over all sentences that answer composition scores with, built once per index.

Composition scores some 70 candidate sentences per question. Looking their words and patterns up one
sentence at a time cost more Python than everything else it does; these tables turn each lookup into
one array operation per subject word or pattern.

    >>> t = SentenceTables.build(["Take 4.5 mg.", "Dreams."], [0, 1], [0, 0],
    ...                          [frozenset({"take", "mg"}), frozenset({"dream"})], [frozenset({"dose"})] * 2)
    >>> t.with_words({"mg"}, t.focus).tolist(), t.with_words({"dose"}, t.context).tolist()
    ([True, False], [True, True])
    >>> import re; t.matching(re.compile(r"\\d")).tolist()
    [True, False]
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

Postings = dict[str, np.ndarray]


def postings(sets: Sequence[frozenset[str]]) -> Postings:
    """stem -> the positions of the sets that hold it."""
    out: dict[str, list[int]] = {}
    for i, stems in enumerate(sets):
        for stem in stems:
            out.setdefault(stem, []).append(i)
    return {stem: np.asarray(rows, dtype=np.int64) for stem, rows in out.items()}


@dataclass
class SentenceTables:
    texts: list[str]
    chunk: np.ndarray  # each sentence's passage
    doc: np.ndarray  # each sentence's document row
    focus: Postings  # stem -> sentences whose text or heading holds it
    context: Postings  # stem -> passages whose text, heading or document card holds it
    chunks: int  # how many passages
    _masks: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def build(cls, texts: list[str], chunk: Sequence[int], doc: Sequence[int],
              focus_stems: Sequence[frozenset[str]], context_stems: Sequence[frozenset[str]]) -> "SentenceTables":
        return cls(texts, np.asarray(chunk, dtype=np.int64), np.asarray(doc, dtype=np.int64),
                   postings(focus_stems), postings(context_stems), len(context_stems))

    def with_words(self, stems: frozenset[str] | set[str], table: Postings) -> np.ndarray:
        """Per sentence (focus table) or per passage (context table): does it hold any of `stems`?"""
        size = len(self.texts) if table is self.focus else self.chunks
        mask = np.zeros(size, dtype=bool)
        for stem in stems:
            rows = table.get(stem)
            if rows is not None:
                mask[rows] = True
        return mask

    def matching(self, pattern: re.Pattern[str]) -> np.ndarray:
        """Per sentence: does `pattern` match its text? Computed once per pattern (a dict write is
        atomic, so threads at worst compute one twice)."""
        key = f"{pattern.flags}:{pattern.pattern}"
        mask = self._masks.get(key)
        if mask is None:
            mask = np.fromiter((bool(pattern.search(t)) for t in self.texts), dtype=bool, count=len(self.texts))
            self._masks[key] = mask
        return mask
