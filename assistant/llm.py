"""Optional LangChain answerer: a chat model words the answer from the same plan the templates use.

Turned on by ASSISTANT_LLM="provider:model" (e.g. "ollama:qwen2.5:7b"), built by LangChain's
`init_chat_model`; the provider's package (langchain-ollama, langchain-openai, …) is installed separately.
The model sees only the retrieved units. Every 「quotation」 it writes must be found in one of them;
otherwise the template answer is used, so an unchecked quotation never reaches a user.
"""

from __future__ import annotations

import re
from typing import Any

from assistant.answer import Draft, Plan, TemplateAnswerer, annotate
from assistant.errors import AssistantError
from assistant.normalize import fold

_QUOTE = re.compile(r"「([^「」]{4,})」")
_GROUNDED = frozenset({"row", "article", "item", "preamble", "legal", "title", "closing", "listing"})
_SYSTEM = (
    "あなたは久留米広域連携中枢都市圏 連携協約書について答えるアシスタントです。"
    "与えられた協約書の抜粋だけを根拠に、質問と同じ言語で簡潔に答えてください。"
    "甲・乙は市の名前で示し、根拠となる文言は「」で原文どおりに引用してください。"
    "抜粋に答えがなければ「協約書には記載がありません」と答えてください。"
)


class LangChainAnswerer:
    def __init__(self, model: Any, fallback: TemplateAnswerer | None = None) -> None:
        self.model = model  # any langchain_core BaseChatModel
        self.fallback = fallback or TemplateAnswerer()

    def compose(self, plan: Plan) -> Draft:
        if plan.kind not in _GROUNDED:
            return self.fallback.compose(plan)
        from langchain_core.messages import HumanMessage, SystemMessage

        context = "\n\n".join(f"[{c.label}]\n{annotate(c.text, plan.parties)}" for c in plan.chunks)
        reply = self.model.invoke(
            [SystemMessage(_SYSTEM), HumanMessage(f"抜粋:\n{context}\n\n質問: {plan.query.text}")]
        )
        text = str(reply.content).strip()
        quotes = self._attribute(text, plan)
        return Draft(text, quotes) if quotes is not None else self.fallback.compose(plan)

    @staticmethod
    def _attribute(text: str, plan: Plan) -> tuple[tuple[str, str], ...] | None:
        """Each quotation → the unit it comes from; None when any quotation is not in the units."""
        found = []
        for words in _QUOTE.findall(text):
            source = next((c for c in plan.chunks if fold(words) in fold(annotate(c.text, plan.parties))), None)
            if source is None:
                return None
            found.append((source.id, words))
        return tuple(found) if found else None


def load_answerer(spec: str) -> LangChainAnswerer:
    """ASSISTANT_LLM="provider:model" → an answerer over that chat model, or a one-line error saying what to install."""
    provider, sep, model = spec.partition(":")
    if not (sep and provider and model):
        msg = f"ASSISTANT_LLM={spec!r} must look like provider:model, e.g. ollama:qwen2.5:7b or openai:gpt-4o-mini"
        raise AssistantError(msg)
    from langchain.chat_models import init_chat_model

    try:
        chat = init_chat_model(model, model_provider=provider, temperature=0)
    except (ImportError, ValueError) as error:  # the provider's package is missing, or no such provider
        msg = f"ASSISTANT_LLM={spec!r}: {error}".splitlines()[0]  # LangChain names the package to install
        raise AssistantError(msg) from None
    return LangChainAnswerer(chat)
