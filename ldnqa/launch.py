"""Start the web app: `python app.py` and `ldnqa serve` come here.

    python app.py     # LDNQA_HOST / LDNQA_PORT / LDNQA_DATA_DIR; defaults 127.0.0.1, 7860, data/
    ldnqa serve --host H --port P

The order is chosen for a fast start: the index is checked (and built if the corpus changed) first,
then the engine processes start loading the model, and only then does this process import the web
stack (Gradio alone takes about 3 s), so the two overlap. LDNQA_ENGINES=threads answers in this
process instead (one copy of the model; slower under many clients: docs/performance.md).
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from .config import MAX_WAITING, Settings, concurrent_asks, engine_mode
from .errors import LdnqaError
from .feedback import retention_days
from .limits import RateLimits
from .staff import StaffConfig

log = logging.getLogger("ldnqa.server")
MAX_CONNECTIONS = 512  # uvicorn answers 503 beyond this many open connections


def address(host: str | None, port: int | str | None) -> tuple[str, int]:
    """Host and port: the arguments, else LDNQA_HOST / LDNQA_PORT, else 127.0.0.1:7860."""
    host = host or os.environ.get("LDNQA_HOST") or "127.0.0.1"
    raw = port if port is not None else os.environ.get("LDNQA_PORT") or 7860
    try:
        number = int(raw)
        if not 0 < number < 65536:
            raise ValueError
    except ValueError:
        raise SystemExit(f"Error: LDNQA_PORT must be a port number, not {raw!r}") from None
    return host, number


def load_engine(corpus_dir: Path | str, index_dir: Path | str, concurrency: int, mode: str) -> tuple[Any, Any]:
    """(what the pages read, the gate that answers): engine processes, or threads in this process."""
    from .assistant import Assistant, Library
    from .embedding import SentenceTransformerEmbedder, serving_threads
    from .engines import WARM_UP, EngineProcesses

    settings = Settings.from_env()
    threads = serving_threads(concurrency)
    say = lambda message: log.info("%s", message)  # noqa: E731
    if mode == "processes":
        library = Library.load(corpus_dir=str(corpus_dir), index_dir=str(index_dir), settings=settings, log=say)
        return library, EngineProcesses(library, corpus_dir, index_dir, concurrency, MAX_WAITING, threads)
    embedder = SentenceTransformerEmbedder(settings.model, threads=threads)
    assistant = Assistant.load(corpus_dir=str(corpus_dir), index_dir=str(index_dir), embedder=embedder,
                               settings=settings, log=say)
    try:  # load the model now, not on the first visitor's question
        assistant.ask(WARM_UP, history=[])
    except LdnqaError as exc:
        log.warning("warm-up question failed: %s", exc)
    return assistant, None


def serve(host: str | None = None, port: int | None = None, corpus_dir: Path | str = "corpus",
          index_dir: Path | str = "index", data_dir: Path | str | None = None) -> None:
    """Load the engine and serve the app until interrupted. None means: environment, then default."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host, port = address(host, port)
    data_dir = Path(data_dir or os.environ.get("LDNQA_DATA_DIR") or "data")
    try:
        limits, days = RateLimits.from_env(), retention_days()
        concurrency, mode = concurrent_asks(), engine_mode()
    except ValueError as exc:
        raise SystemExit(f"Error: {exc}") from None
    staff = StaffConfig.from_env()
    if staff.enabled:
        log.info("staff access enabled for %d user(s) at /staff", len(staff.users))
    else:
        log.warning("%s", staff.problem)
    assistant, gate = load_engine(corpus_dir, index_dir, concurrency, mode)
    try:
        run(assistant, gate, host, port, data_dir, staff, limits, days, concurrency)
    finally:
        if gate is not None:
            gate.close()


def run(assistant: Any, gate: Any, host: str, port: int, data_dir: Path, staff: StaffConfig,
        limits: RateLimits, days: float | None, concurrency: int) -> None:
    import uvicorn

    from .feedback_pg import store_location
    from .server import NoQueryStrings, create_app  # Gradio: imported while the engine processes load

    app = create_app(assistant, data_dir, staff, limits=limits, retention=days, concurrency=concurrency,
                     gate=gate)
    log.info("answering with %d engine %s", concurrency,
             ("process" if concurrency == 1 else "processes") if gate is not None else
             ("thread" if concurrency == 1 else "threads"))
    log.info("feedback is stored in %s (kept %s)", store_location(app.state.store),
             f"{days:g} days" if days is not None else "until purged by hand")
    log.info("rate limits per client: %s questions/min (burst %d), %s feedback/min (burst %d)",
             f"{limits.ask.per_minute:g}" if limits.ask.enabled else "unlimited", limits.ask.burst,
             f"{limits.feedback.per_minute:g}" if limits.feedback.enabled else "unlimited",
             limits.feedback.burst)
    log.info("serving on http://%s:%d/ (staff pages at /staff)", host, port)
    logging.getLogger("uvicorn.access").addFilter(NoQueryStrings())
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False,
                limit_concurrency=MAX_CONNECTIONS, timeout_keep_alive=10)


def main(root: Path | str | None = None) -> None:
    """`python app.py`: serve corpus/ and index/ (and data/ unless LDNQA_DATA_DIR) under `root`."""
    base = Path(root) if root is not None else Path.cwd()
    data_dir = os.environ.get("LDNQA_DATA_DIR") or base / "data"
    try:
        serve(corpus_dir=base / "corpus", index_dir=base / "index", data_dir=data_dir)
    except LdnqaError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
