"""The Gradio app: chat with cited answers, the 別表 split by role, the full agreement, and the `ask` API.

Presentation only: every answer comes from `Engine.ask`, every piece of HTML from `app_render`.
"""

from __future__ import annotations

from assistant.settings import Settings  # sets the telemetry switches before Gradio is imported

# isort: split
import functools
import inspect
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import gradio as gr

from assistant.api import api_routes
from assistant.app_chat import HARD_LIMIT, ChatMessage, ChatService
from assistant.app_render import Section, agreement_html, parties_of, role_table_html, row_question
from assistant.app_review import review_tab
from assistant.app_style import CSS, EXAMPLES, HEAD, HEADER, TABLE_JS
from assistant.engine import Engine
from assistant.errors import AssistantError, IndexMissingError
from assistant.login import logins
from assistant.parse import parse_corpus

log = logging.getLogger(__name__)

# Gradio runs one request per event at a time unless told otherwise, so one slow operator would
# make everyone wait. The engine is thread-safe for reads and an answer costs ~15 ms of embedding
# plus ~0.5 s of paced streaming (mostly sleeping), so 8 at once per event keeps several desks
# responsive on a small CPU; 64 queued requests bound memory and make an overload fail fast.
CONCURRENCY = 8
QUEUE_SIZE = 64
BOTH = "両市"
INTERNAL_ERROR = "内部エラーが発生しました。もう一度お試しください。解決しない場合は管理者に連絡してください。"


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn any failure into a message a person can act on; tracebacks go to the server log only."""

    def translate(error: Exception) -> gr.Error:
        if isinstance(error, gr.Error):
            return error
        if isinstance(error, AssistantError):
            return gr.Error(str(error))
        log.exception("handler %s failed", fn.__name__)
        return gr.Error(INTERNAL_ERROR)

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from fn(*args, **kwargs)
            except Exception as error:
                raise translate(error) from None

        return stream

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as error:
            raise translate(error) from None

    return call


def theme() -> gr.themes.Base:
    """System fonts only: the page must not fetch fonts from the internet (and must show Japanese)."""
    fonts = ["Noto Sans CJK JP", "Noto Sans JP", "Hiragino Sans", "Yu Gothic", "Meiryo", "system-ui", "sans-serif"]
    return gr.themes.Soft(primary_hue="teal", font=fonts, font_mono=["Noto Sans Mono CJK JP", "monospace"])


def load_sections(settings: Settings) -> dict[str, Section]:
    """別表 section headings, read from the corpus (the index keeps only each row's section path)."""
    try:
        agreements = parse_corpus(settings.corpus_dir)
    except (AssistantError, OSError):
        return {}
    return {s.path: Section(s.path, s.marker, s.heading) for a in agreements for r in a.annex for s in r.sections}


def build_app(engine: Engine, *, admins: tuple[str, ...] = ()) -> gr.Blocks:
    """The app; with `admins` (logins, only when the app has a login) it also has the 管理 tab for them."""
    service = ChatService(engine)
    chunks = engine.index.chunks
    parties = parties_of(chunks)
    rows = [c for c in chunks if c.kind == "annex_row"]
    sections = load_sections(engine.settings)
    title = next((c.text.split("\n", 1)[0] for c in chunks if c.kind == "preamble"), "")
    with gr.Blocks(title="連携協約アシスタント", analytics_enabled=False) as demo:
        gr.HTML(HEADER, padding=False)
        with gr.Tabs(selected="chat") as tabs:
            with gr.Tab("質問する", id="chat"):
                chatbot = _chat_tab(service)
            with gr.Tab("役割分担（別表）", id="roles"):
                _roles_tab(service, chatbot, tabs, rows, sections, parties)
            with gr.Tab("協約書全文", id="agreement"):
                gr.HTML(agreement_html(chunks, sections, parties, title=title), elem_id="agreement", padding=True)
            if admins:
                review_tab(engine, admins, demo)
        _api(service)
    return demo


def _chat_tab(service: ChatService) -> gr.Chatbot:
    chatbot = gr.Chatbot(
        label="回答",
        show_label=False,
        elem_id="chat",
        height="calc(100vh - 330px)",
        min_height=420,
        buttons=["copy", "copy_all"],
        sanitize_html=True,
        allow_tags=False,
        feedback_options=("Like", "Dislike"),
        placeholder="協約書（久留米市と小郡市の連携協約）について質問してください。回答には必ず出典が付きます。",
        group_consecutive_messages=False,
        autoscroll=True,
    )
    with gr.Row(equal_height=True):
        question = gr.Textbox(
            placeholder="例: バスのことはどっちの市に聞けばいい？",
            show_label=False,
            scale=8,
            max_length=HARD_LIMIT,
            elem_id="question",
            autofocus=True,
        )
        send = gr.Button("質問する", variant="primary", scale=1, min_width=110, elem_id="send")
        clear = gr.Button("会話をクリア", scale=1, min_width=110)
    with gr.Row(visible=False, elem_id="comment-row") as comment_row:
        comment = gr.Textbox(label="この回答へのコメント（任意）", scale=8, max_length=2000)
        send_comment = gr.Button("コメントを送信", scale=1, min_width=110)
    rated = gr.State(None)  # (message index, rating) of this session's last 👍/👎

    @guarded
    def submit(text: str, chat: list[ChatMessage] | None) -> Iterator[tuple[list[ChatMessage], str]]:
        if not (text or "").strip():
            gr.Warning("質問を入力してください。")
            yield chat or [], ""
            return
        for value in service.reply(text, chat):
            yield value, ""

    @guarded
    def like(chat: list[ChatMessage], data: gr.LikeData) -> tuple[Any, Any]:
        rating = {True: "up", False: "down"}.get(data.liked) if isinstance(data.liked, bool) else None
        if rating is None:
            return gr.update(visible=False), None
        index = data.index if isinstance(data.index, int) else data.index[0]
        service.rate(chat, index, rating)
        gr.Info("評価を記録しました。よろしければコメントもお寄せください。")
        return gr.update(visible=True), (index, rating)

    @guarded
    def remark(chat: list[ChatMessage], text: str, last: tuple[int, str] | None) -> tuple[Any, str]:
        if last is None or not text.strip():
            gr.Warning("コメントを入力してください。")
            return gr.update(), text
        service.rate(chat, last[0], last[1], text)
        gr.Info("コメントを記録しました。ありがとうございました。")
        return gr.update(visible=False), ""

    private: dict[str, Any] = {"api_visibility": "private"}
    for event in (question.submit, send.click):
        event(submit, [question, chatbot], [chatbot, question], show_progress="minimal", **private)
    clear.click(lambda: ([], "", None), None, [chatbot, question, rated], **private)
    chatbot.like(like, [chatbot], [comment_row, rated], **private)
    send_comment.click(remark, [chatbot, comment, rated], [comment_row, comment], **private)
    _examples(submit, question, chatbot)
    return chatbot


def _examples(submit: Callable[..., Iterator[Any]], question: gr.Textbox, chatbot: gr.Chatbot) -> None:
    """One list of example questions per user group; choosing one asks it at once."""
    with gr.Row(elem_id="examples"):
        for group, samples in EXAMPLES:
            dataset = gr.Dataset(
                components=[question], samples=[[s] for s in samples], label=group, layout="table", samples_per_page=5
            )

            def pick(sample: Sequence[str] | str, chat: list[ChatMessage] | None) -> Iterator[Any]:
                text = sample[0] if isinstance(sample, list | tuple) else str(sample)
                yield from submit(text, chat)

            dataset.click(pick, [dataset, chatbot], [chatbot, question], api_visibility="private")


def _roles_tab(
    service: ChatService,
    chatbot: gr.Chatbot,
    tabs: gr.Tabs,
    rows: list[Any],
    sections: dict[str, Section],
    parties: tuple[tuple[str, str], ...],
) -> None:
    gr.Markdown(
        "別表（第3条関係）の取組ごとに、両市の役割を並べています。行の「チャットで説明」で、その取組をチャットで説明します。"
    )
    with gr.Row():
        keyword = gr.Textbox(label="キーワードで絞り込み", placeholder="例: 交通、子育て、観光", scale=3)
        city = gr.Radio([BOTH, *(name for _, name in parties)], value=BOTH, label="表示する市", scale=2)
    table = gr.HTML(role_table_html(rows, sections, parties), js_on_load=TABLE_JS, elem_id="role-table", padding=True)
    by_id = {r.id: r for r in rows}

    @guarded
    def refilter(word: str, shown: str) -> str:
        return role_table_html(rows, sections, parties, keyword=word or "", city="" if shown == BOTH else shown)

    @guarded
    def explain(chat: list[ChatMessage] | None, evt: gr.EventData) -> Iterator[tuple[Any, Any]]:
        row = by_id.get(str(getattr(evt, "row", "") or ""))
        if row is None:
            yield gr.update(), gr.update()
            return
        for value in service.reply(row_question(row, parties), chat, standalone=True):
            yield value, gr.Tabs(selected="chat")

    for event in (keyword.change, city.change):
        event(refilter, [keyword, city], [table], show_progress="hidden", api_visibility="private")
    table.click(explain, [chatbot], [chatbot, tabs], api_visibility="private")


def _api(service: ChatService) -> None:
    def ask(question: str, history: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """Answer a question about the agreement; `history` is [{"role": "user"|"assistant", "content": ...}].

        Returns the same object as `assistant ask --json`, or {"error": ...} for input that cannot be used.
        """
        try:
            return service.api_ask(question, history)
        except Exception:
            log.exception("the ask endpoint failed")
            return {"error": "internal error: the question could not be answered; please try again"}

    gr.api(ask, api_name="ask")


def load_engine(settings: Settings, *, progress: Callable[[int, int], None] | None = None) -> Engine:
    """The engine over the index, building the index first if there is none yet."""
    try:
        return Engine.load(settings)
    except IndexMissingError:
        from assistant.ingestion import ingest

        print("索引がまだないので作成します（no index yet: building it）…", file=sys.stderr, flush=True)
        report = ingest(settings, progress=progress or (lambda done, total: None))
        print(report.summary(), file=sys.stderr, flush=True)
        return Engine.load(settings)


def serve(settings: Settings, *, progress: Callable[[int, int], None] | None = None) -> int:
    auth = logins(settings.auth, settings.auth_file)
    engine = load_engine(settings, progress=progress)
    if settings.admins and not auth:
        print(
            "ASSISTANT_ADMINS is ignored: the 管理 tab needs a login (ASSISTANT_AUTH or --auth-file)", file=sys.stderr
        )
    demo = build_app(engine, admins=settings.admins if auth else ())
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        auth=auth,
        auth_message="連携協約アシスタントにログインしてください。" if auth else None,
        share=False,
        show_error=False,
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        enable_monitoring=False,
        footer_links=["api"],
        theme=theme(),
        css=CSS,
        head=HEAD,
        app_kwargs={"routes": api_routes(ChatService(engine), auth)},  # /api/*, ahead of Gradio's own routes
    )
    return 0
