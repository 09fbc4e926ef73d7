"""HTML for the web app: citation cards, the document viewer, and the page shell for server pages.

Everything that comes from users, documents or stored feedback goes through `esc` (html.escape);
nothing here trusts its input to be well formed (offsets may be wrong or missing). Server pages carry a
Content-Security-Policy that allows no scripts at all.
"""
from __future__ import annotations

import html
import re
from typing import Any, Iterable, Mapping
from urllib.parse import quote, urlencode

CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
PAGE_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
KIND_LABELS = {"web-article": "Web article", "study-summary": "Study summary"}
try:  # the engine's own wording, so the page note and the answers' notices match
    from .compose import DISCLAIMER as DISCLAIMER
except ImportError:  # pragma: no cover - engine not installed
    DISCLAIMER = ("This is information from the listed sources, not medical advice; "
                  "talk to your doctor or pharmacist about your own treatment.")

STYLE = """
body{font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1b1b;
background:#fafafa}
main{max-width:52rem;margin:0 auto;padding:1rem}
main.wide{max-width:80rem}
header.site{background:#0b3d5c;color:#fff;padding:.6rem 1rem}
header.site a{color:#fff}
a{color:#0a4f8a}
a:focus,button:focus,input:focus,textarea:focus{outline:3px solid #f0a500;outline-offset:2px}
.doc-text{white-space:pre-wrap;overflow-wrap:anywhere;background:#fff;padding:1rem;border:1px solid #ccc;
border-radius:6px}
.doc-text .heading{font-weight:700;font-size:1.05em}
.passage{background:#fff3b0;box-shadow:0 0 0 2px #c98a00;scroll-margin-top:30vh}
.passage:focus{outline:none}
mark{background:#ffd54a;color:#000;padding:0 .1em}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0 0 1rem}
.meta dt{font-weight:600}.meta dd{margin:0}
.note{background:#eef5fb;border:1px solid #9cc3e4;padding:.5rem .8rem;border-radius:6px}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0,0,0,0)}
.error{background:#fdecea;border:1px solid #e0a39b;padding:.5rem .8rem;border-radius:6px}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:.3rem .5rem;
text-align:left;vertical-align:top}
.item{background:#fff;border:1px solid #ccc;border-radius:6px;padding:.8rem;margin:0 0 1rem}
.item h2{font-size:1.1rem;margin:.2rem 0}
.answer{white-space:pre-wrap}
.badge{display:inline-block;padding:0 .4rem;border-radius:4px;background:#ddd;font-size:.85rem}
.badge.down,.badge.report{background:#f6c7c0}
label{display:block;font-weight:600;margin-top:.5rem}
input[type=text],input[type=password],textarea{width:100%;max-width:30rem;font:inherit;padding:.3rem}
button{font:inherit;padding:.35rem .9rem;margin-top:.5rem;cursor:pointer}
form.inline{display:inline}
@media (max-width:600px){main{padding:.5rem}.meta{grid-template-columns:1fr}}
"""


