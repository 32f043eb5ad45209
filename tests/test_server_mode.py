"""Chroma server mode: ingest, ask, --rebuild and the app against a real `chroma run` on loopback.

One server per module (temp path, free port, stopped at the end), ingested once. Several engines in
several processes share it, and a rebuild on the server reaches all of them without a gap.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import chromadb
import pytest
from gradio_client import Client
from reliability_support import (
    CITED_QUESTIONS,
    VARIANT_SLUG,
    AskProcess,
    ChromaServer,
    app_server,
    chroma_server,
    cli_env,
    free_port,
    index_version,
    ingest,
    run,
    start,
    stop,
    variant_corpus,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """A Chroma server holding the real corpus's index, built by `python ingest.py` in server mode."""
    with chroma_server(tmp_path_factory.mktemp("chroma-server") / "store") as running:
        built = ingest(running.env(tmp_path_factory.mktemp("ingest-data")))
        assert "indexed 29 chunks" in built.stdout
        yield running


def server_collections(server: ChromaServer) -> list[str]:
    client = chromadb.HttpClient(host=server.host, port=server.port)
    return sorted(c if isinstance(c, str) else c.name for c in client.list_collections())


def ask_json(env: dict[str, str], question: str, *args: str) -> dict[str, object]:
    result = run("-m", "assistant", "ask", "--json", question, *args, env=env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def one_line_error(env: dict[str, str]) -> str:
    result = run("-m", "assistant", "ask", "第4条は？", env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_ask_answers_from_the_server_by_env_or_by_flags(server: ChromaServer, tmp_path: Path) -> None:
    assert index_version(ask_json(server.env(tmp_path), "第4条は？")) == "kurume-ogori"
    flags = ("--chroma-host", server.host, "--chroma-port", str(server.port))
    assert index_version(ask_json(cli_env(tmp_path), "バスのことはどっちの市に聞けばいい？", *flags)) == "kurume-ogori"
    assert not (tmp_path / "chroma").exists(), "server mode must not write an embedded store"


def test_a_server_without_our_index_says_to_ingest(server: ChromaServer, tmp_path: Path) -> None:
    message = one_line_error(server.env(tmp_path, ASSISTANT_COLLECTION="elsewhere"))
    assert "no index" in message and "python ingest.py" in message and f"{server.host}:{server.port}" in message


def test_an_unreachable_server_is_one_clear_line(tmp_path: Path) -> None:
    message = one_line_error(cli_env(tmp_path, ASSISTANT_CHROMA_HOST="127.0.0.1", ASSISTANT_CHROMA_PORT=free_port()))
    assert "cannot reach the Chroma server" in message and "chroma run" in message


def test_two_app_instances_answer_from_one_server(server: ChromaServer, tmp_path: Path) -> None:
    with (
        app_server(server.env(tmp_path / "a"), tmp_path / "a.log") as first,
        app_server(server.env(tmp_path / "b"), tmp_path / "b.log") as second,
    ):
        for app in (first, second):
            answer = Client(app.url, verbose=False).predict("第4条は？", [], api_name="/ask")
            assert index_version(answer) == "kurume-ogori"
    for data_dir in (tmp_path / "a", tmp_path / "b"):
        assert not (data_dir / "chroma").exists(), "an app in server mode must not build an embedded store"


def test_two_engines_follow_a_rebuild_on_the_server_with_no_gap(server: ChromaServer, tmp_path: Path) -> None:
    """Two processes answer from one server while `ingest --rebuild` of another corpus runs; both switch.

    Runs last in this module: it leaves the variant corpus active.
    """
    before = server_collections(server)
    assert len(before) == 2 and "agreements-registry" in before, before
    desks = [AskProcess(server.env(tmp_path)), AskProcess(server.env(tmp_path))]
    rebuild: subprocess.Popen[bytes] | None = None
    seen: list[str] = []
    try:
        for desk in desks:
            seen.append(index_version(desk.ask(CITED_QUESTIONS[0])))
        variant = server.env(tmp_path, ASSISTANT_CORPUS_DIR=variant_corpus(tmp_path / "v2"))
        rebuild = start("ingest.py", "--rebuild", env=variant, log=tmp_path / "rebuild.log")
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and not (rebuild.poll() is not None and seen[-2:] == [VARIANT_SLUG] * 2):
            for number, desk in enumerate(desks):
                question = CITED_QUESTIONS[(len(seen) + number) % len(CITED_QUESTIONS)]
                seen.append(index_version(desk.ask(question)))  # never empty, never mixed
            time.sleep(0.05)
        assert rebuild.wait(5) == 0, (tmp_path / "rebuild.log").read_text()
    finally:
        if rebuild is not None:
            stop(rebuild)
        errors = [desk.close() for desk in desks]
    assert errors == ["", ""], errors
    for desk in (seen[0::2], seen[1::2]):  # each engine: the old index, then the new one, never back
        switched = desk.index(VARIANT_SLUG)
        assert switched > 0 and set(desk[:switched]) == {"kurume-ogori"} and set(desk[switched:]) == {VARIANT_SLUG}
    after = server_collections(server)
    assert len(after) == 3 and set(before) <= set(after), "the previous generation is kept for readers"
