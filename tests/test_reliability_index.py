"""The index on disk under failure: a build killed at any stage (SIGKILL) leaves an index that the next
load serves correctly and completely; a damaged file is detected by its checksum and rebuilt, never
served; two processes indexing at once produce one good index. The real corpus, a hash embedder."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import ROOT, HashEmbedder

from ldnqa.config import Settings
from ldnqa.store import files_ok, read_manifest

SETTINGS = Settings(model="test-hash-embedder")
TESTS = Path(__file__).resolve().parent

# A child process that builds the index and stops (sleeps, to be killed) at a chosen stage.
CHILD = r"""
import os, shutil, sys, time
sys.path.insert(0, sys.argv[4])
from support import HashEmbedder
import ldnqa.store as ix
from ldnqa.assistant import Assistant
from ldnqa.config import Settings

corpus, index, stage = sys.argv[1], sys.argv[2], sys.argv[3]


def pause(name):
    print(name, flush=True)
    time.sleep(600)


class Embedder(HashEmbedder):
    built = 0  # calls that embed passages: only a build makes them

    def embed(self, texts, progress=None):
        self.built += progress is not None
        if stage == "embedding" and progress is not None:  # the passages, not the cards
            pause("embedding")
        if stage == "race":  # two builders at once: make the build take a while
            time.sleep(0.5)
        return super().embed(texts, progress)


