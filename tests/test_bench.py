"""`ldnqa bench`: the measuring machinery (recording model calls, concurrent clients, the HTTP load,
refresh counting, target checks), on the stub engine and the fake embedder; one end-to-end scale run
on the real index. Speed itself is not asserted here: the bench reports it."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ldnqa import bench, bench_report
from ldnqa.bench_http import http_load, pct, run_clients
from ldnqa.config import Settings
from ldnqa.limits import RateLimiter, RateLimits
from ldnqa.server import BackgroundServer, create_app
from support import ROOT, HashEmbedder
from web_support import StubAssistant, staff_config


def test_percentiles_by_nearest_rank() -> None:
    assert pct([3.0, 1.0, 2.0], 0.5) == 2.0 and pct(list(range(101)), 0.95) == 95 and pct([], 0.5) == 0.0


def test_clients_stop_at_the_count_and_count_errors() -> None:
    seen: list[int] = []

    def call(i: int) -> None:
        seen.append(i)
        if i % 4 == 0:
            raise ValueError("boom")

    result = run_clients(call, clients=3, total=20, seconds=30)
    assert sorted(seen) == list(range(20)) and result["requests"] == 20 and result["errors"] == 5
    assert result["error_examples"] == ["ValueError: boom"] and result["clients"] == 3
    stopped = run_clients(lambda i: time.sleep(0.05), clients=2, total=10_000, seconds=0.3)
    assert 0 < stopped["requests"] < 10_000  # bounded in time as well as in count


def test_http_load_against_a_real_server(tmp_path: Path) -> None:
    app = create_app(StubAssistant(), tmp_path / "data", staff_config(), session_secret=b"k" * 32,
                     limits=RateLimits.unlimited(), retention=None)
    server = BackgroundServer(app).start()
    try:
        questions = [("What dose?", []), ("And after that?", ["What dose?"])]
        ok = http_load(server.port, questions, clients=4, total=24, seconds=60)
        assert ok["requests"] == 24 and ok["errors"] == 0 and ok["throughput_per_s"] > 0
    finally:
        server.stop()
    limited = create_app(StubAssistant(), tmp_path / "data2", staff_config(), session_secret=b"k" * 32,
                         limits=RateLimits(RateLimiter(60, 3), RateLimiter(0, 1)), retention=None)
    server = BackgroundServer(limited).start()
    try:  # refused requests are errors of the run, not silently dropped
        refused = http_load(server.port, [("What dose?", [])], clients=2, total=10, seconds=60)
        assert refused["errors"] >= 6 and "HTTP 429" in refused["error_examples"][0]
    finally:
        server.stop()


def test_ask_measurement_times_the_search_text_alone_as_the_query_embedding(small_corpus: Path, tmp_path: Path) -> None:
    from ldnqa import Assistant

    embedder = HashEmbedder()
    assistant = Assistant.load(small_corpus, tmp_path / "index", embedder=embedder,
                               settings=Settings(model="test-hash-embedder"), log=lambda m: None)
    questions = [("What dose of LDN is used?", []), ("And side effects?", ["What dose of LDN is used?"]),
                 ("Is LDN safe in epilepsy?", [])]  # a word the corpus lacks: more texts in the same call
    result = bench.measure_ask(assistant, questions, rounds=2)
    firsts = result["first_call_texts"]  # the query embedding: the search text alone, built from the question
    assert len(firsts) == 3 and all(len(texts) == 1 for texts in firsts)
    assert firsts[0][0].startswith(questions[0][0]) and questions[1][0] in firsts[1][0]
    assert result["query_embedding"]["n"] == result["ask"]["n"] == 6
    assert result["beyond_query_embedding"]["questions_with_extra_texts"] >= 1
    assert result["ratio_p50"] > 0 and assistant.embedder is embedder  # the recorder is taken off again
    assert result["beyond_query_embedding"]["model_calls_mean"] >= 1


def test_build_and_refresh_count_what_is_re_embedded(small_corpus: Path, tmp_path: Path) -> None:
    result = bench.build_and_refresh(small_corpus, tmp_path / "work", HashEmbedder(),
                                     Settings(model="test-hash-embedder"))
    assert result["build_texts_embedded"] > 0
    assert 0 < result["refresh_edit_texts_embedded"] < result["build_texts_embedded"]
    assert 0 < result["refresh_add_texts_embedded"] < result["build_texts_embedded"]
    assert (small_corpus / "ldn-basics.md").read_text().count("ldnqa bench") == 0  # worked on a copy


def report(**changes: float) -> dict:
    base = {"ask": {"ratio_p50": 1.2, "ratio_p95": 2.0}, "import_ldnqa_s": 0.01,
            "index": {"refresh_edit_s": 1.0, "refresh_add_s": 2.0}, "embedding_clients_8": {"throughput_per_s": 100.0},
            "server": {"cold_start_s": 4.0, "http_1": {"errors": 0}, "memory_serving": {"peak_rss_mb": 500.0},
                       "http_8": {"throughput_per_s": 70.0, "errors": 0}}}
    for key, value in changes.items():
        if key == "http8":
            base["server"]["http_8"]["throughput_per_s"] = value
        elif key == "refresh":
            base["index"]["refresh_add_s"] = value
        else:
            base["ask"][key] = value
    return base


def test_targets_are_checked_against_the_measured_values() -> None:
    good = bench_report.check(report())
    assert all(t["met"] for t in good.values()), good
    assert bench_report.check(report(ratio_p50=1.6))["ask_p50_ratio"]["met"] is False
    assert bench_report.check(report(http8=50.0))["http8_vs_embed8"] == {"value": 0.5, "target": ">= 0.6", "met": False}
    assert bench_report.check(report(refresh=3.5))["refresh_s"]["met"] is False
    side_by_side = report(http8=50.0)  # the median of rounds measured side by side wins when present
    side_by_side["server"]["http8_vs_embed8"] = 0.64
    assert bench_report.check(side_by_side)["http8_vs_embed8"] == {"value": 0.64, "target": ">= 0.6", "met": True}


@pytest.mark.slow
def test_scale_command_end_to_end(real_index_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ldnqa.cli import main

    out = tmp_path / "scale.json"
    assert main(["bench", "--scale", "3000", "--corpus", str(ROOT / "corpus"), "--index", str(real_index_dir),
                 "--json", str(out)]) == 0
    figures = json.loads(out.read_text())["scale"]
    assert figures["n"] == 3000 and figures["kind"] == "flat" and figures["recall_at_10_synthetic"] == 1.0
    assert figures["queries"]["questions"] == len(bench.QUESTIONS)
    assert "recall@10" in capsys.readouterr().out


def test_server_memory_counts_the_engine_processes_too(tmp_path):
    """The server's RSS is summed over its process tree: a child holding 200 MB is not left out."""
    import subprocess
    import sys

    from ldnqa.bench_http import memory_kb, tree_memory

    code = ("import subprocess, sys, time\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import sys, time; b = bytearray(200 << 20); "
            "print(flush=True); time.sleep(60)'], stdout=subprocess.PIPE)\n"
            "child.stdout.readline(); print(flush=True); time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        parent.stdout.readline()
        alone = memory_kb(parent.pid)["VmRSS"] / 1024
        tree = tree_memory(parent.pid)
        assert tree["processes"] == 2 and tree["rss_mb"] > alone + 190 and tree["peak_rss_mb"] >= tree["rss_mb"]
    finally:
        subprocess.run(["pkill", "-P", str(parent.pid)])
        parent.kill()
        parent.wait()
