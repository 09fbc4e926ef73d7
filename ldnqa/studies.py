"""Stage 6b: for questions about whether LDN works, how well, or how safe it is, bring the strongest
relevant studies forward, so that an answer is never only what clinics and pharmacies say.

From the study documents about the question's condition (fibromyalgia unless the question names another),
each study's best *finding* sentence is taken (one that reports a result, positive or negative). Studies
are ranked by strength of evidence, then by size; a positive and a negative finding are both included
when both exist, since the large trials and the small pilots disagree.

    >>> pick_findings([("meta", 0, 222, +1), ("rct-a", 1, 99, -1), ("rct-b", 1, 31, +1), ("pilot", 2, 10, +1)], 3)
    ['meta', 'rct-a', 'rct-b']
    >>> pick_findings([("rct-b", 1, 31, +1), ("pilot", 2, 10, +1), ("rct-a", 1, 99, -1)], 2)
    ['rct-a', 'rct-b']
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from .coverage import Subjects, coverage
from .evidence import EFFICACY_QUESTION, direction, evidence_rank
from .indexing import Index
from .lexical import tokenize

STRONG = 2  # meta-analyses, randomized trials and other trials
FINDING = re.compile(r"\b(conclu\w*|results?|found|showed|pain|difference|placebo|improv\w*|reduc\w*|"
                     r"fell|lower|effect size|significant|remission|tolerat\w*|side effects?|adverse)\b", re.I)
MAX_FINDINGS = 3
ABOUT = 0.5  # share of the question's subject words a study must contain to be brought forward
# Words in condition names that name no condition by themselves ("fibro *pain*" is not CRPS).
NOT_A_CONDITION = frozenset(tokenize("pain chronic syndrome disease disorder symptoms condition conditions "
                                     "active adults children other uses and"))
RELEVANCE_MARGIN = 0.12  # a study's finding must be nearly as relevant as the most relevant one


def wants_studies(question: str, named: set[str]) -> bool:
    """Efficacy or safety questions that do not already ask about one particular study."""
    return bool(EFFICACY_QUESTION.search(question)) and not named


def study_documents(index: Index, subjects: Subjects) -> list[str]:
    """Strong studies about the question's condition: one it names, else fibromyalgia."""
    other_conditions = [index.condition_stems[d] - NOT_A_CONDITION for d in index.study_stems
                        if "fibromyalgia" not in str(index.documents[d].meta.get("condition") or "").lower()]
    named_condition = [s for s in subjects if any(s.forms & stems for stems in other_conditions)]
    out = []
    for doc in index.documents.values():
        if doc.kind != "study-summary" or evidence_rank(doc.meta, doc.kind) > STRONG:
            continue
        if coverage(subjects, index.study_stems[doc.id]) < ABOUT:
            continue  # the study does not speak of what was asked ("brain fog")
        condition = str(doc.meta.get("condition") or "").lower()
        stems = index.condition_stems[doc.id]
        if named_condition:
            if any(s.forms & stems for s in named_condition):
                out.append(doc.id)
        elif "fibromyalgia" in condition:
            out.append(doc.id)
    return out


SAFETY = re.compile(r"\b(side effects?|adverse|safe|safety|tolerat\w*|harm\w*|risks?)\b", re.I)
SAFETY_FINDING = re.compile(r"\b(side effects?|adverse|tolerat\w*|dreams?|nausea|headaches?|insomnia|"
                            r"dizziness|diarrh\w*|safety)\b", re.I)


def best_findings(index: Index, qvec: np.ndarray, doc_ids: Sequence[str],
                  safety: bool = False) -> list[tuple[str, int, int, int, int]]:
    """(doc id, evidence rank, participants, direction, sentence id) of each study's best finding,
    for the studies whose finding is about what was asked (within RELEVANCE_MARGIN of the most relevant).
    """
    qvec = qvec.reshape(-1)
    out = []
    for doc_id in doc_ids:
        scored = []
        for i in index.doc_sentences[doc_id]:
            text = index.sentences[i].text
            d = direction(text)
            if safety:  # what the studies found about side effects, whichever way it points
                if not SAFETY_FINDING.search(text):
                    continue
            elif d == 0 or not FINDING.search(text):
                continue
            sim = float(index.sentence_vectors[i] @ qvec)
            conclusion = 0.15 if re.search(r"\bconclu", text, re.I) else 0.0  # a study's own summary
            scored.append((sim + conclusion, sim, i, d))
        if scored:
            _, sim, best, d = max(scored)
            doc = index.documents[doc_id]
            participants = int(doc.meta.get("participants") or 0) if str(doc.meta.get("participants") or "0").isdigit() else 0
            out.append((sim, (doc_id, evidence_rank(doc.meta, doc.kind), participants, d, best)))
    top = max((sim for sim, _ in out), default=0.0)
    return [f for sim, f in out if sim >= top - RELEVANCE_MARGIN]


def pick_findings(studies: Sequence[tuple], limit: int) -> list[str]:
    """Strongest first (evidence rank, then size); make room for both directions when both exist."""
    ordered = sorted(studies, key=lambda s: (s[1], -s[2]))
    chosen = ordered[:1]
    for direction_wanted in (-1, 1):
        if not any(s[3] == direction_wanted for s in chosen):
            chosen += [s for s in ordered if s[3] == direction_wanted][:1]
    for s in ordered:
        if len(chosen) >= limit:
            break
        if s not in chosen:
            chosen.append(s)
    chosen = sorted(chosen[:limit], key=lambda s: (s[1], -s[2]))
    return [s[0] for s in chosen]


def findings(index: Index, qvec: np.ndarray, subjects: Subjects, question: str = "",
             limit: int = MAX_FINDINGS) -> list[int]:
    """Sentence ids of the findings to show, strongest study first."""
    found = best_findings(index, qvec, study_documents(index, subjects), bool(SAFETY.search(question)))
    keep = pick_findings(found, limit)
    by_doc = {f[0]: f[4] for f in found}
    return [by_doc[d] for d in keep]
