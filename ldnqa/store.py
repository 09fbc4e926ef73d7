"""Stage 4, on disk: keep the index in `index/` and load it back, refreshing what changed.

Layout of `index/`:

    manifest.json        the commit point: settings, per-document content hashes, file checksums,
                         and which generation folder holds the data
    g-<id>/              one generation: chunks.json, dense.faiss (passage vectors), vectors.npy
                         (the same vectors, for reuse), sentences.npy, lexical.npz
    .lock                held while building, so two processes never build at once

A build writes a new generation folder, then replaces manifest.json atomically (os.replace), then
deletes older generations. A build killed at any point leaves the previous manifest and its complete
generation in place, so a load never sees half an index. Loading verifies the checksums; a damaged or
outdated index is refreshed, reusing the vectors of unchanged documents (matched by content hash).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from .config import Settings
from .embedding import Embedder
from .errors import IndexStoreError
from .indexing import Index, Log, build_index, card_key, stderr_log
from .lexical import BM25
from .loading import Corpus
from .types import Chunk, Sentence
from .vectors import DenseIndex


def load_or_build(corpus: Corpus, index_dir: Path, embedder: Embedder, settings: Settings,
                  log: Log = stderr_log) -> Index:
    """The index for this corpus: loaded as is when up to date, else refreshed and saved."""
    index_dir = Path(index_dir)
    current = corpus_state(corpus, settings)
    manifest = read_manifest(index_dir)
    if manifest and same_state(manifest, current) and files_ok(index_dir, manifest):
        try:
            return read_index(corpus, index_dir, manifest)
        except IndexStoreError:
            pass  # another process switched generations while this one read: take the locked path
    with build_lock(index_dir):
        manifest = read_manifest(index_dir)  # another process may have built it meanwhile
        if manifest and same_state(manifest, current) and files_ok(index_dir, manifest):
            return read_index(corpus, index_dir, manifest)
        # Checked once: hashing every file of a large index takes seconds.
        if manifest and reusable(index_dir, manifest, settings):
            reuse = reusable_vectors(index_dir, manifest)
            words, cards = reusable_words(index_dir, manifest), reusable_cards(index_dir, manifest)
        else:
            reuse, words, cards = {}, {}, {}
        index = build_index(corpus, embedder, settings, reuse, log, words, cards)
        write_index(index, index_dir, current)
        return index


def corpus_state(corpus: Corpus, settings: Settings) -> dict:
    return {"settings": settings.index_fields(),
            "documents": {d.id: d.content_hash for d in corpus.documents}}


def same_state(manifest: dict, state: dict) -> bool:
    return manifest.get("settings") == state["settings"] and manifest.get("documents") == state["documents"]


def read_manifest(index_dir: Path) -> dict | None:
    path = Path(index_dir) / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and "generation" in manifest else None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def files_ok(index_dir: Path, manifest: dict) -> bool:
    """True when every file the manifest lists is present with its recorded checksum."""
    gen = Path(index_dir) / manifest["generation"]
    try:
        return all(sha256_file(gen / name) == digest for name, digest in manifest["files"].items())
    except (OSError, KeyError, TypeError):
        return False


def write_index(index: Index, index_dir: Path, state: dict) -> None:
    index_dir.mkdir(parents=True, exist_ok=True)
    generation = f"g-{int(time.time())}-{uuid.uuid4().hex[:8]}"
    gen = index_dir / generation
    gen.mkdir()
    chunk_records = [{"doc_id": c.doc_id, "heading": c.heading, "start": c.start, "end": c.end,
                      "page": c.page, "sentences": [list(s) for s in c.sentences]} for c in index.chunks]
    sentence_records = [[s.chunk, s.start, s.end] for s in index.sentences]
    _write(gen / "chunks.json", json.dumps({"chunks": chunk_records, "sentences": sentence_records}))
    with open(gen / "vectors.npy", "wb") as fh:
        np.save(fh, index.chunk_vectors)
    with open(gen / "sentences.npy", "wb") as fh:
        np.save(fh, index.sentence_vectors)
    with open(gen / "lexical.npz", "wb") as fh:
        np.savez(fh, **index.lexical.arrays())
    index.dense.save(gen / "dense.faiss")
    with open(gen / "documents.npy", "wb") as fh:
        np.save(fh, index.doc_vectors)
    with open(gen / "words.npy", "wb") as fh:
        np.save(fh, index.word_vectors)
    _write(gen / "words.json", json.dumps(index.words))
    for name in os.listdir(gen):
        _fsync(gen / name)
    files = {name: sha256_file(gen / name) for name in sorted(os.listdir(gen))}
    manifest = {**state, "generation": generation, "files": files, "model": index.manifest["model"],
                "dim": int(index.chunk_vectors.shape[1]) if index.chunk_vectors.size else index.manifest["dim"],
                "passages": len(index.chunks), "sentences": len(index.sentences),
                "dense_kind": index.dense.kind, "dense_params": index.dense.params,
                "document_hashes": {d.id: d.content_hash for d in index.documents.values()},
                "card_keys": [card_key(d) for d in index.documents.values()],  # rows of documents.npy
                "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    _write(index_dir / "manifest.json", json.dumps(manifest, indent=1))  # the commit point
    index.manifest = manifest
    for old in index_dir.glob("g-*"):  # earlier generations, and any a killed build left behind
        if old.name != generation:
            shutil.rmtree(old, ignore_errors=True)
    for stale in index_dir.glob(".*.tmp"):
        stale.unlink(missing_ok=True)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def read_index(corpus: Corpus, index_dir: Path, manifest: dict) -> Index:
    gen = Path(index_dir) / manifest["generation"]
    try:
        data = json.loads((gen / "chunks.json").read_text(encoding="utf-8"))
        chunk_vectors = np.load(gen / "vectors.npy")
        sentence_vectors = np.load(gen / "sentences.npy")
        with np.load(gen / "lexical.npz") as lex:
            lexical = BM25.from_arrays({k: lex[k] for k in lex.files})
        dense = DenseIndex.load(gen / "dense.faiss", manifest.get("dense_kind", "flat"),
                                manifest.get("dense_params"))
        doc_vectors = np.load(gen / "documents.npy")
        word_vectors = np.load(gen / "words.npy")
        words = json.loads((gen / "words.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise IndexStoreError(f"{index_dir}/ is damaged ({exc}); run `ldnqa index`") from exc
    docs = {d.id: d for d in corpus.documents}
    chunks = [Chunk(doc_id=r["doc_id"], heading=r["heading"], start=r["start"], end=r["end"],
                    text=docs[r["doc_id"]].text[r["start"]:r["end"]], page=r["page"],
                    sentences=tuple(tuple(s) for s in r["sentences"])) for r in data["chunks"]]
    sentences = [Sentence(chunks[ci].doc_id, ci, s, e, docs[chunks[ci].doc_id].text[s:e])
                 for ci, s, e in data["sentences"]]
    return Index(docs, chunks, sentences, chunk_vectors, sentence_vectors, lexical, manifest, doc_vectors,
                 words, word_vectors, dense)


def reusable(index_dir: Path, manifest: dict, settings: Settings) -> bool:
    """The previous build's vectors may be reused: same settings, and every file intact."""
    return manifest.get("settings") == settings.index_fields() and files_ok(index_dir, manifest)


