"""Stage 6b: what kind of evidence each source is, what studies found, and where sources disagree.

Pure text logic over citations and sentences; no model.

Evidence strength, strongest first (the order of EVIDENCE_ORDER):
meta-analysis or systematic review > randomized controlled trial > other trial > observational study or
case report > review > web article > other document.

A finding's direction is read from its words: "no meaningful difference", "not statistically
significant", "did not show any ... relief" are negative; "lower pain", "improved", "may reduce pain"
are positive. Two sentences from different sources disagree when they speak of the same subject and
either point in opposite directions or use opposite words for the same thing ("agonist"/"antagonist").
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Sequence

from .config import DATA_DIR
from .lexical import tokenize

EVIDENCE_ORDER = ("meta-analysis or systematic review", "randomized controlled trial", "other trial",
                  "observational study or case report", "review", "web article", "other document")
_RULES = [  # (pattern on the evidence/design/kind text, label); first match wins
    (r"meta-?analys|systematic review", 0),
    (r"randomi[sz]ed controlled|randomi[sz]ed,? (double|single)|\brct\b", 1),
    (r"\btrial\b|pilot|dose-finding|laboratory study|crossover", 2),
    (r"observational|cohort|case report|case series|chart review|cross-sectional", 3),
    (r"\breview\b", 4),
    (r"web|article|blog|pharmacy|clinic", 5),
]

NEGATIVE = re.compile(
    r"\b(no (meaningful |significant |clinically relevant |statistically significant )?(difference|benefit|"
    r"effect|improvement|pain relief)|not (statistically significant|significant|better|shown|superior|"
    r"improve\w*)|did not (show|improve|reduce|differ|find)|no evidence|failed to|was not|were not|"
    r"no clinically relevant|not be (recommended|supported)|did not differ)\b", re.I)
POSITIVE = re.compile(
    r"\b(improv\w+|reduc\w+|lower(ed)? (pain|scores|symptoms)|fell|fallen|less pain|benefit\w*|effective|"
    r"relief|remission|may reduce|significantly (better|lower|reduced)|rose more|promis\w+)\b", re.I)
EFFICACY_QUESTION = re.compile(
    r"\b(work|works|worked|working|effective\w*|efficacy|help|helps|helped|benefit\w*|evidence|proven|"
    r"prove|how well|better than|placebo|safe|safety|tolerat\w*|side effects?)\b",
    re.I)


def evidence_rank(meta: Mapping[str, object], kind: str) -> int:
    """Position in EVIDENCE_ORDER for a document's front matter (lower is stronger)."""
    text = " ".join(str(meta.get(k) or "") for k in ("evidence", "design")) + " " + kind
    for pattern, rank in _RULES:
        if re.search(pattern, text, re.I):
            return rank
    return len(EVIDENCE_ORDER) - 1


def evidence_label(meta: Mapping[str, object], kind: str) -> str:
    """The source's own evidence wording when it has one ("pilot trial"), else its class's label."""
    return str(meta.get("evidence") or EVIDENCE_ORDER[evidence_rank(meta, kind)])


@lru_cache(maxsize=8192)  # quoted sentences come from the corpus: the same few thousand, question after question
def direction(sentence: str) -> int:
    """-1 for a negative finding, +1 for a positive one, 0 when the sentence states neither."""
    if NEGATIVE.search(sentence):
        return -1
    return 1 if POSITIVE.search(sentence) else 0


@lru_cache(maxsize=1)
def contrasts() -> tuple[tuple[str, str], ...]:
    pairs = []
    for line in (DATA_DIR / "contrasts.txt").read_text(encoding="utf-8").splitlines():
        if "|" in line and not line.lstrip().startswith("#"):
            left, right = (tokenize(w.strip(), keep_stopwords=True) for w in line.split("|", 1))
            if left and right:
                pairs.append((left[0], right[0]))
    return tuple(pairs)


@dataclass(frozen=True)
class Claim:
    """A quoted sentence and where it comes from, for disagreement detection."""

    number: int  # citation marker
    source: str  # document id
    label: str  # how the user knows the source ("Bested et al. 2023, randomized controlled trial")
    text: str


@dataclass(frozen=True)
class Disagreement:
    first: Claim
    second: Claim
    why: str  # "agonist / antagonist" or "opposite findings"

    def describe(self) -> str:
        return (f"[{self.first.number}] {self.first.label} and [{self.second.number}] {self.second.label} "
                f"disagree ({self.why}).")


OPPOSITE = "one reports a benefit, the other none"
SUBJECT_OVERLAP = 2  # shared content words that make two sentences speak of the same thing
GENERIC_STEMS = frozenset(tokenize("low dose ldn naltrexone fibromyalgia study trial patients women "
                                   "people participants authors results common commonly often frequent "
                                   "rare reported report found showed"))


