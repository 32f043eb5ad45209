"""The agreement for an existing LangChain chain or agent: a `BaseRetriever` over the engine, and a tool.

    from assistant.integrations import AgreementRetriever, agreement_tool
    retriever = AgreementRetriever.from_settings()          # the index `python ingest.py` built
    docs = retriever.invoke("バスのことはどっちの市？")       # Documents, best first
    tool = agreement_tool(retriever)                          # for an agent's tool list

The retriever returns what the engine itself would ground an answer on (glossary, follow-up and
partner scoping included), and nothing when the engine would refuse, so a model downstream is not
handed unrelated text for an off-topic question. (Named `integrations`, not `langchain`, so that
`import langchain` inside this package still means the library.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.prompts import PromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import BaseTool, create_retriever_tool
from pydantic import Field

from assistant.engine import Engine
from assistant.settings import Settings, load_settings
from assistant.types import Chunk, Message

TOOL_DESCRIPTION = (
    "Search the 久留米広域連携中枢都市圏 連携協約 (the partnership agreement between 久留米市 and 小郡市): "
    "which city does what (別表), its articles (第1–5条), signing date and signatories. "
    "Input: a question in Japanese or English. Returns the agreement's own text, most relevant first."
)


class AgreementRetriever(BaseRetriever):
    """The engine's retrieval as a LangChain retriever: `page_content` is the unit's text, as written."""

    engine: Engine
    k: int | None = None  # None: the engine's ASSISTANT_TOP_K
    history: Sequence[Message] = Field(default_factory=tuple)  # earlier turns, so follow-ups resolve

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs: Any) -> AgreementRetriever:
        return cls(engine=Engine.load(settings or load_settings()), **kwargs)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return _to_documents(self.engine.retrieve(query, self.history, k=self.k))


def agreement_tool(retriever: AgreementRetriever, *, name: str = "kurume_ogori_agreement") -> BaseTool:
    """A tool an agent can call with a question; it answers with the cited units' text."""
    cited = PromptTemplate.from_template("[{label}] ({id})\n{page_content}")
    return create_retriever_tool(retriever, name, TOOL_DESCRIPTION, document_prompt=cited)


def _to_documents(chunks: Iterable[Chunk]) -> list[Document]:
    """Chunk → Document at the edge, in one place: the text as written, and what to cite it by."""
    return [
        Document(
            page_content=chunk.text,
            id=chunk.id,
            metadata={
                "id": chunk.id,
                "label": chunk.label,
                "kind": chunk.kind,
                "agreement": str(chunk.metadata.get("agreement", chunk.id.split("/", 1)[0])),
            },
        )
        for chunk in chunks
    ]
