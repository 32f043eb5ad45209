"""The Chroma index: built atomically by ingest, read by retrieval, embedded store or Chroma server.

Each ingest writes a fresh collection and then flips a pointer (the registry collection's metadata),
so readers see the old index or the new one, never a half-written or mixed one. The previous
collection is kept one generation so in-flight readers can finish.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.errors import AssistantError, IndexMismatchError, IndexMissingError
from assistant.settings import Settings
from assistant.types import Chunk, Facet

_BATCH = 500  # records per Chroma write: at 2,300 units, batches of 500 write about twice as fast as 64
_REBUILD_HINT = "run `assistant ingest --rebuild` (or `python ingest.py --rebuild`)"


@dataclass(frozen=True)
class IndexInfo:
    collection: str
    embedder: str
    chunks: int
    built_at: str


def make_client(settings: Settings) -> Any:
    """The embedded store by default; a Chroma server (safe for several writers) when a host is set."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_host:
        try:
            return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
        except Exception as error:
            raise AssistantError(_unreachable(settings, error)) from None
    try:
        path = settings.data_dir / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as error:
        raise IndexMismatchError(
            f"cannot open the index at {_where(settings)} ({_brief(error)}): {_REBUILD_HINT}"
        ) from None


def registry_name(settings: Settings) -> str:
    return f"{settings.collection}-registry"


def read_info(client: Any, settings: Settings) -> IndexInfo:
    """The active index's record; clear errors for a missing, foreign or corrupt store."""
    try:
        names = collection_names(client)
        if registry_name(settings) not in names:
            _check_not_foreign(names, settings)
            raise IndexMissingError(f"no index at {_where(settings)}: run `python ingest.py` first")
        meta = client.get_collection(registry_name(settings), embedding_function=None).metadata or {}
        if meta.get("active") not in names:
            raise IndexMismatchError(f"the index at {_where(settings)} is incomplete: {_REBUILD_HINT}")
        return IndexInfo(
            str(meta["active"]),
            str(meta.get("embedder", "")),
            int(meta.get("chunks", 0)),
            str(meta.get("built_at", "")),
        )
    except AssistantError:
        raise
    except Exception as error:
        raise _unreadable(settings, error) from None


def collection_names(client: Any) -> set[str]:
    return {c if isinstance(c, str) else c.name for c in client.list_collections()}


def _check_not_foreign(names: set[str], settings: Settings) -> None:
    """An embedded store holding other collections is someone else's data dir, not a missing index.

    A Chroma server is shared by design, so other collections there are normal.
    """
    foreign = sorted(n for n in names if not n.startswith(f"{settings.collection}-"))
    if foreign and not settings.chroma_host:
        msg = (
            f"the data dir {settings.data_dir} holds a Chroma store that is not this assistant's index "
            f"(collections: {', '.join(foreign[:3])}{', …' if len(foreign) > 3 else ''}): "
            f"{_REBUILD_HINT} to replace it, or set ASSISTANT_DATA_DIR to another directory"
        )
        raise IndexMismatchError(msg)


@dataclass(frozen=True)
class Active:
    """What the serving index holds, read before a re-ingest so that only new or changed units are embedded."""

    info: IndexInfo | None
    chunks: dict[str, Chunk]  # by id
    facets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # facet record id → its rows
    tables: dict[str, str] = field(default_factory=dict)  # the word tables stored with it (see word_tables)


NO_INDEX = Active(None, {})


def read_active(settings: Settings) -> Active:
    """The active index's units; NO_INDEX when there is none.

    Also the check before the costly embedding: an unreachable, unreadable or foreign store fails here.
    """
    client = _open_store(settings)
    try:
        info = read_info(client, settings)
    except IndexMissingError:
        return NO_INDEX
    except IndexMismatchError:
        if _points_nowhere(client, settings):  # the active collection is gone (a crash): build afresh
            return NO_INDEX
        raise
    try:
        collection = client.get_collection(info.collection, embedding_function=None)
        records = collection.get(include=["documents", "metadatas"])
    except Exception as error:
        raise _unreadable(settings, error) from None
    return Active(info, {c.id: c for c in units_of(records)}, facet_rows(records), stored_tables(collection))


def _points_nowhere(client: Any, settings: Settings) -> bool:
    try:
        meta = client.get_collection(registry_name(settings), embedding_function=None).metadata or {}
        return meta.get("active") not in collection_names(client)
    except Exception:
        return False


