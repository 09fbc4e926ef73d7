"""The `ldnqa` command. Thin: parse arguments, call the library, print; errors become one line.

    ldnqa index                      build or refresh index/ from corpus/
    ldnqa ask "question"             readable answer with numbered sources
    ldnqa ask --json "question"      the JSON answer
    ldnqa ask --json                 JSON lines on stdin -> one JSON answer per line
    ldnqa eval FILE                  score a question file (format of ../shared/eval/)
    ldnqa serve [--host H --port P]  the web app
    ldnqa bench [--json FILE]        speed and memory against the targets (--scale N: the dense index)
    ldnqa beir DIR [--run FILE]      the retriever on a BEIR dataset: nDCG@10, Recall@100, TREC run
    ldnqa feedback purge --older-than DAYS   delete old feedback (data/ or LDNQA_DATABASE_URL)
    ldnqa triage-train FILE...       fit the urgent-message classifier on labelled JSON lines
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
    feedback = sub.add_parser("feedback", help="manage stored feedback")
    feedback_sub = feedback.add_subparsers(dest="action", required=True)
    purge = feedback_sub.add_parser("purge", help="delete feedback older than DAYS days")
    purge.add_argument("--older-than", type=float, required=True, metavar="DAYS")
    purge.add_argument("--data-dir", default=os.environ.get("LDNQA_DATA_DIR", "data"),
                       help="the web app's data folder (default: LDNQA_DATA_DIR or data/)")
    bench = sub.add_parser("bench", parents=[common], help="measure speed and memory against the targets")
    bench.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    bench.add_argument("--quick", action="store_true", help="fewer repetitions, no PyTorch comparison")
    bench.add_argument("--scale", type=int, metavar="N", help="only the dense index at N passages")
    beir = sub.add_parser("beir", help="benchmark the retriever on a BEIR dataset (docs/beir.md)")
    beir.add_argument("dataset", help="folder with corpus.jsonl, queries.jsonl, qrels/<split>.tsv")
    beir.add_argument("--run", metavar="FILE", help="write the TREC run file here")
    beir.add_argument("--mode", choices=("hybrid", "dense", "lexical"), default="hybrid")
    beir.add_argument("--split", default="test", help="qrels split (default: test)")
    beir.add_argument("--cache", metavar="DIR", help="cache root (default: ~/.cache/ldnqa/beir)")
    beir.add_argument("--fusion", choices=("zscore", "rrf"), default="zscore",
                      help="hybrid: weighted z-scores (default) or plain reciprocal rank fusion")
    tt = sub.add_parser("triage-train", help="fit the urgent-message classifier (docs/triage.md)")
    tt.add_argument("files", nargs="+", help='JSON lines: {"message", "urgent", "category"}')
    tt.add_argument("--out", help="where to write the model (default: the one ldnqa uses)")
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
    from .launch import serve

    serve(host=args.host, port=args.port, corpus_dir=args.corpus, index_dir=args.index)
    return 0


def cmd_triage_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .assistant import triage_texts
    from .config import Settings
    from .embedding import SentenceTransformerEmbedder
    from .query import synonyms_from
    from .triage_model import train

    settings = Settings.from_env()
    paths = [Path(f) for f in args.files]
    for path in paths:
        if not path.is_file():
            raise InputError(f"{path} is not a file")
    embedder = SentenceTransformerEmbedder(settings.model)
    model = train(paths, embedder.embed, triage_texts(synonyms_from(settings.synonyms)), settings.model)
    out = Path(args.out or settings.urgent_model)
    tmp = out.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
        tmp.replace(out)  # a half-written model never replaces a good one
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror}") from exc
    thresholds = ", ".join(f"{c} {v['threshold']:.2f}" for c, v in model["categories"].items())
    print(f"Wrote {out}: {sum(t['lines'] for t in model['trained_on'])} messages; thresholds {thresholds}")
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


def cmd_feedback(args: argparse.Namespace) -> int:
    """`feedback purge --older-than DAYS`: delete old feedback and say how many items went."""
    from pathlib import Path

    from .feedback_pg import database_url, open_store, store_location

    path = Path(args.data_dir) / "feedback.sqlite3"
    if database_url() is None and not path.exists():
        print(f"No feedback database at {path}; nothing to purge.")
        return 0
    store = open_store(args.data_dir)  # PostgreSQL when LDNQA_DATABASE_URL is set
    try:
        removed = store.purge(args.older_than)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    print(f"Removed {removed} feedback item{'s' if removed != 1 else ''} older than "
          f"{args.older_than:g} days from {store_location(store)}.")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from . import bench, bench_report, scale

    if args.scale is not None:
        if args.scale < 1:
            raise InputError("--scale takes a number of passages, at least 1")
        report = scale.run_scale_bench(args.corpus, args.index, args.scale)
        print(scale.render_scale(report))
    else:
        report = bench.run(args.corpus, args.index, quick=args.quick)
        print(bench_report.render(report))
    if args.json:
        bench_report.write_json(report, args.json)
    return 0


def cmd_beir(args: argparse.Namespace) -> int:
    from . import beir

    settings = beir.BeirSettings(fusion=args.fusion)
    report = beir.run_benchmark(args.dataset, mode=args.mode, split=args.split, cache_root=args.cache,
                                run_file=args.run, settings=settings)
    print(beir.render(report))
    return 0


COMMANDS = {"index": cmd_index, "ask": cmd_ask, "eval": cmd_eval, "serve": cmd_serve,
            "staff-hash": cmd_staff_hash, "feedback": cmd_feedback, "bench": cmd_bench,
            "beir": cmd_beir, "triage-train": cmd_triage_train}


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
