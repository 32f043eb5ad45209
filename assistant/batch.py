"""`ask --json -`: one question per input line, plain or JSON, answered in order with one loaded engine.

A bad line (not UTF-8, malformed JSON, wrong types) gets an error object and the batch goes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from assistant.engine import Engine
from assistant.errors import AssistantError, InputError
from assistant.query import clean
from assistant.types import Answer, Message


def parse_line(line: str) -> tuple[str, list[Message]]:
    """A line is a question, or {"question": ..., "history": [{"role", "content"}, ...]}."""
    stripped = line.strip().lstrip("\ufeff")
    if not stripped.startswith("{"):
        return stripped, []
    try:
        row = json.loads(stripped)
    except json.JSONDecodeError as error:
        raise InputError(f"malformed JSON line ({error.msg} at column {error.colno})") from None
    except (ValueError, RecursionError):  # a 5,000-digit number, nesting 100,000 deep
        raise InputError("malformed JSON line (a number too long or nesting too deep)") from None
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


def check_question(question: str, *, limit: int) -> None:
    """A command-line question must be text with something in it (a batch line gets an error object)."""
    if any("\udc80" <= c <= "\udcff" for c in question):
        raise InputError("the question is not valid UTF-8 text: pass it in UTF-8")
    if not clean(question, limit=limit)[0]:
        msg = (
            "the question is empty (markup, control and invisible characters are ignored): "
            "ask e.g. `assistant ask 'バスのことはどっちの市に聞けばいい？'`"
        )
        raise InputError(msg)


def decode_line(line: str | bytes, number: int) -> str:
    if isinstance(line, str):
        return line
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as error:
        msg = (
            f"line {number} is not valid UTF-8 (byte {line[error.start]:#04x} at offset {error.start}): send UTF-8 text"
        )
        raise InputError(msg) from None


def answer_lines(engine: Engine, lines: Iterable[str | bytes]) -> Iterator[dict[str, object]]:
    for number, raw in enumerate(lines, 1):
        try:
            line = decode_line(raw, number)
            if not line.strip():
                continue
            question, history = parse_line(line)
            yield engine.ask(question, history).to_json()
        except AssistantError as error:
            yield {"line": number, "error": str(error)}


def render(answer: Answer) -> str:
    lines = [*answer.notices, answer.text, ""]
    lines += [f"[{i}] {c.label} ({c.id})" for i, c in enumerate(answer.citations, 1)]
    return "\n".join(lines)
