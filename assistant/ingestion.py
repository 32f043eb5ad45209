"""Corpus → chunks → Chroma: the whole ingest, all checks done before the store is touched."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from assistant.chunks import build_chunks
from assistant.embed import embedder_id, load_embedder
from assistant.index import IndexInfo, build
from assistant.parse import parse_corpus
from assistant.settings import Settings
from assistant.synonyms import corpus_synonyms
from assistant.types import Chunk


@dataclass(frozen=True)
class IngestReport:
    info: IndexInfo
    agreements: int
    by_kind: dict[str, int]
    seconds: float

    def summary(self) -> str:
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(self.by_kind.items()))
        return (
            f"indexed {self.info.chunks} chunks from {self.agreements} agreement(s) ({kinds}) "
            f"with {self.info.embedder} into {self.info.collection} in {self.seconds:.1f} s"
        )


def load_chunks(settings: Settings) -> list[Chunk]:
    return build_chunks(parse_corpus(settings.corpus_dir))


def ingest(
    settings: Settings, *, rebuild: bool = False, progress: Callable[[int, int], None] = lambda done, total: None
) -> IngestReport:
    started = time.perf_counter()
    agreements = parse_corpus(settings.corpus_dir)
    chunks = build_chunks(agreements)
    embedder = load_embedder(settings)
    synonyms = corpus_synonyms([chunk.tokens for chunk in chunks]).to_json()
    info = build(
        settings,
        chunks,
        embedder.embed_passages,
        embedder_id(settings),
        rebuild=rebuild,
        progress=progress,
        synonyms=synonyms,
    )
    by_kind = dict(Counter(chunk.kind for chunk in chunks))
    return IngestReport(info, len(agreements), by_kind, time.perf_counter() - started)