if stage == "half-written":  # a generation file cut off in the middle
    real_write = ix._write
    def _write(path, text):
        if path.name == "chunks.json":
            with open(path.with_name(".chunks.json.partial.tmp"), "w") as fh:
                fh.write(text[: len(text) // 2])
            pause(stage)
        real_write(path, text)
    ix._write = _write
if stage == "before-commit":  # every generation file written, the manifest not yet switched
    real_fsync = ix._fsync
    def _fsync(path):
        pause(stage)
    ix._fsync = _fsync
if stage == "after-commit":  # the manifest switched, the old generation not yet deleted
    def rmtree(path, ignore_errors=False):
        pause(stage)
    ix.shutil.rmtree = rmtree
embedder = Embedder()
a = Assistant.load(corpus, index, embedder=embedder, settings=Settings(model="test-hash-embedder"),
                   log=lambda m: None)
print("done", embedder.built, len(a.index.chunks), flush=True)
"""


def child(corpus: Path, index: Path, stage: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(corpus), str(index), stage, str(TESTS)],
                            stdout=subprocess.PIPE, text=True)


def load(corpus: Path, index: Path, embedder: HashEmbedder | None = None) -> Any:
    """Assistant.load in a thread, so that a lock never released would fail the test, not hang it."""
    from ldnqa import Assistant

    result: dict[str, Any] = {}

    def run() -> None:
        result["a"] = Assistant.load(corpus, index, embedder=embedder or HashEmbedder(),
                                     settings=SETTINGS, log=lambda m: None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert "a" in result, "the load did not finish (a lock left behind?)"
    return result["a"]


def same_index(a: Any, b: Any) -> None:
    """Two loaded indexes hold the same passages, sentences, vectors and lexical index."""
    assert [(c.doc_id, c.start, c.end, c.text) for c in a.index.chunks] == \
        [(c.doc_id, c.start, c.end, c.text) for c in b.index.chunks]
    assert [(s.doc_id, s.start, s.end) for s in a.index.sentences] == \
        [(s.doc_id, s.start, s.end) for s in b.index.sentences]
    np.testing.assert_allclose(a.index.chunk_vectors, b.index.chunk_vectors, atol=1e-6)
    np.testing.assert_allclose(a.index.sentence_vectors, b.index.sentence_vectors, atol=1e-6)
    la, lb = a.index.lexical.arrays(), b.index.lexical.arrays()
    assert la.keys() == lb.keys() and all(np.array_equal(la[k], lb[k]) for k in la)
    assert a.index.words == b.index.words


class Setup:
    """A copy of the real corpus with one document edited, the original text of that document, and
    the index of the edited corpus built from scratch."""

    def __init__(self, folder: Path) -> None:
        self.corpus = folder / "corpus"
        shutil.copytree(ROOT / "corpus", self.corpus)
        self.victim = sorted(self.corpus.rglob("*.md"))[-1]
        self.original = self.victim.read_bytes()
        self.edited = self.original + b"\n\nA new closing paragraph about sleep and LDN dosing.\n"
        self.victim.write_bytes(self.edited)
        self.fresh = load(self.corpus, folder / "fresh-index")

    def index_of_original(self, index: Path) -> None:
        """Build `index` for the corpus as it was before the edit."""
        self.victim.write_bytes(self.original)
        try:
            load(self.corpus, index)
        finally:
            self.victim.write_bytes(self.edited)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    return Setup(tmp_path_factory.mktemp("kill"))


@pytest.mark.parametrize("stage", ["embedding", "half-written", "before-commit", "after-commit"])
def test_build_killed_halfway_then_next_load_is_correct(setup, tmp_path, stage):
    corpus, fresh, index = setup.corpus, setup.fresh, tmp_path / "index"
    setup.index_of_original(index)
    before = read_manifest(index)
    process = child(corpus, index, stage)
    try:
        assert process.stdout.readline().strip() == stage  # the build is paused at this stage ...
    finally:
        os.kill(process.pid, signal.SIGKILL)  # ... and killed there
        process.wait()
    after = read_manifest(index)
    assert after is not None and files_ok(index, after)  # whatever manifest is there is complete
    assert (after["generation"] == before["generation"]) == (stage != "after-commit")
    same_index(load(corpus, index), fresh)
    final = read_manifest(index)
    assert files_ok(index, final)
    if stage == "after-commit":  # the killed build had committed: its index is served as is
        assert final["generation"] == after["generation"]
    else:  # the old index is outdated: refreshed, never served half-made
        assert final["generation"] != before["generation"]
    same_index(load(corpus, index), fresh)
    assert read_manifest(index)["generation"] == final["generation"]  # now simply loaded


@pytest.mark.parametrize("name, damage", [
    *((name, "altered") for name in ("chunks.json", "vectors.npy", "sentences.npy", "lexical.npz",
                                     "dense.faiss", "documents.npy", "words.npy", "words.json")),
    ("dense.faiss", "truncated"), ("chunks.json", "truncated"), ("lexical.npz", "missing")])
def test_a_damaged_index_file_is_detected_and_rebuilt_never_served(setup, tmp_path, name, damage):
    corpus, fresh = setup.corpus, setup.fresh
    index = tmp_path / "index"
    load(corpus, index)
    manifest = read_manifest(index)
    target = index / manifest["generation"] / name
    data = bytearray(target.read_bytes())
    if damage == "altered":  # same length, one byte different: only the checksum can tell
        data[len(data) // 2] ^= 0x01
        target.write_bytes(bytes(data))
    elif damage == "truncated":
        target.write_bytes(bytes(data[: len(data) // 3]))
    else:
        target.unlink()
    assert not files_ok(index, manifest)
    same_index(load(corpus, index), fresh)
    rebuilt = read_manifest(index)
    assert rebuilt["generation"] != manifest["generation"] and files_ok(index, rebuilt)


def test_a_manifest_pointing_nowhere_is_rebuilt(setup, tmp_path):
    corpus, fresh = setup.corpus, setup.fresh
    index = tmp_path / "index"
    load(corpus, index)
    manifest = read_manifest(index)
    (index / "manifest.json").write_text(json.dumps({**manifest, "generation": "g-0-gone"}))
    same_index(load(corpus, index), fresh)
    (index / "manifest.json").write_text('{"generation": ')  # a torn manifest
    same_index(load(corpus, index), fresh)


def test_two_processes_indexing_at_once_make_one_good_index(setup, tmp_path):
    corpus, fresh = setup.corpus, setup.fresh
    index = tmp_path / "index"
    builders = [child(corpus, index, "race") for _ in range(2)]
    results = []
    for builder in builders:
        out, _ = builder.communicate(timeout=300)
        assert builder.returncode == 0
        _, built, chunks = out.split()
        results.append((int(built), int(chunks)))
    assert sorted(b > 0 for b, _ in results) == [False, True]  # one built, the other waited and loaded
    assert {c for _, c in results} == {len(fresh.index.chunks)}
    manifest = read_manifest(index)
    assert files_ok(index, manifest)
    assert [p.name for p in index.glob("g-*")] == [manifest["generation"]]
    same_index(load(corpus, index), fresh)
    assert read_manifest(index)["generation"] == manifest["generation"]
