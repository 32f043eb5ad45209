"""Errors a person can act on; the CLI and the app turn them into one-line messages."""

from __future__ import annotations

from pathlib import Path


class AssistantError(Exception):
    """Base class: the message is shown to the user as is, without a traceback."""


class CorpusError(AssistantError):
    """The corpus text cannot be read or does not have the agreement's form."""

    def __init__(self, path: Path | str, message: str, *, line: int | None = None) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line


class IndexMissingError(AssistantError):
    """No index has been built yet."""


class IndexMismatchError(AssistantError):
    """The index exists but cannot serve this configuration (other embedder, foreign or corrupt data)."""


class InputError(AssistantError):
    """A question or request that cannot be processed as given."""
