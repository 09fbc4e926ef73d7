"""Stage 1: read the corpus folder into Documents.

Markdown and text files may start with YAML front matter between `---` lines. PDFs are read with pypdf,
page by page; their metadata comes from a sidecar `<name>.yaml` beside the PDF, else from the PDF's own
metadata. A file that cannot be used is skipped with a reason; the rest of the corpus still loads.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import CorpusError, DocumentError
from .types import Document

TEXT_SUFFIXES = {".md", ".markdown", ".txt"}
PDF_SUFFIX = ".pdf"
RESERVED = {"readme.md", "readme.txt", "synonyms.txt"}  # staff notes in corpus/, not documents
FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n", re.S)
MAX_FILE_BYTES = 50 * 1024 * 1024


@dataclass
class Corpus:
    documents: list[Document] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (relative path, reason)


def corpus_files(root: Path) -> list[Path]:
    """The files that are documents, in a stable order (hidden files and staff notes excluded)."""
    if not root.is_dir():
        raise CorpusError(f"corpus folder {root}/ not found; create it or pass --corpus DIR")
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith((".", "_")) for part in rel.parts) or not path.is_file():
            continue
        if path.name.lower() in RESERVED:
            continue
        if path.suffix.lower() in TEXT_SUFFIXES or path.suffix.lower() == PDF_SUFFIX:
            files.append(path)
    return files


def load_corpus(root: Path | str) -> Corpus:
    """Load every document under `root`; duplicate ids and unreadable files are skipped with a reason."""
    root = Path(root)
    corpus = Corpus()
    seen: dict[str, str] = {}
    for path in corpus_files(root):
        rel = path.relative_to(root).as_posix()
        try:
            doc = load_document(path, rel)
        except DocumentError as exc:
            corpus.skipped.append((rel, str(exc)))
            continue
        if doc.id in seen:
            corpus.skipped.append((rel, f"duplicate id {doc.id!r}, already used by {seen[doc.id]}"))
            continue
        seen[doc.id] = rel
        corpus.documents.append(doc)
    return corpus


def load_document(path: Path, rel: str) -> Document:
    """One file to one Document, or DocumentError saying why not."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror}") from exc
    if size == 0:
        raise DocumentError("empty file")
    if size > MAX_FILE_BYTES:
        raise DocumentError(f"larger than {MAX_FILE_BYTES // 2**20} MB")
    if path.suffix.lower() == PDF_SUFFIX:
        from .pdf import read_pdf  # pypdf only when there is a PDF

        meta, text, page_starts, digest = read_pdf(path)
    else:
        raw = path.read_bytes()
        meta, text = parse_text(raw)
        page_starts, digest = (), hashlib.sha256(raw).hexdigest()
    return make_document(meta, text, rel, digest, page_starts)


def parse_text(raw: bytes) -> tuple[dict[str, Any], str]:
    """Split front matter from the body. The body is kept exactly, minus leading blank lines."""
    if b"\x00" in raw[:8192]:
        raise DocumentError("binary data, not text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"not UTF-8 text (byte {exc.start})") from exc
    text = text.replace("\r\n", "\n")
    meta: dict[str, Any] = {}
    match = FRONT_MATTER.match(text)
    if match:
        meta = parse_front_matter(match.group(1))
        text = text[match.end():]
    body = text.lstrip("\n")
    if not body.strip():
        raise DocumentError("no text after the front matter")
    return meta, body


def parse_front_matter(block: str) -> dict[str, Any]:
    try:
        meta = yaml.safe_load(block)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 2}" if where else ""
        raise DocumentError(f"bad front matter{line}: {getattr(exc, 'problem', exc)}") from exc
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise DocumentError("bad front matter: expected `key: value` lines")
    return {str(k): v for k, v in meta.items()}


def make_document(meta: dict[str, Any], text: str, rel: str, digest: str,
                  page_starts: tuple[int, ...] = ()) -> Document:
    doc_id = str(meta.get("id") or slug(Path(rel).stem))
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", doc_id):
        raise DocumentError(f"bad id {doc_id!r}: use letters, digits, '.', '_' or '-'")
    title = str(meta.get("title") or first_heading(text) or Path(rel).stem)
    kind = str(meta.get("kind") or "document")
    return Document(id=doc_id, title=title, kind=kind, reference=reference_of(meta, title), text=text,
                    path=rel, content_hash=digest, meta=meta, page_starts=page_starts)


def reference_of(meta: dict[str, Any], title: str) -> str:
    """Publisher for web pages; `Authors. Citation.` for studies; else the title."""
    if meta.get("reference"):
        return str(meta["reference"])
    if meta.get("citation"):
        authors = meta.get("authors") or []
        names = ", ".join(str(a) for a in authors[:3]) if isinstance(authors, list) else str(authors)
        names = names.rstrip(".")  # "Bested K, et al." must not become "et al.."
        return f"{names}. {meta['citation']}" if names else str(meta["citation"])
    return str(meta.get("publisher") or title)


def first_heading(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.lstrip("#").strip()[:200]
    return ""


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:128] or "document"
