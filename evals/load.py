"""The app under load: start `python app.py --port N` on loopback, drive it with N clients, through
gradio_client's `/ask` (`load_run`) or plain HTTP to `POST /api/ask` (`http_load_run`), the same questions.

Bounded by a request count and a duration; measures requests/s, latency percentiles, errors, and the
app process's peak RSS (the kernel's high-water mark, with psutil samples as a fallback).
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from evals.perf import ROOT, child_env, latency_stats

APP = ROOT / "app.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mb(process: psutil.Process, sampled: float = 0.0) -> float:
    """VmHWM from /proc (the true peak) when readable, else the highest psutil sample taken."""
    try:
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return max(sampled, int(line.split()[1]) / 1024)
    except OSError:
        pass
    return sampled


@dataclass
class RssSampler:
    """Samples a process tree's RSS in the background (for processes we cannot ask for their peak)."""

    process: psutil.Process
    every: float = 0.05
    peak_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                tree = [self.process, *self.process.children(recursive=True)]
                self.peak_mb = max(self.peak_mb, sum(p.memory_info().rss for p in tree) / 2**20)
            except psutil.Error:
                return

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(timeout=1)
        return self.peak_mb


@contextmanager
def running_app(data_dir: Path, corpus_dir: Path, log: Path, *, timeout: float = 180) -> Iterator[dict[str, object]]:
    """Start the app on a free loopback port and wait until it answers HTTP; always stop it afterwards."""
    port = free_port()
    env = child_env(data_dir=str(data_dir), corpus_dir=str(corpus_dir), host="127.0.0.1", port=str(port))
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(APP), "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    info: dict[str, object] = {"url": f"http://127.0.0.1:{port}/", "pid": proc.pid}
    sampler = RssSampler(psutil.Process(proc.pid))
    try:
        info["ready_s"] = _wait_ready(str(info["url"]), proc, started, timeout)
        yield info
    finally:
        sampled = sampler.stop()
        info["peak_rss_mb"] = peak_rss_mb(psutil.Process(proc.pid), sampled) if proc.poll() is None else sampled
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], started: float, timeout: float) -> float:
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            msg = f"app.py exited with {proc.returncode} before serving; see its log"
            raise RuntimeError(msg)
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.25)
    msg = f"app.py did not answer at {url} within {timeout:.0f} s"
    raise RuntimeError(msg)


@dataclass
class _Tally:
    limit: int
    deadline: float
    issued: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> int | None:
        with self.lock:
            if self.issued >= self.limit or time.perf_counter() >= self.deadline:
                return None
            self.issued += 1
            return self.issued - 1


def load_run(
    url: str, questions: Sequence[str], *, clients: int = 8, requests: int = 120, seconds: float = 60
) -> dict[str, object]:
    """`clients` threads, each with its own gradio_client, asking until `requests` are sent or time is up."""
    from gradio_client import Client

    def connect() -> Callable[[str], object]:
        client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
        return lambda question: client.predict(question, [], api_name="/ask")

    return _drive(connect, questions, clients=clients, requests=requests, seconds=seconds)


def http_load_run(
    url: str, questions: Sequence[str], *, clients: int = 8, requests: int = 120, seconds: float = 60
) -> dict[str, object]:
    """The same, as another desk's tool would call `POST /api/ask`: one keep-alive connection per client."""
    host, port = url.split("//", 1)[1].rstrip("/").split(":")

    def connect() -> Callable[[str], object]:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)

        def ask(question: str) -> object:
            body = json.dumps({"question": question}, ensure_ascii=False).encode("utf-8")
            connection.request("POST", "/api/ask", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            answer = json.loads(response.read())
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {answer}")
            return answer

        return ask

    return _drive(connect, questions, clients=clients, requests=requests, seconds=seconds)


def _drive(
    connect: Callable[[], Callable[[str], object]],
    questions: Sequence[str],
    *,
    clients: int,
    requests: int,
    seconds: float,
) -> dict[str, object]:
    """`clients` threads, each with its own connection, asking until `requests` are sent or time is up."""
    pool = [connect() for _ in range(clients)]
    started = time.perf_counter()
    tally = _Tally(requests, started + seconds)

    def worker(ask: Callable[[str], object]) -> None:
        while (n := tally.take()) is not None:
            sent = time.perf_counter()
            try:
                answer = ask(questions[n % len(questions)])
                latency = (time.perf_counter() - sent) * 1000
                if not isinstance(answer, dict) or "error" in answer:
                    raise RuntimeError(f"the app answered {str(answer)[:120]}")
                with tally.lock:
                    tally.latencies.append(latency)
            except Exception as error:
                with tally.lock:
                    tally.errors.append(f"{type(error).__name__}: {error}".splitlines()[0][:200])

    threads = [threading.Thread(target=worker, args=(c,)) for c in pool]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": tally.issued,
        "ok": len(tally.latencies),
        "errors": len(tally.errors),
        "error_samples": sorted(set(tally.errors))[:5],
        "seconds": elapsed,
        "requests_per_s": len(tally.latencies) / elapsed if elapsed else 0.0,
        **latency_stats(tally.latencies),
    }
