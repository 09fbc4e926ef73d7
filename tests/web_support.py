"""Shared helpers for the web tests: a small stub engine, staff credentials for tests, a real uvicorn
server on a free port, and the real server in a separate process that records every network call it
makes (`audited_server`). The real engine is the session fixture `assistant` (tests/conftest.py)."""
from __future__ import annotations

import atexit
import functools
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx

from ldnqa.errors import InputError
from ldnqa.limits import RateLimits
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


def running_app(assistant: Any, data_dir: Path, staff: StaffConfig,
                limits: RateLimits | None = None) -> Iterator[RunningApp]:
    """Start the whole app on a free port for the duration of a fixture (no rate limits unless
    `limits` are given: the tests send many requests from one address)."""
    app = create_app(assistant, data_dir, staff, session_secret=b"test secret",
                     limits=limits or RateLimits.unlimited(), retention=None)
    server = BackgroundServer(app).start()
    try:
        yield RunningApp(server, data_dir, assistant)
    finally:
        server.stop()


# --- the real server in its own process, with every network call recorded -----------------------

# As `sitecustomize.py` on PYTHONPATH, the hook is installed in every Python process the server starts
# (its engine processes too); each process first records its command line.
AUDIT_HOOK = r'''"""Append every network-related audit event of this process to $NET_AUDIT_LOG (JSON lines)."""
import json, os, socket, sys, threading

_out = open(os.environ["NET_AUDIT_LOG"], "a", buffering=1, encoding="utf-8")
_out.write(json.dumps({"event": "process", "pid": os.getpid(), "args": list(sys.orig_argv)}) + "\n")
_busy = threading.local()
_WATCH = ("socket.", "http.client.connect", "urllib.Request", "subprocess.Popen", "os.system")


def _hook(event, args):
    if not event.startswith(_WATCH) or event == "socket.__new__" or getattr(_busy, "on", False):
        return
    _busy.on = True
    try:
        args = list(args)
        record = {"event": event}
        if args and isinstance(args[0], socket.socket):
            record["family"] = int(args.pop(0).family)
        record["args"] = [a if isinstance(a, (str, int, float, type(None))) else
                          list(a) if isinstance(a, tuple) else repr(a)[:200] for a in args]
        _out.write(json.dumps(record, default=repr) + "\n")
    finally:
        _busy.on = False


sys.addaudithook(_hook)
'''
AUDIT_WRAPPER = AUDIT_HOOK + '''
import runpy
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
'''
# The no-network switches are the code's job: the server process must not inherit them from the tests.
NETWORK_SWITCHES = ("GRADIO_ANALYTICS_ENABLED", "HF_HUB_OFFLINE", "HF_HUB_DISABLE_TELEMETRY",
                    "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "DO_NOT_TRACK")
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def is_local(host: Any) -> bool:
    """True for a loopback host or address (and for no host at all)."""
    if host is None or isinstance(host, bytes) or str(host).lower() in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def outbound(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The recorded events that reach (or look up) anything beyond this machine's loopback."""
    found = []
    for event in events:
        name, args = event["event"], event.get("args") or [None]
        if name in ("process", "socket.bind", "socket.__new__") or name.startswith("subprocess"):
            continue
        if name in ("socket.connect", "socket.sendto", "socket.sendmsg"):
            address = args[0]
            if event.get("family") == socket.AF_UNIX or not isinstance(address, list):
                continue
            host = address[0] if address else None
        elif name in ("urllib.Request",):
            host = httpx.URL(str(args[0])).host
        else:  # getaddrinfo, gethostbyname, gethostbyaddr, getnameinfo, http.client.connect
            host = args[0][0] if isinstance(args[0], list) else args[0]
        if not is_local(host):
            found.append(event)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    """`serve()` in its own process, every Python process of it audited: its URL, log and network record."""

    process: subprocess.Popen
    url: str
    folder: Path

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    def log_text(self) -> str:
        return (self.folder / "server.log").read_text(encoding="utf-8", errors="replace")

    def events(self) -> list[dict[str, Any]]:
        lines = (self.folder / "net-audit.jsonl").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_server_process(folder: Path, index_dir: Path, env: dict[str, str] | None = None,
                         timeout: float = 600) -> ServerProcess:
    """Start the real server (real engine, real corpus) on a free loopback port and wait for it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "audit").mkdir(exist_ok=True)
    (folder / "audit" / "sitecustomize.py").write_text(AUDIT_HOOK, encoding="utf-8")
    (folder / "serve.py").write_text(
        "from ldnqa.launch import serve\n"
        f"serve(corpus_dir={str(REPO / 'corpus')!r}, index_dir={str(index_dir)!r})\n", encoding="utf-8")
    port = free_port()
    child_env = {k: v for k, v in os.environ.items()
                 if k not in NETWORK_SWITCHES and not k.startswith("LDNQA_")}
    child_env.update(LDNQA_HOST="127.0.0.1", LDNQA_PORT=str(port), LDNQA_DATA_DIR=str(folder / "data"),
                     NET_AUDIT_LOG=str(folder / "net-audit.jsonl"), PYTHONUNBUFFERED="1",
                     PYTHONPATH=os.pathsep.join([str(folder / "audit"), *filter(None, [os.environ.get("PYTHONPATH")])]),
                     GRADIO_TEMP_DIR=str(folder / "gradio-tmp"),
                     LDNQA_STAFF_PASSWORD_HASHES=make_hash_line(STAFF_USER, STAFF_PASSWORD),
                     **(env or {}))
    with open(folder / "server.log", "w") as log:
        process = subprocess.Popen([sys.executable, str(folder / "serve.py")], env=child_env, cwd=folder,
                                   stdout=log, stderr=subprocess.STDOUT)
    server = ServerProcess(process, f"http://127.0.0.1:{port}", folder)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError("the server exited:\n" + server.log_text()[-3000:])
        try:
            if httpx.get(server.url + "/api/health", timeout=5).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError("the server did not start:\n" + server.log_text()[-3000:])
        time.sleep(0.5)


AUDITED_ENV = {"LDNQA_ASK_PER_MINUTE": "600000", "LDNQA_ASK_BURST": "100000",
               "LDNQA_FEEDBACK_PER_MINUTE": "600000", "LDNQA_FEEDBACK_BURST": "100000"}


@functools.lru_cache(maxsize=1)
def audited_server(index_dir: Path) -> ServerProcess:
    """One real server process per test run on the session's real index (fixture `real_index_dir`),
    shared by the network, privacy and load tests (rate limits high enough for the load test;
    everything else as in production)."""
    folder = Path(tempfile.mkdtemp(prefix="ldnqa-audited-"))
    server = start_server_process(folder, index_dir, AUDITED_ENV)
    atexit.register(shutil.rmtree, folder, True)
    atexit.register(server.stop)  # runs before the folder is removed
    return server
