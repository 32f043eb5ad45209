"""What staff review: questions the agreement could not answer, nearest-only answers and 👎 feedback, grouped.

Read from the append-only logs the app writes (logs/unanswered.jsonl, logs/feedback.jsonl); the same
question asked many times is one entry with a count, so the words residents use most come first.
The changes staff make from here live in `assistant.overlay`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from assistant.feedback import FEEDBACK_LOG, UNANSWERED_LOG
from assistant.normalize import fold
from assistant.settings import Settings

Kind = Literal["unanswered", "nearest", "disliked"]
KIND_LABELS: dict[str, str] = {"unanswered": "回答できず", "nearest": "近い内容のみ", "disliked": "👎"}
_ENDING = re.compile(r"[\s?？!！。．.、,]+$")


@dataclass(frozen=True)
class Entry:
    """Every log record of one kind about the same question."""

    kind: Kind
    question: str  # as last asked
    count: int
    last: str  # ISO time of the latest record
    comments: tuple[str, ...] = ()  # 👎 comments, newest first
    answer: str = ""  # the latest answer given

    def to_json(self) -> dict[str, object]:
        return {**self.__dict__, "comments": list(self.comments)}


def entries(settings: Settings) -> list[Entry]:
    """Grouped entries, most frequent first (then most recent)."""
    records = [(_kind(r), r) for r in _records(settings.log_dir / UNANSWERED_LOG)]
    records += [("disliked", r) for r in _records(settings.log_dir / FEEDBACK_LOG) if r.get("rating") == "down"]
    return group(records)


def group(records: Iterable[tuple[Kind, dict[str, object]]]) -> list[Entry]:
    groups: dict[tuple[str, str], list[dict[str, object]]] = {}
    for kind, record in records:
        question = str(record.get("question", "")).strip()
        if question:
            groups.setdefault((kind, _key(question)), []).append(record)
    found = []
    for (kind, _), items in groups.items():
        items.sort(key=lambda r: str(r.get("time", "")))
        latest = items[-1]
        comments = tuple(str(r["comment"]) for r in reversed(items) if str(r.get("comment", "")).strip())
        found.append(
            Entry(
                kind,  # type: ignore[arg-type]
                str(latest["question"]).strip(),
                len(items),
                str(latest.get("time", "")),
                comments,
                str(latest.get("answer", "")),
            )
        )
    found.sort(key=lambda e: e.last, reverse=True)  # stable sorts: most frequent first, then most recent
    return sorted(found, key=lambda e: e.count, reverse=True)


def _kind(record: dict[str, object]) -> Kind:
    """A nearest-only answer is logged with the refusals, told apart by its `outcome` (when the engine gives one)."""
    return "nearest" if record.get("outcome") == "nearest" else "unanswered"


def _key(question: str) -> str:
    """「パパママ教室は？」 and 「パパママ教室は?」 are one question."""
    return _ENDING.sub("", fold(question))


def _records(path: Path) -> list[dict[str, object]]:
    """Every readable record; a damaged line is skipped, so one bad line cannot hide the rest."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    found = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            found.append(record)
    return found
