"""Shared test helpers: a deterministic fake embedder (for plumbing only), a tiny PDF writer, and the
round trip every feedback store must pass."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SMALL_CORPUS = Path(__file__).parent / "fixtures" / "corpus_small"


class HashEmbedder:
    """Bag of hashed words: deterministic, instant, and good enough for plumbing (never for quality)."""

    name = "test-hash-embedder"
    dim = 64

    def __init__(self) -> None:
        self.calls: list[int] = []  # how many texts each call embedded

    def embed(self, texts: Sequence[str], progress=None) -> np.ndarray:  # noqa: ANN001
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
            out[i] /= np.linalg.norm(out[i]) or 1.0
        if progress:
            progress(len(texts), len(texts))
        return out

    @property
    def embedded(self) -> int:
        return sum(self.calls)


def write_pdf(path: Path, pages: list[list[str]], title: str | None = None, encrypt: bool = False) -> Path:
    """Write a real PDF with one text line per entry on each page (Helvetica), built by hand.

    A minimal but valid PDF: catalog, pages, one content stream and page object per page, a font,
    an Info dictionary with the title, and a correct cross-reference table.
    """
    objects: list[bytes] = []
    n_pages = len(pages)
    font_id = 3 + 2 * n_pages
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    for i, lines in enumerate(pages):
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 740 Td"]
        for line in lines:
            safe = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({safe}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
                       f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode())
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    info_id = len(objects) + 1
    objects.append(f"<< /Title ({title or 'Untitled'}) >>".encode())
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info_id} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    if encrypt:
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter(clone_from=PdfReader(path))
        writer.encrypt(user_password="secret", owner_password="owner")
        with open(path, "wb") as fh:
            writer.write(fh)
    return path


def check_feedback_round_trip(store: Any, reopen: Callable[[], Any], citations: list[dict[str, Any]]) -> None:
    """Feedback added to `store` reads back whole through `reopen()` (a new connection to the same data)."""
    item_id = store.add("Does LDN help? ✓", "It may [1].", citations, "down", comment="  wrong  ")
    again = reopen()
    item = again.get(item_id)
    assert item is not None
    assert (item.question, item.answer, item.citations) == ("Does LDN help? ✓", "It may [1].", citations)
    assert (item.rating, item.reported, item.comment, item.source) == ("down", False, "wrong", "web")
    assert item.created_at.endswith("+00:00") and item.reviewed_at is None
    assert again.get(item_id + 1) is None
