"""Bad corpus input through the command line: one clear line naming the file (and line), index untouched."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.index import make_client, read_info
from assistant.settings import Settings

CORPUS_FILE = Path(__file__).resolve().parent.parent / "corpus" / "kurume-ogori.txt"
RAW = CORPUS_FILE.read_bytes()
BAD_NAME = "zz-broken.txt"  # sorts after the good file, so the good one is read first


def _lines() -> list[bytes]:
    return RAW.split(b"\n")


def invalid_utf8() -> bytes:
    lines = _lines()
    assert lines[32].startswith("第5条".encode())  # line 33
    lines[32] = lines[32][:12] + b"\xff\xfe" + lines[32][12:]
    return b"\n".join(lines)


def no_annex() -> bytes:
    return RAW.split("別表（第3条関係）".encode())[0]


def wrong_columns() -> bytes:
    lines = _lines()
    assert lines[65].count(b"\t") == 2  # line 66: the 診療情報ネットワーク row
    lines[65] = lines[65].replace(b"\t", "、".encode(), 1)  # two cells run together
    return b"\n".join(lines)


# name: (file content or None for a missing corpus dir, expected line, words the message must contain)
CASES: dict[str, tuple[Callable[[], bytes] | None, int | None, tuple[str, ...]]] = {
    "missing-dir": (None, None, ("not found",)),
    "empty-file": (lambda: b"", None, ("empty",)),
    "invalid-utf8": (invalid_utf8, 33, ("UTF-8",)),
    "no-annex": (no_annex, None, ("別表",)),
    "wrong-columns": (wrong_columns, 66, ("2 columns", "expected 3")),
}
COMMANDS = {
    "ingest.py": ("ingest.py",),
    "assistant chunks": ("-m", "assistant", "chunks", "--json"),
}


def index_state(settings: Settings) -> tuple[str, list[str]]:
    client = make_client(settings)
    names = sorted(c if isinstance(c, str) else c.name for c in client.list_collections())
    return read_info(client, settings).collection, names


def make_corpus(tmp_path: Path, case: str) -> tuple[Path, Path]:
    """A corpus dir for `case` and the path the message must name."""
    content, _, _ = CASES[case]
    corpus = tmp_path / "corpus"
    if content is None:
        return corpus, corpus
    corpus.mkdir()
    (corpus / CORPUS_FILE.name).write_bytes(RAW)
    bad = corpus / BAD_NAME
    bad.write_bytes(content())
    return corpus, bad


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", CASES)
def test_bad_corpus_gives_one_line_naming_the_place_and_keeps_the_index(
    built_index_copy, run_cli, tmp_path, case, command
):
    corpus, named = make_corpus(tmp_path, case)
    _, line, words = CASES[case]
    before = index_state(built_index_copy)

    result = run_cli(*COMMANDS[command], "--corpus-dir", str(corpus))

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    message = result.stderr.strip().splitlines()
    assert len(message) == 1, result.stderr
    assert message[0].startswith("error: ")
    where = f"{named}:{line}: " if line else f"{named}: "  # path, then the line number when there is one
    assert where in message[0]
    for word in words:
        assert word in message[0]
    assert index_state(built_index_copy) == before


def test_ingest_with_no_index_and_a_bad_corpus_creates_nothing(run_cli, tmp_path, isolated_data_dir):
    corpus, _ = make_corpus(tmp_path, "wrong-columns")
    result = run_cli("ingest.py", "--corpus-dir", str(corpus))
    assert result.returncode == 1
    assert not (isolated_data_dir / "chroma").exists()


def test_flags_override_the_environment(run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(tmp_path / "nowhere"))
    result = run_cli("-m", "assistant", "chunks", "--corpus-dir", str(CORPUS_FILE.parent))
    assert result.returncode == 0, result.stderr
    assert "kurume-ogori/art-4" in result.stdout
    from_env = run_cli("-m", "assistant", "chunks")
    assert from_env.returncode == 1
    assert str(tmp_path / "nowhere") in from_env.stderr


def test_the_same_partner_twice_is_one_line_naming_both_files(run_cli, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("a.txt", "b.txt"):
        (corpus / name).write_bytes(RAW)
    result = run_cli("-m", "assistant", "chunks", "--corpus-dir", str(corpus))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    message = result.stderr.strip().splitlines()
    assert len(message) == 1, result.stderr
    assert f"{corpus / 'a.txt'}, {corpus / 'b.txt'}: " in message[0]
    assert "not unique" in message[0]
