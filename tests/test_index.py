"""The index on disk: built once, reused while the corpus is unchanged, refreshed (re-embedding only
what changed) when a document is edited, added or removed, rebuilt for other settings, never half-written."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ldnqa.config import Settings
from ldnqa.indexing import Index
from ldnqa.store import load_or_build, read_manifest
from ldnqa.loading import load_corpus
from support import HashEmbedder


class Loaded:
    def __init__(self, index: Index) -> None:
        self.index = index


def load(corpus: Path, index: Path, embedder: HashEmbedder, settings: Settings | None = None) -> Loaded:
    settings = settings or Settings(model="test-hash-embedder")
    return Loaded(load_or_build(load_corpus(corpus), index, embedder, settings, log=lambda m: None))


def test_build_then_reuse_without_embedding(small_corpus: Path, tmp_path: Path) -> None:
    first = HashEmbedder()
    a = load(small_corpus, tmp_path / "index", first)
    manifest = read_manifest(tmp_path / "index")
    assert manifest and set(manifest["documents"]) == {"ldn-basics", "notes", "trial-2020"}
    assert manifest["settings"]["model"] == "test-hash-embedder" and manifest["dim"] == 64
    assert first.embedded > 0 and len(a.index.chunks) == manifest["passages"]
    second = HashEmbedder()
    b = load(small_corpus, tmp_path / "index", second)
    assert second.embedded == 0  # nothing changed: loaded, not rebuilt
    assert [c.text for c in b.index.chunks] == [c.text for c in a.index.chunks]


def test_edit_add_remove_are_picked_up_and_only_changes_are_embedded(small_corpus: Path, tmp_path: Path) -> None:
    load(small_corpus, tmp_path / "index", HashEmbedder())
    notes = small_corpus / "notes.txt"
    notes.write_text(notes.read_text() + "\nMicroglia are glial cells too.\n")
    (small_corpus / "new.md").write_text("---\nid: new-doc\n---\nA brand new document about LDN dosing.\n")
    (small_corpus / "studies" / "trial-2020.md").unlink()
    emb = HashEmbedder()
    a = load(small_corpus, tmp_path / "index", emb)
    assert set(read_manifest(tmp_path / "index")["documents"]) == {"ldn-basics", "notes", "new-doc"}
    assert any("Microglia" in c.text for c in a.index.chunks)
    changed = [c for c in a.index.chunks if c.doc_id in ("notes", "new-doc")]
    changed_sentences = [s for s in a.index.sentences if s.doc_id in ("notes", "new-doc")]
    # passages + sentences of the two changed documents, plus one card per document (cards are cheap)
    # and the new vocabulary words; never the unchanged ldn-basics passages.
    embedded_texts = emb.calls[0]
    assert embedded_texts == len(changed) + len(changed_sentences)


def test_other_settings_rebuild_from_scratch(small_corpus: Path, tmp_path: Path) -> None:
    load(small_corpus, tmp_path / "index", HashEmbedder())
    emb = HashEmbedder()
    a = load(small_corpus, tmp_path / "index", emb, Settings(model="test-hash-embedder", chunk_chars=200))
    assert read_manifest(tmp_path / "index")["settings"]["chunk_chars"] == 200
    assert emb.calls[0] == len(a.index.chunks) + len(a.index.sentences)


def test_damaged_index_files_are_detected_and_rebuilt(small_corpus: Path, tmp_path: Path) -> None:
    load(small_corpus, tmp_path / "index", HashEmbedder())
    manifest = read_manifest(tmp_path / "index")
    victim = tmp_path / "index" / manifest["generation"] / "vectors.npy"
    victim.write_bytes(victim.read_bytes()[:50])  # truncated
    emb = HashEmbedder()
    a = load(small_corpus, tmp_path / "index", emb)
    assert emb.embedded > 0 and len(a.index.chunks) > 0
    assert read_manifest(tmp_path / "index")["generation"] != manifest["generation"]


def test_interrupted_build_leaves_previous_index_usable(small_corpus: Path, tmp_path: Path) -> None:
    """A build dies after writing its generation folder but before the manifest switch."""
    load(small_corpus, tmp_path / "index", HashEmbedder())
    before = read_manifest(tmp_path / "index")
    stray = tmp_path / "index" / "g-0-deadbeef"
    stray.mkdir()
    (stray / "chunks.json").write_text("{half")
    (tmp_path / "index" / ".manifest.json.abc.tmp").write_text("{half")
    emb = HashEmbedder()
    load(small_corpus, tmp_path / "index", emb)
    assert emb.embedded == 0 and read_manifest(tmp_path / "index") == before


def test_generation_files_match_manifest_checksums(small_corpus: Path, tmp_path: Path) -> None:
    load(small_corpus, tmp_path / "index", HashEmbedder())
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    files = set(os.listdir(tmp_path / "index" / manifest["generation"]))
    assert files == set(manifest["files"]) >= {"chunks.json", "dense.faiss", "lexical.npz", "vectors.npy"}
