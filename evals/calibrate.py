"""Calibrate the answer / nearest / refuse thresholds on the dev set: `python -m evals.calibrate`.

Only questions that reach the evidence decision with no word in common with the agreement depend on the
thresholds, but on dev nearly every question shares a word, so every dev question that reaches the
decision counts, with its best unit's dense score as if it shared none. For each language, `answer` is the
dense score that best separates answerable dev questions from out-of-scope ones (a wrong answer counting
twice a wrong "not settled"); `nearest` is the score below which no answerable dev question falls (less a
small margin), so below it nothing relates. Writes assistant/data/calibration.toml and prints the points.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field

from assistant.calibration import CALIBRATION_PATH, Calibration, Thresholds, load_calibration
from assistant.engine import Engine, Options
from assistant.evaluation import load_set
from assistant.settings import load_settings

_MARGIN = 0.01
# An out-of-scope question answered as if the agreement settled it invents a fact; an answerable one sent to
# "not settled + nearest" still shows its provision. So the first error counts twice.
_WRONG_ANSWER_COST = 2


@dataclass
class Recorder:
    """Stands in for the calibration while the dev set runs, and records each decision's evidence."""

    inner: Calibration
    seen: list[tuple[float, bool, str]] = field(default_factory=list)

    def verdict(self, dense: float, shared_word: bool, language: str) -> str:
        self.seen.append((dense, shared_word, language))
        return self.inner.verdict(dense, shared_word, language)


def points(engine: Engine) -> list[dict[str, object]]:
    recorder = Recorder(load_calibration())
    engine.calibration = recorder  # type: ignore[assignment]
    rows = []
    for case in load_set("dev"):
        recorder.seen.clear()
        engine.ask(case.question, case.history)
        if recorder.seen:
            dense, shared, language = recorder.seen[0]
            row = {"id": case.id, "dense": dense, "shared_word": shared, "language": language}
            rows.append({**row, "out_of_scope": case.refuse})
    return rows


def thresholds(rows: list[dict[str, object]]) -> Thresholds:
    answerable = sorted(float(r["dense"]) for r in rows if not r["out_of_scope"])  # type: ignore[arg-type]
    outside = sorted(float(r["dense"]) for r in rows if r["out_of_scope"])  # type: ignore[arg-type]
    candidates = sorted({*answerable, *outside})
    if not answerable:
        return Thresholds(1.0, 1.0)

    def correct(t: float) -> int:
        return sum(d >= t for d in answerable) + _WRONG_ANSWER_COST * sum(d < t for d in outside)

    answer = max(candidates, key=lambda t: (correct(t), -t))
    return Thresholds(round(min(answerable[0] - _MARGIN, answer), 4), round(answer, 4))


def main() -> int:
    # Without the cascade: every question that reaches the decision is embedded, so each has a dense score.
    engine = Engine.load(load_settings(), options=Options(cascade=False))
    rows = points(engine)
    limits = {lang: thresholds([r for r in rows if r["language"] == lang]) for lang in ("ja", "en")}
    lines = [
        "# Written by `python -m evals.calibrate` from the dev set; do not edit by hand.",
        f'source = "dev set: {len(rows)} questions reached the evidence decision"',
    ]
    for lang, t in limits.items():
        lines += [f"[dense.{lang}]", f"nearest = {t.nearest}", f"answer = {t.answer}"]
    CALIBRATION_PATH.write_text("\n".join(lines) + "\n", encoding="utf-8")
    json.dump({"points": rows, "thresholds": {k: v.__dict__ for k, v in limits.items()}}, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
