"""Settings, with their defaults and the environment variables that override them.

Only `INDEX_SETTINGS` fields shape the index: changing one of them rebuilds it (the manifest records
them). The rest tune answering and can change freely.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

DEFAULT_MODEL = "all-MiniLM-L6-v2"
INDEX_FORMAT = 3  # bump when the on-disk layout changes
CHUNKER_VERSION = 3  # bump when chunking or sentence splitting changes: indexes built before are rebuilt
DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Settings:
    """Everything tunable. `Settings.from_env()` applies LDNQA_* environment variables."""

    model: str = DEFAULT_MODEL  # a sentence-transformers model name or a local path
    chunk_chars: int = 700  # passages are packed with whole sentences up to about this length
    dense_k: int = 40  # candidates taken from each retriever before fusion
    lexical_k: int = 40
    rrf_k: int = 60  # reciprocal rank fusion constant: 1 / (rrf_k + rank)
    fusion: str = "zscore"  # or "rrf"; z-score measured equal on the question sets, +0.015 nDCG@10 on SciFact
    dense_weight: float = 0.4  # z-score fusion: share of the dense score
    passages: int = 10  # fused passages whose sentences compete for the answer
    max_sentences: int = 5
    max_question_chars: int = 2000
    max_history: int = 20
    synonyms: str = str(DATA_DIR / "synonyms.txt")
    urgent_patterns: str = str(DATA_DIR / "urgent.txt")
    urgent_examples: str = str(DATA_DIR / "urgent_examples.txt")
    urgent_model: str = str(DATA_DIR / "triage_model.json")  # `ldnqa triage-train` writes it
    english_words: str = str(DATA_DIR / "english_words.txt")  # never read as misspellings (spelling.py)

    def index_fields(self) -> dict[str, object]:
        """The settings recorded in the manifest; a change rebuilds the index."""
        return {"model": self.model, "chunk_chars": self.chunk_chars, "format": INDEX_FORMAT,
                "chunker": CHUNKER_VERSION}

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        env = {"model": os.environ.get("LDNQA_MODEL")}
        values = {k: v for k, v in env.items() if v}
        return replace(cls(), **values, **{k: v for k, v in overrides.items() if v is not None})

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


MAX_WAITING = 64  # questions in flight in the web app beyond which /api/ask answers 503 "busy" at once


def concurrent_asks() -> int:
    """How many questions the web app answers at once (engine processes, or threads): LDNQA_CONCURRENT_ASKS,
    else 2.

    Why 2 on two cores: one engine per core; 3 engine processes answered no more per second than 2
    (docs/performance.md, thirteenth session)."""
    raw = os.environ.get("LDNQA_CONCURRENT_ASKS", "2")
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"LDNQA_CONCURRENT_ASKS must be a whole number, not {raw!r}") from None
    if not 1 <= value <= 64:
        raise ValueError(f"LDNQA_CONCURRENT_ASKS must be between 1 and 64, not {value}")
    return value


def engine_mode() -> str:
    """Where the web app answers: LDNQA_ENGINES=processes (default: one engine process per question
    answered at once, each with its own model) or threads (in the web process, one model)."""
    value = os.environ.get("LDNQA_ENGINES", "processes").strip().lower()
    if value not in ("processes", "threads"):
        raise ValueError(f"LDNQA_ENGINES must be processes or threads, not {value!r}")
    return value
