"""Stage 0, learned: a classifier over message vectors that says how likely a message is urgent.

Patterns and nearest examples (`triage.py`) catch the usual phrasings; on realistic messages written by
people who had not seen them they flagged about half the urgent ones. This model learns, from labelled
messages, which directions of the embedding space separate "I have my tablets lined up tonight" from "is
an overdose of LDN dangerous?": one logistic regression per category (self-harm, overdose, severe
reaction), each against ordinary messages and their sentences.

It is data, like the patterns: `ldnqa triage-train FILE...` fits it on labelled JSON lines
(`{"message", "urgent", "category"}`) and on the example messages of `urgent_examples.txt`, picks each
category's threshold by cross-validation, and writes
`data/triage_model.json` with the model it was fitted for and a hash of each training file. A model
fitted for another embedding model is not used (vectors of another space mean nothing to it).

Pure numpy; the embedder is passed in.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from .errors import InputError, ModelError

CATEGORIES = ("self-harm", "overdose", "severe-reaction")
FOLDS = 5
# Largest share of ordinary messages (held out in cross-validation) a category may flag. Urgent-care
# text above an ordinary answer costs the reader a moment; a missed crisis costs more, but a model
# that flags ordinary questions often would teach people to skip the message.
MAX_FALSE_ALARMS = 0.01
# A pattern or example match stands only when the model gives some category at least this probability.
# Patterns match words, not situations: "I fainted once in 2019", "no swelling", "years ago I had an
# overdose". Measured with the first model (patterns alone flag up to 15% of ordinary messages): at
# 0.3 the false alarms of triage3 fell from 15 to 10 of 60 and no urgent message was lost, on it or on
# the ~60 urgent messages of the answer sets.
CORROBORATION = 0.3
# Self-harm matches are never overruled: the model has learned too few passive wishes ("my kids would be
# happier if I just wasn't around" scores 0.06), and a missed crisis costs more than a false alarm.
UNCHALLENGED = frozenset({"self-harm"})
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.50, 0.96, 0.01))
Embed = Callable[[Sequence[str]], np.ndarray]
Texts = Callable[[str], list[str]]  # a message -> the texts it is judged by: the whole, then its sentences


@dataclass(frozen=True)
class UrgencyModel:
    """Per category: weights over the vector, a bias, and the probability at which it flags."""

    model: str
    weights: Mapping[str, np.ndarray]
    bias: Mapping[str, float]
    thresholds: Mapping[str, float]

    def __post_init__(self) -> None:  # all categories in one product per message (asked per question)
        object.__setattr__(self, "_matrix", np.stack(list(self.weights.values()), 1)
                           if self.weights else np.zeros((0, 0)))
        object.__setattr__(self, "_bias", np.array([self.bias[c] for c in self.weights]))

    def probabilities(self, vectors: np.ndarray) -> dict[str, float]:
        """Each category's highest probability over the rows (the message, then its sentences)."""
        if not self.weights:
            return {}
        best = sigmoid((np.atleast_2d(vectors) @ self._matrix + self._bias).max(axis=0))
        return {c: float(p) for c, p in zip(self.weights, best)}


