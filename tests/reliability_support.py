"""Real servers on loopback for the reliability tests: a Chroma server, the app, the CLI as a subprocess.

Every wait is bounded, every process started here is stopped here (by its own pid), and nothing is
mocked: the tests talk to `chroma run`, `python app.py` and `python -m assistant` as a user would.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CORPUS_FILE = ROOT / "corpus" / "kurume-ogori.txt"
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Run:
    """A finished command: exit status and its output decoded as UTF-8 (bad bytes shown, not raised)."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float


def one_line_error(result: Run) -> str:
    """A command that failed the way a user should see it: exit 1, one `error: …` line, no traceback."""
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def cli_env(data_dir: Path, **values: str | Path | int | None) -> dict[str, str]:
    """This process's environment without any ASSISTANT_* setting but the data dir and `values` (None unsets)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env["ASSISTANT_DATA_DIR"] = str(data_dir)
    for name, value in values.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = str(value)
    return env


def run(*args: str, env: Mapping[str, str] | None = None, stdin: bytes | None = None, timeout: float = 180) -> Run:
    """`python *args` from the project root, e.g. run("-m", "assistant", "ask", "第4条は？", env=...)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=dict(env),
        input=stdin if stdin is not None else b"",
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    return Run(
        done.returncode,
        done.stdout.decode("utf-8", errors="replace"),
        done.stderr.decode("utf-8", errors="replace"),
        time.perf_counter() - started,
    )


def ingest(env: Mapping[str, str], *extra: str, timeout: float = 300) -> Run:
    result = run("ingest.py", *extra, env=env, timeout=timeout)
    assert result.returncode == 0, f"ingest failed:\n{result.stdout}\n{result.stderr}"
    return result


def start(*args: str, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`python *args` in the background, output to `log`; stop it with `stop`."""
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes], *, grace: float = 10) -> None:
    """Terminate one process we started, by its own pid; kill it if it ignores SIGTERM."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(grace)


def wait_until(
    check: Callable[[], bool], *, timeout: float, what: str, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {process.returncode}")
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what}: not ready after {timeout:.0f} s")


# --- Chroma server -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChromaServer:
    host: str
    port: int
    path: Path
    process: subprocess.Popen[bytes]

    def env(self, data_dir: Path, **values: str | Path | int | None) -> dict[str, str]:
        """Settings for a client of this server; `data_dir` only holds logs in server mode."""
        return cli_env(data_dir, ASSISTANT_CHROMA_HOST=self.host, ASSISTANT_CHROMA_PORT=self.port, **values)


def chroma_command() -> list[str]:
    beside = Path(sys.executable).with_name("chroma")
    return [str(beside)] if beside.exists() else [shutil.which("chroma") or "chroma"]


@contextmanager
def chroma_server(path: Path, *, timeout: float = 60) -> Iterator[ChromaServer]:
    """`chroma run` on a free loopback port with its data in `path`, up until the block ends."""
    port = free_port()
    log = path.with_name(path.name + ".log").open("wb")
    process = subprocess.Popen(
        [*chroma_command(), "run", "--path", str(path), "--host", LOOPBACK, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        heartbeat = f"http://{LOOPBACK}:{port}/api/v2/heartbeat"
        wait_until(
            lambda: httpx.get(heartbeat, timeout=2).status_code == 200,
            timeout=timeout,
            what="chroma run",
            process=process,
        )
        yield ChromaServer(LOOPBACK, port, path, process)
    finally:
        stop(process)
        log.close()


# --- the app -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppServer:
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/"

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def app_server(env: Mapping[str, str], log: Path, *args: str, timeout: float = 180) -> Iterator[AppServer]:
    """`python app.py --port N *args` until the block ends; ready when its page answers on loopback."""
    port = free_port()
    out = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), *args],
        cwd=ROOT,
        env=dict(env),
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://{LOOPBACK}:{port}/"
        wait_until(
            lambda: httpx.get(url, timeout=5).status_code < 500, timeout=timeout, what="python app.py", process=process
        )
        yield AppServer(port, log, process)
    finally:
        stop(process)
        out.close()


# --- the index, read without Chroma ----------------------------------------------------------------


def index_fingerprint(data_dir: Path) -> str:
    """What the embedded index holds (collections, registry record, every record written), read-only.

    Chroma touches bookkeeping files whenever it opens a store, so bytes on disk are no measure of
    "nothing was written"; this is the content a reader would see.
    """
    path = data_dir / "chroma" / "chroma.sqlite3"
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        digest = hashlib.sha256()
        for query in (
            "SELECT name FROM collections ORDER BY name",
            "SELECT key, str_value, int_value FROM collection_metadata ORDER BY collection_id, key",
            "SELECT topic, id, operation, vector, metadata FROM embeddings_queue ORDER BY seq_id",
        ):
            for row in connection.execute(query):
                digest.update(repr(row).encode())
        return digest.hexdigest()
    finally:
        connection.close()


def files_outside_store(data_dir: Path) -> list[str]:
    """Files in the data dir that are not Chroma's own (a log, a cache): bad input must create none."""
    return sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if p.is_file() and "chroma" not in p.parts)


