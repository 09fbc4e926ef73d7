"""Which words of a question may name its subject: plain text work, no index and no model.

Stop words, generic question words (data/generic_words.txt: "usually", "tell") and numbers other than
years are not subjects; "low-dose naltrexone" is one subject. `ldnqa.coverage` then asks whether the
corpus speaks of each remaining word.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

from .config import DATA_DIR
from .lexical import STOPWORDS, TOKEN, tokenize


def word_list(name: str) -> list[str]:
    text = (DATA_DIR / name).read_text(encoding="utf-8")
    return [w.lower() for line in text.splitlines() if not line.startswith("#") for w in line.split()]


@lru_cache(maxsize=1)
def generic_words() -> frozenset[str]:
    words = word_list("generic_words.txt")
    return frozenset(tokenize(" ".join(words), keep_stopwords=True)) | frozenset(words)


@lru_cache(maxsize=1)
def subject_words_always() -> frozenset[str]:
    """Words that are the subject whenever the corpus lacks them (data/subject_words.txt)."""
    return frozenset(word_list("subject_words.txt"))


YEAR = re.compile(r"(19|20)\d\d")
# Words that ask for a duration or an amount: the question's form, not its subject. They help find the
# sentence that answers ("how long" -> "weeks"), but a passage need not contain them to answer.
QUESTION_FORM = re.compile(r"\bhow (long|much|many|often|soon|quickly|far|old)\b"
                           r"(?:.*\b(last|lasts|lasted|run|runs|ran|running|continue|continued|go on|went on)\b)?"
                           r"|\bwhere\b.*\b(run|ran|based|conducted|held|done|carried)\b")  # "where was it run?"


def question_form_words(question: str) -> set[str]:
    """The question-form words of a question.

    >>> sorted(question_form_words("How long did it last?")), sorted(question_form_words("how long did it run"))
    (['last', 'long'], ['long', 'run'])
    >>> sorted(question_form_words("How old were the kids?")), sorted(question_form_words("where was it run?"))
    (['old'], ['run'])
    """
    return {w for m in QUESTION_FORM.finditer(question.lower()) for w in m.groups() if w}


# One subject, LDN: not "low" and "dose"; and "the drug" in "how long were they on the drug?" (query.PRONOUN)
THE_DRUG = re.compile(r"\blow[- ]dose naltrexone\b|\bthe (drug|medication|medicine)\b", re.I)

# When things happen in the user's own life ("I've been on it for 6 months", "surgery next month"):
# the story around the question, not what it asks about. Kept in a question asking "how long".
AMOUNT = r"(?:(?:a|an|the|few|couple|of|several|about|around|almost|nearly|over|\d+|one|two|three|four|five|six|" \
         r"seven|eight|nine|ten|twelve)\s+)*"
UNIT = r"(?:days?|weeks?|months?|years?|yrs?)"
STORY_TIME = re.compile(rf"\b(?:for|in|since|over|past|last|next|this|every)\s+{AMOUNT}{UNIT}\b|\b{AMOUNT}{UNIT}\s+ago\b")
FIRST_PERSON = re.compile(r"\b(i|i'm|im|i've|ive|my|me)\b")


def story_time(question: str) -> str:
    """The question without the times of the user's own story, when it tells one and asks no "how long".

    >>> story_time("i'm having surgery next month and have been on ldn for 6 months")
    "i'm having surgery   and have been on ldn  "
    >>> story_time("how long did the 12 weeks of my trial last")
    'how long did the 12 weeks of my trial last'
    """
    if not FIRST_PERSON.search(question) or QUESTION_FORM.search(question):
        return question
    return STORY_TIME.sub(" ", question)


# "My rheumatologist mentioned a Danish trial...": who told the user is not what they ask about, so a
# passage need not speak of the rheumatologist to answer.
REPORTED_BY = re.compile(r"\b(?:my|our|his|her|their|a|the|this|that)\s+((?:[\w'-]+\s+){0,2}?[\w'-]+)\s+"
                         r"(?:mentioned|mentions|said|says|told|tells|suggested|suggests|recommended|recommends|"
                         r"claimed|claims|brought up|keeps saying|swears)\b", re.I)


def reported_by(question: str) -> set[str]:
    """The words naming who reported something to the user: the story around the question, which the
    sources need not speak of ("my dermatologist mentioned LDN for Hailey-Hailey disease").

    >>> sorted(reported_by("My rheumatologist mentioned a 2023 trial. Is that right?"))
    ['rheumatologist']
    >>> sorted(reported_by("The Trinova pharmacy article says 60% felt better; true?"))
    ['article', 'pharmacy', 'trinova']
    """
    return {w.lower() for m in REPORTED_BY.finditer(question) for w in m.group(1).split()}


# "Neurology registrar: ...", "Health economist, writing a report. ...", "Proofreading leaflets. ...": who
# is asking, or what for, said first; not what the question is about.
ROLE = (r"(?:student|postgrad|postgraduate|undergrad|registrar|resident|intern|trainee|tech|technician|economist|"
        r"scientist|researcher|lecturer|journalist|editor|writer|nurse|pharmacist|doctor|gp|physio|"
        r"physiotherapist|consultant|clinician|practitioner|midwife|dietitian|therapist|psychologist|carer|"
        r"teacher|tutor|volunteer|coordinator|organi[sz]er|specialist|reviewer|analyst|statistician)")
INTRODUCTION = re.compile(rf"^\s*(?:(?:[\w'-]+\s+){{0,3}}{ROLE}(?:\s+here)?(?:,?\s*(?:writing|working|researching|"
                          rf"preparing|studying|drafting|putting together)\b[^.:?]*)?|(?:proofreading|running|preparing|"
                          rf"compiling|putting together|writing|updating|drafting)\b[^.:?]{{0,80}})"
                          rf"(?:\s*[.:]|\s+[-\u2013\u2014]|(?<=here),)\s+", re.I)


def introduction(question: str) -> str:
    """The leading words that say who asks, or what for; "" when there are none.

    >>> introduction("Neurology registrar: over which years were the patients diagnosed?")
    'Neurology registrar: '
    >>> introduction("Health economist, writing about trends. How far did use climb?")
    'Health economist, writing about trends. '
    >>> introduction("Research nurse drafting a protocol: what age were the women?")
    'Research nurse drafting a protocol: '
    >>> introduction("Practice nurse here - which drugs did they mean?")
    'Practice nurse here - '
    >>> introduction("Pharmacist here, is 4.5 mg the usual dose?")
    'Pharmacist here, '
    >>> introduction("What dose is used?")
    ''
    """
    match = INTRODUCTION.match(question)
    return match.group(0) if match and match.end() < len(question) else ""


ASKED = re.compile(r"(?:[^.!?]|\.(?=\d))*\?")  # the sentences of a message that ask ("4.5 mg" stays whole)
QUESTION_START = r"(?:what|how|did|does|do|is|are|was|were|can|could|should|will|would|which|who|when|where|why|" \
                 r"has|have)"
# "..., and did they have side effects?": a second question joined to the first
SECOND_QUESTION = re.compile(rf"(?:,\s*|\s+)(?:and|also|plus|but)\s+"
                             rf"(?:(?:realistically|also|then|honestly|actually)\s+)?(?={QUESTION_START}\b)", re.I)
REPHRASED = re.compile(r"(?:like|i mean|as in|or|e\.g\.|for example|i\.e\.|so|basically)\b", re.I)
TRAILING_QUESTION = re.compile(rf"(?:and|also|plus)\s+{QUESTION_START}\b", re.I)


def asked(question: str) -> str:
    """The sentences of a message that ask (end in "?"), or "" when none does.

    >>> asked("Lyrica never helped. What dose is 4.5 mg for?")
    ' What dose is 4.5 mg for?'
    """
    return " ".join(ASKED.findall(question))


def question_parts(question: str) -> list[str]:
    """The questions a message asks, one per part; the story around them is left out.

    >>> question_parts("what dose did they test and did it beat the placebo?")
    ['what dose did they test', 'did it beat the placebo?']
    >>> question_parts("Is it FDA approved? and can i order it online")
    ['Is it FDA approved?', 'can i order it online']
    >>> question_parts("3 weeks in. How long should I give it, and realistically will it go away?")
    ['How long should I give it', 'will it go away?']
    >>> question_parts("Any research on the best dose? Like what dose works for half of people?")
    ['Any research on the best dose? Like what dose works for half of people?']
    >>> question_parts("Does LDN help pain and fatigue?"), question_parts("I took two by mistake")
    (['Does LDN help pain and fatigue?'], ['I took two by mistake'])
    """
    asked = [a.strip() for a in ASKED.findall(question)]
    tail = question[question.rfind("?") + 1:].strip() if "?" in question else ""
    if tail and TRAILING_QUESTION.match(tail):  # "...? and can I order it online"
        asked.append(tail)
    parts: list[str] = []
    for part in (p.strip(" ,") for a in (asked or [question.strip()]) for p in SECOND_QUESTION.split(a)):
        if parts and REPHRASED.match(part):  # "Like what dose works for half?" asks the last one again
            parts[-1] = f"{parts[-1]} {part}"
        elif part:
            parts.append(re.sub(r"^(?:and|also|plus)\s+", "", part, flags=re.I))
    return parts


def subject_words(question: str, names: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """(word, stem) for each word of the question that may name its subject.

    `names` are words kept even when their stem is generic: "the Bested trial" names its author, though
    "bested" stems to "best".
    >>> subject_words("Was the Bested trial best?"), subject_words("Was the Bested trial best?", frozenset({"bested"}))
    ([('trial', 'trial')], [('bested', 'best'), ('trial', 'trial')])
    """
    generic = generic_words()
    out = []
    for word in TOKEN.findall(THE_DRUG.sub(" naltrexone ", story_time(question.lower().replace("\u2019", "'")))):
        if word in STOPWORDS or word in generic or len(word) < 2 or (word.isdigit() and not YEAR.fullmatch(word)):
            continue  # numbers say little, except years: "the 2013 trial" names a study
        stem = tokenize(word, keep_stopwords=True)
        if stem and (stem[0] not in generic or word in names):
            out.append((word, stem[0]))
    return out


def runs(question: str, words: Sequence[str]) -> list[list[str]]:
    """Group words that stand next to each other in the question: "St John's wort", "drug test".

    A name of several words must be judged whole: without "wort", "St John's" still says it all.
    >>> runs("Is St John's wort safe with a drug test?", ["st", "john", "wort", "drug", "test"])
    [['st', 'john', 'wort'], ['drug', 'test']]
    """
    tokens = [t for t in TOKEN.findall(question.lower().replace("\u2019", "'")) if t != "s"]
    wanted = set(words)
    groups: list[list[str]] = []
    previous = -2
    for position, token in enumerate(tokens):
        if token in wanted and not any(token in g for g in groups):
            if position == previous + 1 and groups:
                groups[-1].append(token)
            else:
                groups.append([token])
            previous = position
    return groups


def drop_words(question: str, words: Sequence[str]) -> str:
    for word in words:
        question = drop_word(question, word)
    return question


def drop_word(question: str, word: str) -> str:
    return re.sub(rf"\b{re.escape(word)}\b", " ", question, flags=re.I)
