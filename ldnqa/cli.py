"""The `ldnqa` command. Thin: parse arguments, call the library, print; errors become one line.

    ldnqa index                      build or refresh index/ from corpus/
    ldnqa ask "question"             readable answer with numbered sources
    ldnqa ask --json "question"      the JSON answer
    ldnqa ask --json                 JSON lines on stdin -> one JSON answer per line
    ldnqa eval FILE                  score a question file (format of ../shared/eval/)
    ldnqa serve [--host H --port P]  the web app
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Sequence

from .errors import InputError, LdnqaError


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--corpus", default=os.environ.get("LDNQA_CORPUS", "corpus"), help="corpus folder")
    common.add_argument("--index", default=os.environ.get("LDNQA_INDEX", "index"), help="index folder")
    p = argparse.ArgumentParser(prog="ldnqa", description="Cited answers about low-dose naltrexone.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("index", parents=[common], help="build or refresh the index")
    ask = sub.add_parser("ask", parents=[common], help="answer a question")
    ask.add_argument("question", nargs="?", help="the question; omit with --json to read JSON lines")
    ask.add_argument("--json", action="store_true", help="print the JSON answer")
    ask.add_argument("--history", action="append", default=[], help="an earlier question (repeatable)")
    ev = sub.add_parser("eval", parents=[common], help="score a question file")
    ev.add_argument("file")
    ev.add_argument("--verbose", action="store_true", help="list the questions answered wrongly")
    hash_cmd = sub.add_parser("staff-hash", help="print a staff credential line for LDNQA_STAFF_FILE")
    hash_cmd.add_argument("user")
    serve = sub.add_parser("serve", parents=[common], help="run the web app")
    serve.add_argument("--host", default=os.environ.get("LDNQA_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("LDNQA_PORT", "7860")))
    return p


def load(args: argparse.Namespace):  # noqa: ANN201
    from .assistant import Assistant

    return Assistant.load(corpus_dir=args.corpus, index_dir=args.index)


def cmd_index(args: argparse.Namespace) -> int:
    assistant = load(args)
    print(f"Index ready: {len(assistant.documents)} documents, {len(assistant.index.chunks)} passages "
          f"in {args.index}/ ({len(assistant.skipped)} files skipped).")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from .render import to_text

    if args.question is None and not args.json:
        raise InputError("give a question, or use --json to read JSON lines from stdin")
    assistant = load(args)
    if args.question is not None:
        answer = assistant.ask(args.question, history=args.history)
        print(json.dumps(answer.to_dict(), ensure_ascii=False) if args.json else to_text(answer), end="" if not args.json else "\n")
        return 0
    return ask_lines(assistant, sys.stdin, sys.stdout)


def ask_lines(assistant: Any, lines: Any, out: Any) -> int:
    """One JSON request a line in, one JSON answer a line out; a bad line gets {"error": ...}."""
    failed = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise InputError('each line must be a JSON object like {"question": "..."}')
            reply: dict[str, Any] = assistant.ask(request.get("question"), history=request.get("history") or []).to_dict()
        except ValueError as exc:
            failed += 1
            reply = {"error": f"line {number}: not JSON ({exc})"}
        except InputError as exc:
            failed += 1
            reply = {"error": f"line {number}: {exc}"}
        out.write(json.dumps(reply, ensure_ascii=False) + "\n")
        out.flush()
    return 1 if failed else 0


def cmd_eval(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .evaluate import evaluate, read_questions

    items = read_questions(Path(args.file))
    assistant = load(args)
    score = evaluate(items, lambda q, h: assistant.ask(q, history=h).to_dict())
    figures = score.figures()
    labels = {"answerable_correct": "answerable correct", "unanswerable_abstained": "unanswerable abstained",
              "urgent": "urgent flagged", "citation_precision": "citation precision"}
    for key, label in labels.items():
        value = figures[key]
        print(f"{label:24s} {'n/a' if value is None else f'{value:.3f}'}")
    if args.verbose and score.failures:
        print("\nWrong:\n  " + "\n  ".join(score.failures))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .server import serve

    serve(host=args.host, port=args.port, corpus_dir=args.corpus, index_dir=args.index)
    return 0


def cmd_staff_hash(args: argparse.Namespace) -> int:
    """Ask for a password twice (never on the command line) and print `user:salt:hash`."""
    import getpass

    from .staff import make_hash_line

    password = getpass.getpass(f"Password for {args.user}: ")
    if password != getpass.getpass("Again: "):
        raise InputError("the passwords differ")
    try:
        print(make_hash_line(args.user, password))
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    return 0


COMMANDS = {"index": cmd_index, "ask": cmd_ask, "eval": cmd_eval, "serve": cmd_serve,
            "staff-hash": cmd_staff_hash}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except LdnqaError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
