"""The web part of `ldnqa bench`: a real server process on loopback, its cold start, latency and
throughput of POST /api/ask under 1 and 8 concurrent clients, and its memory.

The server is `python -m ldnqa.cli serve` on a free port, with rate limits off (LDNQA_ASK_PER_MINUTE=0:
the limits are per client address, and every bench client is 127.0.0.1) and a throw-away data folder.
Cold start is the time from starting the process to the first answer it serves.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

Question = tuple[str, Sequence[str]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..1) by nearest rank; 0.0 for no values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * (len(ordered) - 1) + 0.5))] if ordered else 0.0


def post_ask(conn: http.client.HTTPConnection, question: str, history: Sequence[str]) -> int:
    body = json.dumps({"question": question, "history": list(history)}).encode()
    conn.request("POST", "/api/ask", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    return response.status


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in kB."""
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key = line.split(":", 1)[0]
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(line.split()[1])
    return out


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (the server and its engine processes)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(child) for child in task.read_text().split()]
            except OSError:  # the thread or process ended meanwhile
                continue
    return found


def tree_memory(pid: int) -> dict[str, float]:
    """RSS now and peak, in MB, summed over a process and its descendants. The summed peaks are an
    upper bound: the processes need not peak at the same moment. Shared pages count once per process."""
    rss = peak = 0
    pids = process_tree(pid)
    for each in pids:
        try:
            kb = memory_kb(each)
        except OSError:
            continue
        rss, peak = rss + kb.get("VmRSS", 0), peak + kb.get("VmHWM", 0)
    return {"rss_mb": round(rss / 1024, 1), "peak_rss_mb": round(peak / 1024, 1), "processes": len(pids)}


class ServerProcess:
    """`ldnqa serve` in a child process; `start()` returns the seconds to its first answer."""

    def __init__(self, corpus: Path, index: Path, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.log_path = data_dir / "server.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "LDNQA_ASK_PER_MINUTE": "0", "LDNQA_DATA_DIR": str(data_dir),
                    "LDNQA_FEEDBACK_RETENTION_DAYS": "off", **(env or {})}
        self.command = [sys.executable, "-m", "ldnqa.cli", "serve", "--corpus", str(corpus),
                        "--index", str(index), "--host", "127.0.0.1", "--port", str(self.port)]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, question: str = "What dose of LDN is used?", timeout: float = 120) -> float:
        started = time.perf_counter()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}); see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if post_ask(conn, question, []) == 200:
                    conn.close()
                    return time.perf_counter() - started
                conn.close()
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"no answer from the server within {timeout:.0f} s; see {self.log_path}")

    def memory(self) -> dict[str, float]:
        """The server's memory with its engine processes (`tree_memory`)."""
        assert self.process is not None
        return tree_memory(self.process.pid)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def run_clients(call: Callable[[int], Any], clients: int, total: int, seconds: float) -> dict[str, Any]:
    """`clients` threads each calling `call(i)` until `total` calls are made or `seconds` pass.

    Returns count, errors, wall time, throughput (calls/s) and latency p50/p95 (ms)."""
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(total))
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        while time.monotonic() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            t0 = time.perf_counter()
            try:
                call(i)
            except Exception as exc:  # counted and reported: any failure is an error of the run
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            with lock:
                latencies.append(time.perf_counter() - t0)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {"clients": clients, "requests": len(latencies) + len(errors), "errors": len(errors),
            "error_examples": sorted(set(errors))[:3], "seconds": round(wall, 2),
            "throughput_per_s": round(len(latencies) / wall, 2) if wall else 0.0,
            "p50_ms": round(1e3 * pct(latencies, 0.5), 2), "p95_ms": round(1e3 * pct(latencies, 0.95), 2)}


def http_load(port: int, questions: Sequence[Question], clients: int, total: int, seconds: float
              ) -> dict[str, Any]:
    """POST /api/ask from `clients` keep-alive connections; a non-200 answer is an error."""
    local = threading.local()

    def call(i: int) -> None:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        question, history = questions[i % len(questions)]
        try:
            status = post_ask(local.conn, question, history)
        except (OSError, http.client.HTTPException):
            local.conn.close()
            del local.conn
            raise
        if status != 200:
            raise RuntimeError(f"HTTP {status}")

    return run_clients(call, clients, total, seconds)


def serve_and_measure(corpus: Path, index: Path, work: Path, questions: Sequence[Question],
                      log: Callable[[str], None], quick: bool = False,
                      embed_8: Callable[[int], dict[str, Any]] | None = None) -> dict[str, Any]:
    """Cold start, HTTP load with 1 and 8 clients, and server memory, from one server process.

    With `embed_8` (n -> `run_clients` figures of n query embeddings by 8 callers in this process), the
    8-client HTTP load runs in rounds, each next to a round of embedding alone, so that both see the same
    machine load: `rounds_8` holds each pair and their ratio, `http8_vs_embed8` the median ratio."""
    server = ServerProcess(corpus, index, work / "server-data")
    log("Starting the web server (cold start)...")
    try:
        cold = server.start()
        out: dict[str, Any] = {"cold_start_s": round(cold, 2), "memory_after_start": server.memory()}
        log("HTTP /api/ask with 1 client(s)...")
        http_load(server.port, questions[:4], 1, 2, 10.0)  # warm the connection
        out["http_1"] = http_load(server.port, questions, 1, 20 if quick else 60, 30.0)
        log("HTTP /api/ask with 8 client(s)...")
        http_load(server.port, questions[:4], 8, 16, 10.0)
        # Whole passes over the questions (each weighs the same) and rounds of several seconds, so that
        # the tail of a round, when fewer than 8 clients are still busy, weighs little.
        rounds, total = (3, 4 * len(questions)) if quick else (5, 12 * len(questions))
        pairs = []
        for _ in range(rounds):
            embedding = embed_8(total) if embed_8 else None
            http = http_load(server.port, questions, 8, total, 30.0)
            ratio = http["throughput_per_s"] / max(embedding["throughput_per_s"], 1e-9) if embedding else None
            pairs.append({"embedding_8": embedding, "http_8": http, "ratio": ratio})
        middle = sorted(pairs, key=lambda p: p["ratio"] or p["http_8"]["throughput_per_s"])[len(pairs) // 2]
        out["http_8"] = {**middle["http_8"], "requests": sum(p["http_8"]["requests"] for p in pairs),
                         "errors": sum(p["http_8"]["errors"] for p in pairs)}
        out["rounds_8"] = pairs
        if embed_8:
            out["embedding_8"] = middle["embedding_8"]
            out["http8_vs_embed8"] = round(middle["ratio"], 3)
        out["memory_serving"] = server.memory()
        return out
    finally:
        server.stop()
