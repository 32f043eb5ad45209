"""Chat turns for the app: engine answers streamed into chat messages, feedback, and the `ask` API.

The chat value is the only record of a conversation: each answer is followed by a message holding
its own citation cards, answer id and citation ids, so nothing is looked up in shared state.
"""

from __future__ import annotations

import html
import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from assistant.app_render import SOURCES_CLASS, as_text, from_text, match_terms, parties_of, sources_html
from assistant.batch import parse_history
from assistant.engine import Engine
from assistant.errors import AssistantError, InputError
from assistant.feedback import log_feedback, log_unanswered
from assistant.types import Answer, Message

log = logging.getLogger(__name__)

ChatMessage = dict[str, object]
NOTICE = "⚠️ "
HARD_LIMIT = 100_000  # characters kept from any input before the engine's own cut (bounds the work per request)
_SOURCES = re.compile(rf'^<div class="{SOURCES_CLASS}" data-answer-id="([^"]*)" data-citations="([^"]*)"')


@dataclass(frozen=True)
class Turn:
    """One question and its answer, read back from the chat value."""

    question: str
    answer: str
    citations: tuple[str, ...]
    answer_id: str


def content_text(message: ChatMessage) -> str:
    """A message's text, whether Gradio hands it over as a string or as a list of parts."""
    content = message.get("content", "")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def plain_chat(chat: list[ChatMessage] | None) -> list[ChatMessage]:
    return [{"role": m.get("role", "assistant"), "content": content_text(m)} for m in chat or []]


def is_sources(message: ChatMessage) -> bool:
    return message["role"] == "assistant" and bool(_SOURCES.match(content_text(message)))


def answer_body(content: str) -> str:
    """The answer as the engine wrote it: notices dropped, escaping undone."""
    lines = [line for line in html.unescape(content).split("\n") if not line.startswith(NOTICE)]
    return "\n".join(lines)


def engine_history(chat: list[ChatMessage]) -> list[Message]:
    """The conversation so far, as the engine reads it for follow-ups."""
    history = []
    for message in chat:
        if message["role"] == "user":
            history.append(Message("user", from_text(content_text(message))))
        elif message["role"] == "assistant" and not is_sources(message):
            history.append(Message("assistant", answer_body(content_text(message))))
    return history


def turn_at(chat: list[ChatMessage], index: int) -> Turn | None:
    """The turn that the message at `index` belongs to (its answer or its citation cards)."""
    if not 0 <= index < len(chat):
        return None
    start = next((i for i in range(index, -1, -1) if chat[i]["role"] == "user"), None)
    if start is None:
        return None
    after = chat[start + 1 :]
    answer = next((m for m in after if m["role"] == "assistant" and not is_sources(m)), None)
    sources = next((m for m in after if is_sources(m)), None)
    if answer is None:
        return None
    found = _SOURCES.match(content_text(sources)) if sources else None
    return Turn(
        question=from_text(content_text(chat[start])),
        answer=answer_body(content_text(answer)),
        citations=tuple(found.group(2).split()) if found else (),
        answer_id=html.unescape(found.group(1)) if found else "",
    )


class ChatService:
    """Everything the app's event handlers do, on top of one shared, thread-safe engine."""

    def __init__(self, engine: Engine, *, stream_delay: float = 0.02, stream_steps: int = 24) -> None:
        self.engine = engine
        self.settings = engine.settings
        self.stream_delay = stream_delay
        self.stream_steps = stream_steps

    # --- answering ----------------------------------------------------------------------------------

    def answer(self, question: str, history: list[Message], *, source: str) -> Answer:
        answer = self.engine.ask(question[:HARD_LIMIT], history)
        if answer.refused and answer.question:
            try:
                log_unanswered(self.settings.log_dir, answer, source=source)
            except OSError as error:  # a full disk must not cost the person their answer
                log.warning("could not log an unanswered question: %s", error)
        return answer

    def api_ask(self, question: object, history: object = None) -> dict[str, object]:
        """The `ask` endpoint: the CLI's JSON answer, or {"error": ...} for input it cannot take."""
        if not isinstance(question, str):
            return {"error": '"question" must be a string'}
        try:
            messages = parse_history([] if history is None else history)
            return self.answer(question, messages, source="api").to_json()
        except AssistantError as error:
            return {"error": str(error)}

    def reply(
        self, question: str, chat: list[ChatMessage] | None, *, standalone: bool = False
    ) -> Iterator[list[ChatMessage]]:
        """Append the question, stream the answer in, then its citation cards (which stay with it).

        A `standalone` question names everything it is about (a row chosen in the table), so it is
        not read as a follow-up to the conversation.
        """
        chat = plain_chat(chat)
        history = [] if standalone else engine_history(chat)
        shown = question[: self.settings.max_question_chars]
        suffix = "…（以下省略）" if len(question) > len(shown) else ""
        chat = [*chat, {"role": "user", "content": as_text(shown) + suffix}]
        yield chat
        answer = self.answer(question, history, source="chat")
        text = html.escape(answer.text, quote=False)
        lead = "".join(f"{NOTICE}{html.escape(n, quote=False)}\n" for n in answer.notices)
        for part in self._pieces(text):
            yield [*chat, {"role": "assistant", "content": lead + part}]
        cards = self._sources(question, answer)
        yield [*chat, {"role": "assistant", "content": lead + text}, {"role": "assistant", "content": cards}]

    def _pieces(self, text: str) -> Iterator[str]:
        step = max(8, -(-len(text) // self.stream_steps))
        for end in range(step, len(text) + step, step):
            yield text[:end]
            time.sleep(self.stream_delay)

    def _sources(self, question: str, answer: Answer) -> str:
        chunks = self.engine.index.chunks
        terms = match_terms(question[:HARD_LIMIT], self.engine.glossary, limit=self.settings.max_question_chars)
        return sources_html(
            answer.citations,
            terms=terms,
            units=self.engine.sources,
            parties=parties_of(chunks),
            answer_id=uuid.uuid4().hex[:12],
            related=answer.outcome == "nearest",
        )

    # --- feedback -------------------------------------------------------------------------------------

    def rate(self, chat: list[ChatMessage] | None, index: int, rating: str, comment: str = "") -> Turn:
        turn = turn_at(plain_chat(chat), index)
        if turn is None:
            raise InputError("評価する回答が見つかりませんでした。")
        log_feedback(
            self.settings.log_dir,
            question=turn.question,
            answer=turn.answer,
            citations=turn.citations,
            rating=rating,
            comment=comment.strip()[:2000],
            answer_id=turn.answer_id,
        )
        return turn
