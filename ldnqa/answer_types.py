"""Stage 6, what kind of sentence answers: "how long?" wants a duration, "why?" a reason, "which dose
works best?" what a dose-finding study estimated. Composition gives sentences of the asked kind a bonus
(`compose.score_sentences`) and keeps the best of them near the top of the answer (`compose.typed_early`).

Each entry pairs how a question asks (tried in order; the first that matches decides) with how an
answering sentence looks.
"""
from __future__ import annotations

import re

from .question_words import asked

NUMBER_WORDS = r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|hundred|dozen"
RESULT = re.compile(r"\b(conclu\w*|found|results?|showed|no (meaningful|significant|clinically)|did not|"
                    r"not (better|significant)|improv\w*|reduc\w*|lower|fell|rose|increase\w*)\b", re.I)
ANSWER_TYPES = [
    # "What even is it?": a sentence that says what the drug is
    (re.compile(r"\bwhat(?:'s| is| even is| exactly is| is this| is that)\s+(?:it|this|that|ldn|naltrexone|"
                r"low[- ]dose naltrexone)\s*(?:exactly|anyway|even)?\s*(?:\?|$)", re.I),
     re.compile(r"\b(is|are) (an?|the|classic)\b[^.]{0,40}\b(medication|medicine|drug|antagonists?|blocker|"
                r"blocking)\b", re.I)),
    (re.compile(r"\bwho (should|must|can)(n't| not)\b|\b(avoid|contraindicat\w*|not (take|use))\b", re.I),
     re.compile(r"\b(contraindicat\w*|avoid\w*|should not|must not|caution|not be (taken|prescribed|used)|"
                r"cannot be prescribed)\b", re.I)),
    # "Who ran the Stanford studies?": a sentence naming researchers
    (re.compile(r"\bwho (was|were|is|are) (behind|responsible for|in charge of)\b|\bwho (ran|led|did|conducted|"
                r"carried out|designed|wrote|published|started|discovered|developed|pioneered)\b", re.I),
     re.compile(r"\b(PhD|MD|Dr\.?|professor|et al|researchers? (at|from)|led by|team)\b")),
    # "How old were they?": ages
    (re.compile(r"\bhow old\b|\b(what|which) ages?\b|\bage (range|group)\b", re.I),
     re.compile(r"\b(aged?|ages|years? old|average age|\d+ to \d+ years)\b", re.I)),
    # "Where was the trial run?": a place, not a pharmacy
    (re.compile(r"\bwhere\b[^?]{0,40}\b(run|ran|based|conducted|held|done|carried out)\b", re.I),
     re.compile(r"\b(in|at) (the )?[A-Z][a-z]+|(?i:\b(single|multi)[- ]?cent(re|er)\b|\bcent(re|er)s?\b|\bsites?\b|"
                r"\buniversity\b|\bhospital\b|\bmedical cent(re|er)\b)")),
    # "What kind of doctor prescribes it?": a sentence naming a speciality
    (re.compile(r"\b(what|which) (sort|kind|type)s? of (doctors?|specialists?|providers?|physicians?|clinics?|"
                r"practitioners?|prescribers?)\b", re.I),
     re.compile(r"\b(speciali[sz]\w*|integrative|rheumatolog\w*|pain (management|clinic|specialist)\w*)\b", re.I)),
    (re.compile(r"^\s*where\b|\bwhere (can|do|does|to|should|would)\b", re.I),
     re.compile(r"\b(pharmac\w*|compound\w*|clinic\w*|online|doctors?|physicians?|providers?|prescri\w*)\b", re.I)),
    # "How good is the evidence?": what the sources say of the evidence's strength, not a single result
    (re.compile(r"\bhow (good|strong|solid|reliable|convincing|robust|trustworthy)\b[^?.]{0,30}\b(evidence|research|"
                r"science|studies|data)\b|\b(quality|strength) of (the )?(evidence|research|studies|data)\b|"
                r"\bis (there|it) (any )?(good|strong|solid|real|much|enough|proper) "
                r"(evidence|research|science|proof)\b|"
                r"\b(evidence[- ]based|scientifically proven|proven to work|backed by (science|research|evidence))\b",
                re.I),
     re.compile(r"\b(limited|experimental|preliminary|few and small|small (trials?|stud\w*)|more (large-scale|research|"
                r"trials|studies)|trials are needed|little evidence|not all studies|early (signs|promise)|"
                r"further stud\w*|insufficient|weak|low[- ]quality|uncertain\w*)\b", re.I)),
    # "Which dose works best?": what a dose-finding study estimated, not the usual range
    (re.compile(r"\b(which|what) (\w+ ){0,2}?(dose|dosage)\b[^?.]{0,30}\b(works?|best|most|optimal|ideal|right)\b|"
                r"\b(best|optimal|ideal|most effective|right) (dose|dosage)\b|"
                r"\b(dose|dosage)\b[^?.]{0,25}\bworks? (best|for most|for half)\b", re.I),
     re.compile(r"\b(ED50|ED95|dose that would work|optimal dose|sensible dose|dose[- ]finding|best dose)\b", re.I)),
    # "How does it work?": what it acts on, not that it works
    (re.compile(r"\bmechanisms?\b|\bhow (does|do|would|could|might|can|is) (it|ldn|naltrexone|low[- ]dose naltrexone|this)"
                r"\b[^?.]{0,40}\b(work|help|act|ease|reduce|relieve|supposed)|\bwhat does (it|ldn|naltrexone) "
                r"(actually )?do (in|to)\b", re.I),
     re.compile(r"\b(acts? on|acting on|works? by|by (blocking|reducing|increasing|calming)|blocks?|binds?|"
                r"inhibit\w*|modulat\w*|represses|damps?|attenuat\w*|receptors?|cells?)\b", re.I)),
    # "Why is that?": a sentence that gives a reason
    (re.compile(r"^\s*why\b|[.?!]\s*why\b|\bhow come\b", re.I),
     re.compile(r"\b(because|since|due to|reasons?|which is why|this is why|as a result|so that|explains?)\b", re.I)),
    (re.compile(r"\b(find|found|show|showed|shown|conclude|concluded|conclusion|results?|outcomes?|beat|"
                r"better than|help|helps|helping|helped|work|works|effective|benefit|change|changes|alter|alters|"
                r"make (a|any) difference)\b", re.I),
     RESULT),
    (re.compile(r"\b(percentage|what percent|how many percent|what proportion|what share|share of)\b", re.I),
     re.compile(r"\d\s?(%|percent)", re.I)),
    (re.compile(r"\b(how long|how soon|how quickly|how many (weeks|months|days))\b", re.I),
     re.compile(r"\b(\d+|several|few|one|two|three|four|six|eight|twelve)\s+(days?|weeks?|months?|years?)\b", re.I)),
    (re.compile(r"^\s*when\b|\b(what time|time of day|morning or (night|evening))\b", re.I),
     re.compile(r"\b(morning|night|nightly|bedtime|evening|daily|once a day|at \d)", re.I)),
    (re.compile(r"\b(how many|how much|what dose|which dose|what dosage|how high|how low|milligrams?|mg)\b", re.I),
     re.compile(r"\b(\d+(\.\d+)?|" + NUMBER_WORDS + r")\s?(mg|milligrams?|micrograms?|%|percent|patients|participants|"
                r"women|men|people|adults|children)?\b", re.I)),
    # "Is there any research on it for IBS?": what the research found (after the number questions, so
    # that "How many studies...?" still wants a number)
    (re.compile(r"^(?!.*\b(safe|safety|harms?|side effects?|adverse|risks?)\b).*\b(research\w*|studied|studies|"
                r"tested|trials?|evidence|do(es)? (it |ldn |naltrexone )?(do )?anything)\b", re.I), RESULT),
    (re.compile(r"\b(cost|price|expensive|cheap|afford)", re.I),
     re.compile(r"\b(cost|price|inexpensive|expensive|insurance|\$\d)", re.I)),
]


def answer_pattern(question: str) -> re.Pattern[str] | None:
    """How a sentence that answers looks, judged by what is asked: the parts that end in "?", when
    they say; the story around them ("none of them really helped") does not decide.

    >>> answer_pattern("Lyrica never helped. What dose do people take?") is answer_pattern("What dose?")
    True
    >>> answer_pattern("When is the 4.5 mg dose taken?") is answer_pattern("When is it taken?")
    True
    """
    asking = asked(question)
    for text in ([asking] if asking else []) + [question]:
        for asks, gives in ANSWER_TYPES:
            if asks.search(text):
                return gives
    return None
