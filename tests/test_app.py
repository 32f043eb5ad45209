"""The Gradio app, end to end: the real `python app.py` in a subprocess, called through gradio_client and Chromium.

Also fast checks of the pieces the app is built from: escaping, highlighting and the append-only logs.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.app_chat import engine_history, turn_at
from assistant.app_render import as_text, from_text, highlight
from assistant.chunks import annotate as with_cities
from assistant.feedback import append_record, read_records

ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = ROOT / "corpus"
BUS = "バスのことはどっちの市に聞けばいい？"
XSS = "<script>window.__xss=1</script>"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOT = ROOT / "docs" / "screenshot.png"
IN_VIEW = """(id) => {
  const unit = document.getElementById(id);
  if (!unit || unit.offsetParent === null) { return false; }
  const box = unit.getBoundingClientRect();
  return box.top >= 0 && box.bottom <= window.innerHeight;
}"""


# --- the pieces (fast) ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", [XSS, "a_b *c* [x](y) \\ &amp; &lt;", "バス？", ""])
def test_user_text_is_escaped_and_recoverable(text: str) -> None:
    shown = as_text(text)
    assert "<" not in shown
    assert from_text(shown) == text


def test_highlight_escapes_before_marking() -> None:
    marked = highlight("<b>公共交通</b>の利用", ["公共交通", "<b>"])
    assert marked == "<mark>&lt;b&gt;公共交通</mark>&lt;/b&gt;の利用"  # adjacent marks merge


def test_cities_are_named_once() -> None:
    parties = (("甲", "久留米市"), ("乙", "小郡市"))
    text = "甲と乙は協議する。久留米市（甲）の役割。久留米市（以下「甲」という。）甲（久留米市）"
    assert with_cities(text, parties) == (
        "久留米市（甲）と小郡市（乙）は協議する。久留米市（甲）の役割。久留米市（以下「甲」という。）甲（久留米市）"
    )


def test_each_answer_keeps_its_own_citations() -> None:
    chat = [
        {"role": "user", "content": as_text("q1")},
        {"role": "assistant", "content": "a1"},
        {"role": "assistant", "content": '<div class="sources" data-answer-id="x1" data-citations="k/art-4">…</div>'},
        {"role": "user", "content": [{"type": "text", "text": as_text("q2")}]},
        {"role": "assistant", "content": "⚠️ 長すぎます\na2"},
        {"role": "assistant", "content": '<div class="sources" data-answer-id="x2" data-citations="k/a k/b">…</div>'},
    ]
    first, second = turn_at(chat, 1), turn_at(chat, 5)
    assert first is not None and (first.question, first.citations, first.answer_id) == ("q1", ("k/art-4",), "x1")
    assert second is not None and (second.question, second.answer, second.citations) == ("q2", "a2", ("k/a", "k/b"))
    assert [(m.role, m.content) for m in engine_history(chat)] == [
        ("user", "q1"),
        ("assistant", "a1"),
        ("user", "q2"),
        ("assistant", "a2"),
    ]


def test_handlers_never_show_a_traceback() -> None:
    import gradio as gr

    from assistant.app import INTERNAL_ERROR, guarded
    from assistant.errors import InputError

    @guarded
    def crash() -> None:
        raise RuntimeError("/secret/path")

    @guarded
    def refuse() -> Iterator[int]:
        yield 1
        raise InputError("評価する回答が見つかりませんでした。")

    with pytest.raises(gr.Error) as crashed:
        crash()
    assert crashed.value.message == INTERNAL_ERROR
    with pytest.raises(gr.Error) as refused:
        list(refuse())
    assert refused.value.message == "評価する回答が見つかりませんでした。"


@pytest.mark.parametrize("auth", ["s3cret", ":s3cret", "staffer:"])
def test_auth_needs_user_and_password(auth: str) -> None:
    from assistant.errors import AssistantError
    from assistant.login import parse_auth

    assert parse_auth("staff:pa:ss") == ("staff", "pa:ss")
    with pytest.raises(AssistantError, match="user:password") as error:
        parse_auth(auth)
    assert auth.strip(":") not in str(error.value)


def _write_many(path: str, writer: int) -> None:
    for n in range(200):
        append_record(Path(path), {"writer": writer, "n": n, "text": "回答" * (50 + n % 400)})


def test_concurrent_writers_never_tear_a_line(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "feedback.jsonl"
    workers = [multiprocessing.Process(target=_write_many, args=(str(path), w)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    records = read_records(path)  # json.loads fails on any torn line
    assert len(records) == 800
    assert {(r["writer"], r["n"]) for r in records} == {(w, n) for w in range(4) for n in range(200)}


# --- the running app (slow) ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_serving(url: str, process: subprocess.Popen[str], log: Path, *, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the app exited with {process.returncode}:\n{log.read_text(encoding='utf-8')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"the app did not start within {timeout} s:\n{log.read_text(encoding='utf-8')}")


@pytest.fixture(scope="module")
def app(built_index: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, int]]:
    """`python app.py --port P` on a copy of the session's index; yields (url, data dir, pid)."""
    data_dir = tmp_path_factory.mktemp("app_data")
    shutil.copytree(built_index.data_dir / "chroma", data_dir / "chroma")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env |= {"ASSISTANT_DATA_DIR": str(data_dir), "ASSISTANT_CORPUS_DIR": str(CORPUS_DIR)}
    log = data_dir / "server.log"
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_serving(url, process, log)
        yield url, data_dir, process.pid
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    assert "Traceback" not in log.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def client(app: tuple[str, Path, int]) -> Any:
    from gradio_client import Client

    return Client(app[0], verbose=False)


