"""Score answers the way ../shared/eval/README.md defines, and run a question file through an assistant.

Text is compared after lower-casing, removing citation markers such as [2] or [1, 3], removing Markdown
emphasis characters, straightening quotes and folding white space.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .errors import InputError

MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def normalize(text: str) -> str:
    text = MARKER.sub(" ", text.lower())
    text = re.sub(r"[*_`~]", "", text)
    text = text.translate(str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "´": "'", "`": "'"}))
    return re.sub(r"\s+", " ", text).strip()


def marked_sentences(answer: str) -> list[tuple[str, list[int]]]:
    r"""Each stretch of the answer that ends in markers, with the marker numbers. Paragraphs are read
    separately, so a heading paragraph without markers is not part of the sentence after it.

    >>> marked_sentences("A is so. [1] B too. [2, 3] Trailing.\n\n**Studies**\n\nC. [4]")
    [('A is so.', [1]), ('B too.', [2, 3]), ('C.', [4])]
    """
    out: list[tuple[str, list[int]]] = []
    for paragraph in re.split(r"\n\s*\n", answer):
        begin = 0
        for match in MARKER.finditer(paragraph):
            sentence = MARKER.sub("", paragraph[begin:match.start()]).strip()
            if sentence:
                out.append((sentence, [int(n) for n in match.group(1).split(",")]))
            elif out:
                out[-1][1].extend(int(n) for n in match.group(1).split(","))
            begin = match.end()
    return out


def supported(sentence: str, text: str) -> bool:
    """The citation's text contains the sentence, or a contiguous run of >= 80% of its characters."""
    s, t = normalize(sentence), normalize(text)
    if not s or s in t:
        return bool(s)
    return longest_common_run(s, t) >= 0.8 * len(s)


def longest_common_run(a: str, b: str) -> int:
    best, prev = 0, [0] * (len(b) + 1)
    for ch in a:
        cur = [0] * (len(b) + 1)
        for j, other in enumerate(b, 1):
            if ch == other:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


@dataclass
class Score:
    answerable: list[bool] = field(default_factory=list)
    unanswerable: list[bool] = field(default_factory=list)
    urgent: list[bool] = field(default_factory=list)
    markers: int = 0
    supported_markers: int = 0
    failures: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, float | None]:
        def share(xs: list[bool]) -> float | None:
            return round(sum(xs) / len(xs), 4) if xs else None

        return {"answerable_correct": share(self.answerable), "unanswerable_abstained": share(self.unanswerable),
                "urgent": share(self.urgent),
                "citation_precision": round(self.supported_markers / self.markers, 4) if self.markers else None}


def score_one(item: dict[str, Any], answer: dict[str, Any], score: Score) -> bool:
    """Add one answer to the score; returns whether it was correct."""
    if item.get("urgent"):
        ok = answer.get("urgent") is True
        score.urgent.append(ok)
        return ok
    cites = {c["id"]: c["text"] for c in answer.get("citations", [])}
    for sentence, numbers in marked_sentences(answer.get("answer", "")):
        for n in numbers:
            score.markers += 1
            score.supported_markers += n in cites and supported(sentence, cites[n])
    if not item.get("answerable", True):
        ok = answer.get("abstained") is True
        score.unanswerable.append(ok)
        return ok
    said = normalize(answer.get("answer", ""))
    sources = normalize(" ".join(cites.values()))
    ok = not answer.get("abstained") and all(
        any(normalize(p) in said and normalize(p) in sources for p in group) for group in item.get("facts", []))
    score.answerable.append(ok)
    return ok


def read_questions(path: Path) -> list[dict[str, Any]]:
    items = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise InputError(f"{path}:{number}: not JSON ({exc.msg})") from exc
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise InputError(f"{path}:{number}: expected an object with a \"question\" string")
        items.append(item)
    return items


def evaluate(items: Iterable[dict[str, Any]], ask: Callable[[str, list[str]], dict[str, Any]]) -> Score:
    score = Score()
    for item in items:
        try:
            answer = ask(item["question"], list(item.get("history") or []))
        except InputError as exc:
            answer = {"answer": "", "abstained": True, "urgent": False, "citations": [], "notice": str(exc)}
        if not score_one(item, answer, score):
            score.failures.append(f"{item.get('id', '?')}: {item['question']}")
    return score
