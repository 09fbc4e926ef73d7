"""Engine processes: the web server hands each question to one of several processes that each hold
the engine (model and index), so that answering uses every core without sharing the web server's GIL.

The web process keeps a `Library` (documents for the viewer and staff pages, no model) and talks to
each engine process over its stdin and stdout, one line each way:

    web -> engine   {"question": "...", "history": ["..."]}
    engine -> web   R                      once, when loaded and warmed up
                    A{"question": ...}     the answer, as the exact bytes /api/ask sends
                    I"message"             the question cannot be answered as given (InputError: 400)
                    E"message"             the engine cannot answer now (LdnqaError: 503)
                    X"TypeName"            a bug in the engine, logged there (500)

Why processes (docs/performance.md, thirteenth session): with two engine threads in the web process,
the Python parts of answering and the event loop took turns on one GIL, and 8 clients got 0.58-0.63
of the answers per second that the model alone allows. The answer is encoded to JSON in the engine
process, so the web process neither decodes nor re-encodes it; the pipes are read by the event loop
itself (no helper threads, whose GIL hand-offs cost more than the work they carry).

An engine process that dies is replaced; its question gets a 503. An engine process exits when its
stdin closes, so it never outlives the web server. Ctrl-C is left to the web server (engine processes
ignore SIGINT), which then closes their stdin.

    python -m ldnqa.engines --corpus corpus --index index [--threads 1]   # one engine process
"""
from __future__ import annotations

import argparse
import asyncio
import atexit
import concurrent.futures
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Any, Mapping, Sequence

from .errors import EngineUnavailable, InputError, LdnqaError

log = logging.getLogger("ldnqa.server")
WARM_UP = "What is low-dose naltrexone?"
READ_LIMIT = 1 << 24  # bytes in one answer line (answers are a few kB)
MAX_RESTARTS = 5  # engine processes that died before they were ready; then the pool gives up
CHAT_TIMEOUT = 300  # seconds a chat-page question may wait (the loop gone, or the engine stuck)


def to_json(answer: Mapping[str, Any]) -> bytes:
    """An answer as /api/ask sends it: the bytes of Starlette's JSONResponse for the same dict."""
    return json.dumps(answer, ensure_ascii=False, allow_nan=False, indent=None,
                      separators=(",", ":")).encode("utf-8")


def corpus_health(library: Any) -> dict[str, Any]:
    """What /api/health says about the corpus answered from (either gate)."""
    counts = library.passage_counts
    return {"documents": len(library.documents), "passages": int(sum(counts.values())),
            "skipped": [{"file": str(f), "reason": str(r)} for f, r in library.skipped]}


def document_meta(library: Any, doc_id: str) -> Mapping[str, Any]:
    """A document's front matter for the chat page's citation cards ({} for an unknown id)."""
    doc = library.document(doc_id)
    return dict(doc.meta or {}) if doc is not None else {}