def _ask(client: Any, question: str, history: object) -> dict[str, Any]:
    return client.predict(question, history, api_name="/ask")


@pytest.mark.slow
def test_api_role_question(client: Any) -> None:
    result = _ask(client, BUS, [])
    assert result["citations"][0]["id"].endswith("annex-3-2-1")
    assert "久留米市" in result["answer"] and "小郡市" in result["answer"]
    assert result["refused"] is False


@pytest.mark.slow
def test_api_returns_the_cli_json(client: Any, app: tuple[str, Path, int], run_cli: Any) -> None:
    result = _ask(client, "第4条", [])
    assert result["citations"][0]["id"].endswith("/art-4")
    cli = run_cli("-m", "assistant", "ask", "--json", "--data-dir", str(app[1]), "第4条")
    assert cli.returncode == 0, cli.stderr
    expected = json.loads(cli.stdout)
    assert {k: v for k, v in result.items() if k != "latency_ms"} == {
        k: v for k, v in expected.items() if k != "latency_ms"
    }


@pytest.mark.slow
def test_api_out_of_scope_is_refused_and_logged(client: Any, app: tuple[str, Path, int]) -> None:
    result = _ask(client, "明日の天気は？", [])
    assert result["refused"] is True
    assert result["citations"] == []
    logged = read_records(app[1] / "logs" / "unanswered.jsonl")
    assert any(r["question"] == "明日の天気は？" and r["source"] == "api" for r in logged)


@pytest.mark.slow
def test_api_follow_up_reads_history(client: Any) -> None:
    first = _ask(client, BUS, [])
    history = [{"role": "user", "content": BUS}, {"role": "assistant", "content": first["answer"]}]
    result = _ask(client, "じゃあ小郡市の役割は？", history)
    assert [c["id"].rsplit("/", 1)[-1] for c in result["citations"]] == ["annex-3-2-1"]
    assert result["answer"].index("小郡市（乙）") < result["answer"].index("久留米市（甲）")


@pytest.mark.slow
@pytest.mark.parametrize("history", ["not a list", [{"role": "system", "content": "x"}], [1, 2], {"role": "user"}])
def test_api_malformed_history_is_a_clear_error(client: Any, history: object) -> None:
    result = _ask(client, BUS, history)
    assert set(result) == {"error"}
    assert "history" in result["error"] and "Traceback" not in result["error"]


@pytest.mark.slow
def test_app_serves_without_pandas_matplotlib_or_scipy(client: Any, app: tuple[str, Path, int]) -> None:
    """Gradio imports pandas at start and matplotlib around every event, bm25s imports scipy; the app uses
    none of them, and leaving them out keeps about 90 MB off its memory (evals/results/REPORT.md)."""
    assert _ask(client, BUS, [])["citations"][0]["id"].endswith("annex-3-2-1")
    maps = Path(f"/proc/{app[2]}/maps").read_text(encoding="utf-8")
    assert not [name for name in ("/pandas/", "/matplotlib/", "/scipy/") if name in maps]