def reusable_vectors(index_dir: Path, manifest: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Vectors of a `reusable` previous build, by document content hash."""
    gen = Path(index_dir) / manifest["generation"]
    try:
        data = json.loads((gen / "chunks.json").read_text(encoding="utf-8"))
        cvec, svec = np.load(gen / "vectors.npy"), np.load(gen / "sentences.npy")
    except (OSError, ValueError):
        return {}
    hashes = manifest.get("document_hashes", {})
    out: dict[str, tuple[list[int], list[int]]] = {}
    for i, rec in enumerate(data["chunks"]):
        out.setdefault(hashes.get(rec["doc_id"], ""), ([], []))[0].append(i)
    for j, (ci, _, _) in enumerate(data["sentences"]):
        out.setdefault(hashes.get(data["chunks"][ci]["doc_id"], ""), ([], []))[1].append(j)
    return {h: (cvec[c], svec[s]) for h, (c, s) in out.items() if h}


def reusable_words(index_dir: Path, manifest: dict) -> dict[str, np.ndarray]:
    """Vocabulary vectors of a `reusable` previous build, by word."""
    gen = Path(index_dir) / manifest["generation"]
    try:
        words = json.loads((gen / "words.json").read_text(encoding="utf-8"))
        return dict(zip(words, np.load(gen / "words.npy")))
    except (OSError, ValueError):
        return {}


def reusable_cards(index_dir: Path, manifest: dict) -> dict[str, np.ndarray]:
    """Document-card vectors of a `reusable` previous build, by card_key."""
    keys = manifest.get("card_keys")
    if not keys:
        return {}
    try:
        vectors = np.load(Path(index_dir) / manifest["generation"] / "documents.npy")
    except (OSError, ValueError):
        return {}
    return dict(zip(keys, vectors)) if len(vectors) == len(keys) else {}


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """An exclusive lock on index/.lock for the length of a build (waits for another builder)."""
    import fcntl

    Path(index_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(index_dir) / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
