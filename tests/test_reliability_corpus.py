"""Bad files in the corpus: indexing goes on, every skipped file is named with its reason in the CLI
output, the server log and /api/health, and the app still starts and answers (hash embedder, so fast)."""
from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from support import HashEmbedder, write_pdf
from web_support import staff_config

from ldnqa import cli
from ldnqa.config import Settings
from ldnqa.limits import RateLimits
from ldnqa.server import BackgroundServer, create_app

BAD_FILES = {  # file -> a word its reason must contain
    "empty.md": "empty",
    "junk.md": "binary",
    "badyaml.md": "front matter",
    "zz-dup.md": "duplicate id",
    "corrupt.pdf": "PDF",
    "locked.pdf": "encrypted",
    "latin1.txt": "UTF-8",
}


@pytest.fixture
def bad_corpus(small_corpus: Path) -> Path:
    (small_corpus / "empty.md").write_text("")
    (small_corpus / "junk.md").write_bytes(b"\x00\x01\x02\xff binary junk" * 50)
    (small_corpus / "badyaml.md").write_text("---\ntitle: [unclosed\n---\nBody text here.\n")
    (small_corpus / "zz-dup.md").write_text("---\nid: ldn-basics\n---\nAnother document, same id.\n")
    (small_corpus / "corrupt.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    write_pdf(small_corpus / "locked.pdf", [["Secret text."]], encrypt=True)
    (small_corpus / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    return small_corpus


def load(corpus: Path, index: Path):  # noqa: ANN201
    from ldnqa import Assistant

    return Assistant.load(corpus, index, embedder=HashEmbedder(),
                          settings=Settings(model="test-hash-embedder"), log=lambda m: None)


def test_app_starts_names_skipped_files_in_log_and_health_and_answers(bad_corpus, tmp_path, caplog):
    assistant = load(bad_corpus, tmp_path / "index")
    assert len(assistant.documents) == 3
    with caplog.at_level(logging.WARNING, logger="ldnqa.server"):
        app = create_app(assistant, tmp_path / "data", staff_config(), session_secret=b"s",
                         limits=RateLimits.unlimited(), retention=None)
    logged = [r.getMessage() for r in caplog.records if r.name == "ldnqa.server"]
    for name, word in BAD_FILES.items():
        assert any(name in m and word in m for m in logged), (name, logged)
    server = BackgroundServer(app).start()
    try:
        health = httpx.get(server.url + "/api/health").json()
        assert health["status"] == "ok" and health["documents"] == 3
        reasons = {s["file"]: s["reason"] for s in health["skipped"]}
        assert set(reasons) == set(BAD_FILES)
        for name, word in BAD_FILES.items():
            assert word in reasons[name]
        answer = httpx.post(server.url + "/api/ask", json={"question": "What dose of LDN is used?"})
        assert answer.status_code == 200 and answer.json()["question"] == "What dose of LDN is used?"
    finally:
        server.stop()


def test_cli_index_names_each_skipped_file(bad_corpus, tmp_path, capsys, monkeypatch):
    import ldnqa.assistant

    monkeypatch.setattr(ldnqa.assistant, "SentenceTransformerEmbedder", lambda name: HashEmbedder())
    monkeypatch.setenv("LDNQA_MODEL", "test-hash-embedder")
    code = cli.main(["index", "--corpus", str(bad_corpus), "--index", str(tmp_path / "index")])
    out = capsys.readouterr()
    assert code == 0
    assert f"({len(BAD_FILES)} files skipped)" in out.out
    for name, word in BAD_FILES.items():
        line = next((x for x in out.err.splitlines() if name in x), "")
        assert word in line, (name, out.err)