def esc(value: Any) -> str:
    """Escape anything for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def clean_quotes(quotes: Any, start: int, end: int) -> list[tuple[int, int]]:
    """The well-formed, non-overlapping quote spans inside [start, end], in order."""
    spans: list[tuple[int, int]] = []
    for q in quotes if isinstance(quotes, (list, tuple)) else []:
        if isinstance(q, (list, tuple)) and len(q) == 2:
            a, b = as_int(q[0]), as_int(q[1])
            if a is not None and b is not None and start <= a < b <= end:
                spans.append((a, b))
    spans.sort()
    result: list[tuple[int, int]] = []
    for a, b in spans:
        if not result or a >= result[-1][1]:
            result.append((a, b))
    return result


def marked(text: str, base: int, quotes: Iterable[tuple[int, int]]) -> str:
    """`text` (which starts at document offset `base`) escaped, with the quote spans in <mark>."""
    out, pos = [], 0
    for a, b in quotes:
        a, b = max(a - base, pos), min(b - base, len(text))
        if a >= b:
            continue
        out += [esc(text[pos:a]), "<mark>", esc(text[a:b]), "</mark>"]
        pos = b
    out.append(esc(text[pos:]))
    return "".join(out)


def doc_href(doc_id: str, start: Any = None, end: Any = None, quotes: Any = None) -> str:
    """The viewer URL for a document, with the passage (and its quotes) to highlight."""
    url = "/doc/" + quote(str(doc_id), safe="")
    s, e = as_int(start), as_int(end)
    if s is None or e is None or not 0 <= s < e:
        return url
    params: list[tuple[str, Any]] = [("start", s), ("end", e)]
    params += [("q", f"{a}-{b}") for a, b in clean_quotes(quotes, s, e)]
    return f"{url}?{urlencode(params)}#passage"


def original_links(meta: Mapping[str, Any], url: Any = "") -> list[tuple[str, str]]:
    """(label, href) links to the original: PubMed by PMID, doi.org by DOI, or the article's web URL."""
    links = []
    pmid = str(meta.get("pmid") or "").strip()
    if re.fullmatch(r"\d{1,10}", pmid):
        links.append(("PubMed", f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"))
    doi = str(meta.get("doi") or "").strip()
    if re.fullmatch(r"10\.\d{3,9}/\S{1,200}", doi):
        links.append(("DOI", "https://doi.org/" + quote(doi, safe="/:;()._-")))
    web = str(url or meta.get("url") or "").strip()
    if re.fullmatch(r"https?://[^\s\"'<>]{1,500}", web):
        links.append(("Original web page", web))
    unique: dict[str, str] = {}
    for label, href in links:
        unique.setdefault(href, label)
    return [(label, href) for href, label in unique.items()]


def kind_line(kind: Any, meta: Mapping[str, Any], year: Any = None, participants: Any = None,
              evidence: Any = "") -> str:
    """E.g. 'Study summary · randomized controlled trial · 2013 · 31 participants' (plain text)."""
    parts = [KIND_LABELS.get(str(kind), str(kind or "Document").replace("-", " ").capitalize())]
    if kind == "study-summary":
        parts.append(str(meta.get("design") or evidence or meta.get("evidence") or ""))
        parts.append(str(as_int(year) or as_int(meta.get("year")) or ""))
        count = as_int(participants) or as_int(meta.get("participants"))
        parts.append(f"{count} participants" if count else "")
    return " · ".join(p for p in parts if p)


def citation_card(c: Mapping[str, Any], meta: Mapping[str, Any]) -> str:
    """One card: title (opens the source), kind, reference, and the passage with its quotes marked."""
    start, end = as_int(c.get("start")), as_int(c.get("end"))
    text = str(c.get("text") or "")
    quotes = clean_quotes(c.get("quotes"), start, end) if start is not None and end is not None else []
    passage = marked(text, start or 0, quotes)
    href = doc_href(str(c.get("doc_id") or ""), start, end, c.get("quotes"))
    number = esc(c.get("id"))
    links = "".join(f' <a class="ext" href="{esc(h)}" target="_blank" rel="noopener noreferrer">'
                    f'{esc(label)} <span class="sr-only">(opens the original, new tab)</span></a>'
                    for label, h in original_links(meta, c.get("url")))
    page = f" · page {esc(c['page'])}" if as_int(c.get("page")) else ""
    kind = kind_line(c.get("kind"), meta, c.get("year"), c.get("participants"), c.get("evidence"))
    return (
        f'<article class="cite-card" id="cite-{number}" aria-labelledby="cite-{number}-title">'
        f'<h3 id="cite-{number}-title"><a class="cite-open" href="{esc(href)}" target="_blank" '
        f'rel="noopener">[{number}] {esc(c.get("title"))}</a></h3>'
        f'<p class="cite-kind">{esc(kind)}{page}</p>'
        f'<p class="cite-ref">{esc(c.get("reference"))}</p>'
        f'<blockquote class="cite-passage">{passage}</blockquote>'
        f'<p class="cite-links"><a href="{esc(href)}" target="_blank" rel="noopener">Read the whole '
        f'source <span class="sr-only">for [{number}]</span></a>{links}</p></article>')


def notice_paragraphs(notice: Any, keep_disclaimer: bool = False) -> list[str]:
    """The notice's paragraphs (plain text), without the standing disclaimer unless asked for."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", str(notice or "")) if p.strip()]
    return [p for p in paragraphs if keep_disclaimer or p != DISCLAIMER]


def answer_panel(answer: Mapping[str, Any] | None, metas: Mapping[str, Mapping[str, Any]]) -> str:
    """The side panel for one answer: an urgent notice first, then the citation cards (or, for an
    abstention, the nearest passages)."""
    if not answer:
        return ('<div class="cites-empty"><p>Ask a question: the sources behind each answer appear '
                'here, with the quoted sentences highlighted.</p></div>')
    parts = []
    urgent = bool(answer.get("urgent"))
    paragraphs = notice_paragraphs(answer.get("notice"), keep_disclaimer=urgent)
    if paragraphs:
        role, css = ("alert", "notice urgent") if urgent else ("note", "notice")
        text = "".join(f"<p>{esc(p)}</p>" for p in paragraphs)
        parts.append(f'<div class="{css}" role="{role}">'
                     f'{"<p><strong>Urgent</strong></p>" if urgent else ""}{text}</div>')
    citations = [c for c in answer.get("citations") or [] if isinstance(c, Mapping)]
    if answer.get("abstained") and citations:
        parts.append('<h2 class="cites-heading">The sources do not answer this question. '
                     f'Nearest passages ({len(citations)}):</h2>')
    elif answer.get("abstained") and not urgent:
        parts.append('<h2 class="cites-heading">The sources do not answer this question.</h2>')
    elif citations:
        parts.append(f'<h2 class="cites-heading">Sources ({len(citations)})</h2>')
    parts += [citation_card(c, metas.get(str(c.get("doc_id")), {})) for c in citations]
    return f'<div class="cites">{"".join(parts)}</div>'


def page(title: str, body: str, *, user: str | None = None, wide: bool = False) -> str:
    """A complete server page (viewer, staff) with the site header; `body` must be escaped HTML."""
    nav = ('<a href="/">Ask a question</a>' if user is None else
           f'<a href="/staff">Review queue</a> · <a href="/staff/library">Library</a> · '
           f'signed in as {esc(user)}')
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{esc(title)} – ldnqa</title>'
            f'<style>{STYLE}</style></head><body><header class="site">{nav}</header>'
            f'<main id="main"{" class=wide" if wide else ""}>{body}</main></body></html>')


def doc_text(text: str) -> str:
    """Document text outside the passage: escaped, Markdown heading lines in bold."""
    out = []
    for line in text.splitlines(keepends=True):
        if re.match(r"#{1,6} ", line):
            out.append(f'<span class="heading">{esc(line.rstrip(chr(10)))}</span>'
                       + ("\n" if line.endswith("\n") else ""))
        else:
            out.append(esc(line))
    return "".join(out)


def meta_list(doc: Any, passages: int | None) -> str:
    """A <dl> of a document's kind, reference, metadata fields and passage count."""
    meta = dict(doc.meta or {})
    rows = [("Kind", kind_line(doc.kind, meta)), ("Reference", doc.reference)]
    skip = {"id", "title", "kind", "cited_by", "source_file"}
    rows += [(k.replace("_", " ").capitalize(), ", ".join(map(str, v)) if isinstance(v, list) else v)
             for k, v in meta.items() if k not in skip and v not in (None, "", [])]
    if passages is not None:
        rows.append(("Passages", passages))
    return '<dl class="meta">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows) + "</dl>"


def document_page(doc: Any, passages: int | None, start: int | None, end: int | None,
                  quotes: list[tuple[int, int]], user: str | None = None) -> str:
    """The whole document, with the cited passage highlighted in #passage (the URL fragment scrolls
    it into view; no script needed)."""
    text: str = doc.text
    links = "".join(f'<a href="{esc(h)}" rel="noopener noreferrer">{esc(label)}</a> '
                    for label, h in original_links(doc.meta or {}))
    body = [f"<h1>{esc(doc.title)}</h1>", meta_list(doc, passages)]
    if links:
        body.append(f'<p>Original: {links}</p>')
    if start is not None and end is not None and 0 <= start < end <= len(text):
        body.append('<p class="note"><a href="#passage">Go to the cited passage</a> (highlighted; '
                    'quoted sentences are marked).</p>')
        content = (doc_text(text[:start]) + f'<span id="passage" class="passage" tabindex="-1">'
                   f'{marked(text[start:end], start, quotes)}</span>' + doc_text(text[end:]))
    else:
        content = doc_text(text)
    body.append(f'<div class="doc-text" aria-label="Full text">{content}</div>')
    return page(doc.title, "".join(body), user=user)


def parse_viewer_query(params: Any, length: int) -> tuple[int | None, int | None, list[tuple[int, int]]]:
    """start, end and quote spans (`q=a-b`) from the viewer's query string; invalid values ignored."""
    def number(name: str) -> int | None:
        value = params.get(name)
        return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 10 else None

    start, end = number("start"), number("end")
    if start is None or end is None or not 0 <= start < end <= length:
        return None, None, []
    raw = [q.split("-", 1) for q in params.getlist("q")[:50] if re.fullmatch(r"\d{1,9}-\d{1,9}", q)]
    return start, end, clean_quotes([[int(a), int(b)] for a, b in raw], start, end)
