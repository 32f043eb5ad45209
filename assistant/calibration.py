"""Thresholds for the answer / nearest / refuse decision, calibrated on the dev set (evals/calibrate.py).

Only questions with no word in common with the agreement depend on them: a shared content word is strong
evidence. For the rest, the dense cosine of the best unit decides, with one pair of thresholds per language
(e5 scores English questions against Japanese text lower than Japanese ones).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

CALIBRATION_PATH = Path(__file__).parent / "data" / "calibration.toml"
Verdict = Literal["answer", "nearest", "refuse"]


@dataclass(frozen=True)
class Thresholds:
    nearest: float  # below: nothing relates → refuse
    answer: float  # at or above: strong enough to answer without a shared word


@dataclass(frozen=True)
class Calibration:
    by_language: dict[str, Thresholds]
    source: str = ""  # how the figures were obtained, for the bench report

    def verdict(self, dense: float, shared_word: bool, language: str) -> Verdict:
        if shared_word:
            return "answer"
        limits = self.by_language.get(language) or self.by_language["ja"]
        if dense >= limits.answer:
            return "answer"
        return "nearest" if dense >= limits.nearest else "refuse"


@cache
def load_calibration(path: Path = CALIBRATION_PATH) -> Calibration:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    limits = {lang: Thresholds(float(v["nearest"]), float(v["answer"])) for lang, v in data["dense"].items()}
    return Calibration(limits, str(data.get("source", "")))