@lru_cache(maxsize=1)
def equivalents() -> dict[str, str]:
    """Single words the synonyms file declares interchangeable ("opioid <=> opiate"), to one form."""
    out: dict[str, str] = {}
    for line in (DATA_DIR / "synonyms.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0]
        if "<=>" in line:
            stems = [tokenize(w.strip(), keep_stopwords=True) for w in line.split("<=>")]
            single = [t[0] for t in stems if len(t) == 1]
            out.update({t: single[0] for t in single[1:]})
    return out


@lru_cache(maxsize=8192)
def content(text: str) -> frozenset[str]:
    eq = equivalents()
    return frozenset(eq.get(t, t) for t in tokenize(text)) - GENERIC_STEMS


@lru_cache(maxsize=8192)
def all_stems(text: str) -> frozenset[str]:
    return frozenset(tokenize(text, keep_stopwords=True))


def same_subject(a: str, b: str) -> bool:
    """Two sentences speak of the same thing: they share content words beyond the corpus's topic (a
    contrasting pair such as agonist/antagonist counts as one shared word), or both report a result on
    the same outcome ("pain")."""
    sa, sb = content(a), content(b)
    shared = len(sa & sb) + (1 if contrast(a, b) else 0)
    if shared >= SUBJECT_OVERLAP or bool(sa & sb & OUTCOMES):
        return True
    # Two findings on what the drug does are about the same subject, whatever outcome words they use.
    return bool(direction(a) and direction(b) and DRUG.search(a) and DRUG.search(b))


DRUG = re.compile(r"\b(ldn|naltrexone|low-dose naltrexone)\b", re.I)


OUTCOMES = frozenset(tokenize("pain symptoms fatigue sleep"))


def disagreements(claims: Sequence[Claim]) -> list[Disagreement]:
    """Pairs of claims from different sources that contradict each other.

    >>> c = [Claim(1, "a", "A", "Naltrexone is an opioid antagonist."),
    ...      Claim(2, "b", "B", "Naltrexone is commonly referred to as an opiate agonist.")]
    >>> [d.why for d in disagreements(c)]
    ['antagonist / agonist']
    """
    found: list[Disagreement] = []
    for i, first in enumerate(claims):
        for second in claims[i + 1:]:
            if first.source == second.source or not same_subject(first.text, second.text):
                continue
            why = contrast(first.text, second.text)
            if not why and direction(first.text) * direction(second.text) == -1:
                why = OPPOSITE
            if why:
                found.append(Disagreement(first, second, why))
    return found


def contrast(a: str, b: str) -> str:
    """The opposite pair of words the two sentences use for the same thing, or ""."""
    ta, tb = all_stems(a), all_stems(b)
    for left, right in contrasts():
        for x, y in ((ta, tb), (tb, ta)):
            if left in x and right in y and not (right in x or left in y):
                return f"{left} / {right}" if x is ta else f"{right} / {left}"
    return ""


def short_label(meta: Mapping[str, object], title: str, kind: str) -> str:
    """"Bested et al., 2023, randomized controlled trial" or "web article: <publisher>"."""
    authors = meta.get("authors")
    names = str(authors[0]).split() if isinstance(authors, list) and authors else []
    if len(names) > 1 and names[-1].isupper() and len(names[-1]) <= 3:
        names = names[:-1]  # "Due Bruun K" -> "Due Bruun"
    first = " ".join(names)
    who = f"{first} et al." if first and first.lower() != "et" else title[:60]
    if kind == "study-summary":
        year = f", {meta['year']}" if meta.get("year") else ""
        return f"{who}{year}, {evidence_label(meta, kind)}"
    return f"{evidence_label(meta, kind)}: {meta.get('publisher') or title[:60]}"


def notes(citations: Sequence, documents: Mapping) -> list[str]:  # Citation, Document
    """What the user should know about the cited sources: disagreements, and other conditions."""
    claims = []
    for c in citations:
        doc = documents[c.doc_id]
        label = short_label(doc.meta, doc.title, doc.kind)
        claims += [Claim(c.id, c.doc_id, label, doc.text[s:e]) for s, e in c.quotes]
    found = disagreements(claims)
    out = [f"The sources disagree: {d.describe()}" for d in found if d.why != OPPOSITE][:2]
    opposite = [d for d in found if d.why == OPPOSITE]
    if opposite:
        involved = {c.number: c for d in opposite for c in (d.first, d.second)}
        pro = [f"[{n}] {c.label}" for n, c in sorted(involved.items()) if direction(c.text) > 0]
        con = [f"[{n}] {c.label}" for n, c in sorted(involved.items()) if direction(c.text) < 0]
        out.append(f"The sources disagree on whether it helps: {'; '.join(pro)} report a benefit, while "
                   f"{'; '.join(con)} {'reports' if len(con) == 1 else 'report'} none.")
    other = [f"[{c.id}] {c.condition}" for c in citations
             if c.kind == "study-summary" and c.quotes and c.condition and "fibromyalgia" not in c.condition.lower()]
    if other:
        out.append("Not about fibromyalgia: " + "; ".join(other) + ".")
    return out
