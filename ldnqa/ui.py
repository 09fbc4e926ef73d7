"""The patients' page: a Gradio Blocks chat with citation cards and feedback, mounted at `/`.

The chat shows each answer with its markers `[n]` as links to the source viewer; the panel beside it
(below it on phones) shows the urgent notice and one card per citation. Users' own text is escaped
before it reaches the chat's Markdown renderer, so HTML in a question is shown, never run. The chat
shares the API's per-client rate limits; failures are logged without what was typed.
"""
from __future__ import annotations

import os

# Before gradio (and huggingface_hub, which gradio imports) is imported: no version check, no
# analytics, no hub telemetry or look-ups. The app makes no outbound calls (tests/test_security_network.py).
NO_NETWORK = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
              "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "DO_NOT_TRACK": "1"}
os.environ.update(NO_NETWORK)

import html  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402
from typing import Any, Callable, Iterator, Mapping, Protocol  # noqa: E402

import gradio as gr  # noqa: E402
import huggingface_hub.constants  # noqa: E402

from .errors import InputError  # noqa: E402
from .feedback import FeedbackError, FeedbackStore  # noqa: E402
from .html import DISCLAIMER, answer_panel, doc_href, notice_paragraphs  # noqa: E402
from .limits import RateLimiter, RateLimits, client_key, too_many_message  # noqa: E402

# In case huggingface_hub was imported before this module (its switches are read at import).
huggingface_hub.constants.HF_HUB_OFFLINE = True
huggingface_hub.constants.HF_HUB_DISABLE_TELEMETRY = True

log = logging.getLogger("ldnqa.ui")
EXAMPLES = (
    "What is low-dose naltrexone and how might it help fibromyalgia?",
    "What did clinical trials find about low-dose naltrexone for fibromyalgia pain?",
    "What side effects does low-dose naltrexone have?",
    "What dose of naltrexone was used in the fibromyalgia studies?",
    "Can I take low-dose naltrexone with opioid painkillers?",
)
MAX_TURNS = 50  # questions in one conversation; then the page asks for a new conversation
MAX_QUEUE = 128  # chat events waiting in Gradio's queue
SURROGATES = re.compile(r"[\ud800-\udfff]")
MARKER = re.compile(r"\[(\d{1,3})\](?!\()")
MD_INLINE = re.compile(r"([\\`*_\[\]|~])")  # Markdown syntax anywhere in a line
MD_LINE_START = re.compile(r"^(\s*\d*)([#>+\-=.)])", re.M)  # headings, quotes, lists at line start
CSS = """
.sr-only{position:absolute!important;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;
clip:rect(0,0,0,0);white-space:nowrap;border:0}
.disclaimer{background:#eef5fb;border:1px solid #9cc3e4;border-radius:6px;padding:.4rem .7rem;margin:0;
color:#10324d;font-size:.95rem}
.notice{border-radius:6px;padding:.6rem .8rem;margin:0 0 .8rem;background:#eef5fb;color:#10324d}
.notice.urgent{background:#fdecea;border:2px solid #b3261e;color:#5c0b05;font-size:1.05rem}
.cites-heading{font-size:1.1rem;margin:.2rem 0 .5rem}
.small-heading{font-size:1rem;margin:.4rem 0 0}
.cite-card{position:relative;border:1px solid var(--border-color-primary);border-radius:8px;
padding:.6rem .8rem;margin:0 0 .8rem;background:var(--background-fill-primary)}
.cite-card h3{font-size:1rem;margin:0 0 .2rem}
.cite-card .cite-open::after{content:"";position:absolute;inset:0}
.cite-card .cite-links a,.cite-card .cite-links{position:relative;z-index:1}
.cite-card:hover{border-color:#0a4f8a}
.cite-kind,.cite-ref{margin:.1rem 0;font-size:.9rem;color:#4a4a4a}
.dark .cite-kind,.dark .cite-ref{color:#c8c8c8}
.cite-passage{white-space:pre-line;margin:.4rem 0;padding-left:.6rem;border-left:3px solid #c98a00}
.cite-passage mark{background:#ffd54a;color:#000}
#ask-status .error{color:#b3261e;font-weight:600}
a:focus-visible,button:focus-visible{outline:3px solid #f0a500!important;outline-offset:2px}
"""


