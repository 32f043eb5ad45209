"""Append-only JSONL logs (feedback, unanswered questions) that concurrent writers and crashes never tear."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterable
from pathlib import Path

from assistant.types import Answer

FEEDBACK_LOG = "feedback.jsonl"
UNANSWERED_LOG = "unanswered.jsonl"


def append_record(path: Path, record: dict[str, object]) -> None:
    """Write `record` as one line: one `os.write` on an O_APPEND descriptor, under an exclusive lock.

    O_APPEND puts every write at the current end of file, the lock keeps writers on other
    machines sharing the file (NFS) or a short write from interleaving, and a single write means
    a crash leaves either the whole line or none of it.
    """
    line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            written = os.write(fd, line)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    if written != len(line):
        msg = f"short write to {path}: {written} of {len(line)} bytes"
        raise OSError(msg)


def read_records(path: Path) -> list[dict[str, object]]:
    """Every complete record in `path` (a missing file has none)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def log_feedback(
    log_dir: Path,
    *,
    question: str,
    answer: str,
    citations: Iterable[str],
    rating: str,
    comment: str = "",
    answer_id: str = "",
) -> None:
    """One rating (👍 "up" / 👎 "down") of one answer, with what was asked and cited."""
    record = {
        "time": now(),
        "answer_id": answer_id,
        "question": question,
        "answer": answer,
        "citations": list(citations),
        "rating": rating,
        "comment": comment,
    }
    append_record(log_dir / FEEDBACK_LOG, record)


def log_unanswered(log_dir: Path, answer: Answer, *, source: str) -> None:
    """A question the agreement does not answer, so staff can see what people ask beyond it."""
    record = {
        "time": now(),
        "question": answer.question,
        "answer": answer.text,
        "language": answer.language,
        "citations": [c.id for c in answer.citations],
        "source": source,
    }
    append_record(log_dir / UNANSWERED_LOG, record)
