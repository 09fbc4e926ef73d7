"""Shared helpers for the web tests: the real engine (loaded once per test run), a small stub engine,
staff credentials for tests, and a real uvicorn server on a free port."""
from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ldnqa.errors import InputError
from ldnqa.server import BackgroundServer, create_app
from ldnqa.staff import StaffConfig, make_hash_line
from ldnqa.types import Answer, Citation, Document

REPO = Path(__file__).resolve().parents[1]
STAFF_USER = "reviewer"
STAFF_PASSWORD = "a long test password 42"
REAL_QUESTION = "What did clinical trials find about low-dose naltrexone for fibromyalgia pain?"


@functools.lru_cache(maxsize=1)
def staff_config() -> StaffConfig:
    return StaffConfig.from_lines(make_hash_line(STAFF_USER, STAFF_PASSWORD))


@functools.lru_cache(maxsize=1)
def real_assistant() -> Any:
    """The real engine on the real corpus, with its index in a temporary folder (built once)."""
    from ldnqa import Assistant

    index_dir = tempfile.mkdtemp(prefix="ldnqa-web-index-")
    atexit.register(shutil.rmtree, index_dir, True)
    return Assistant.load(corpus_dir=REPO / "corpus", index_dir=index_dir, log=lambda *_: None)


STUB_TEXT = ("# Stub study\n\nLow-dose naltrexone was tested in a <small> trial & more. "
             "Pain fell by 30% on LDN. Side effects were mild.\n\nThe end.\n")


class StubAssistant:
    """The engine API with one document and canned answers, for tests that need no real model."""

    def __init__(self) -> None:
        meta = {"id": "stub-study", "kind": "study-summary", "year": 2020, "design": "pilot trial",
                "pmid": "12345", "doi": "10.1000/stub.1"}
        self.doc = Document(id="stub-study", title="Stub <b>study</b>", kind="study-summary",
                            reference="Doe J. Stub J. 2020", text=STUB_TEXT, path="stub.md",
                            content_hash="0", meta=meta)
        self.calls: list[tuple[str, list[str]]] = []

    documents = property(lambda self: (self.doc,))
    passage_counts = property(lambda self: {"stub-study": 2})
    skipped = property(lambda self: [("broken.md", "bad front matter")])

    def document(self, doc_id: str) -> Document | None:
        return self.doc if doc_id == self.doc.id else None

    def ask(self, question: str, history: list[str] | tuple[str, ...] = ()) -> Answer:
        self.calls.append((question, list(history)))
        if len(question) > 500:
            raise InputError("Questions are limited to 500 characters; please shorten yours.")
        if "crash" in question:
            raise RuntimeError("engine bug")
        start = STUB_TEXT.index("Low-dose")
        quote = STUB_TEXT.index("Pain fell")
        end = STUB_TEXT.index("\n\nThe end")
        citation = Citation(id=1, doc_id="stub-study", title=self.doc.title, kind="study-summary",
                            reference=self.doc.reference, text=STUB_TEXT[start:end], start=start,
                            end=end, page=None, score=1.0, year=2020,
                            quotes=((quote, quote + len("Pain fell by 30% on LDN.")),))
        urgent = "chest pain" in question
        return Answer(question=question, answer="Pain fell by 30% on LDN. [1]", abstained=False,
                      urgent=urgent, notice="Call your doctor now." if urgent else "",
                      citations=(citation,))


@dataclass
class RunningApp:
    server: BackgroundServer
    data_dir: Path
    assistant: Any

    @property
    def url(self) -> str:
        return self.server.url


def running_app(assistant: Any, data_dir: Path, staff: StaffConfig) -> Iterator[RunningApp]:
    """Start the whole app on a free port for the duration of a fixture."""
    app = create_app(assistant, data_dir, staff, session_secret=b"test secret")
    server = BackgroundServer(app).start()
    try:
        yield RunningApp(server, data_dir, assistant)
    finally:
        server.stop()
