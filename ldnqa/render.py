"""Stage 7 (text): an Answer as readable text for the terminal, sources numbered under the answer."""
from __future__ import annotations

import textwrap

from .types import Answer, Citation

KIND_LABEL = {"web-article": "web article", "study-summary": "study summary"}


def source_label(c: Citation) -> str:
    """'randomized controlled trial, 2023, 58 participants' or 'web article'."""
    parts = [c.evidence or KIND_LABEL.get(c.kind, c.kind)]
    if c.year:
        parts.append(str(c.year))
    if c.participants:
        parts.append(f"{c.participants} participants")
    if c.condition and "fibromyalgia" not in c.condition.lower():
        parts.append(f"about {c.condition}")
    return ", ".join(parts)


def to_text(answer: Answer, width: int = 100) -> str:
    out: list[str] = []
    notice_parts = answer.notice.split("\n\n")
    if answer.urgent and notice_parts:
        out += ["!! " + line for line in textwrap.wrap(notice_parts.pop(0), width - 3)] + [""]
    if answer.answer:
        for paragraph in answer.answer.split("\n\n"):
            out += [textwrap.fill(line, width) if not line.startswith("- ") else line
                    for line in paragraph.split("\n")] + [""]
    out += [textwrap.fill(p, width) for p in notice_parts if p] + [""]
    if answer.citations:
        out.append("Nearest passages:" if answer.abstained else "Sources:")
    for c in answer.citations:
        where = f", page {c.page}" if c.page else ""
        out.append(f"[{c.id}] {c.title} ({source_label(c)}{where})")
        out.append(textwrap.indent(textwrap.fill(c.reference, width - 4), "    "))
        if c.url:
            out.append(f"    {c.url}")
        excerpt = c.text if len(c.text) <= 400 else c.text[:400].rsplit(" ", 1)[0] + " ..."
        out.append(textwrap.indent(textwrap.fill(excerpt.replace("\n", " "), width - 4), "    > "))
    return "\n".join(out).rstrip() + "\n"
