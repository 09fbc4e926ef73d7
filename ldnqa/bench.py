"""`ldnqa bench`: how fast ldnqa is on this machine, for the current corpus, against its targets.

Measured in one run (see docs/performance.md for the figures and how to read them):
- the query embedding alone (the texts `ask` embeds in its first model call) and the full `ask`, over
  a fixed list of varied questions after warm-up, interleaved question by question in one process so
  that both see the same machine load; p50, p95 and their ratios; plus what `ask` spends beyond its
  first model call (further model calls, and everything else);
- index build from scratch, and refresh after one document is edited or added (with the number of
  texts re-embedded);
- model load, encoder thread counts and backends (ONNX Runtime vs PyTorch) side by side;
- a real server on loopback: cold start, /api/ask latency and throughput with 1 and 8 clients, its
  memory; and the throughput the embedding step alone allows with the same concurrency.
Machine load from other processes shows in every figure: compare ratios within one run. The targets,
and the report as text and JSON, are in ldnqa.bench_report.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from .bench_http import Question, pct, run_clients, serve_and_measure
from .bench_report import check

Log = Callable[[str], None]
QUESTIONS: list[Question] = [
    ("What is low-dose naltrexone?", []), ("What dose of LDN is used for fibromyalgia?", []),
    ("What are the common side effects of LDN?", []), ("Does LDN cause vivid dreams?", []),
    ("How long does it take for LDN to work?", []), ("Can I take LDN with opioid painkillers?", []),
    ("Is LDN safe during pregnancy?", []), ("What did the 2013 Stanford crossover trial find?", []),
    ("How does naltrexone calm inflammation in the brain?", []),
    ("Should I take LDN in the morning or at night?", []), ("Where can I get LDN?", []),
    ("How much does LDN cost?", []), ("Is LDN approved by the FDA for fibromyalgia?", []),
    ("Does LDN help with fatigue?", []), ("How is low-dose naltrexone different from regular naltrexone?", []),
    ("Can LDN be used for Crohn's disease?", []), ("Is LDN addictive?", []),
    ("What happens if I stop taking LDN suddenly?", []), ("Does LDN interact with tramadol?", []),
    ("Is LDN safe in epilepsy?", []), ("Can LDN cure cancer?", []),
    ("Are they serious?", ["What are the side effects of LDN?"]),
    ("And how long before it works?", ["What dose is used?"]),
    ("What percentage of patients improved in the pilot study?", []), ("Who should not take LDN?", []),
    ("I swallowed a whole bottle of my LDN capsules and feel very dizzy", []),
]



class Recorder:
    """An embedder wrapper that records each call's texts and seconds (while `calls` is a list)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name = inner, inner.name
        self.calls: list[tuple[list[str], float]] | None = None

    @property
    def dim(self) -> int:
        return int(self.inner.dim)

    def embed(self, texts: Sequence[str], progress: Any = None) -> Any:
        t0 = time.perf_counter()
        out = self.inner.embed(texts, progress)
        if self.calls is not None:
            self.calls.append((list(texts), time.perf_counter() - t0))
        return out


