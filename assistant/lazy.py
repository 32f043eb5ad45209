"""Imports deferred until first use, for heavy modules a dependency imports but this app never touches."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any


class _StandIn(types.ModuleType):
    """Takes a module's place in sys.modules until one of its attributes is read, then imports it.

    Written here rather than using importlib.util.LazyLoader: on Python 3.11 a second `import name` reads
    the lazy module's __spec__, which runs the module at once (checked: Gradio's own `import pandas`
    loaded it), so that recipe defers nothing here."""

    def __getattr__(self, attribute: str) -> object:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]  # so the import below runs the real module
            try:
                importlib.import_module(self.__name__)
            except BaseException:
                sys.modules[self.__name__] = self
                raise
        return getattr(sys.modules[self.__name__], attribute)


def defer_import(name: str) -> None:
    """Make `import name` cheap: the module runs when an attribute of it is first read.

    Gradio 6 imports pandas at start (gradio.caching, to hash DataFrames given to gr.cache), and pandas
    holds about 40 MB of the app's memory and 0.5 s of its start, while nothing this app shows is a
    DataFrame. Anything that does use pandas still gets the real module, loaded at that moment."""
    if name not in sys.modules and importlib.util.find_spec(name) is not None:
        sys.modules[name] = _StandIn(name)


def keep_out(name: str) -> None:
    """Make `import name` fail as if it were not installed (None in sys.modules is Python's own switch).

    For matplotlib: Gradio imports it around every event, when installed, to pin its backend (about 25 MB
    of the app's memory), but the app draws no plots. Only the test install has matplotlib (for
    the bench's charts), so this also makes the app measured by the bench the app `make run` serves."""
    sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def import_without(name: str, absent: str) -> Any:
    """Import `name` as if `absent` were not installed, for an optional dependency it would only import.

    `absent` is blocked for this import alone: later imports of it (by another library) work as usual,
    and if it is already loaded, `name` simply gets it."""
    if absent in sys.modules or name in sys.modules:
        return importlib.import_module(name)
    sys.modules[absent] = None  # type: ignore[assignment]
    try:
        return importlib.import_module(name)
    finally:
        del sys.modules[absent]
