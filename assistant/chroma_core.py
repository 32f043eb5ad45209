"""Reading the embedded Chroma store through Chroma's own Rust core, without its Python client.

Why: `import chromadb` costs about 1 s on this machine, two thirds of a cold start. At import its client
checks every method override's signature, and it loads OpenTelemetry, pydantic and every embedding
function. The store, its files and the engine that answers the query stay Chroma's: this module calls the
Rust bindings that chromadb's own client wraps (chromadb/api/rust.py), with the same arguments.

Those bindings are not a public API. So this is used only with the Chroma versions it was checked
against, it only reads, and anything unexpected makes the caller use chromadb's client instead.
"""

from __future__ import annotations

import json
import resource
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

CHECKED_VERSIONS = ("1.5.",)  # the bindings' call signatures below were read from chromadb 1.5.9
_TENANT, _DATABASE = "default_tenant", "default_database"


@dataclass(frozen=True)
class CoreCollection:
    """The part of chromadb's `Collection` that reading needs: metadata, every record, nearest records."""

    _bindings: Any
    id: str
    name: str
    metadata: dict[str, Any] | None

    def get(self, include: Sequence[str]) -> dict[str, Any]:
        found = self._bindings.get(self.id, None, None, None, 0, None, list(include), _TENANT, _DATABASE)
        return {
            "ids": found.ids,
            "documents": found.documents,
            "metadatas": found.metadatas,
            "embeddings": found.embeddings,
        }

    def query(
        self, *, query_embeddings: list[list[float]], n_results: int, include: Sequence[str], where: Any = None
    ) -> dict[str, Any]:
        where_json = json.dumps(where) if where else None
        found = self._bindings.query(
            self.id, None, query_embeddings, n_results, where_json, None, list(include), _TENANT, _DATABASE
        )
        return {"ids": found.ids, "distances": found.distances}


@dataclass(frozen=True)
class CoreClient:
    """The part of chromadb's client that reading needs."""

    _bindings: Any

    def list_collections(self) -> list[str]:
        return [c.name for c in self._bindings.list_collections(None, 0, _TENANT, _DATABASE)]

    def get_collection(self, name: str, embedding_function: None = None) -> CoreCollection:
        found = self._bindings.get_collection(name, _TENANT, _DATABASE)
        return CoreCollection(self._bindings, str(found.id), found.name, found.metadata)


def open_core(store: Path) -> CoreClient | None:
    """A reader of the embedded store at `store`; None when the bindings are missing, of a version not
    checked, or refuse the store (say it needs a migration): then the caller opens chromadb's client."""
    try:
        if not version("chromadb").startswith(CHECKED_VERSIONS):  # not bindings.get_version(): it imports chromadb
            return None  # before any call: the arguments below are only known for the checked versions
        import chromadb_rust_bindings as core

        config = core.SqliteDBConfig(
            hash_type=core.MigrationHash.MD5,  # chromadb's default
            migration_mode=core.MigrationMode.Validate,  # a reader never migrates; the client would
            url=str(store / "chroma.sqlite3"),
        )
        bindings = core.Bindings(
            allow_reset=False,
            sqlite_db_config=config,
            persist_path=str(store),
            hnsw_cache_size=resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 5,  # as chromadb: 5 files an index
        )
    except Exception:  # ImportError, another signature, a store it cannot open: the client decides
        return None
    return CoreClient(bindings)
