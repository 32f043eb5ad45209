"""The staff review loop: the logs grouped, the glossary overlay (map / out of scope / undo), live in the engine,
from the CLI and from the 「管理」 tab in a real browser (Chromium, the real app in a subprocess, real login).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_support import AppServer, app_server, cli_env, copy_index
from reliability_support import run as run_python

from assistant import overlay, review
from assistant.engine import Engine
from assistant.errors import InputError
from assistant.feedback import append_record, log_feedback, log_unanswered
from assistant.settings import Settings
from assistant.types import Answer

# No glossary entry, no word shared with the agreement, too far in meaning: not answered before the mapping.
UNFORESEEN = "沐浴教室はどっちの市がやるの？"
WORD, TERM = "沐浴教室", "子育て支援"
ADMIN, STAFF = ("kanri", "Adm1n-pass-x7"), ("madoguchi", "St4ff-pass-q2")
CHROMIUM = "/usr/bin/chromium"


def _lines(settings: Settings) -> int:
    path = overlay.changes_path(settings)
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


# --- the overlay and the engine (fast) ------------------------------------------------------------


def test_a_mapped_word_answers_at_once_and_undo_takes_it_back(built_index_copy: Settings) -> None:
    engine = Engine.load(built_index_copy)
    assert engine.ask(UNFORESEEN).refused
    change = overlay.map_word(built_index_copy, engine.index.chunks, word=WORD, term=TERM, who="kanri")
    engine.refresh(every=0)
    answer = engine.ask(UNFORESEEN)
    assert not answer.refused and answer.citations[0].id == "kurume-ogori/annex-3-1-2"
    overlay.undo(built_index_copy, change.id, who="kanri")
    engine.refresh(every=0)
    assert engine.ask(UNFORESEEN).refused
    assert [c.action for c in overlay.read_changes(built_index_copy)] == ["map", "undo"]


def test_out_of_scope_refuses_with_where_to_ask(built_index_copy: Settings) -> None:
    engine = Engine.load(built_index_copy)
    question = "公共交通の定期券の払い戻しは？"
    assert not engine.ask(question).refused  # 公共交通 is in the agreement, so today it answers with a 別表 row
    overlay.mark_out_of_scope(built_index_copy, word="定期券", ask="各交通事業者の窓口", who="kanri")
    engine.refresh(every=0)
    answer = engine.ask(question)
    assert answer.refused and answer.outcome == "nearest"  # not settled: related rows shown, not answered
    assert answer.text.startswith("協約書には定めがありません")
    assert "お問い合わせ先の目安: 各交通事業者の窓口" in answer.text


def test_another_process_change_reaches_a_running_engine(built_index_copy: Settings) -> None:
    """A replica (or `assistant review`) writes the log; this engine picks it up on its next refresh."""
    engine = Engine.load(built_index_copy)
    assert engine.ask(UNFORESEEN).refused
    env = cli_env(built_index_copy.data_dir, ASSISTANT_CORPUS_DIR=built_index_copy.corpus_dir)
    done = run_python("-m", "assistant", "review", "map", WORD, TERM, "--who", "kanri", env=env)
    assert done.returncode == 0, done.stderr
    engine.refresh(every=0)
    assert engine.ask(UNFORESEEN).citations[0].id == "kurume-ogori/annex-3-1-2"


@pytest.mark.parametrize(
    ("word", "term", "says"),
    [
        ("", TERM, "空の語"),
        ("   ", TERM, "空の語"),
        (WORD, "", "用語を入力"),
        (WORD, "宇宙開発", "協約書の本文にない語"),
        ("あ" * 41, TERM, "長すぎます"),
    ],
)
def test_bad_entries_are_refused_and_change_nothing(
    built_index_copy: Settings, word: str, term: str, says: str
) -> None:
    engine = Engine.load(built_index_copy)
    with pytest.raises(InputError, match=says):
        overlay.map_word(built_index_copy, engine.index.chunks, word=word, term=term, who="kanri")
    with pytest.raises(InputError):
        overlay.mark_out_of_scope(built_index_copy, word=word if term else "", ask="", who="kanri")
    with pytest.raises(InputError, match="取り消せる変更"):
        overlay.undo(built_index_copy, "nosuchid", who="kanri")
    assert _lines(built_index_copy) == 0
    assert overlay.load_overlay(built_index_copy) == overlay.Overlay()


def test_the_overlay_is_the_replay_of_its_log(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = overlay.mark_out_of_scope(settings, word="garbage", ask="環境・ごみ担当課", who="a")
    second = overlay.mark_out_of_scope(settings, word="Garbage ", ask="市役所の環境課", who="b")  # the same word
    assert overlay.load_overlay(settings).out_of_scope == (("garbage", "市役所の環境課"),)
    overlay.undo(settings, second.id, who="a")
    assert overlay.load_overlay(settings).out_of_scope == (("garbage", "環境・ごみ担当課"),)
    overlay.changes_path(settings).open("a", encoding="utf-8").write('{"torn": \n')  # a damaged line is skipped
    assert [c.id for c in overlay.active_changes(overlay.read_changes(settings))] == [first.id]
    assert all(c.who and c.when for c in overlay.read_changes(settings))


def test_logs_are_grouped_with_counts(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    for question in ("ごみの日は？", "ごみの日は?", "ごみの日は"):
        log_unanswered(settings.log_dir, Answer(question, "記載がありません", (), True, "ja"), source="chat")
    nearest = {"time": "2026-01-01T00:00:00+00:00", "question": "公民館の予約", "answer": "…", "outcome": "nearest"}
    append_record(settings.log_dir / "unanswered.jsonl", nearest)
    for comment in ("違う市の話です", ""):
        log_feedback(settings.log_dir, question="バスは？", answer="…", citations=[], rating="down", comment=comment)
    log_feedback(settings.log_dir, question="第4条は？", answer="…", citations=[], rating="up")
    found = review.entries(settings)
    assert [(e.kind, e.question, e.count) for e in found] == [
        ("unanswered", "ごみの日は", 3),
        ("disliked", "バスは？", 2),
        ("nearest", "公民館の予約", 1),
    ]
    assert found[1].comments == ("違う市の話です",)


def test_review_cli(built_index_copy: Settings) -> None:
    env = cli_env(built_index_copy.data_dir, ASSISTANT_CORPUS_DIR=built_index_copy.corpus_dir)
    log_unanswered(built_index_copy.log_dir, Answer(UNFORESEEN, "…", (), True, "ja"), source="chat")
    listed = run_python("-m", "assistant", "review", "list", "--json", env=env)
    assert json.loads(listed.stdout)[0] | {"last": ""} == {
        "kind": "unanswered",
        "question": UNFORESEEN,
        "count": 1,
        "last": "",
        "comments": [],
        "answer": "…",
    }
    bad = run_python("-m", "assistant", "review", "map", WORD, "宇宙開発", env=env)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "協約書の本文にない語" in bad.stderr
    assert _lines(built_index_copy) == 0
    done = run_python("-m", "assistant", "review", "map", WORD, TERM, "--who", "kanri", env=env)
    assert done.returncode == 0, done.stderr
    asked = run_python("-m", "assistant", "ask", "--json", UNFORESEEN, env=env)
    assert json.loads(asked.stdout)["citations"][0]["id"] == "kurume-ogori/annex-3-1-2"
    changes = json.loads(run_python("-m", "assistant", "review", "changes", "--json", env=env).stdout)
    assert [(c["action"], c["who"], c["word"], c["term"], c["active"]) for c in changes] == [
        ("map", "kanri", WORD, TERM, True)
    ]
    assert run_python("-m", "assistant", "review", "undo", changes[0]["id"], env=env).returncode == 0
    assert json.loads(run_python("-m", "assistant", "ask", "--json", UNFORESEEN, env=env).stdout)["refused"]


# --- the 管理 tab in Chromium (slow) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def admin_app(built_index: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, Path]]:
    data_dir = tmp_path_factory.mktemp("review_app")
    copy_index(built_index.data_dir, data_dir)
    logins = data_dir / "logins"
    logins.write_text(f"{ADMIN[0]}:{ADMIN[1]}\n{STAFF[0]}:{STAFF[1]}\n", encoding="utf-8")
    logins.chmod(0o600)
    env = cli_env(data_dir, ASSISTANT_CORPUS_DIR=built_index.corpus_dir, ASSISTANT_ADMINS=ADMIN[0])
    with app_server(env, data_dir / "app.log", "--auth-file", str(logins)) as app:
        yield app, data_dir
    assert "Traceback" not in app.output()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make browser`")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox"])
        yield launched
        launched.close()


def _login(browser: Any, url: str, user: tuple[str, str]) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="ja-JP")
    page.set_default_timeout(60_000)  # a shared 2-core machine can be slow; waits end as soon as the page is ready
    page.goto(url)
    page.locator("input[type=text]").fill(user[0])
    page.locator("input[type=password]").fill(user[1])
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_selector("#question textarea, #question input")
    return page


def _ask(page: Any, question: str) -> str:
    """Ask in a new conversation in the chat tab; the text of the answer's citation cards."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.get_by_role("tab", name="質問する").click()
    sources = "document.querySelectorAll('#chat .sources').length"
    # A new conversation, so the question is not read as a follow-up. An empty chat is not cleared: on a slow
    # machine that event could be handled after the question's and wipe its answer (twice, a 60 s timeout).
    if page.evaluate(sources):
        page.locator("button", has_text="会話をクリア").click()
        page.wait_for_function(f"{sources} === 0")
    box = page.locator("#question textarea, #question input").first
    box.fill(question)
    box.press("Enter")
    try:
        page.wait_for_function(f"{sources} > 0", timeout=20_000)
    except PlaywrightTimeout:  # an Enter pressed before Gradio bound its handler is lost: the box still holds it
        if box.input_value() == question:
            box.press("Enter")
        page.wait_for_function(f"{sources} > 0")
    return page.locator("#chat .sources").last.inner_text()


