"""`ask --json -`: one question per input line, plain or JSON, answered in order with one loaded engine."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from assistant.engine import Engine
from assistant.errors import InputError
from assistant.types import Answer, Message


def parse_line(line: str) -> tuple[str, list[Message]]:
    """A line is a question, or {"question": ..., "history": [{"role", "content"}, ...]}."""
    stripped = line.strip()
    if not stripped.startswith("{"):
        return stripped, []
    try:
        row = json.loads(stripped)
    except json.JSONDecodeError as error:
        raise InputError(f"malformed JSON line ({error.msg} at column {error.colno})") from None
    if not isinstance(row, dict) or not isinstance(row.get("question"), str):
        raise InputError('a JSON line needs "question" as a string')
    return row["question"], parse_history(row.get("history", []))


def parse_history(history: object) -> list[Message]:
    if not isinstance(history, list):
        raise InputError('"history" must be a list of {"role", "content"} objects')
    messages = []
    for turn in history:
        if not (
            isinstance(turn, dict)
            and turn.get("role") in ("user", "assistant")
            and isinstance(turn.get("content"), str)
        ):
            raise InputError('each history turn needs "role" ("user" or "assistant") and "content" (a string)')
        messages.append(Message(turn["role"], turn["content"]))
    return messages


def answer_lines(engine: Engine, lines: Iterable[str]) -> Iterator[dict[str, object]]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            question, history = parse_line(line)
        except InputError as error:
            yield {"line": number, "error": str(error)}
            continue
        yield engine.ask(question, history).to_json()


def render(answer: Answer) -> str:
    lines = [*answer.notices, answer.text, ""]
    lines += [f"[{i}] {c.label} ({c.id})" for i, c in enumerate(answer.citations, 1)]
    return "\n".join(lines)
