"""The naive LangChain RAG a user would build first: split the raw text, embed it, answer with top-k chunks.

No structure: RecursiveCharacterTextSplitter over the corpus files as received, langchain-chroma with the
same embedder, top-k similarity. Its "answer" is the retrieved text. To score it on our eval set, each
retrieved piece is mapped to the one of our chunks it overlaps most (shared character trigrams).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from assistant.embed import Embedder
from assistant.types import Answer, Chunk, Citation, Message

SEPARATORS = ["\n\n", "\n", "。", "、", ""]  # paragraphs, lines, then Japanese sentence and clause ends
CHUNK_SIZE = 200
CHUNK_OVERLAP = 40
TOP_K = 4  # LangChain's default k for similarity_search


class LangChainEmbeddings(Embeddings):
    """Our embedder behind LangChain's interface: documents embed as passages, queries as queries."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_passages(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_queries([text])[0].tolist()


def trigrams(text: str) -> set[str]:
    compact = "".join(text.split())
    return {compact[i : i + 3] for i in range(len(compact) - 2)}


class ChunkMapper:
    """Retrieved text → our chunk sharing the most character trigrams with it; ties go to the smaller chunk
    (an item rather than the article that contains it). Text sharing no trigram maps to nothing. 別表 section
    headings are left out: their text repeats the 第2条 items and the rows' openings, which own those words."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self._grams = [(chunk, trigrams(chunk.text)) for chunk in chunks if chunk.kind != "section"]

    def __call__(self, text: str) -> Chunk | None:
        grams = trigrams(text)
        chunk, best = max(self._grams, key=lambda pair: (len(grams & pair[1]), -len(pair[1])))
        return chunk if grams & best else None


class NaiveRag:
    """Answers like a ten-line LangChain tutorial: the top-k chunks' text, never a refusal."""

    def __init__(self, store: Any, mapper: ChunkMapper, pieces: int, *, k: int = TOP_K) -> None:
        self.store = store
        self.mapper = mapper
        self.pieces = pieces
        self.k = k

    @classmethod
    def build(
        cls,
        corpus_dir: Path,
        embedder: Embedder,
        chunks: Sequence[Chunk],
        persist_dir: Path,
        *,
        chunk_size: int = CHUNK_SIZE,
        overlap: int = CHUNK_OVERLAP,
        k: int = TOP_K,
    ) -> NaiveRag:
        from langchain_chroma import Chroma
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(
            chunk_size=chunk_size, chunk_overlap=overlap, separators=SEPARATORS, keep_separator="end"
        )
        files = sorted(corpus_dir.glob("*.txt"))
        documents = splitter.create_documents(
            [f.read_text(encoding="utf-8") for f in files], metadatas=[{"source": f.name} for f in files]
        )
        store = Chroma.from_documents(
            documents, LangChainEmbeddings(embedder), collection_name="naive", persist_directory=str(persist_dir)
        )
        return cls(store, ChunkMapper(chunks), len(documents), k=k)

    def ask(self, question: str, history: Sequence[Message] = ()) -> Answer:
        started = time.perf_counter()
        documents = self.store.similarity_search(question, k=self.k)
        latency_ms = (time.perf_counter() - started) * 1000
        cited: list[Chunk] = []
        for document in documents:  # mapping for scoring only, so outside the timed part
            chunk = self.mapper(document.page_content)
            if chunk is not None and chunk not in cited:
                cited.append(chunk)
        return Answer(
            question=question,
            text="\n".join(d.page_content for d in documents),
            citations=tuple(Citation(c.id, c.label, c.kind, c.text) for c in cited),
            outcome="answer",
            language="ja",
            latency_ms=latency_ms,
            ranked=tuple(c.id for c in cited),
        )
