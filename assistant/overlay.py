"""Staff additions to the glossary, kept in the data dir: an append-only change log replayed into an Overlay.

The packaged glossary (data/glossary.toml) is the system layer; what staff add from the 管理 tab or
`assistant review` goes to DATA_DIR/review/changes.jsonl, one change a line (who, when, what). The
overlay in force is the replay of that log, so every change is recorded and an undo is one more line.
Replicas sharing the data dir see a change on their next refresh (the engine watches the file).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from assistant.errors import InputError
from assistant.feedback import append_record, now
from assistant.glossary import Glossary, Topic
from assistant.normalize import fold
from assistant.settings import Settings
from assistant.types import Chunk

log = logging.getLogger(__name__)
Action = Literal["map", "out_of_scope", "undo"]
CHANGES = Path("review") / "changes.jsonl"
MAX_WORD = 40  # characters: a word or short phrase, not a question


@dataclass(frozen=True)
class Change:
    """One line of the change log."""

    id: str
    who: str
    when: str
    action: Action
    word: str = ""
    term: str = ""  # map: the agreement's term the word stands for
    ask: str = ""  # out_of_scope: where to ask instead
    target: str = ""  # undo: the id of the change it takes back


@dataclass(frozen=True)
class Overlay:
    synonyms: tuple[tuple[str, str], ...] = ()  # word → agreement term
    out_of_scope: tuple[tuple[str, str], ...] = ()  # word → where to ask instead


def changes_path(settings: Settings) -> Path:
    return settings.data_dir / CHANGES


def read_changes(settings: Settings) -> list[Change]:
    """Every change in the log; a line that is not a change (a hand edit gone wrong) is skipped, not fatal."""
    try:
        lines = changes_path(settings).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    fields, changes = set(Change.__dataclass_fields__), []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
            change = Change(**{k: str(v) for k, v in record.items() if k in fields})
            if change.action not in ("map", "out_of_scope", "undo"):
                raise ValueError(change.action)
            changes.append(change)
        except (ValueError, TypeError, AttributeError):
            log.warning("%s:%d is not a change; skipped", changes_path(settings), number)
    return changes


def active_changes(changes: Iterable[Change]) -> list[Change]:
    """The map / out_of_scope changes not undone, in the order they were made."""
    active: dict[str, Change] = {}
    for change in changes:
        if change.action == "undo":
            active.pop(change.target, None)
        else:
            active[change.id] = change
    return list(active.values())


def replay(changes: Iterable[Change]) -> Overlay:
    """The overlay a change log amounts to; a later change of the same word wins."""
    synonyms: dict[str, str] = {}
    out_of_scope: dict[str, str] = {}
    for change in active_changes(changes):
        key = fold(change.word)
        synonyms.pop(key, None)
        out_of_scope.pop(key, None)
        if change.action == "map":
            synonyms[key] = change.term
        else:
            out_of_scope[key] = change.ask
    return Overlay(tuple(synonyms.items()), tuple(out_of_scope.items()))


def load_overlay(settings: Settings) -> Overlay:
    return replay(read_changes(settings))


def stamp(settings: Settings) -> tuple[int, int]:
    """What changes when the log does (mtime, size); (0, 0) when there is no log yet."""
    try:
        info = changes_path(settings).stat()
    except OSError:
        return (0, 0)
    return (info.st_mtime_ns, info.st_size)


def with_overlay(glossary: Glossary, overlay: Overlay) -> Glossary:
    """The glossary the engine reads questions with: staff synonyms added, staff out-of-scope topics first."""
    synonyms = tuple((_pattern(word), fold(term)) for word, term in overlay.synonyms)
    topics = tuple(Topic(_pattern(word), ask=ask) for word, ask in overlay.out_of_scope)
    return replace(glossary, synonyms=glossary.synonyms + synonyms, out_of_scope=topics + glossary.out_of_scope)


def _pattern(word: str) -> re.Pattern[str]:
    """As the packaged glossary matches its keys: ASCII as whole words (plural allowed), Japanese anywhere."""
    folded = fold(word)
    return re.compile(rf"\b{re.escape(folded)}s?\b" if folded.isascii() else re.escape(folded))


# --- making changes --------------------------------------------------------------------------------


def map_word(settings: Settings, chunks: Iterable[Chunk], *, word: str, term: str, who: str) -> Change:
    """Staff: `word` means the agreement's `term` (which must occur in the agreement's text)."""
    word, term = _word(word), " ".join(term.split())
    if not term:
        raise InputError("協約の用語を入力してください（例: 公共交通）。")
    if fold(term) not in "\n".join(fold(c.text) for c in chunks):
        raise InputError(f"「{term}」は協約書の本文にない語です。協約書に書かれている語を指定してください。")
    return _append(settings, Change(_new_id(), who, now(), "map", word=word, term=term))


def mark_out_of_scope(settings: Settings, *, word: str, ask: str, who: str) -> Change:
    """Staff: questions with `word` are not about the agreement; tell people to ask `ask` instead."""
    word, ask = _word(word), " ".join(ask.split())
    if not ask:
        raise InputError("問い合わせ先を入力してください（例: お住まいの市の環境・ごみ担当課）。")
    return _append(settings, Change(_new_id(), who, now(), "out_of_scope", word=word, ask=ask))


def undo(settings: Settings, change_id: str, *, who: str) -> Change:
    target = next((c for c in active_changes(read_changes(settings)) if c.id == change_id.strip()), None)
    if target is None:
        raise InputError(f"取り消せる変更 {change_id.strip()!r} はありません（`assistant review changes` で一覧）。")
    return _append(settings, Change(_new_id(), who, now(), "undo", word=target.word, target=target.id))


def _word(word: str) -> str:
    word = " ".join(word.split())
    if not word:
        raise InputError("語を入力してください（空の語は登録できません）。")
    if len(word) > MAX_WORD:
        raise InputError(f"語が長すぎます（{len(word)}文字）。{MAX_WORD}文字以内の語か短い句にしてください。")
    return word


def _new_id() -> str:
    return uuid.uuid4().hex[:8]


def _append(settings: Settings, change: Change) -> Change:
    record = {k: v for k, v in change.__dict__.items() if v != "" or k in ("id", "who", "when", "action")}
    append_record(changes_path(settings), record)
    return change