def clock(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def summary(seconds: Sequence[float]) -> dict[str, float]:
    return {"p50_ms": round(1e3 * pct(seconds, 0.5), 2), "p95_ms": round(1e3 * pct(seconds, 0.95), 2),
            "mean_ms": round(1e3 * sum(seconds) / max(len(seconds), 1), 2), "n": len(seconds)}


def measure_ask(assistant: Any, questions: Sequence[Question], rounds: int) -> dict[str, Any]:
    """Query embedding alone vs full ask, interleaved; and where ask's time goes beyond the query embedding.

    The query embedding is the search text (the question plus synonyms and context): the first text
    of ask's first model call. Other texts a question needs (to judge words the corpus lacks) ride in
    the same call where they can, and count as ask's own cost.

    Wall time is what the targets are about; CPU time (this process, all threads) is also reported,
    being far less disturbed by other processes on the machine."""
    recorder = Recorder(assistant.embedder)
    inner, assistant.embedder = assistant.embedder, recorder
    firsts: list[list[str]] = []
    model_calls: list[int] = []
    extra_texts: list[int] = []
    model_s: list[float] = []
    other_s: list[float] = []
    try:
        for number, (question, history) in enumerate(list(questions) * 2):  # warm-up, then recorded
            calls: list[tuple[list[str], float]] = []
            recorder.calls = calls
            total = clock(lambda: assistant.ask(question, history=history))  # noqa: B023
            if number < len(questions):  # the query embedding: the search text, which ask embeds first
                firsts.append(calls[0][0][:1] if calls else [question])
                continue
            model_calls.append(len(calls))
            extra_texts.append(sum(len(texts) for texts, _ in calls) - 1)
            model_s.append(sum(seconds for _, seconds in calls))
            other_s.append(total - sum(seconds for _, seconds in calls))
    finally:
        assistant.embedder = inner
    wall: dict[str, list[float]] = {"embed": [], "ask": []}
    cpu: dict[str, list[float]] = {"embed": [], "ask": []}
    for _ in range(rounds):
        for (question, history), texts in zip(questions, firsts):
            for key, call in (("embed", lambda: inner.embed(texts)),  # noqa: B023
                              ("ask", lambda: assistant.ask(question, history=history))):  # noqa: B023
                c0 = time.process_time()
                wall[key].append(clock(call))
                cpu[key].append(time.process_time() - c0)
    emb, ask = summary(wall["embed"]), summary(wall["ask"])
    cpu_emb, cpu_ask = summary(cpu["embed"]), summary(cpu["ask"])
    return {"query_embedding": emb, "ask": ask,
            "ratio_p50": round(ask["p50_ms"] / emb["p50_ms"], 2), "ratio_p95": round(ask["p95_ms"] / emb["p95_ms"], 2),
            "cpu": {"query_embedding": cpu_emb, "ask": cpu_ask,
                    "ratio_p50": round(cpu_ask["p50_ms"] / max(cpu_emb["p50_ms"], 1e-9), 2),
                    "ratio_mean": round(cpu_ask["mean_ms"] / max(cpu_emb["mean_ms"], 1e-9), 2)},
            "beyond_query_embedding": {"model_calls_mean": round(sum(model_calls) / len(model_calls), 2),
                                       "extra_texts_mean": round(sum(extra_texts) / len(extra_texts), 2),
                                       "questions_with_extra_texts": sum(1 for c in extra_texts if c),
                                       "model_all_texts": summary(model_s), "everything_else": summary(other_s)},
            "first_call_texts": firsts}


def measure_encoders(model: str, texts: Sequence[Sequence[str]], quick: bool, log: Log) -> dict[str, Any]:
    """Each backend and thread count in a fresh process of its own (PyTorch's spinning OpenMP threads
    would slow whatever runs next to them), twice in turn: model load, latency alone, and throughput
    with 8 concurrent callers; the mean of the two rounds (both are kept under "rounds")."""
    import subprocess

    configs = [("onnx", 1), ("onnx", 2)] + ([] if quick else [("torch", 1), ("torch", 2)])
    runs: dict[str, list[dict[str, Any]]] = {f"{b}-{n}-threads": [] for b, n in configs}
    code = ("import json, sys; from ldnqa.bench import probe_encoder; "
            "print(json.dumps(probe_encoder(*json.loads(sys.argv[1]))))")
    for _ in range(2):
        for backend, threads in configs:
            arg = json.dumps([model, backend, threads, [list(t) for t in texts], 40 if quick else 120])
            done = subprocess.run([sys.executable, "-c", code, arg], capture_output=True, text=True, check=True)
            runs[f"{backend}-{threads}-threads"].append(json.loads(done.stdout.strip().splitlines()[-1]))
    mean = lambda values: round(sum(values) / len(values), 2)  # noqa: E731
    return {name: {"load_s": mean([r["load_s"] for r in rs]),
                   "alone": {k: mean([r["alone"][k] for r in rs]) for k in ("p50_ms", "p95_ms")},
                   "clients_8": {k: mean([r["clients_8"][k] for r in rs]) for k in ("throughput_per_s", "p50_ms")},
                   "rounds": rs} for name, rs in runs.items()}


def probe_encoder(model: str, backend: str, threads: int, texts: list[list[str]], calls: int) -> dict[str, Any]:
    """In a fresh process: load one encoder, time it alone and under 8 concurrent callers."""
    from .embedding import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(model, backend=backend, threads=threads, log=lambda m: None)
    load_s = clock(embedder.load)
    for sample in texts[:3]:
        embedder.embed(sample)
    alone = [clock(lambda: embedder.embed(sample)) for _ in range(2) for sample in texts]  # noqa: B023
    return {"load_s": round(load_s, 2), "alone": summary(alone),
            "clients_8": run_clients(lambda i: embedder.embed(texts[i % len(texts)]), 8, calls, 20.0)}


def build_and_refresh(corpus: Path, work: Path, embedder: Any, settings: Any) -> dict[str, Any]:
    """Build an index from scratch for a copy of the corpus; then edit one document, then add one."""
    from .assistant import Assistant

    copy, index = work / "corpus", work / "index"
    shutil.copytree(corpus, copy)
    recorder = Recorder(embedder)
    quiet = lambda message: None  # noqa: E731
    load = lambda: Assistant.load(copy, index, embedder=recorder, settings=settings, log=quiet)  # noqa: E731
    out: dict[str, Any] = {}
    recorder.calls = []
    out["build_s"] = round(clock(load), 2)
    out["build_texts_embedded"] = sum(len(t) for t, _ in recorder.calls)
    target = sorted(p for p in copy.rglob("*.md") if p.name.lower() != "readme.md")[0]
    for label, change in (("edit", lambda: target.write_text(target.read_text(encoding="utf-8") +
                           "\n\nA sentence added by ldnqa bench, to measure an incremental refresh.\n",
                           encoding="utf-8")),
                          ("add", lambda: (copy / "bench-added.md").write_text(
                              "---\ntitle: Bench note\n---\n\n# Bench note\n\nLow-dose naltrexone is taken "
                              "once a day. This note was added by ldnqa bench to time a refresh.\n",
                              encoding="utf-8"))):
        change()
        recorder.calls = []
        out[f"refresh_{label}_s"] = round(clock(load), 2)
        out[f"refresh_{label}_texts_embedded"] = sum(len(t) for t, _ in recorder.calls)
    return out


def import_time() -> float:
    """Seconds for `import ldnqa` in a fresh interpreter (median of three)."""
    import subprocess

    code = "import time; t = time.perf_counter(); import ldnqa; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(3)]
    return sorted(runs)[1]


def machine() -> dict[str, Any]:
    """CPUs, CPU model, platform, load average and the versions of the libraries that set the pace."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for name in ("numpy", "onnxruntime", "faiss-cpu", "torch", "sentence-transformers", "uvicorn"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor()) if os.path.exists("/proc/cpuinfo") else platform.processor()
    return {"cpus": os.cpu_count(), "cpu": cpu, "platform": platform.platform(),
            "load_average_at_start": os.getloadavg(), "versions": versions}


def run(corpus_dir: str | Path, index_dir: str | Path, quick: bool = False, log: Log = print) -> dict[str, Any]:
    """Every figure of `ldnqa bench` as one dict (see the module docstring)."""
    from .assistant import Assistant
    from .config import Settings
    from .embedding import SentenceTransformerEmbedder

    corpus, index = Path(corpus_dir), Path(index_dir)
    settings = Settings.from_env()
    report: dict[str, Any] = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                              "import_ldnqa_s": round(import_time(), 3)}
    embedder = SentenceTransformerEmbedder(settings.model, log=log)
    report["model_load_s"] = round(clock(embedder.load), 2)
    report["encoder"] = {"model": settings.model, "backend": embedder.backend,
                         "threads": getattr(getattr(embedder, "_onnx", None), "threads", None)}
    with tempfile.TemporaryDirectory(prefix="ldnqa-bench-") as tmp:
        log("Building an index from scratch, then refreshing it...")
        report["index"] = build_and_refresh(corpus, Path(tmp) / "build", embedder, settings)
        log("Loading the current index...")
        assistant = Assistant.load(corpus, index, embedder=embedder, settings=settings, log=log)
        report["corpus"] = {"documents": len(assistant.documents), "passages": len(assistant.index.chunks),
                            "sentences": len(assistant.index.sentences),
                            "dense_kind": getattr(assistant.index.dense, "kind", "flat")}
        log("Timing the query embedding and ask...")
        report["ask"] = measure_ask(assistant, QUESTIONS, 2 if quick else 4)
        texts = report["ask"].pop("first_call_texts")
        report["embedding_clients_1"] = run_clients(lambda i: embedder.embed(texts[i % len(texts)]), 1,
                                                    40 if quick else 120, 20.0)
        report["embedding_clients_8"] = run_clients(lambda i: embedder.embed(texts[i % len(texts)]), 8,
                                                    80 if quick else 240, 20.0)
        log("Comparing encoder backends and thread counts...")
        report["encoders"] = measure_encoders(settings.model, texts, quick, log)
        report["server"] = serve_and_measure(  # HTTP rounds alternate with rounds of embedding alone
            corpus, index, Path(tmp), QUESTIONS, log, quick,
            embed_8=lambda n: run_clients(lambda i: embedder.embed(texts[i % len(texts)]), 8, n, 20.0))
    report["bench_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    report["machine"]["load_average_at_end"] = os.getloadavg()
    report["targets"] = check(report)
    return report
