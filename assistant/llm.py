"""Optional LangChain answerer: a chat model words the answer from the same plan the templates use.

The model sees only the retrieved units. Every 「quotation」 it writes must be found in one of them;
otherwise the template answer is used, so an unchecked quotation never reaches a user.
"""

from __future__ import annotations

import re
from typing import Any

from assistant.answer import Draft, Plan, TemplateAnswerer, annotate
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