def reusable_vectors(settings: Settings, active: Active, embedder: str) -> dict[str, np.ndarray]:
    """Embed text → vector, from the generations of the index that `embedder` built.

    The index is the vector cache: the serving collection, plus the previous generation that is kept anyway
    for readers (so a change undone, or labels that changed back, costs nothing). It lives wherever the index
    lives (embedded, or on a Chroma server shared by several hosts), and there is no second store to keep
    in step. `--rebuild`, the cure for a corrupt store, reuses nothing, by design.
    """
    if active.info is None:
        return {}
    client = make_client(settings)
    previous = ""
    try:
        registry = client.get_collection(registry_name(settings), embedding_function=None)
        previous = str((registry.metadata or {}).get("previous") or "")
    except Exception:  # only a source of vectors: what cannot be read is embedded again
        pass
    vectors: dict[str, np.ndarray] = {}
    for name in (previous, active.info.collection):  # the serving one last: it wins
        vectors |= _vectors(
            client, name, embedder, built_by=active.info.embedder if name == active.info.collection else None
        )
    return vectors


def _vectors(client: Any, name: str, embedder: str, *, built_by: str | None) -> dict[str, np.ndarray]:
    """Embed text → vector of collection `name` if `embedder` built it (its metadata says, or `built_by`)."""
    try:
        collection = client.get_collection(name, embedding_function=None)
        if (built_by or (collection.metadata or {}).get("embedder")) != embedder:
            return {}
        records = collection.get(include=["documents", "embeddings"])
    except Exception:  # a generation deleted meanwhile, or none: nothing to reuse, no error
        return {}
    pairs = zip(records["documents"], records["embeddings"], strict=True)
    return {d: np.asarray(e, dtype=np.float32) for d, e in pairs}


def check_store(settings: Settings) -> None:
    """Fail before the costly embedding if the store is unreachable, unreadable or someone else's."""
    _open_store(settings)


