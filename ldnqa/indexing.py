"""Stage 4: build, persist and load the index (passages, their vectors, the lexical index).

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
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .chunking import chunk_document, quotable
from .config import Settings
from .embedding import Embedder
from .errors import IndexStoreError
from .lexical import BM25, STOPWORDS, TOKEN, tokenize
from .loading import Corpus
from .types import Chunk, Document, Sentence
from .tables import SentenceTables
from .vectors import DenseIndex

Log = Callable[[str], None]


@dataclass
class Index:
    """Everything retrieval and composition need, in memory."""

    documents: dict[str, Document]
    chunks: list[Chunk]
    sentences: list[Sentence]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    lexical: BM25
    manifest: dict
    doc_vectors: np.ndarray  # one row per document, in `documents` order: its card (see doc_card)
    words: list[str]  # the corpus's vocabulary as written (lower case), for "is a word like this there?"
    word_vectors: np.ndarray
    dense: DenseIndex | None = None

    def __post_init__(self) -> None:
        if self.dense is None:
            self.dense = DenseIndex.build(self.chunk_vectors)
        self.doc_row = {doc_id: i for i, doc_id in enumerate(self.documents)}
        # Stemmed words of every unit, computed once: composition compares them on every question.
        self.card_stems = {d.id: frozenset(tokenize(doc_card(d))) for d in self.documents.values()}
        self.card_words = frozenset().union(*self.card_stems.values())  # any card's: names of studies, authors
        self.heading_stems = [frozenset(tokenize(c.heading)) for c in self.chunks]
        self.chunk_stems = [frozenset(tokenize(c.text)) for c in self.chunks]
        self.sentence_stems = [frozenset(tokenize(s.text)) for s in self.sentences]
        words: dict[str, set[str]] = {d: set() for d in self.documents}
        for chunk, stems in zip(self.chunks, self.chunk_stems):
            words[chunk.doc_id] |= stems
        self.document_stems = {d: frozenset(w) for d, w in words.items()}
        self.stems_by_prefix: dict[str, list[str]] = {}
        for stem in self.lexical.vocab:
            if len(stem) >= 5:
                self.stems_by_prefix.setdefault(stem[:5], []).append(stem)
        mean = self.sentence_vectors.mean(axis=0) if len(self.sentence_vectors) else np.zeros(1, np.float32)
        self.centroid = mean / (np.linalg.norm(mean) or 1.0)  # what all sentences share
        # Per question, composition reads these for every candidate sentence; unions made once here.
        # context_stems: where a sentence stands (its passage, heading and what its document is).
        self.context_stems = [stems | self.heading_stems[i] | self.card_stems[c.doc_id]
                              for i, (c, stems) in enumerate(zip(self.chunks, self.chunk_stems))]
        self.focus_stems = [stems | self.heading_stems[s.chunk] for s, stems in zip(self.sentences, self.sentence_stems)]
        self.genericness = self.sentence_vectors @ self.centroid if len(self.sentences) else np.zeros(0)
        self.tables = SentenceTables.build([s.text for s in self.sentences], [s.chunk for s in self.sentences],
                                           [self.doc_row[s.doc_id] for s in self.sentences],
                                           self.focus_stems, self.context_stems)


def embed_text(chunk: Chunk, doc: Document) -> str:
    """What a passage's vector is made from: its heading gives it context ("What is the typical dosage?")."""
    heading = chunk.heading if chunk.heading != doc.title else ""
    return f"{doc.title}. {heading}\n{chunk.text}" if heading else f"{doc.title}.\n{chunk.text}"


def doc_card(doc: Document) -> str:
    """What a document is, in one line: lets "the 2023 Danish trial" find Bested et al. 2023.

    Title, first heading, authors, year, journal, design, evidence type, condition, dose, participants.
    """
    meta = doc.meta
    heading = next((line.lstrip("#").strip() for line in doc.text.splitlines() if line.startswith("#")), "")
    authors = meta.get("authors")
    parts = [doc.title, heading if heading != doc.title else "",
             ", ".join(map(str, authors)) if isinstance(authors, list) else str(authors or ""),
             str(meta.get("year") or ""), str(meta.get("journal") or meta.get("publisher") or ""),
             str(meta.get("design") or ""), str(meta.get("evidence") or ""), str(meta.get("condition") or ""),
             str(meta.get("dose") or ""),
             f"{meta['participants']} participants" if meta.get("participants") else ""]
    return ". ".join(p for p in parts if p)


def vocabulary(docs: list[Document]) -> list[str]:
    """Distinct words of the corpus (lower case, letters only, 3+ characters, no stop words)."""
    words = {w for d in docs for w in TOKEN.findall(d.text.lower()) if len(w) > 2 and not w.isdigit()}
    return sorted(w for w in words - STOPWORDS if w.isalpha())


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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
        reuse = reusable_vectors(index_dir, manifest, settings) if manifest else {}
        words = reusable_words(index_dir, manifest, settings) if manifest else {}
        cards = reusable_cards(index_dir, manifest, settings) if manifest else {}
        index = build_index(corpus, embedder, settings, reuse, log, words, cards)
        write_index(index, index_dir, current)
        return index


def corpus_state(corpus: Corpus, settings: Settings) -> dict:
    return {"settings": settings.index_fields(),
            "documents": {d.id: d.content_hash for d in corpus.documents}}


def same_state(manifest: dict, state: dict) -> bool:
    return manifest.get("settings") == state["settings"] and manifest.get("documents") == state["documents"]


