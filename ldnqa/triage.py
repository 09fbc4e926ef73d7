"""Stage 0: does this message describe an urgent situation? Checked before anything else is done.

Three signals, all editable data grouped by category: patterns (`data/urgent.txt`) catch the usual
phrasings; example messages (`data/urgent_examples.txt`) catch other wordings by meaning, for self-harm
and overdose; a learned model (`triage_model.py`) catches situations described in words neither lists,
and overrules pattern and example matches for overdose or reactions where it sees no risk at all
(docs/triage.md). Each category has its own message; the most specific one is shown first, then the
general emergency advice.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

import numpy as np

from .triage_model import CORROBORATION, UNCHALLENGED, UrgencyModel, sections

EMERGENCY = ("If this may be an emergency, call your local emergency number now (911 in the US and Canada, "
             "112 in Europe, 999 in the UK) or go to the nearest emergency department.")
MESSAGES = {
    "self-harm": ("If you are thinking about harming yourself, please reach out now: call or text 988 "
                  "(Suicide & Crisis Lifeline, US and Canada), call your local emergency number, or go to "
                  "the nearest emergency department. You do not have to face this alone."),
    "overdose": ("For a possible overdose, get help now: call your local emergency number or a poison "
                 "control centre (US: 1-800-222-1222), and keep the medicine package with you."),
    "severe-reaction": ("Symptoms like these need urgent medical care: do not wait to see if they pass, "
                        "and do not take another dose before a clinician has seen you."),
}


@dataclass(frozen=True)
class Triage:
    urgent: bool
    categories: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        """The urgent-care message, most specific first. Empty when not urgent."""
        if not self.urgent:
            return ""
        parts = [MESSAGES[c] for c in self.categories if c in MESSAGES]
        return " ".join(parts + [EMERGENCY])


# Similarity to an example at which a message counts as urgent. Measured on ~130 ordinary questions:
# the closest reached 0.54 (self-harm) and 0.56 (overdose); urgent messages were at 0.62 and above.
SEMANTIC_THRESHOLDS = {"self-harm": 0.60, "overdose": 0.62}
# Categories also judged sentence by sentence in a longer message, where one sentence ("I just want it
# all to be over") is diluted by the rest. Not overdose: "I have trouble swallowing pills" alone sits at
# 0.69 to an overdose example, while the sentences of ~470 ordinary eval questions stayed at or below 0.56
# to the self-harm examples.
PER_SENTENCE = frozenset({"self-harm"})
# "Would my pain be easier if I was on a higher dose?" asks about a dose nobody has taken; it reads like
# "I took a much higher dose" to the model. An overdose is not judged by meaning in a message that asks
# "what if" and reports nothing taken or felt (the patterns still apply to every message).
REPORTED = re.compile(r"\b(took|taken|swallowed|swallow|doubled|tripled|overdosed|accident\w*|mistake|ago|"
                      r"last night|today|tonight|this morning|now|feel|feeling|felt|dizzy|sick|vomit\w*)\b", re.I)
CHAT_SENTENCE = re.compile(r"(?<=[.?!])\s+|\s*\n\s*|\s+-\s+|(?<=\w)\s*\d\)\s+")
HYPOTHETICAL = re.compile(r"^\W*(would|could|should|can|will|is|are|does|do)\b|\bwhat (happens|would happen|if)\b|"
                          r"\bif (i|you|someone|somebody|one|a person) (was|were|took|take|takes|had|went|go|used)\b",
                          re.I)


# A crisis told as history: long past, and well now ("I overdosed on purpose at 19. I'm 45 now, stable").
# Such a message asks about LDN; the urgent-care notice would answer a crisis it does not describe. Not
# when anything points at now: "again", "tonight", "lately", a plan or a wish.
LONG_AGO = re.compile(r"\b(years|decades) ago\b|\b(back )?in (19|20)\d\d\b|\bas a (teen(ager)?|child|kid|student)\b|"
                      r"\bin my (teens|twenties|thirties|student days)\b|\bfrom my student days\b|"
                      r"\bwhen i was (a )?(\d+|young|younger|teen(ager)?|at (uni|university|school|college))\b|"
                      r"\b(at (the )?age (of )?|aged )\d\d\b|\bi'?m (now )?\d\d now\b|\blast (winter|summer|spring|autumn|year)\b|"
                      r"\blong since\b", re.I)
WELL_NOW = re.compile(r"\b(i'?m|i am|now|been|feel|feeling)\b[^.?!]{0,25}\b(well|fine|stable|recovered|"
                      r"in a (good|better|much better) place|much better|doing (well|fine|great|ok|okay)|"
                      r"clean|sober)\b|\b(recovered fully|fully recovered|long since resolved|never since|"
                      r"haven'?t (since|in over)|well supported)\b", re.I)
STILL_NOW = re.compile(r"\b(again|tonight|right now|at the moment|currently|these days|lately|this week|"
                       r"recently|plan\w*|going to|want to|wanna|thinking (of|about)|can'?t (go on|cope|stop)|"
                       r"ready|urges?|today|last night|this (morning|afternoon|evening)|relaps\w*|just (took|taken|"
                       r"swallowed|had|did|done)|(minutes?|hours?) ago)\b", re.I)


def told_as_history(message: str) -> bool:
    """A crisis long past, with the writer well now, and nothing pointing at the present.

    >>> told_as_history("I overdosed on purpose at 19. I'm 45 now, stable and well supported. Can I take LDN?")
    True
    >>> told_as_history("I took 40 paracetamol at 11 and I'm fine now. Can I take my LDN?")  # 11 o'clock
    False
    >>> told_as_history("I overdosed years ago and I'm fine, but tonight I want to do it again")
    False
    >>> told_as_history("I overdosed at 19 and have been clean since, but I relapsed and used an hour ago")
    False
    """
    return bool(LONG_AGO.search(message) and WELL_NOW.search(message) and not STILL_NOW.search(message))


# One extra dose of LDN taken by mistake, the writer fine since: "Accidentally took my LDN twice yesterday.
# Felt completely fine." Twice 4.5 mg is far below naltrexone's usual 50 mg; the question is what to do
# next time. Not when any other medicine, a larger amount or a symptom beyond dreams is mentioned.
ONE_EXTRA = re.compile(r"\b(twice|double|two (ldn |low dose naltrexone )?(doses|capsules|tablets)|instead of)\b", re.I)
BY_MISTAKE = re.compile(r"\b(accident\w*|by mistake|mistakenly|misread)\b", re.I)
FINE_SINCE = re.compile(r"\b(fine|nothing happened|no symptoms|no problems|no side effects)\b", re.I)
NOT_ONLY_LDN = re.compile(r"\b(opioids?|opiates?|oxy\w*|morphine|codeine|tramadol|fentanyl|methadone|alcohol|wine|"
                          r"beer|pills|tablets of|whole|bottle|packet|handful|dizzy|sick|vomit\w*|throwing up|"
                          r"confused|drowsy|faint\w*|breath\w*|chest|heart|rash|swell\w*|hives|child|kid|son|"
                          r"daughter|toddler|baby|dog|cat|(1[1-9]|[2-9]\d|\d{3,}) ?mg)\b", re.I)


def settled_extra_dose(message: str) -> bool:
    """One extra dose of LDN by mistake, fine since, and nothing else taken or felt.

    >>> settled_extra_dose("I accidentally took my 4.5 mg dose twice last night but I feel completely fine.")
    True
    >>> settled_extra_dose("I accidentally took my LDN twice with my tramadol and I'm fine")
    False
    """
    return bool(ONE_EXTRA.search(message) and BY_MISTAKE.search(message) and FINE_SINCE.search(message)
                and not NOT_ONLY_LDN.search(message))


DECIMAL = re.compile(r"(\d)\.(\d)")


def normalized(message: str) -> str:
    """Straight apostrophes, and a decimal comma so that "4.5 mg" does not end a sentence for [^.?!]."""
    return DECIMAL.sub(r"\1,\2", message.replace("\u2019", "'").replace("\u2018", "'"))


def with_earlier_turn(message: str, earlier: str, patterns_path: str) -> Triage:
    """A follow-up that reports what was taken or felt, read with the question before it, by the
    patterns: "well I already swallowed one and now I can't stop retching" after "Can I take LDN if I'm
    on methadone?" is naltrexone on top of methadone, though neither message alone says so. Only what
    the two say together counts: an earlier turn that matches alone ("I overdosed years ago, well now")
    was judged when it was asked."""
    if not earlier or not REPORTED.search(message) or HYPOTHETICAL.search(message):
        return Triage(False)
    if any(pattern.search(normalized(earlier)) for _, pattern, _ in load_patterns(patterns_path)):
        return Triage(False)
    return triage(f"{earlier.rstrip().rstrip('?!.')}. {message}", patterns_path)  # one story: past "?"


def asks_what_if(message: str) -> bool:
    """A question about a dose not taken.

    >>> asks_what_if("Would a higher dose help?"), asks_what_if("Could the 9 mg I took last night be why I feel sick?")
    (True, False)
    """
    return bool(HYPOTHETICAL.search(message)) and not REPORTED.search(message)


def sentences_of(message: str) -> list[str]:
    """The sentences of a message of several; none for a message of one sentence.

    >>> sentences_of("My pain is worse. i just want it all to be over"), sentences_of("What dose is used?")
    (['My pain is worse.', 'i just want it all to be over'], [])
    """
    # Chat is not prose: sentences may start in lower case ("knife is next to me. nothing works").
    parts = [p.strip() for p in CHAT_SENTENCE.split(message) if len(p.split()) >= 2]
    return parts if len(parts) > 1 else []


def load_examples(path: str) -> dict[str, list[str]]:
    examples: dict[str, list[str]] = {}
    for category, line in sections(path):
        if category in SEMANTIC_THRESHOLDS:
            examples.setdefault(category, []).append(line)
    return examples


@lru_cache(maxsize=4)
def load_patterns(path: str) -> tuple[tuple[str, re.Pattern[str], bool], ...]:
    """(category, pattern, certain) per line; a line that starts with "!" is certain: its match stands
    even when the learned model sees no risk (an amount taken, said outright: "thirty times that")."""
    return tuple((category, re.compile(line.removeprefix("!"), re.I), line.startswith("!"))
                 for category, line in sections(path))


def triage(message: str, patterns_path: str, vector: np.ndarray | None = None,
           examples: Mapping[str, np.ndarray] | None = None, sentences: np.ndarray | None = None,
           model: UrgencyModel | None = None) -> Triage:
    """Which urgent categories the message matches, by pattern or (given vectors) by meaning.

    `sentences`, the vectors of a longer message's sentences (one row each), are judged too for the
    PER_SENTENCE categories and by the learned `model`. Curly apostrophes are straightened first so
    "I don’t want to live" matches like "don't", and the point of "4.5 mg" becomes a comma, so that
    patterns reading within a sentence ([^.?!]) read past it.
    """
    text = normalized(message)
    if told_as_history(text) or settled_extra_dose(text):
        return Triage(False)
    found: list[str] = []
    certain: set[str] = set()
    for category, pattern, sure in load_patterns(patterns_path):
        if (category not in found or (sure and category not in certain)) and pattern.search(text):
            if category not in found:
                found.append(category)
            if sure:
                certain.add(category)
    if vector is None:
        return ordered(found)
    whole = vector.reshape(1, -1)
    rows = whole if sentences is None or not len(sentences) else np.vstack([whole, sentences])
    for category, vectors in (examples or {}).items():
        if category in found or not len(vectors) or (category == "overdose" and asks_what_if(text)):
            continue
        judged = rows if category in PER_SENTENCE else whole
        if float(np.max(judged @ vectors.T)) >= SEMANTIC_THRESHOLDS[category]:
            found.append(category)
    if model is not None:
        probabilities = model.probabilities(rows)
        if max(probabilities.values()) < CORROBORATION:  # the words matched; the situation may not
            found = [c for c in found if c in UNCHALLENGED or c in certain]
        found += [c for c, p in probabilities.items() if p >= model.thresholds[c] and c not in found]
    return ordered(found)


def ordered(found: list[str]) -> Triage:
    """The categories found, most specific message first."""
    order = ["self-harm", "overdose", "severe-reaction"]
    found = sorted(found, key=lambda c: order.index(c) if c in order else len(order))
    return Triage(bool(found), tuple(found))
