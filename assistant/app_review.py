"""The 「管理」 tab: staff see what residents asked that the agreement did not answer, and fix the words.

Built only when the app has a login and ASSISTANT_ADMINS names someone; shown only to those users
(the tab starts hidden and its data is loaded per request), and every handler checks the user again,
so a non-admin cannot call them either. Changes go through `assistant.overlay` and apply at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from assistant import overlay, review
from assistant.engine import Engine
from assistant.errors import AssistantError

ENTRY_HEADERS = ["種類", "件数", "質問", "コメント", "最終日時"]
CHANGE_HEADERS = ["ID", "状態", "操作", "語", "協約の用語／問い合わせ先", "担当", "日時"]
ACTIONS = {"map": "用語に対応", "out_of_scope": "対象外", "undo": "取り消し"}


def review_tab(engine: Engine, admins: tuple[str, ...], demo: gr.Blocks) -> None:
    """The tab's components and handlers; call inside `gr.Tabs()`."""
    settings = engine.settings
    with gr.Tab("管理", id="review", visible=False) as tab:
        gr.Markdown(
            "協約書で答えられなかった質問・近い内容だけを示した回答・低い評価（👎）です（同じ質問はまとめて件数を表示）。"
            "行を選ぶと「語」に質問が入ります。住民が使った語を残して、(a) 協約書の用語に対応づけるか、"
            "(b) 協約の対象外として問い合わせ先を登録してください。変更はすぐに回答に反映され、記録され、取り消せます。"
        )
        refresh = gr.Button("最新の状態に更新", size="sm", elem_id="review-refresh")
        table = gr.Dataframe(headers=ENTRY_HEADERS, interactive=False, wrap=True, elem_id="review-entries")
        with gr.Row(equal_height=True):
            word = gr.Textbox(label="語（住民が使った言葉）", scale=3, elem_id="review-word")
            term = gr.Textbox(label="協約書の用語", placeholder="例: 子育て支援", scale=3, elem_id="review-term")
            map_button = gr.Button("(a) 用語に対応づける", variant="primary", scale=2, elem_id="review-map")
        with gr.Row(equal_height=True):
            ask = gr.Textbox(
                label="問い合わせ先", placeholder="例: お住まいの市の環境・ごみ担当課", scale=6, elem_id="review-ask"
            )
            scope_button = gr.Button("(b) 対象外として登録", scale=2, elem_id="review-out")
        status = gr.Markdown(elem_id="review-status")
        changes = gr.Dataframe(headers=CHANGE_HEADERS, interactive=False, wrap=True, elem_id="review-changes")
        with gr.Row(equal_height=True):
            target = gr.Textbox(label="取り消す変更のID", scale=6, elem_id="review-target")
            undo_button = gr.Button("取り消す", scale=2, elem_id="review-undo")

    def admin(request: gr.Request) -> str:
        user = getattr(request, "username", None)
        if user not in admins:
            raise gr.Error("管理の操作は管理者だけができます。")
        return str(user)

    def show(request: gr.Request) -> tuple[Any, Any, Any]:
        if getattr(request, "username", None) not in admins:
            return gr.Tab(visible=False), gr.update(), gr.update()
        return gr.Tab(visible=True), _entries(settings), _changes(settings)

    def act(change: Callable[[str], overlay.Change], request: gr.Request) -> tuple[str, Any, Any]:
        who = admin(request)
        try:
            done = change(who)
        except AssistantError as error:
            return f"⚠️ {error}（何も変更していません）", gr.update(), gr.update()
        engine.refresh(every=0)  # this replica at once; others within seconds
        return _done(done), _changes(settings), _entries(settings)

    def mapped(text: str, agreement_term: str, request: gr.Request) -> tuple[str, Any, Any]:
        chunks = engine.index.chunks
        return act(lambda who: overlay.map_word(settings, chunks, word=text, term=agreement_term, who=who), request)

    def scoped(text: str, where: str, request: gr.Request) -> tuple[str, Any, Any]:
        return act(lambda who: overlay.mark_out_of_scope(settings, word=text, ask=where, who=who), request)

    def undone(change_id: str, request: gr.Request) -> tuple[str, Any, Any]:
        return act(lambda who: overlay.undo(settings, change_id, who=who), request)

    def pick(rows: Any, event: gr.SelectData, request: gr.Request) -> str:
        admin(request)
        row = event.index[0] if isinstance(event.index, list | tuple) else event.index
        return str(rows.iloc[row, 2]) if hasattr(rows, "iloc") else str(rows[row][2])

    private: dict[str, Any] = {"api_visibility": "private"}
    demo.load(show, None, [tab, table, changes], **private)

    def reload(request: gr.Request) -> tuple[Any, Any]:
        return show(request)[1:]

    refresh.click(reload, None, [table, changes], **private)
    table.select(pick, [table], [word], **private)
    map_button.click(mapped, [word, term], [status, changes, table], **private)
    scope_button.click(scoped, [word, ask], [status, changes, table], **private)
    undo_button.click(undone, [target], [status, changes, table], **private)


def _entries(settings: Any) -> list[list[object]]:
    found = review.entries(settings)
    return [
        [review.KIND_LABELS[e.kind], e.count, e.question, " / ".join(e.comments), e.last.replace("T", " ")[:19]]
        for e in found
    ] or [["", 0, "（まだありません）", "", ""]]


def _changes(settings: Any) -> list[list[object]]:
    log = overlay.read_changes(settings)
    active = {c.id for c in overlay.active_changes(log)}
    rows = [
        [
            c.id,
            "有効" if c.id in active else ("" if c.action == "undo" else "取り消し済み"),
            ACTIONS[c.action],
            c.word,
            c.term or c.ask or c.target,
            c.who,
            c.when.replace("T", " ")[:19],
        ]
        for c in reversed(log)
    ]
    return rows or [["", "", "", "（まだありません）", "", "", ""]]


def _done(change: overlay.Change) -> str:
    if change.action == "map":
        return f"✅ 「{change.word}」を協約書の「{change.term}」に対応づけました（ID {change.id}）。次の質問から使われます。"
    if change.action == "out_of_scope":
        return f"✅ 「{change.word}」を対象外として登録しました（案内: {change.ask}、ID {change.id}）。"
    return f"✅ 変更 {change.target}（「{change.word}」）を取り消しました（ID {change.id}）。"
