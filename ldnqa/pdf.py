"""PDF reading for stage 1 (loading), kept apart so pypdf is imported only when a PDF is present.

Page texts are joined with a blank line; `page_starts` records where each page begins so every passage
can name its page. Lines broken inside a paragraph are re-joined with a space (a PDF stores lines, not
sentences), which keeps offsets consistent because the joined text is the document text.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from .errors import DocumentError

SIDE_SUFFIXES = (".yaml", ".yml")


def read_pdf(path: Path) -> tuple[dict[str, Any], str, tuple[int, ...], str]:
    """Return (metadata, text, page_starts, content hash) for one PDF and its optional sidecar."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    raw = path.read_bytes()
    digest = hashlib.sha256(raw)
    meta: dict[str, Any] = {}
    sidecar = next((path.with_suffix(s) for s in SIDE_SUFFIXES if path.with_suffix(s).is_file()), None)
    if sidecar:
        from .loading import parse_front_matter

        side = sidecar.read_bytes()
        digest.update(side)
        meta = parse_front_matter(side.decode("utf-8", "replace"))
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("encrypted PDF (needs a password)")
        pages = [clean_page(page.extract_text() or "") for page in reader.pages]
        info = reader.metadata or {}
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise DocumentError(f"unreadable PDF: {exc}") from exc
    except Exception as exc:  # pypdf raises many kinds on damaged files; skipping is always right here
        raise DocumentError(f"unreadable PDF: {type(exc).__name__}: {exc}") from exc
    if not any(pages):
        raise DocumentError("PDF has no extractable text (scanned images?)")
    if not meta.get("title") and info.get("/Title"):
        meta["title"] = str(info["/Title"])
    if not meta.get("publisher") and info.get("/Author"):
        meta["publisher"] = str(info["/Author"])
    meta.setdefault("source_file", path.name)
    text, starts = join_pages(pages)
    return meta, text, starts, digest.hexdigest()


def clean_page(text: str) -> str:
    """Re-join lines within paragraphs; keep blank lines (paragraph breaks) and hyphenated words."""
    text = text.replace("\r\n", "\n").replace("\x00", "")
    text = re.sub(r"(\w)-\n(\w)", r"\1-\2", text)  # keep the hyphen: "low-\ndose" is "low-dose"
    text = re.sub(r"[ \t]*\n(?![ \t]*\n)[ \t]*", " ", text)  # single newline -> space
    text = re.sub(r"\n\s*\n", "\n\n", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def join_pages(pages: list[str]) -> tuple[str, tuple[int, ...]]:
    text, starts = "", []
    for page in pages:
        if text:
            text += "\n\n"
        starts.append(len(text))
        text += page
    return text, tuple(starts)