class Engine(Protocol):
    """What the page needs from the answer engine (see `ldnqa.server.EngineGate`)."""

    def ask(self, question: str, history: list[str]) -> dict[str, Any]: ...

    def meta(self, doc_id: str) -> Mapping[str, Any]: ...


def escape_markdown(text: str) -> str:
    """User text for the chat's Markdown: HTML escaped and Markdown syntax neutralised."""
    escaped = MD_INLINE.sub(r"\\\1", html.escape(text, quote=False))
    return MD_LINE_START.sub(lambda m: m[1] + "\\" + m[2], escaped)


def link_markers(text: str, citations: list[dict[str, Any]]) -> str:
    """Turn each marker `[n]` for a known citation into a Markdown link to the source viewer."""
    by_id = {str(c.get("id")): c for c in citations}

    def link(match: re.Match[str]) -> str:
        c = by_id.get(match[1])
        if c is None:
            return match[0]
        title = re.sub(r'["\\\n]', " ", str(c.get("title") or ""))[:150]
        href = doc_href(str(c.get("doc_id") or ""), c.get("start"), c.get("end"), c.get("quotes"))
        return f'[\\[{match[1]}\\]]({href} "Source {match[1]}: {title}")'

    return MARKER.sub(link, text)


def answer_markdown(answer: Mapping[str, Any]) -> str:
    """The chat text of one answer: the notice first (prominent when urgent), then the answer.
    The standing disclaimer is left out (it is always on the page)."""
    notice = [escape_markdown(p) for p in notice_paragraphs(answer.get("notice"))]
    parts = []
    if notice and answer.get("urgent"):
        parts.append("> ⚠️ **Urgent:** " + "\n>\n> ".join(notice))
    elif notice:
        parts += [f"*{p}*" for p in notice]
    text = html.escape(str(answer.get("answer") or ""), quote=False)  # document text: no raw HTML
    if text:
        parts.append(link_markers(text, list(answer.get("citations") or [])))
    elif not parts:
        parts.append("The sources do not answer this question.")
    return "\n\n".join(parts)


def chat_messages(turns: list[dict[str, Any]], pending: str | None = None) -> list[dict[str, str]]:
    """Chatbot messages (the messages format) for the conversation so far."""
    messages = []
    for turn in turns:
        messages.append({"role": "user", "content": escape_markdown(str(turn["question"]))})
        messages.append({"role": "assistant", "content": answer_markdown(turn)})
    if pending is not None:
        messages.append({"role": "user", "content": escape_markdown(pending)})
    return messages


def turn_choices(turns: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(f"{i + 1}. {str(t['question'])[:80]}", str(i)) for i, t in enumerate(turns)]


def status(text: str, error: bool = False) -> str:
    css = ' class="error"' if error else ""
    return f'<p{css}>{html.escape(text)}</p>' if text else ""


def over_limit(limiter: RateLimiter, request: gr.Request | None, what: str) -> str | None:
    """The "too many" message when this page's client has used up its allowance, else None."""
    client = getattr(request, "client", None)
    wait = limiter.check(client_key(getattr(client, "host", None)))
    return None if wait is None else too_many_message(what, wait)