def test_a_deferred_module_loads_when_used_and_a_kept_out_one_is_missing() -> None:
    script = """
import sys
from assistant.lazy import defer_import, import_without, keep_out
bm25s = import_without("bm25s", "scipy")
assert not bm25s.SCIPY_AVAILABLE and "scipy" not in sys.modules
import scipy.sparse  # blocked for bm25s's import only
defer_import("pandas"); keep_out("matplotlib")
import pandas
assert "pandas.core" not in sys.modules
assert pandas.DataFrame({"a": [1, 2]}).shape == (2, 1)
import pandas.core.frame
assert pandas.core.frame.DataFrame is pandas.DataFrame
try:
    import matplotlib
except ImportError:
    print("ok")
"""
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "ok", run.stderr


# --- the page in Chromium (slow) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def page(app: tuple[str, Path, int]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make browser`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="ja-JP")
        page.set_default_timeout(30_000)
        page.goto(app[0])
        page.wait_for_selector("#question textarea, #question input")
        yield page
        browser.close()


def _submit(page: Any, question: str) -> None:
    box = page.locator("#question textarea, #question input").first
    box.fill(question)
    box.press("Enter")


def _wait_for_answers(page: Any, count: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('#chat .sources').length >= {count}")


@pytest.mark.slow
def test_page_streams_a_cited_answer(page: Any, app: tuple[str, Path, int]) -> None:
    _submit(page, BUS)
    page.wait_for_selector("#chat [data-testid=bot]")  # the answer streams in first …
    page.wait_for_selector("#chat .cite-card")  # … then its citation cards
    answer = page.locator("#chat [data-testid=bot]").first.inner_text()
    assert "久留米市" in answer and "小郡市" in answer
    card = page.locator("#chat .cite-card").first
    assert "別表 (3)②" in card.inner_text()
    assert card.locator("mark").count() > 0
    assert card.locator("details").count() == 1
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.locator("#chat button[aria-label='いいね'], #chat button[aria-label=Like]").first.click()  # 👍
    page.wait_for_selector("#comment-row", state="visible")
    records = read_records(app[1] / "logs" / "feedback.jsonl")
    assert records[-1]["question"] == BUS
    assert records[-1]["rating"] == "up"
    assert records[-1]["citations"] == ["kurume-ogori/annex-3-2-1"]


@pytest.mark.slow
def test_page_shows_a_script_question_as_text(page: Any) -> None:
    before = page.locator("#chat .sources").count()
    _submit(page, XSS)
    _wait_for_answers(page, before + 1)
    assert page.locator("#chat [data-testid=user]").last.inner_text().strip() == XSS
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("#chat script").count() == 0


@pytest.mark.slow
def test_page_role_table_filters_and_explains(page: Any, tmp_path: Path) -> None:
    page.get_by_role("tab", name="役割分担（別表）").click()
    page.wait_for_selector(".role-table", state="visible")
    assert page.locator(".role-table tbody tr.unit").count() == 13
    assert page.locator(".role-table tr.section").count() >= 3
    page.get_by_label("キーワードで絞り込み").fill("交通")
    page.wait_for_function("document.querySelectorAll('.role-table tbody tr.unit').length === 1")
    page.get_by_role("radio", name="小郡市").check()
    page.wait_for_function("document.querySelectorAll('.role-table thead th').length === 3")
    page.screenshot(path=str(tmp_path / "roles.png"))
    before = page.locator("#chat .sources").count()
    page.locator("button.explain").first.click()
    _wait_for_answers(page, before + 1)
    assert page.locator("#chat").is_visible()
    assert "別表 (3)②" in page.locator("#chat .sources").last.inner_text()


@pytest.mark.slow
def test_page_citation_opens_the_full_agreement(page: Any) -> None:
    page.get_by_role("tab", name="質問する").click()
    page.locator("#chat details summary").last.click()
    page.locator("#chat a.open-unit").last.click()
    page.wait_for_function(IN_VIEW, arg="kurume-ogori--annex-3-2-1")  # the 別表 row, scrolled into view
    assert page.locator("#kurume-ogori--art-4").is_visible()
