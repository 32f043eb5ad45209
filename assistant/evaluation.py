"""Run an eval set (evals/dev.jsonl, evals/blind.jsonl) through an engine and score it.

dev is what the engine was tuned on; blind was written from the corpus alone before the change it
judges (evals/README.md). Both are scored the same way and reported side by side.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from assistant.engine import Engine
from assistant.errors import AssistantError
from assistant.normalize import fold
from assistant.types import Answer, Message

EVALS = Path(__file__).resolve().parent.parent / "evals"
SETS = {"dev": EVALS / "dev.jsonl", "blind": EVALS / "blind.jsonl"}


@dataclass(frozen=True)
class Case:
    id: str
    group: str
    question: str
    expected: tuple[str, ...]
    must_contain: tuple[str, ...]
    refuse: bool
    history: tuple[Message, ...] = ()


@dataclass(frozen=True)
class Outcome:
    case: Case
    ranking: tuple[str, ...]  # local ids: citations first, then the rest of the retrieval order
    first_correct: bool
    top3: bool
    reciprocal_rank: float
    contains: bool
    refused: bool
    outcome: str  # answer / nearest / refusal
    latency_ms: float

    @property
    def answered(self) -> bool:
        return self.outcome == "answer"


@dataclass(frozen=True)
class Scores:
    questions: int
    first_citation: float
    top3: float
    mrr: float
    must_contain: float
    refusal_precision: float
    refusal_recall: float
    p50_ms: float
    p95_ms: float
    answerable_not_answered: float = 0.0  # answerable questions refused or only given "nearest"
    out_of_scope_handled: float = 1.0  # out-of-scope questions refused or answered "not settled + nearest"

    def table_row(self, name: str) -> str:
        return (
            f"| {name} | {self.first_citation:.1%} | {self.top3:.1%} | {self.mrr:.3f} | {self.must_contain:.1%} "
            f"| {self.refusal_precision:.1%} / {self.refusal_recall:.1%} | {self.answerable_not_answered:.1%} "
            f"| {self.out_of_scope_handled:.1%} | {self.p50_ms:.1f} | {self.p95_ms:.1f} |"
        )


TABLE_HEADER = (
    "| system | first citation | top-3 | MRR | must-contain | refusal P / R | answerable not answered "
    "| out-of-scope handled | p50 ms | p95 ms |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def set_paths(name: str) -> list[Path]:
    """`dev`, `blind` or `all` → the question files (a missing blind set is an error, not an empty score)."""
    if name == "all":
        return list(SETS.values())
    if name not in SETS:
        raise AssistantError(f"unknown eval set {name!r}: use dev, blind or all")
    return [SETS[name]]


def load_set(name: str) -> list[Case]:
    return [case for path in set_paths(name) for case in load_cases(path)]


def load_cases(path: Path) -> list[Case]:
    if not path.is_file():
        raise AssistantError(f"no eval set at {path}")
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            history = tuple(Message(m["role"], m["content"]) for m in row.get("history", []))
            cases.append(
                Case(
                    row["id"],
                    row["group"],
                    row["question"],
                    tuple(row["expected"]),
                    tuple(row.get("must_contain", ())),
                    bool(row["refuse"]),
                    history,
                )
            )
    return cases


def judge(case: Case, answer: Answer) -> Outcome:
    ranking: list[str] = []
    for chunk_id in [c.id for c in answer.citations] + list(answer.ranked):
        local = chunk_id.split("/", 1)[-1]
        if local not in ranking:
            ranking.append(local)
    cited = [c.id.split("/", 1)[-1] for c in answer.citations]
    ranks = [i for i, local in enumerate(ranking) if _matches(local, case.expected)]
    text = fold(answer.text)
    return Outcome(
        case=case,
        ranking=tuple(ranking),
        first_correct=bool(cited) and _matches(cited[0], case.expected),
        top3=bool(ranks) and ranks[0] < 3,
        reciprocal_rank=1.0 / (ranks[0] + 1) if ranks else 0.0,
        contains=all(fold(s) in text for s in case.must_contain),
        refused=answer.refused,
        outcome=answer.outcome,
        latency_ms=answer.latency_ms,
    )


def _matches(local_id: str, expected: tuple[str, ...]) -> bool:
    """A 別表 heading cited for a listing stands for its rows: section-3-1 matches an expected annex-3-1-2."""
    if local_id in expected:
        return True
    path = local_id.removeprefix("section-")
    return local_id.startswith("section-") and any(e.startswith(f"annex-{path}-") for e in expected)


def run(engine: Engine, cases: list[Case]) -> list[Outcome]:
    engine.ask("ウォームアップ")  # the first query pays for lazy set-up; measure warm answers
    return [judge(case, engine.ask(case.question, case.history)) for case in cases]


def score(outcomes: list[Outcome]) -> Scores:
    answerable = [o for o in outcomes if not o.case.refuse]
    refused = [o for o in outcomes if o.refused]
    should_refuse = [o for o in outcomes if o.case.refuse]
    latencies = sorted(o.latency_ms for o in outcomes)

    def share(items: list[Outcome], test: str) -> float:
        return sum(bool(getattr(o, test)) for o in items) / len(items) if items else 1.0

    return Scores(
        questions=len(outcomes),
        first_citation=share(answerable, "first_correct"),
        top3=share(answerable, "top3"),
        mrr=statistics.fmean(o.reciprocal_rank for o in answerable) if answerable else 0.0,
        must_contain=share(answerable, "contains"),
        refusal_precision=sum(o.case.refuse for o in refused) / len(refused) if refused else 1.0,
        refusal_recall=share(should_refuse, "refused"),
        p50_ms=statistics.median(latencies),
        p95_ms=latencies[max(0, round(0.95 * len(latencies)) - 1)],
        answerable_not_answered=1.0 - share(answerable, "answered") if answerable else 0.0,
        out_of_scope_handled=share(should_refuse, "refused"),
    )


def failures(outcomes: list[Outcome]) -> list[dict[str, object]]:
    rows = []
    for o in outcomes:
        wrong_refusal = o.refused != o.case.refuse
        if wrong_refusal or (not o.case.refuse and not (o.first_correct and o.top3 and o.contains)):
            rows.append(
                {
                    "id": o.case.id,
                    "question": o.case.question,
                    "expected": o.case.expected,
                    "got": o.ranking[:3],
                    "contains": o.contains,
                    "outcome": o.outcome,
                }
            )
    return rows


def report(outcomes: list[Outcome]) -> dict[str, object]:
    return {"scores": asdict(score(outcomes)), "failures": failures(outcomes)}
