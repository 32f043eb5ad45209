"""Corpus → chunks → Chroma: the whole ingest, all checks done before the store is touched.

Incremental: each unit's vector is keyed by (embedder, embed text). A re-ingest reuses the serving index's
vectors for units whose embed text is unchanged, embeds only new or changed ones, and drops removed ones;
the result is still written as a new collection and switched to in one step (see index.py). When nothing
changed at all, the serving index is kept as it is.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from assistant import word_tables
from assistant.chunks import build_chunks, facets_of
from assistant.embed import check_embedder, embed_passages_for_ingest, embedder_id
from assistant.index import NO_INDEX, Active, IndexInfo, build, check_store, read_active, reusable_vectors
from assistant.parse import parse_corpus
from assistant.settings import Settings
from assistant.types import Chunk, Facet

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Changes:
    """What a re-ingest changed, unit by unit (against the serving index), and what it had to embed."""

    added: int
    changed: int  # same id, other content (see diff) or another embedder
    removed: int
    embedded: int  # texts embedded (units and row facets); every other one reused a stored vector
    embed_seconds: float
    workers: int

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    @property
    def units_per_s(self) -> float:
        return self.embedded / self.embed_seconds if self.embed_seconds else 0.0

    def summary(self) -> str:
        counts = f"+{self.added} ~{self.changed} −{self.removed}"
        if not self.embedded:
            return f"{counts}, nothing embedded"
        workers = f"{self.workers} worker{'s' if self.workers > 1 else ''}"
        return f"{counts}, embedded {self.embedded} in {self.embed_seconds:.1f} s ({self.units_per_s:.1f} units/s, {workers})"


@dataclass(frozen=True)
class IngestReport:
    info: IndexInfo
    agreements: int
    by_kind: dict[str, int]
    seconds: float
    changes: Changes
    kept: bool = False  # nothing changed: the serving index was left as it was

    def summary(self) -> str:
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(self.by_kind.items()))
        what = f"{self.info.chunks} chunks from {self.agreements} agreement(s) ({kinds}) with {self.info.embedder}"
        if self.kept:
            return (
                f"index unchanged: {what} in {self.info.collection} ({self.changes.summary()}) in {self.seconds:.1f} s"
            )
        return f"indexed {what} into {self.info.collection} in {self.seconds:.1f} s ({self.changes.summary()})"


def load_chunks(settings: Settings) -> list[Chunk]:
    return build_chunks(parse_corpus(settings.corpus_dir))


def ingest(settings: Settings, *, rebuild: bool = False, progress: Progress = lambda done, total: None) -> IngestReport:
    """Build or update the index; `rebuild` discards the old one first and reuses none of its vectors."""
    started = time.perf_counter()
    agreements = parse_corpus(settings.corpus_dir)
    chunks = build_chunks(agreements)
    embedder = embedder_id(settings)
    check_embedder(settings)
    if rebuild:
        if settings.chroma_host:
            check_store(settings)
        active = NO_INDEX
    else:
        active = read_active(settings)
    by_kind = dict(Counter(chunk.kind for chunk in chunks))
    changes = diff(active, chunks, embedder)
    tables = word_tables.derive(chunks)
    facets = facets_of(chunks)
    same = active.info is not None and active.info.embedder == embedder and active.tables == tables
    if same and active.chunks == {c.id: c for c in chunks} and active.facets == {f.id: f.rows for f in facets}:
        return IngestReport(active.info, len(agreements), by_kind, time.perf_counter() - started, changes, kept=True)
    vectors, facet_vectors, changes = vectors_for(settings, chunks, facets, active, changes, progress)
    info = build(
        settings,
        chunks,
        vectors,
        embedder,
        rebuild=rebuild,
        facets=(facets, facet_vectors),
        tables=tables,
    )
    return IngestReport(info, len(agreements), by_kind, time.perf_counter() - started, changes)


def diff(active: Active, chunks: Sequence[Chunk], embedder: str) -> Changes:
    """Units added, changed and removed against the serving index (nothing embedded yet).

    A unit has changed when its wording, label, terms or metadata did, or another embedder is configured;
    a corpus directory that moved (every unit records its file's path) changes no unit.
    """
    old = {i: _content(c) for i, c in active.chunks.items()}
    other_embedder = active.info is not None and active.info.embedder != embedder
    added = sum(c.id not in old for c in chunks)
    changed = sum(c.id in old and (other_embedder or old[c.id] != _content(c)) for c in chunks)
    removed = len(old.keys() - {c.id for c in chunks})
    return Changes(added, changed, removed, embedded=0, embed_seconds=0.0, workers=0)


def _content(chunk: Chunk) -> Chunk:
    return replace(chunk, metadata={k: v for k, v in chunk.metadata.items() if k != "source"})


def vectors_for(
    settings: Settings,
    chunks: Sequence[Chunk],
    facets: Sequence[Facet],
    active: Active,
    changes: Changes,
    progress: Progress,
) -> tuple[np.ndarray, np.ndarray, Changes]:
    """Every unit's and facet's vector, in order: the serving index's where the text is unchanged, else
    computed. A text is embedded once however many units or agreements share it."""
    reusable = reusable_vectors(settings, active, embedder_id(settings))
    texts = [c.embed_text for c in chunks] + [f.text for f in facets]
    missing = [t for t in dict.fromkeys(texts) if t not in reusable]
    started = time.perf_counter()
    fresh, workers = embed_passages_for_ingest(settings, missing, progress=progress)
    seconds = time.perf_counter() - started if missing else 0.0
    known = {**reusable, **dict(zip(missing, fresh, strict=True))}
    vectors = np.vstack([known[c.embed_text] for c in chunks])
    facet_vectors = np.vstack([known[f.text] for f in facets]) if facets else np.zeros((0, vectors.shape[1]))
    done = Changes(changes.added, changes.changed, changes.removed, len(missing), seconds, workers if missing else 0)
    return vectors, facet_vectors, done