def _status(page: Any, text: str) -> str:
    page.wait_for_function(
        "(t) => document.querySelector('#review-status').innerText.includes(t)", arg=text, timeout=60_000
    )
    return page.locator("#review-status").inner_text()


@pytest.mark.slow
def test_admin_maps_a_word_in_the_browser_and_the_answer_changes(
    admin_app: tuple[AppServer, Path], browser: Any
) -> None:
    app, data_dir = admin_app
    settings = Settings(data_dir=data_dir)
    page = _login(browser, app.url, ADMIN)
    assert _not_answered(_ask(page, UNFORESEEN))  # refused, or only related units: no answer yet
    page.get_by_role("tab", name="管理").click()
    page.locator("#review-refresh").click()
    cell = page.locator("#review-entries").get_by_text(UNFORESEEN).locator("visible=true").first
    cell.wait_for()
    cell.click()  # one click fills the word from the entry
    word = page.locator("#review-word textarea, #review-word input").first
    page.wait_for_function(
        "(q) => document.querySelector('#review-word textarea, #review-word input').value === q", arg=UNFORESEEN
    )
    term = page.locator("#review-term textarea, #review-term input").first

    word.fill("")
    term.fill(TERM)
    page.locator("#review-map").click()
    assert "空の語" in _status(page, "何も変更していません")
    word.fill(WORD)
    term.fill("宇宙開発")
    page.locator("#review-map").click()
    assert "協約書の本文にない語" in _status(page, "宇宙開発")
    assert _lines(settings) == 0

    term.fill(TERM)
    page.locator("#review-map").click()
    _status(page, "✅")
    page.locator("#review-changes").get_by_text(WORD).locator("visible=true").first.wait_for()
    cards = _ask(page, UNFORESEEN)  # the same question is now answered from the 子育て支援 row
    assert "出典（" in cards and "別表 (3)①" in cards and not _not_answered(cards)
    change = overlay.read_changes(settings)[-1]
    assert (change.action, change.who, change.word, change.term) == ("map", ADMIN[0], WORD, TERM)

    page.get_by_role("tab", name="管理").click()
    page.locator("#review-target textarea, #review-target input").first.fill(change.id)
    page.locator("#review-undo").click()
    _status(page, "取り消しました")
    assert _not_answered(_ask(page, UNFORESEEN))
    page.close()


def _not_answered(cards: str) -> bool:
    """The cards under a refusal (none) or a "not settled" answer (related units, not sources)."""
    return "引用はありません" in cards or "回答ではありません" in cards


@pytest.mark.slow
def test_a_non_admin_does_not_see_the_tab(admin_app: tuple[AppServer, Path], browser: Any) -> None:
    page = _login(browser, admin_app[0].url, STAFF)
    assert "別表" in _ask(page, "バスのことはどっちの市？")  # the page is fully loaded and working
    assert page.get_by_role("tab", name="管理").count() == 0
    assert page.locator("#review-entries").count() == 0 or not page.locator("#review-entries").is_visible()
    page.close()