def build_index(corpus: Corpus, embedder: Embedder, settings: Settings,
                reuse: dict[str, tuple[np.ndarray, np.ndarray]], log: Log = stderr_log,
                reuse_words: dict[str, np.ndarray] | None = None,
                reuse_cards: dict[str, np.ndarray] | None = None) -> Index:
    """Chunk every document; embed only documents whose vectors are not reusable."""
    docs = {d.id: d for d in corpus.documents}
    chunks: list[Chunk] = []
    sentences: list[Sentence] = []
    per_doc: dict[str, tuple[list[Chunk], list[Sentence]]] = {}
    for doc in corpus.documents:
        doc_chunks = chunk_document(doc, settings.chunk_chars)
        doc_sents = []
        for chunk in doc_chunks:
            for start, end in chunk.sentences:
                text = doc.text[start:end]
                if quotable(text):
                    doc_sents.append(Sentence(doc.id, len(chunks), start, end, text))
            chunks.append(chunk)
        per_doc[doc.id] = (doc_chunks, doc_sents)
        sentences.extend(doc_sents)
    todo = [d for d in corpus.documents if d.content_hash not in reuse]
    fresh = embed_documents(todo, per_doc, embedder, log) if todo else {}
    dim = next((v[0].shape[1] for v in list(fresh.values()) + list(reuse.values())), 0)
    cvecs, svecs = [], []
    for doc in corpus.documents:
        c, s = fresh.get(doc.id) or reuse[doc.content_hash]
        cvecs.append(c)
        svecs.append(s)
    if len(todo) < len(corpus.documents):
        log(f"Reused vectors of {len(corpus.documents) - len(todo)} unchanged documents; "
            f"embedded {len(todo)}.")
    empty = np.zeros((0, dim), dtype=np.float32)
    words = vocabulary(corpus.documents)
    known_words = reuse_words or {}
    new_words = [w for w in words if w not in known_words]
    if new_words:
        log(f"Embedding {len(new_words)} vocabulary words...")
        known_words = {**known_words, **dict(zip(new_words, embedder.embed(new_words)))}
    known_cards = dict(reuse_cards or {})  # by card_key: an unchanged card keeps its vector
    new_cards = list(dict.fromkeys(doc_card(d) for d in corpus.documents if card_key(d) not in known_cards))
    if new_cards:
        known_cards.update(zip(map(text_key, new_cards), embedder.embed(new_cards)))
    cards = np.array([known_cards[card_key(d)] for d in corpus.documents], np.float32) if docs else empty
    return Index(documents=docs, chunks=chunks, sentences=sentences,
                 chunk_vectors=np.vstack(cvecs) if cvecs else empty,
                 sentence_vectors=np.vstack(svecs) if svecs else empty,
                 lexical=BM25.build([lexical_text(c, docs[c.doc_id]) for c in chunks]),
                 manifest={"model": embedder.name, "dim": dim}, doc_vectors=np.asarray(cards, np.float32),
                 words=words, word_vectors=np.array([known_words[w] for w in words], np.float32).reshape(len(words), -1))


def lexical_text(chunk: Chunk, doc: Document) -> str:
    """What BM25 indexes for a passage: the passage, its heading, and what its document is."""
    return f"{doc_card(doc)}\n{chunk.heading}\n{chunk.text}"


def embed_documents(docs: list[Document], per_doc: dict[str, tuple[list[Chunk], list[Sentence]]],
                    embedder: Embedder, log: Log) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    texts: list[str] = []
    spans: dict[str, tuple[int, int, int]] = {}
    for doc in docs:
        chunks, sents = per_doc[doc.id]
        first = len(texts)
        texts += [embed_text(c, doc) for c in chunks]
        texts += [s.text for s in sents]
        spans[doc.id] = (first, first + len(chunks), first + len(chunks) + len(sents))
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.monotonic() - last[0] > 2 or done == total:
            last[0] = time.monotonic()
            log(f"Embedding passages and sentences: {done}/{total}")

    log(f"Indexing {len(docs)} documents ({len(texts)} passages and sentences) with {embedder.name}...")
    vectors = embedder.embed(texts, progress=progress)
    return {doc_id: (vectors[a:b], vectors[b:c]) for doc_id, (a, b, c) in spans.items()}


# --- persistence -------------------------------------------------------------------------------

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


def reusable_vectors(index_dir: Path, manifest: dict, settings: Settings
                     ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Vectors of the previous build, by document content hash, when its settings match."""
    if manifest.get("settings") != settings.index_fields() or not files_ok(index_dir, manifest):
        return {}
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


def reusable_words(index_dir: Path, manifest: dict, settings: Settings) -> dict[str, np.ndarray]:
    """Vocabulary vectors of the previous build, by word, when its settings match."""
    if manifest.get("settings") != settings.index_fields() or not files_ok(index_dir, manifest):
        return {}
    gen = Path(index_dir) / manifest["generation"]
    try:
        words = json.loads((gen / "words.json").read_text(encoding="utf-8"))
        return dict(zip(words, np.load(gen / "words.npy")))
    except (OSError, ValueError):
        return {}


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def card_key(doc: Document) -> str:
    """What a document card's vector is cached by: the card's text (see doc_card)."""
    return text_key(doc_card(doc))


def reusable_cards(index_dir: Path, manifest: dict, settings: Settings) -> dict[str, np.ndarray]:
    """Document-card vectors of the previous build, by card_key, when its settings match."""
    keys = manifest.get("card_keys")
    if not keys or manifest.get("settings") != settings.index_fields() or not files_ok(index_dir, manifest):
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
