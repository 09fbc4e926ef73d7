"""Stage 6: compose a cited, extractive answer from the retrieved passages, or abstain.

Every sentence of an answer is a verbatim span of a document, followed by the marker of the citation
whose passage contains it. Nothing else is written into `answer`; all wording of our own goes into
`notice`, which says why we abstained and that this is not medical advice.

Two checks decide whether to answer at all:
1. Coverage: each subject word of the question (not a generic word like "usually") must occur in the
   corpus, directly, through a synonym, or as a close word form. "Is LDN safe in epilepsy?" fails:
   no source mentions epilepsy, so any answer would be about something nearby.
2. Support: some candidate sentence must be close in meaning to the question and contain most of its
   subject words. This catches subjects the corpus mentions only in passing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .answer_types import answer_pattern
from .config import Settings
from .citing import Composition, abstain, cite, quote_list
from .coverage import ANCHOR_STEMS, Embed, Subjects, SubjectCheck, important
from .indexing import Index
from .lexical import STOPWORDS, TOKEN
from .naming import STUDY_REFERENCE, named_documents
from .query import Query
from .spelling import load_english
from .question_words import asked, introduction, question_form_words, question_parts, reported_by
from .studies import findings, wants_studies
from .types import Hit

DISCLAIMER = ("This is information from the listed sources, not medical advice; "
              "talk to your doctor or pharmacist about your own treatment.")
MIN_SUPPORT = 0.40  # best relevance below this: the sources do not answer the question
# A sentence of the asked kind holding every subject word may be a little less close in meaning: "each
# night at bedtime" answers "what time of day?" inside a sentence about the immune system.
TYPED_SLACK = 0.05
FOCUSED = 0.6  # ... as may one holding most of them, when others already answer
GENERIC_WEIGHT = 0.2  # penalty for sentences close to the corpus average: true of everything, answer nothing
NEGATION = re.compile(r"\b(not|no|never|cannot|n't|nor|without)\b|n't\b", re.I)
FOCUS_WEIGHT = 0.35  # how much containing the question's subject words counts against meaning alone
MARGIN = 0.2  # sentences scoring within this of the best may join the answer
# "LDN may help through several pathways:" announces a list and says nothing alone; quoted by itself it
# takes the place of a sentence that answers.
LEAD_IN = re.compile(r":\s*$")
LEAD_IN_PENALTY = 0.3
MIN_GENERAL = 3  # sentences kept for the direct answer when studies are brought forward
NEAR_DUPLICATE = 0.86  # sentence-vector cosine above which two sentences say the same thing
# Unaddressed words checked by ablation (one text each to embed), the rarest first: bounds the cost of a
# long message (an 8-word story costs 4x a short question) and never bound in the question sets.
MAX_ABLATIONS = 3
# A word in more than about a quarter of all passages ("patients", "study", "dose") is not missing from
# the sources when the answer's passages lack it: it is everywhere. Only rarer words are checked.
COMMON_WEIGHT = 1.5  # IDF (coverage.idf); "patients" is 1.37 in this corpus, "women" 2.14


@dataclass(frozen=True)
class Candidate:
    sentence: int  # index into Index.sentences
    hit: int  # rank of its passage among the hits
    relevance: float  # closeness in meaning: the sentence's, blended with its passage's
    focus: float  # share of the question's subject words in the sentence or its heading (IDF-weighted)
    score: float


def story_words(question: str) -> set[str]:
    """Words only in the sentences around the question, when a message has both: the user's story; and
    the words of an introduction ("Neurology registrar: ...").

    >>> sorted(story_words("Duloxetine worked at first but not anymore. Where can I get LDN?"))
    ['anymore', 'duloxetine', 'first', 'worked']
    >>> sorted(story_words("Neurology registrar: which years were the patients diagnosed in?"))
    ['neurology', 'registrar']
    """
    intro = introduction(question)
    asking = asked(question[len(intro):]) if intro else asked(question)
    if not asking or len(asking.strip()) >= len(question.strip()):
        return set()
    told = set(TOKEN.findall(question.lower())) - set(TOKEN.findall(asking.lower()))
    return {w for w in told if w not in STOPWORDS}


def candidates(index: Index, hits: Sequence[Hit], qvec: np.ndarray, subjects: Subjects,
               wanted: re.Pattern[str] | None, named: set[str], negated: bool = False,
               extra: int = 20) -> list[Candidate]:
    """Score the sentences of the retrieved passages, plus the `extra` sentences closest in meaning
    anywhere in the corpus (an answer may sit in a passage that ranked just below the cut), best first.
    """
    qvec = qvec.reshape(-1)
    rank = {h.chunk: r for r, h in enumerate(hits)}
    ids = sorted({i for c in rank for i in index.chunk_sentences[c]}
                 | {i for d in named for i in index.doc_sentences.get(d, ())})
    if len(index.sentences) > extra:
        sims = index.sentence_vectors @ qvec
        nearest = np.argpartition(-sims, extra)[:extra]  # the `extra` closest, in no order (ranked below)
        ids = list(dict.fromkeys(ids + [int(i) for i in nearest]))
    elif len(index.sentences):
        ids = list(dict.fromkeys(ids + list(range(len(index.sentences)))))
    return score_sentences(index, ids, qvec, subjects, wanted, named, negated, rank)


def score_sentences(index: Index, ids: list[int], qvec: np.ndarray, subjects: Subjects,
                    wanted: re.Pattern[str] | None, named: set[str], negated: bool,
                    rank: dict[int, int]) -> list[Candidate]:
    """Score the given sentences, best first (see the module docstring for the parts of the score).

    Array operations over the candidates (`index.tables`), one per subject word or pattern.
    """
    if not ids:
        return []
    qvec, rows, t = qvec.reshape(-1), np.asarray(ids, dtype=np.int64), index.tables
    chunk, doc = t.chunk[rows], t.doc[rows]
    sims = (index.sentence_vectors[rows] @ qvec).astype(np.float64)
    doc_sims = (index.doc_vectors @ qvec).astype(np.float64)[doc]
    relevance = 0.5 * sims + 0.3 * (index.chunk_vectors @ qvec).astype(np.float64)[chunk] + 0.2 * doc_sims
    if named:  # the question is about this document: its identity is the relevance
        about = np.isin(doc, [index.doc_row[d] for d in named])
        relevance = np.where(about, np.maximum(relevance, 0.6 * doc_sims + 0.4 * sims), relevance)
    # Subject words in the sentence itself count most; in its passage, heading or document, half.
    total = sum(s.weight for s in subjects)
    own, around = np.zeros(len(rows)), np.zeros(len(rows))
    for s in subjects:
        own += s.weight * t.with_words(s.matching, t.focus)[rows]
        around += s.weight * t.with_words(s.matching, t.context)[chunk]
    focus = (own / total + around / total) / 2 if total else np.ones(len(rows))
    typed = 0.12 * t.matching(wanted)[rows] if wanted else np.zeros(len(rows))
    if negated:  # "Why do some doctors *not* prescribe it?" wants a sentence saying what is not
        typed = typed + 0.05 * t.matching(NEGATION)[rows]
    ranks = np.full(t.chunks, len(rank), dtype=np.int64)
    ranks[list(rank)] = list(rank.values())
    r = ranks[chunk]
    score = relevance + FOCUS_WEIGHT * focus + typed - GENERIC_WEIGHT * index.genericness[rows] - 0.005 * r
    score = score - LEAD_IN_PENALTY * t.matching(LEAD_IN)[rows]
    out = [Candidate(i, int(h), float(rel), float(f), float(sc))
           for i, h, rel, f, sc in zip(ids, r.tolist(), relevance.tolist(), focus.tolist(), score.tolist())]
    return sorted(out, key=lambda c: -c.score)


def select(index: Index, ranked: list[Candidate], settings: Settings) -> list[Candidate]:
    """The best sentences: close to the best score, no near-duplicates, at most `max_sentences`."""
    if not ranked:
        return []
    best = ranked[0].score
    chosen: list[Candidate] = []
    for cand in ranked:
        if len(chosen) >= settings.max_sentences or cand.score < best - MARGIN:
            break
        if not near_duplicate(index, cand, chosen):
            chosen.append(cand)
    return chosen


def typed_early(index: Index, chosen: list[Candidate], wanted: re.Pattern[str] | None, at: int = 1) -> list[Candidate]:
    """`chosen` with its best sentence of the asked kind moved up to place `at`, when it stood lower:
    the sentence that says what was asked must not be the one cut to make room for study findings."""
    typed = [n for n, c in enumerate(chosen) if wanted and wanted.search(index.sentences[c.sentence].text)]
    if not typed or typed[0] <= at:
        return chosen
    return chosen[:at] + [chosen[typed[0]]] + [c for n, c in enumerate(chosen[at:], at) if n != typed[0]]


def near_duplicate(index: Index, cand: Candidate, chosen: Sequence[Candidate]) -> bool:
    """Whether `cand` says what one of the `chosen` sentences already says."""
    vec = index.sentence_vectors[cand.sentence]
    return any(float(vec @ index.sentence_vectors[c.sentence]) > NEAR_DUPLICATE for c in chosen)


def part_candidates(index: Index, hits: Sequence[Hit], qvec: np.ndarray, focus: Subjects, part: str,
                    named: set[str], supported: list[Candidate]) -> list[Candidate]:
    """The supported sentences ranked for one question of several: its own subject words and answer type."""
    words = set(TOKEN.findall(part.lower())) - question_form_words(part)  # "how long": its form, not subject
    own = [s for s in focus if s.word in words or set(s.word.split()) <= words] or focus
    ok = {c.sentence for c in supported}
    ranked = candidates(index, hits, qvec, own, answer_pattern(part), named, bool(NEGATION.search(part)))
    return [c for c in ranked if c.sentence in ok]


def with_each_part(index: Index, chosen: list[Candidate], parts: list[list[Candidate]],
                   limit: int) -> list[Candidate]:
    """Two sentences of the whole message's answer, then the next best for each of its questions, and
    again; no repeats or near-duplicates. A question whose picks were all taken already (the whole
    message's one sentence was also its best) then gets its best sentence not yet taken."""
    out: list[Candidate] = []
    answered: set[int] = set()  # the parts that added a sentence of their own
    for n in range(0, len(chosen) + 1, 2):
        turn = [(c, None) for c in chosen[n:n + 2]] + [(r[n // 2], p) for p, r in enumerate(parts) if n // 2 < len(r)]
        for cand, part in turn:
            if len(out) < limit and not near_duplicate(index, cand, out):
                out.append(cand)
                if part is not None:
                    answered.add(part)
    for part, ranked in enumerate(parts):
        if part not in answered and len(out) < limit:
            extra = next((c for c in ranked if not near_duplicate(index, c, out)), None)
            if extra is not None:
                out.append(extra)
    return out


def compose(index: Index, query: Query, qvec: np.ndarray, hits: Sequence[Hit], check: SubjectCheck,
            settings: Settings, embed: Embed, plain: np.ndarray | None = None) -> Composition:
    """Choose and cite the answer's sentences, or abstain (see the module docstring for when).

    `plain`, the question's own vector when the caller has it, saves embedding it for ablations.
    """
    if check.missing:
        return abstain(index, hits, "The sources do not mention " + quote_list(list(check.missing)) + ".")
    key = [s for s in check.subjects if not s.forms & ANCHOR_STEMS]
    earlier = [s for s in check.context if not s.forms & ANCHOR_STEMS]
    form = question_form_words(query.question)  # "how long": the answer's form, not what a study is called
    named = named_documents(index, [s for s in key if s.word not in form], [s for s in earlier if s.word not in form],
                            query.question, query.context, load_english(settings.english_words))
    # Once the conversation has named a study, the earlier turns' words have done their work: "How many
    # took part?" after "What did the cytokine study find?" wants sentences about participants.
    focus = key if named and key and earlier else (key + earlier) or check.subjects
    wanted = answer_pattern(query.question)  # the kind of sentence that answers (answer_types.py)
    ranked = candidates(index, hits, qvec, focus, wanted,
                        named, bool(NEGATION.search(query.question)))
    supported = [c for c in ranked if c.relevance >= MIN_SUPPORT or index.sentences[c.sentence].doc_id in named
                 or (c.focus >= 1.0 and c.relevance >= MIN_SUPPORT - TYPED_SLACK and wanted is not None
                     and wanted.search(index.sentences[c.sentence].text))]
    if supported:  # once the sources answer, a sentence holding most subject words may be a little less close
        ok = {c.sentence for c in supported}
        supported = [c for c in ranked
                     if c.sentence in ok or (c.focus >= FOCUSED and c.relevance >= MIN_SUPPORT - TYPED_SLACK)]
    if named and STUDY_REFERENCE.search(query.context):  # a follow-up about the study named before: "in that one"
        supported = [c for c in supported if index.sentences[c.sentence].doc_id in named] or supported
    chosen = typed_early(index, select(index, supported, settings), wanted)
    parts = question_parts(query.question)
    if len(parts) > 1 and chosen:  # "what dose did they test, and did it beat placebo?": an answer to each
        # About one study ("that 2023 review"): each part is answered from it, not from whichever source
        # speaks of side effects in general.
        about = named or ({index.sentences[chosen[0].sentence].doc_id}
                          if STUDY_REFERENCE.search(f"{query.context} {query.question}") else set())
        within = [c for c in supported if not about or index.sentences[c.sentence].doc_id in about]
        chosen = with_each_part(index, chosen, [part_candidates(index, hits, qvec, focus, part, named, within)
                                                for part in parts], settings.max_sentences)
    if not chosen:
        return abstain(index, hits, "The sources do not answer this question.")
    passages = set().union(*(index.context_stems[index.sentences[c.sentence].chunk] for c in chosen))
    aside = form | reported_by(query.question) | story_words(query.question)  # not what is asked about
    absent = sorted((s for s in key if s.matching.isdisjoint(passages) and s.word not in aside
                     and s.weight >= COMMON_WEIGHT), key=lambda s: -s.weight)
    unaddressed = important(query.question, [s.word for s in absent[:MAX_ABLATIONS]], embed, plain)
    if unaddressed:
        # Try again with only the sentences whose passages speak of those words ("PTI-901" is in one study).
        needed = [s for s in key if any(w in unaddressed for w in s.word.split()) or s.word in " ".join(unaddressed).split()]
        chosen = select(index, [c for c in supported
                                if all(not s.matching.isdisjoint(index.context_stems[index.sentences[c.sentence].chunk])
                                       for s in needed)], settings)
        if not chosen:
            return abstain(index, hits, "The sources do not say anything about " + quote_list(unaddressed)
                           + " in connection with this question.")
    room = max(1, settings.max_sentences - MIN_GENERAL)  # balanced (both directions) within this room
    studies = (findings(index, qvec, key or check.subjects, query.question, limit=room)
               if wants_studies(query.question, named) else [])
    general = [c.sentence for c in chosen if c.sentence not in studies]
    general = general[:max(MIN_GENERAL, settings.max_sentences - len(studies))]  # the direct answer first
    studies = [i for i in studies if i not in general][:settings.max_sentences - len(general)]
    scores = {index.sentences[c.sentence].chunk: c.score for c in chosen}
    return cite(index, general, studies, scores)


