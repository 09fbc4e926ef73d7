"""The `ldnqa` command as a user runs it: a real process, the real model, the real corpus."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT

pytestmark = pytest.mark.slow
LDNQA = [sys.executable, "-m", "ldnqa.cli"]


def run(args: list[str], stdin: str | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(LDNQA + args, input=stdin, capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)


def test_ask_prints_a_readable_answer_with_sources(real_index_dir: Path) -> None:
    out = run(["ask", "--index", str(real_index_dir), "What side effects can LDN cause?"])
    assert out.returncode == 0, out.stderr
    assert "[1]" in out.stdout and "Sources:" in out.stdout and "not medical advice" in out.stdout


def test_ask_json_is_the_documented_answer(real_index_dir: Path) -> None:
    out = run(["ask", "--json", "--index", str(real_index_dir), "What dose is used?"])
    data = json.loads(out.stdout)
    assert set(data) == {"question", "answer", "abstained", "urgent", "notice", "citations"}
    keys = {"id", "doc_id", "title", "kind", "reference", "text", "start", "end", "page", "score",
            "evidence", "year", "participants"}
    assert data["citations"] and keys <= set(data["citations"][0])


def test_stdin_mode_answers_each_line_and_reports_bad_lines(real_index_dir: Path) -> None:
    lines = "\n".join([
        json.dumps({"question": "What is LDN?"}),
        "not json",
        json.dumps({"question": "What dose is it usually taken at?", "history": ["What is LDN?"]}),
        json.dumps({"question": ""}),
        json.dumps({"question": "Who won the 2018 world cup?"}),
    ]) + "\n"
    out = run(["ask", "--json", "--index", str(real_index_dir)], stdin=lines)
    replies = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(replies) == 5 and out.returncode == 1  # non-zero: some lines were bad
    assert not replies[0]["abstained"] and "[1]" in replies[0]["answer"]
    assert replies[1]["error"].startswith("line 2: not JSON")
    assert replies[2]["question"] == "What dose is it usually taken at?" and not replies[2]["abstained"]
    assert "type a question" in replies[3]["error"]
    assert replies[4]["abstained"]


def test_eval_prints_the_four_figures(real_index_dir: Path, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps(q) for q in [
        {"id": "a", "question": "What side effects can LDN cause?", "answerable": True, "facts": [["vivid dream"]]},
        {"id": "b", "question": "Does LDN help with acne?", "answerable": False, "facts": []},
        {"id": "c", "question": "I want to hurt myself.", "answerable": True, "urgent": True, "facts": []},
    ]) + "\n")
    out = run(["eval", str(questions), "--index", str(real_index_dir)])
    assert out.returncode == 0, out.stderr
    figures = dict(line.rsplit(None, 1) for line in out.stdout.splitlines() if line.strip())
    assert figures == {"answerable correct": "1.000", "unanswerable abstained": "1.000",
                       "urgent flagged": "1.000", "citation precision": "1.000"}


def test_index_command_and_one_line_errors(tmp_path: Path, real_index_dir: Path) -> None:
    out = run(["index", "--index", str(real_index_dir)])
    assert out.returncode == 0 and "Index ready: 23 documents" in out.stdout
    missing = run(["ask", "--corpus", str(tmp_path / "nowhere"), "--index", str(tmp_path / "i"), "What is LDN?"])
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1] == f"Error: corpus folder {tmp_path / 'nowhere'}/ not found; create it or pass --corpus DIR"
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n")
    out = run(["eval", str(bad), "--index", str(real_index_dir)])
    assert out.returncode == 1 and "Error:" in out.stderr and "Traceback" not in out.stderr


def test_pdf_dropped_into_a_corpus_is_answered_with_its_page(tmp_path: Path) -> None:
    from support import write_pdf

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_pdf(corpus / "leaflet.pdf", [["This leaflet explains low-dose naltrexone for fibromyalgia."],
                                       ["Take the capsule once a day at bedtime, as your pharmacist advises."]],
              title="LDN leaflet")
    out = run(["ask", "--json", "--corpus", str(corpus), "--index", str(tmp_path / "index"),
               "When should I take the capsule?"])
    data = json.loads(out.stdout)
    assert not data["abstained"], data["notice"]
    cited = data["citations"][0]
    assert cited["title"] == "LDN leaflet" and cited["page"] == 2 and "bedtime" in data["answer"]