def highest(vectors: np.ndarray, weights: np.ndarray, bias: float) -> float:
    """The highest probability one category's regression gives any row of `vectors`."""
    return float(sigmoid(np.atleast_2d(vectors) @ weights + bias).max())


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def load_model(path: str | Path, model_name: str, dim: int) -> UrgencyModel | None:
    """The classifier at `path`, or None when it is absent or was fitted for another embedding model."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("model") != model_name or data.get("dim") != dim:
            return None
        cats = data["categories"]
        weights = {c: np.asarray(v["weights"], dtype=np.float32).reshape(dim) for c, v in cats.items()}
        return UrgencyModel(model_name, weights, {c: float(v["bias"]) for c, v in cats.items()},
                            {c: float(v["threshold"]) for c, v in cats.items()})
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        # Refuse rather than triage without it: a damaged model must not quietly lower urgent recall.
        raise ModelError(f"{path} is damaged ({exc!r}); restore it from git or run `ldnqa triage-train` "
                         "(docs/triage.md)") from exc


# --- fitting ------------------------------------------------------------------------------------
def fit(x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """L2-regularised logistic regression by Newton's method, classes weighted equally; [w..., bias].

    >>> x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> w = fit(x, np.array([1.0, 1.0, 0.0, 0.0]), l2=0.1)
    >>> bool(w[0] > 0 > w[1])
    True
    """
    xb = np.hstack([x, np.ones((len(x), 1))]).astype(np.float64)
    share = y.mean()
    weight = np.where(y == 1, 0.5 / share, 0.5 / (1 - share))  # each class counts as half the data
    ridge = l2 * np.eye(xb.shape[1])
    ridge[-1, -1] = 0.0  # the bias is not shrunk
    w = np.zeros(xb.shape[1])
    for _ in range(50):
        p = sigmoid(xb @ w)
        gradient = xb.T @ (weight * (p - y)) + ridge @ w
        hessian = (xb * (weight * p * (1 - p))[:, None]).T @ xb + ridge
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return w


@dataclass(frozen=True)
class Example:
    """A labelled message and the vectors it is judged by: the message, then its sentences."""

    message: str
    category: str  # "none" when ordinary
    vectors: np.ndarray


def read_examples(paths: Sequence[Path]) -> list[tuple[str, str]]:
    """(message, category) from JSON lines files; category "none" for ordinary messages.

    A `.txt` file is read as the example messages of `urgent_examples.txt` (`[category]` sections,
    every line urgent), so that the examples the assistant matches are training data without a copy.
    """
    out: list[tuple[str, str]] = []
    for path in paths:
        if path.suffix == ".txt":
            out += example_rows(path)
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                message, urgent = row["message"], bool(row["urgent"])
                category = row.get("category", "none") if urgent else "none"
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError(f"{path}:{number}: expected {{\"message\", \"urgent\", \"category\"}} ({exc})")
            if urgent and category not in CATEGORIES:
                raise InputError(f"{path}:{number}: category must be one of {', '.join(CATEGORIES)}")
            out.append((message, category))
    return out


def sections(path: str) -> list[tuple[str, str]]:
    """(category, line) for each entry of a data file of `[category]` sections; comments skipped."""
    out: list[tuple[str, str]] = []
    category = "urgent"
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            category = line[1:-1].strip()
        else:
            out.append((category, line))
    return out


def example_rows(path: Path) -> list[tuple[str, str]]:
    """(message, category) for each line of a file of `[category]` sections of urgent messages."""
    rows = [(line, category) for category, line in sections(str(path))]
    for line, category in rows:
        if category not in CATEGORIES:
            raise InputError(f"{path}: [{category}] is not a category; use one of {', '.join(CATEGORIES)}")
    return rows


def vectorise(rows: Sequence[tuple[str, str]], embed: Embed, texts_of: Texts) -> list[Example]:
    """Embed every message's texts in one call."""
    judged = [texts_of(message) for message, _ in rows]
    texts = list(dict.fromkeys(t for ts in judged for t in ts))
    table = dict(zip(texts, embed(texts)))
    return [Example(m, c, np.array([table[t] for t in ts])) for (m, c), ts in zip(rows, judged)]


def fit_category(examples: Sequence[Example], category: str, l2: float) -> np.ndarray:
    """Urgent messages of `category` against ordinary messages and each of their sentences.

    An urgent message's sentences are not used: only one of them may be urgent. Every sentence of an
    ordinary message is ordinary, which teaches the model the sentences it will be judged on.
    """
    positive = [e.vectors[0] for e in examples if e.category == category]
    negative = [v for e in examples if e.category == "none" for v in e.vectors]
    y = np.array([1.0] * len(positive) + [0.0] * len(negative))
    return fit(np.array(positive + negative), y, l2)


def choose_threshold(examples: Sequence[Example], category: str, l2: float) -> float:
    """The lowest threshold at which held-out ordinary messages are flagged at most MAX_FALSE_ALARMS."""
    ordinary: list[float] = []
    for fold in range(FOLDS):
        train = [e for i, e in enumerate(examples) if i % FOLDS != fold]
        w = fit_category(train, category, l2)
        ordinary += [highest(e.vectors, w[:-1], w[-1])
                     for i, e in enumerate(examples) if i % FOLDS == fold and e.category == "none"]
    scores = np.array(ordinary)
    return next((t for t in THRESHOLDS if (scores >= t).mean() <= MAX_FALSE_ALARMS), THRESHOLDS[-1])


def train(paths: Sequence[Path], embed: Embed, texts_of: Texts, model_name: str, l2: float = 0.1) -> dict:
    """The JSON document of a model fitted on `paths` (see the module docstring).

    `texts_of` gives the texts the assistant embeds for a message, so that the model learns from the
    vectors it will be given: for a question that is the search text (with synonyms), not the question.
    """
    rows = read_examples(paths)
    if not any(c == "none" for _, c in rows):
        raise InputError("the training files hold no ordinary messages to learn the difference from")
    examples = vectorise(rows, embed, texts_of)
    categories = {}
    for category in [c for c in CATEGORIES if any(c == label for _, label in rows)]:  # those with examples
        w = fit_category(examples, category, l2)
        categories[category] = {"threshold": choose_threshold(examples, category, l2),
                                "bias": round(float(w[-1]), 6), "weights": [round(float(v), 6) for v in w[:-1]]}
    return {"model": model_name, "dim": int(examples[0].vectors.shape[1]), "l2": l2,
            "max_false_alarms": MAX_FALSE_ALARMS, "trained_on": [fingerprint(p) for p in paths],
            "categories": categories}


def fingerprint(path: Path) -> dict[str, object]:
    """What a model was fitted on: the file's path from where the command ran, line count, content hash."""
    data = path.read_bytes()
    return {"file": Path(os.path.relpath(path)).as_posix(), "lines": data.count(b"\n"),
            "sha256": hashlib.sha256(data).hexdigest()}