class Worker:
    """One engine process and, once the event loop has attached them, its pipes."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str]) -> None:
        self.process = subprocess.Popen(list(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        env=dict(env))
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.ready = False  # loaded and answering (it said so)

    async def attach(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Connect the pipes to the loop and wait for the ready line; False if the process died first."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.reader = asyncio.StreamReader(limit=READ_LIMIT)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(self.reader), self.process.stdout)
        transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin,
                                                            self.process.stdin)
        self.writer = asyncio.StreamWriter(transport, protocol, self.reader, loop)
        self.ready = await self.reader.readline() == b"R\n"
        return self.ready

    async def exchange(self, line: bytes) -> bytes:
        """Send one question line, return the reply line; b"" when the process has gone."""
        assert self.reader is not None and self.writer is not None
        try:
            self.writer.write(line)
            await self.writer.drain()
            return await self.reader.readline()
        except (ConnectionError, ValueError):  # ValueError: a line over READ_LIMIT
            return b""

    def stop(self, wait: float = 5.0) -> None:
        """Close stdin (the process finishes its question and exits), then kill it if it lingers."""
        try:
            if self.writer is not None:
                self.writer.close()
            elif self.process.stdin is not None:
                self.process.stdin.close()
        except (OSError, RuntimeError):  # already closed, or the loop is gone
            pass
        try:
            self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class EngineProcesses:
    """`count` engine processes behind the interface of `api.EngineGate` (ask, ask_json, health, ...).

    The first process starts at construction, so that it loads while the web app is being built, the
    others in `start()` (the app's lifespan), where the event loop attaches their pipes. Questions wait for a free
    process; `max_waiting` in flight at once is the limit beyond which the API answers 503."""

    def __init__(self, library: Any, corpus_dir: Path | str, index_dir: Path | str, count: int,
                 max_waiting: int, threads: int | None = None, command: Sequence[str] | None = None) -> None:
        self.assistant = library
        self.concurrency = count
        self.max_waiting = max_waiting
        self.waiting = 0
        self.command = list(command or [sys.executable, "-m", "ldnqa.engines", "--corpus", str(corpus_dir),
                                        "--index", str(index_dir), *(["--threads", str(threads)] if threads else [])])
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # One process starts now and loads while the web app is built; the rest once the server runs, so
        # that the first answer does not wait for several processes sharing the cores with Gradio's import.
        self.workers = [Worker(self.command, self.env)]
        self.restarts = 0
        self.closed = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.idle: asyncio.Queue[Worker | None] | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self._health = corpus_health(library)
        atexit.register(self.close)

    @property
    def ready(self) -> int:
        """Engine processes loaded and answering."""
        return sum(w.ready for w in self.workers)

    @property
    def health(self) -> dict[str, Any]:
        status = "ok" if self.ready else "starting" if self.workers else "unavailable"
        return {"status": status, **self._health}

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.idle = asyncio.Queue()
        self.workers += [Worker(self.command, self.env) for _ in range(self.concurrency - 1)]
        for worker in self.workers:
            self._spawn_task(self._bring_up(worker))

    def _spawn_task(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)  # a reference, so the task is not collected while it runs
        task.add_done_callback(self.tasks.discard)

    async def _bring_up(self, worker: Worker) -> None:
        assert self.loop is not None and self.idle is not None
        if await worker.attach(self.loop):
            self.idle.put_nowait(worker)
            return
        worker.stop(wait=1)
        log.error("an engine process failed to start (exit code %s); see the log above",
                  worker.process.returncode)
        self._replace(worker)

    def _replace(self, worker: Worker) -> None:
        """Start a new process in place of one that died; give up after MAX_RESTARTS failed starts."""
        assert self.idle is not None
        if worker not in self.workers:  # closing, or already replaced
            return
        self.workers.remove(worker)
        self.restarts += 0 if worker.ready else 1
        if self.closed:
            return
        if self.restarts > MAX_RESTARTS:
            if not self.workers:
                log.error("no engine process could be started; questions get 503")
                self.idle.put_nowait(None)  # wakes every waiter (see `_take`)
            return
        fresh = Worker(self.command, self.env)
        self.workers.append(fresh)
        self._spawn_task(self._bring_up(fresh))

    async def _take(self) -> Worker:
        """The next free engine process; one that died while free is replaced, not used."""
        assert self.idle is not None
        while True:
            if self.closed:
                raise EngineUnavailable("the server is shutting down")
            worker = await self.idle.get()
            if worker is None:
                self.idle.put_nowait(None)
                raise EngineUnavailable("the answer engine could not be started; see the server log")
            if worker.reader is not None and not worker.reader.at_eof():
                return worker
            self._lost(worker)

    async def _answer(self, question: str, history: Sequence[str]) -> bytes:
        if self.idle is None:
            raise EngineUnavailable("the answer engine is still starting")
        line = json.dumps({"question": question, "history": list(history)}).encode("utf-8") + b"\n"
        worker = await self._take()
        # Shielded: a client that goes away must not leave a reply unread in the pipe.
        reply = await asyncio.shield(self._exchange(worker, line))
        kind, body = reply[:1], reply[1:-1]
        if kind == b"A":
            return body
        if kind == b"I":
            raise InputError(json.loads(body))
        if kind == b"E":
            raise EngineUnavailable(json.loads(body))
        if kind == b"X":  # a bug, logged by the engine process: a 500, like one in this process
            raise RuntimeError("an engine process failed on a question")
        raise EngineUnavailable("an engine process stopped while answering; please try again")

    async def _exchange(self, worker: Worker, line: bytes) -> bytes:
        assert self.idle is not None
        reply = await worker.exchange(line)
        if reply.endswith(b"\n"):
            self.idle.put_nowait(worker)
            return reply
        self._lost(worker)
        return b"D\n"  # died

    def _lost(self, worker: Worker) -> None:
        worker.stop(wait=1)
        if not self.closed:
            log.error("an engine process stopped (exit code %s); starting another", worker.process.returncode)
        self._replace(worker)

    async def ask_json(self, question: str, history: list[str]) -> bytes | None:
        """The answer as JSON bytes, or None when `max_waiting` questions are already in flight."""
        if self.waiting >= self.max_waiting:
            return None
        self.waiting += 1
        try:
            return await self._answer(question, history)
        finally:
            self.waiting -= 1

    def ask(self, question: str, history: list[str]) -> dict[str, Any]:
        """For the chat page's worker threads (never the event loop's own thread)."""
        if self.loop is None:
            raise EngineUnavailable("the answer engine is still starting")
        future = asyncio.run_coroutine_threadsafe(self._answer(question, history), self.loop)
        try:
            return dict(json.loads(future.result(timeout=CHAT_TIMEOUT)))
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise EngineUnavailable("the answer engine did not answer in time; please try again") from None

    def meta(self, doc_id: str) -> Mapping[str, Any]:
        return document_meta(self.assistant, doc_id)

    def close(self) -> None:
        """Stop every engine process (idempotent)."""
        self.closed = True
        workers, self.workers = list(self.workers), []
        for worker in workers:
            worker.stop()


# --- the engine process ------------------------------------------------------------------------

def reply(assistant: Any, line: bytes) -> bytes:
    """One reply line (without its newline) for one question line."""
    try:
        request = json.loads(line)
        answer = assistant.ask(request["question"], history=request.get("history") or [])
        return b"A" + to_json(answer.to_dict())
    except InputError as exc:
        return b"I" + json.dumps(str(exc)).encode("utf-8")
    except LdnqaError as exc:
        return b"E" + json.dumps(str(exc)).encode("utf-8")
    except Exception as exc:  # an engine bug: this question fails, the process keeps answering
        print(f"engine process: {type(exc).__name__} while answering", file=sys.stderr, flush=True)
        return b"X" + json.dumps(type(exc).__name__).encode("utf-8")


def serve_lines(assistant: Any, lines: IO[bytes], out: IO[bytes]) -> None:
    out.write(b"R\n")
    out.flush()
    for line in lines:
        out.write(reply(assistant, line) + b"\n")
        out.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ldnqa.engines", description="one engine process")
    parser.add_argument("--corpus", default="corpus")
    parser.add_argument("--index", default="index")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the web server handles Ctrl-C and closes our stdin
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else printed goes to the log, never into the replies
    sys.stdout = sys.stderr
    from . import Assistant
    from .config import Settings
    from .embedding import SentenceTransformerEmbedder

    try:
        settings = Settings.from_env()
        embedder = SentenceTransformerEmbedder(settings.model, threads=args.threads)
        assistant = Assistant.load(corpus_dir=args.corpus, index_dir=args.index, embedder=embedder,
                                   settings=settings, log=lambda m: print(m, file=sys.stderr, flush=True))
        assistant.ask(WARM_UP, history=[])
    except LdnqaError as exc:
        print(f"Error: {exc}", file=sys.stderr, flush=True)
        return 1
    serve_lines(assistant, sys.stdin.buffer, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