def copy_index(source: Path, data_dir: Path) -> None:
    shutil.copytree(source / "chroma", data_dir / "chroma")


# --- two versions of the corpus, told apart in every citation --------------------------------------

VARIANT_SLUG = "kurume-ogori-v2"
VARIANT_EDIT = ("定期的に", "随時")  # 第4条 reads differently in the variant
# Questions that always cite something, so an empty or mixed index cannot hide behind a refusal.
CITED_QUESTIONS = (
    "第4条は？",
    "バスのことはどっちの市に聞けばいい？",
    "第2条の1号は？",
    "協約はいつ締結された？",
    "小郡市の役割を全部教えて",
)


def variant_corpus(directory: Path) -> Path:
    """corpus/ as another agreement file: other slug, 第4条 reworded."""
    directory.mkdir(parents=True, exist_ok=True)
    text = CORPUS_FILE.read_text(encoding="utf-8")
    assert text.count(VARIANT_EDIT[0]) == 1
    (directory / f"{VARIANT_SLUG}.txt").write_text(text.replace(*VARIANT_EDIT), encoding="utf-8")
    return directory


def index_version(answer: Mapping[str, object]) -> str:
    """The one corpus version an answer cites ("kurume-ogori" or the variant); fails on none or a mix."""
    citations = answer.get("citations")
    assert isinstance(citations, list) and citations, f"no citations: {answer}"
    slugs = {str(c["id"]).split("/", 1)[0] for c in citations}
    assert len(slugs) == 1, f"citations from more than one index: {sorted(slugs)}"
    slug = slugs.pop()
    assert slug in (CORPUS_FILE.stem, VARIANT_SLUG), slug
    for citation in citations:
        if str(citation["id"]).endswith("/art-4"):
            expected = VARIANT_EDIT[1] if slug == VARIANT_SLUG else VARIANT_EDIT[0]
            assert expected in citation["text"], f"{slug} cites another version's 第4条: {citation['text']}"
    return slug


class AskProcess:
    """A long-running `assistant ask --json -`: one question in, one JSON line out."""

    def __init__(self, env: Mapping[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "assistant", "ask", "--json", "-", *args],
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def ask(self, line: str | bytes, *, timeout: float = 60) -> dict[str, object]:
        assert self.process.stdin is not None and self.process.stdout is not None
        data = line.encode() if isinstance(line, str) else line
        self.process.stdin.write(data.rstrip(b"\n") + b"\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        assert ready, f"no answer within {timeout} s to {data[:60]!r}"
        out = self.process.stdout.readline()
        assert out, f"the process ended: {self.stderr()}"
        return json.loads(out)

    def close(self, *, timeout: float = 30) -> str:
        """End stdin, wait for a clean exit, return stderr."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout)
        finally:
            stop(self.process)
        return self.stderr()

    def stderr(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read().decode("utf-8", errors="replace")