def build_ui(engine: Engine, store: FeedbackStore, limits: RateLimits | None = None) -> gr.Blocks:
    """The Blocks app. `engine.ask` must be safe to call from Gradio's worker threads. The chat
    shares the HTTP API's per-client rate limits."""
    limits = limits or RateLimits.unlimited()

    def panel(turns: list[dict[str, Any]], index: int) -> str:
        answer = turns[index] if 0 <= index < len(turns) else None
        metas = {str(c.get("doc_id")): engine.meta(str(c.get("doc_id")))
                 for c in (answer or {}).get("citations") or []}
        return answer_panel(answer, metas)

    def shown(turns: list[dict[str, Any]]) -> tuple[Any, str, Any]:
        """Selector, panel and feedback area for the latest answer."""
        last = len(turns) - 1
        selector = gr.update(choices=turn_choices(turns), value=str(last) if turns else None,
                             visible=len(turns) > 1)
        return selector, panel(turns, last), gr.update(visible=bool(turns))

    def respond(message: str, turns: list[dict[str, Any]],
                request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
        question = SURROGATES.sub("", message or "").strip()
        refusal = None
        if not question:
            refusal = "Type a question first."
        elif len(turns) >= MAX_TURNS:
            refusal = "This conversation is long: please start a new conversation."
        else:
            refusal = over_limit(limits.ask, request, "questions")
        if refusal:
            yield (gr.update(), gr.update(), turns, gr.update(), gr.update(), gr.update(), "",
                   status(refusal, error=True))
            return
        yield ("", chat_messages(turns, pending=question), turns, gr.update(), gr.update(),
               gr.update(), "", status("Looking in the sources…"))
        try:
            answer = engine.ask(question, [str(t["question"]) for t in turns])
        except InputError as exc:
            yield (question, chat_messages(turns), turns, gr.update(), gr.update(), gr.update(), "",
                   status(str(exc), error=True))
            return
        except Exception as exc:  # the page must stay usable whatever the engine does
            log.error("answering a question failed (%s)", type(exc).__name__)  # no question text
            yield (question, chat_messages(turns), turns, gr.update(), gr.update(), gr.update(), "",
                   status("Sorry, something went wrong while answering. Please try again.", True))
            return
        turns = [*turns, answer]
        yield ("", chat_messages(turns), turns, *shown(turns), "", status("Answer ready."))

    def select(choice: str | None, turns: list[dict[str, Any]]) -> tuple[str, str]:
        index = int(choice) if choice and choice.isdigit() else len(turns) - 1
        return panel(turns, index), ""

    def give_feedback(choice: str | None, turns: list[dict[str, Any]], rating: str | None,
                      comment: str, request: gr.Request | None) -> tuple[str, str]:
        index = int(choice) if choice and choice.isdigit() else len(turns) - 1
        if not 0 <= index < len(turns):
            return status("Ask a question first.", error=True), comment
        refusal = over_limit(limits.feedback, request, "feedback messages")
        if refusal:
            return status(refusal, error=True), comment
        turn = turns[index]
        try:
            item = store.add(turn["question"], turn["answer"], turn.get("citations") or [], rating,
                             reported=rating is None, comment=SURROGATES.sub("", comment or ""),
                             source="web")
        except FeedbackError as exc:
            return status(str(exc), error=True), comment
        log.info("feedback %d stored (%s)", item, rating or "report")
        if rating is None:
            return status(f"Thank you: your report on answer {index + 1} (#{item}) was sent to our "
                          "staff for review."), ""
        label = "helpful" if rating == "up" else "not helpful"
        return status(f"Thank you: answer {index + 1} marked {label}."), comment

    def new_conversation() -> tuple[Any, ...]:
        return ([], [], "", *shown([]), "", status("New conversation started."))

    with gr.Blocks(title="LDN and fibromyalgia: questions answered from sources",
                   analytics_enabled=False) as blocks:
        turns = gr.State([])
        gr.HTML('<header><h1 style="margin:.2rem 0 .4rem;font-size:1.5rem">Low-dose naltrexone (LDN) '
                'for fibromyalgia: ask the sources</h1>'
                f'<p class="disclaimer" role="note">{html.escape(DISCLAIMER)}</p></header>',
                js_on_load=None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=300):
                chatbot = gr.Chatbot(label="Conversation", height="60vh", min_height=280,
                                     feedback_options=None, allow_tags=False, sanitize_html=True,
                                     latex_delimiters=[],
                                     elem_id="chat", buttons=[],
                                     placeholder="Answers come only from the listed sources, "
                                                 "with a numbered citation for each statement.")
                question = gr.Textbox(label="Your question", placeholder="Ask about LDN and "
                                      "fibromyalgia, e.g. what did the trials find?", lines=1,
                                      max_lines=4, max_length=2000, elem_id="question")
                with gr.Row():
                    ask = gr.Button("Ask", variant="primary", elem_id="ask")
                    new = gr.Button("New conversation", variant="secondary", elem_id="new-chat")
                ask_status = gr.HTML("", elem_id="ask-status", js_on_load=None)
                with gr.Column(visible=False, elem_id="feedback") as feedback:
                    gr.HTML('<h2 class="small-heading">Was this answer helpful?</h2>',
                            js_on_load=None)
                    with gr.Row():
                        up = gr.Button("Helpful", size="sm", elem_id="helpful")
                        down = gr.Button("Not helpful", size="sm", elem_id="not-helpful")
                    comment = gr.Textbox(label="Report a problem (optional comment)", lines=2,
                                         max_length=2000, elem_id="report-comment",
                                         placeholder="For example: the citation does not say this")
                    report = gr.Button("Report a problem", size="sm", variant="stop",
                                       elem_id="report")
                    feedback_status = gr.HTML("", elem_id="feedback-status", js_on_load=None)
                gr.HTML('<h2 class="small-heading">Example questions</h2>', js_on_load=None)
                example_buttons = [gr.Button(q, size="sm", variant="secondary",
                                             elem_classes=["example"]) for q in EXAMPLES]
            with gr.Column(scale=2, min_width=300):
                selector = gr.Dropdown(label="Show sources and feedback for answer", choices=[],
                                       visible=False, interactive=True, elem_id="answer-select")
                cards = gr.HTML(answer_panel(None, {}), elem_id="citations", js_on_load=None)

        outputs = [question, chatbot, turns, selector, cards, feedback, feedback_status, ask_status]
        private: dict[str, Any] = {"api_visibility": "private"}
        question.submit(respond, [question, turns], outputs, **private)
        ask.click(respond, [question, turns], outputs, **private)
        for button, text in zip(example_buttons, EXAMPLES, strict=True):
            button.click(lambda t=text: t, None, question, queue=False, **private).then(
                respond, [question, turns], outputs, **private)
        cleared = [chatbot, turns, question, selector, cards, feedback, feedback_status, ask_status]
        new.click(new_conversation, None, cleared, queue=False, **private)
        chatbot.clear(new_conversation, None, cleared, queue=False, **private)
        selector.input(select, [selector, turns], [cards, feedback_status], **private)
        for button, rating in ((up, "up"), (down, "down")):
            button.click(_rate(give_feedback, rating), [selector, turns, comment],
                         [feedback_status, comment], **private)
        report.click(_rate(give_feedback, None), [selector, turns, comment],
                     [feedback_status, comment], **private)

        def ask_api(question: str, history: list[str] | None = None,
                    request: gr.Request | None = None) -> dict[str, Any]:
            """Answer a question from the sources; `history` holds earlier questions in the chat."""
            refusal = over_limit(limits.ask, request, "questions")
            if refusal:
                raise gr.Error(refusal)
            if not isinstance(question, str):
                raise gr.Error("A question must be text.")
            earlier = history or []
            try:
                return engine.ask(SURROGATES.sub("", question),
                                  earlier[-MAX_TURNS:] if isinstance(earlier, list) else earlier)
            except InputError as exc:  # the client gets the user-facing message
                raise gr.Error(str(exc)) from None

        gr.api(ask_api, api_name="ask")
    blocks.queue(max_size=MAX_QUEUE, api_open=False)  # a bounded queue: beyond it, "queue full"
    return blocks


def _rate(fn: Callable[..., tuple[str, str]], rating: str | None) -> Callable[..., tuple[str, str]]:
    def handler(choice: str | None, turns: list[dict[str, Any]], comment: str,
                request: gr.Request | None = None) -> tuple[str, str]:
        return fn(choice, turns, rating, comment, request)

    return handler
