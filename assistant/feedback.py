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

    O_APPEND puts every write at the current end of file, and the lock keeps writers on other
    machines sharing the file (NFS) or a short write from interleaving. A writer killed during its
    write can still leave part of a line (Linux stops a write at a page when SIGKILL arrives: seen with
    a 60 KB record), so a log that does not end in a newline gets one first: the torn fragment stays
    a damaged line of its own, which readers skip (review.py), and this record starts whole.
    """
    line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            size = os.fstat(fd).st_size
            torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
            line = b"\n" + line if torn else line
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