def build(
    settings: Settings,
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    embedder: str,
    *,
    rebuild: bool = False,
    facets: tuple[Sequence[Facet], np.ndarray] = ((), np.zeros((0, 0))),
    tables: Mapping[str, str] | None = None,
) -> IndexInfo:
    """Write `chunks` with their `vectors` (and the annex rows' facets with theirs) into a new collection and
    make it the active one; on failure nothing changes."""
    if rebuild:
        clear(settings)
    client = _open_store(settings)
    name = f"{settings.collection}-{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
    collection = client.create_collection(
        name,
        # The word tables (synonyms, readings, ...) travel with their generation, to every replica.
        metadata={"embedder": embedder, **{k: v for k, v in (tables or {}).items() if v}},
        embedding_function=None,
        configuration={"hnsw": {"space": "cosine"}},
    )
    try:
        records = [(c.id, c.embed_text, chunk_to_metadata(c)) for c in chunks]
        records += [(f.id, f.text, facet_metadata(f)) for f in facets[0]]
        every = np.vstack([vectors, facets[1]]) if len(facets[0]) else vectors
        for start in range(0, len(records), _BATCH):
            batch = records[start : start + _BATCH]
            collection.add(
                ids=[i for i, _, _ in batch],
                embeddings=every[start : start + _BATCH],
                documents=[d for _, d, _ in batch],
                metadatas=[m for _, _, m in batch],
            )
        if collection.count() != len(records):
            raise AssistantError(f"index build wrote {collection.count()} of {len(records)} records")
    except BaseException:
        client.delete_collection(name)
        raise
    info = IndexInfo(name, embedder, len(chunks), dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    _activate(client, settings, info)
    return info


def _open_store(settings: Settings) -> Any:
    """A client for writing, after checking the store is readable and not someone else's."""
    client = make_client(settings)
    try:
        names = collection_names(client)
    except Exception as error:
        raise _unreadable(settings, error) from None
    if registry_name(settings) not in names:
        _check_not_foreign(names, settings)
    return client


def _activate(client: Any, settings: Settings, info: IndexInfo) -> None:
    registry = client.get_or_create_collection(registry_name(settings), embedding_function=None)
    previous = (registry.metadata or {}).get("active")
    registry.modify(
        metadata={
            "active": info.collection,
            "previous": previous or "",
            "embedder": info.embedder,
            "chunks": info.chunks,
            "built_at": info.built_at,
        }
    )
    # Drop generations older than the previous one. Names sort by build time, so a build that another
    # writer started after this one (and may still be filling) is newer than `previous` and is kept.
    for name in collection_names(client):
        generation = name.startswith(f"{settings.collection}-") and name != registry_name(settings)
        if generation and name < min(previous or info.collection, info.collection):
            client.delete_collection(name)


def clear(settings: Settings) -> None:
    """Remove the embedded store whole (for `--rebuild` after corruption or over a foreign data dir).

    On a Chroma server nothing is removed first: other app instances keep serving the active index
    while the new one is built, and activation then deletes every older generation but the previous.
    """
    if not settings.chroma_host:
        shutil.rmtree(settings.data_dir / "chroma", ignore_errors=True)


def chunk_to_metadata(chunk: Chunk) -> dict[str, str | int]:
    return {
        **chunk.metadata,
        "kind": chunk.kind,
        "label": chunk.label,
        "text": chunk.text,
        "tokens": json.dumps(chunk.tokens, ensure_ascii=False),
    }


FACET = "facet"  # the kind of a facet record: a part of an annex row, not a unit (see chunks.Facet)


def facet_metadata(facet: Facet) -> dict[str, str | int]:
    return {"kind": FACET, "rows": json.dumps(facet.rows, ensure_ascii=False)}


def stored_tables(collection: Any) -> dict[str, str]:
    """The word tables stored with a collection: every entry of its metadata but the embedder's name."""
    return {k: str(v) for k, v in (collection.metadata or {}).items() if k != "embedder"}


def facet_rows(records: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """Facet record id → the rows that have it."""
    pairs = zip(records["ids"], records["metadatas"], strict=True)
    return {i: tuple(json.loads(str(m.get("rows", "[]")))) for i, m in pairs if m.get("kind") == FACET}


def scoped(agreement: str) -> dict[str, Any] | None:
    """The dense-search filter for one agreement's units ("" for all): facets are shared, so always in."""
    return {"$or": [{"agreement": agreement}, {"kind": FACET}]} if agreement else None


def units_of(records: dict[str, Any]) -> list[Chunk]:
    """The units among a collection's records (its facets left out)."""
    triples = zip(records["ids"], records["documents"], records["metadatas"], strict=True)
    return [chunk_from_record(i, d, m) for i, d, m in triples if m.get("kind") != FACET]


def chunk_from_record(chunk_id: str, document: str, metadata: dict[str, Any]) -> Chunk:
    meta = dict(metadata)
    kind, label, text, tokens = (meta.pop(k) for k in ("kind", "label", "text", "tokens"))
    return Chunk(
        id=chunk_id,
        kind=kind,
        label=label,
        text=text,
        embed_text=document,
        tokens=tuple(json.loads(tokens)),
        metadata=meta,
    )


@dataclass
class IndexReader:
    """A snapshot of the active collection: all chunks in memory (for BM25 and quoting) + dense search."""

    settings: Settings
    info: IndexInfo
    chunks: list[Chunk]
    _client: Any
    _collection: Any
    _records: int  # units and facets: how many a dense search can return
    facets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # facet record id → its rows
    _checked_at: float = 0.0
    _exact: ExactScopes | None = None  # with several agreements (see `nearest`)

    def table(self, name: str) -> str:
        """One of the word tables ingest stored with this generation (JSON, see word_tables), "" for an index
        built without it."""
        return stored_tables(self._collection).get(name, "")

    def nearest(self, vector: np.ndarray, *, k: int, agreement: str = "") -> list[tuple[str, float]]:
        """One agreement's units and every facet ("" for all records) by cosine, nearest first.

        With several agreements, one agreement is searched exactly in the vectors read at open, not through
        Chroma's filtered HNSW: a filter that keeps 1% of the records, whose rows have identical copies in every
        other agreement, returned 83 of the 99 asked for and 88% of the true top 10 (measured at ×100)."""
        if agreement and self._exact is not None:
            return self._exact.nearest(vector, agreement, k)
        return self.dense(vector, k=k, where=scoped(agreement))

    def dense(self, vector: np.ndarray, *, k: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """Nearest records by cosine, units and facets (see `facets`); `where` filters on metadata (one
        agreement: `scoped`, one kind)."""
        try:
            result = self._collection.query(
                query_embeddings=[vector.tolist()],
                n_results=min(k, self._records),
                include=["distances"],
                where=where,
            )
        except Exception as error:
            raise _unreadable(self.settings, error) from None
        return [(i, 1.0 - d) for i, d in zip(result["ids"][0], result["distances"][0], strict=True)]

    def changed(self, *, every: float = 2.0) -> bool:
        """Whether ingest switched the active index since this snapshot (checked at most every `every` s)."""
        now = time.monotonic()
        if now - self._checked_at < every:
            return False
        self._checked_at = now
        try:
            return read_info(self._client, self.settings).collection != self.info.collection
        except AssistantError:
            return False


def open_index(settings: Settings, embedder: str) -> IndexReader:
    if not settings.chroma_host and not (settings.data_dir / "chroma" / "chroma.sqlite3").is_file():
        raise IndexMissingError(f"no index at {_where(settings)}: run `python ingest.py` first")
    client = _reading_client(settings)
    info = read_info(client, settings)
    if info.embedder != embedder:
        msg = (
            f"the index was built with embedder {info.embedder!r}, but {embedder!r} is configured: "
            f"set ASSISTANT_EMBEDDER to match or {_REBUILD_HINT}"
        )
        raise IndexMismatchError(msg)
    try:
        collection = client.get_collection(info.collection, embedding_function=None)
        records = collection.get(include=["documents", "metadatas"])
        chunks, facets, size = units_of(records), facet_rows(records), len(records["ids"])
        several = len({c.metadata.get("agreement") for c in chunks}) > 1
        exact = ExactScopes.of(collection.get(include=["embeddings"]), records) if several else None
    except Exception as error:
        raise _unreadable(settings, error) from None
    chunks.sort(key=lambda c: (c.metadata.get("agreement", ""), int(c.metadata.get("order", 0))))
    return IndexReader(settings, info, chunks, client, collection, size, facets, time.monotonic(), exact)


@dataclass(frozen=True)
class ExactScopes:
    """Every record's vector, normalised, and which rows each agreement's search covers: its units and every
    facet (facets are shared, as in `scoped`). 2,970 × 384 floats at ×100: 4.6 MB."""

    ids: tuple[str, ...]
    vectors: np.ndarray
    rows: dict[str, np.ndarray]

    @classmethod
    def of(cls, embedded: dict[str, Any], records: dict[str, Any]) -> ExactScopes:
        """`embedded`: every record's vector; `records`: the same records' metadata, already read at open."""
        vectors = np.asarray(embedded["embeddings"], dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        metadata = dict(zip(records["ids"], records["metadatas"], strict=True))
        in_order = [metadata[i] for i in embedded["ids"]]
        facets = [n for n, m in enumerate(in_order) if m.get("kind") == FACET]
        by_agreement: dict[str, list[int]] = {}
        for n, m in enumerate(in_order):
            if m.get("kind") != FACET:
                by_agreement.setdefault(str(m.get("agreement", "")), []).append(n)
        rows = {slug: np.array(units + facets) for slug, units in by_agreement.items()}
        return cls(tuple(embedded["ids"]), vectors, rows)

    def nearest(self, vector: np.ndarray, agreement: str, k: int) -> list[tuple[str, float]]:
        rows = self.rows.get(agreement, np.array([], dtype=int))
        similarity = self.vectors[rows] @ (vector / max(float(np.linalg.norm(vector)), 1e-12))
        best = np.argsort(-similarity, kind="stable")[:k]
        return [(self.ids[rows[n]], float(similarity[n])) for n in best]


def _reading_client(settings: Settings) -> Any:
    """For serving: Chroma's Rust core on the embedded store (opens in about 0.03 s, see chroma_core),
    else chromadb's client (about 1.2 s with its import); a Chroma server always through the client."""
    if not settings.chroma_host:
        from assistant.chroma_core import open_core

        core = open_core(settings.data_dir / "chroma")
        if core is not None:
            return core
    return make_client(settings)


def _where(settings: Settings) -> str:
    return f"{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host else str(settings.data_dir)


def _unreadable(settings: Settings, error: BaseException) -> AssistantError:
    if settings.chroma_host and _is_connection_error(error):
        return AssistantError(_unreachable(settings, error))
    return IndexMismatchError(f"the index at {_where(settings)} is unreadable ({_brief(error)}): {_REBUILD_HINT}")


def _unreachable(settings: Settings, error: BaseException) -> str:
    return (
        f"cannot reach the Chroma server at {_where(settings)} ({_brief(error)}): start it "
        f"(`chroma run --path DIR --host {settings.chroma_host} --port {settings.chroma_port}`) "
        "or unset ASSISTANT_CHROMA_HOST to use the local index"
    )


def _is_connection_error(error: BaseException) -> bool:
    import httpx

    return isinstance(error, httpx.TransportError | ConnectionError) or "connect" in str(error).lower()


def _brief(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0][:200]
