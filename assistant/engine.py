"""The engine every interface shares: question (+ history) → Plan → checked, cited Answer."""

from __future__ import annotations

import copy
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from assistant import overlay
from assistant.answer import Answerer, Draft, Plan, TemplateAnswerer, annotate
from assistant.embed import Embedder, embedder_id, load_embedder
from assistant.errors import AssistantError
from assistant.glossary import Glossary, load_glossary
from assistant.index import IndexReader, open_index
from assistant.normalize import fold
from assistant.query import Query, analyze, kana_only, party_aliases
from assistant.retrieve import GENERIC_TERMS, Mode, Retriever, Scored
from assistant.settings import Settings
from assistant.types import Answer, Chunk, Citation, Message

_QUOTED = re.compile(r"「[^「」]*(?:「[^「」]*」[^「」]*)*」")
_MIN_DENSE = 0.86  # e5 cosine below which a question with no shared content word is taken as off-topic


@dataclass(frozen=True)
class Options:
    """Switches for ablations; the product runs with the defaults."""

    mode: Mode = "hybrid"
    glossary: bool = True
    routes: bool = True


class Engine:
    def __init__(
        self,
        settings: Settings,
        index: IndexReader,
        embedder: Embedder,
        *,
        answerer: Answerer | None = None,
        options: Options = Options(),
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.answerer = answerer or TemplateAnswerer()
        self.options = options
        self.glossary: Glossary = load_glossary()
        self._lock = threading.Lock()
        self._use(index)
        self._overlay_stamp, self._overlay_checked = (-1, -1), 0.0
        self._refresh_overlay(every=0)

    @classmethod
    def load(cls, settings: Settings, **kwargs: object) -> Engine:
        embedder = load_embedder(settings)
        if settings.llm and "answerer" not in kwargs:
            from assistant.llm import load_answerer

            kwargs["answerer"] = load_answerer(settings.llm)
        return cls(settings, open_index(settings, embedder_id(settings)), embedder, **kwargs)  # type: ignore[arg-type]

    def _use(self, index: IndexReader) -> None:
        """Build everything for `index` first, then swap it in under the lock in one step."""
        retriever = Retriever(index, self.embedder)
        agreements: dict[str, dict[str, Chunk]] = {}
        for chunk in index.chunks:
            agreements.setdefault(str(chunk.metadata.get("agreement", "")), {})[chunk.local_id] = chunk
        names = {slug: _party_names(units) for slug, units in agreements.items()}
        aliases = party_aliases({})
        for by_mark in names.values():
            for mark, words in party_aliases(by_mark).items():
                aliases[mark] = tuple(dict.fromkeys([*aliases.get(mark, ()), *words]))
        sources = {c.id: c for c in index.chunks}
        default = next(iter(agreements.values()), {})
        with self._lock:
            self.index, self.retriever, self.sources = index, retriever, sources
            self.agreements, self.names, self.aliases, self.by_local = agreements, names, aliases, default

    def refresh(self, *, every: float = 2.0) -> None:
        """Pick up a re-ingest: swap in the new snapshot whole, so a query sees old or new, never a mix.

        Also picks up staff glossary changes. Both are checked at most every `every` seconds."""
        self._refresh_overlay(every=every)
        if not self.index.changed(every=every):
            return
        try:
            index = open_index(self.settings, embedder_id(self.settings))
        except AssistantError:
            return  # the new index is unusable (being rebuilt, other embedder): keep serving this one
        self._use(index)

    # --- public API ------------------------------------------------------------------------------

    def ask(self, question: str, history: Sequence[Message] = ()) -> Answer:
        self.refresh()
        with self._lock:
            snapshot = copy.copy(self)  # one index for the whole question, even if a refresh swaps mid-way
        return snapshot._answer(question, history)

    def retrieve(self, question: str, history: Sequence[Message] = (), *, k: int | None = None) -> list[Chunk]:
        """The units the engine would ground an answer on, best first, scoped to the partner the question names.

        Empty when the engine would refuse (off-topic, out of scope, an instruction instead of a question)."""
        self.refresh()
        with self._lock:
            snapshot = copy.copy(self)
        return snapshot._units(question, history, k=k or self.settings.top_k)

    def _units(self, question: str, history: Sequence[Message], *, k: int) -> list[Chunk]:
        limit = self.settings.max_question_chars
        query = self._read_kana(analyze(question, self.glossary, limit=limit, aliases=self.aliases))
        self._scope(query)
        if not query.text or query.injection or query.out_of_scope:
            return []
        context = self._with_history(query, history)
        ranked = self._retrieve(context, k=k)
        return [s.chunk for s in ranked] if ranked and self._on_topic(context, ranked[0]) else []

    def _answer(self, question: str, history: Sequence[Message]) -> Answer:
        started = time.perf_counter()
        query = self._read_kana(
            analyze(question, self.glossary, limit=self.settings.max_question_chars, aliases=self.aliases)
        )
        self._scope(query)
        plan, ranked = self.plan(query, history)
        draft = self.answerer.compose(plan)
        citations = self._checked_citations(plan, draft)
        if draft.quotes and not citations and plan.kind not in ("refusal", "not_provided", "no_article"):
            plan = replace(plan, kind="refusal", chunks=())
            draft, citations = self.answerer.compose(plan), ()
        notices = (
            (f"質問が長すぎるため、先頭の{self.settings.max_question_chars}文字だけを使いました。",)
            if query.truncated
            else ()
        )
        return Answer(
            question=query.text,
            text=draft.text,
            citations=citations,
            refused=plan.kind in ("refusal", "injection", "not_provided", "no_article", "unknown_party", "empty"),
            language=query.language,
            latency_ms=(time.perf_counter() - started) * 1000,
            notices=notices,
            ranked=tuple(s.chunk.id for s in ranked),
        )

    # --- staff overlay (assistant/overlay.py) ------------------------------------------------------------

    def _refresh_overlay(self, *, every: float = 2.0) -> None:
        """Staff additions in the data dir join the glossary without a restart (file checked at most every `every` s)."""
        started = time.monotonic()
        if started - self._overlay_checked < every:
            return
        self._overlay_checked = started
        seen = overlay.stamp(self.settings)
        if seen == self._overlay_stamp:
            return
        glossary = overlay.with_overlay(load_glossary(), overlay.load_overlay(self.settings))
        with self._lock:
            self.glossary, self._overlay_stamp = glossary, seen

    # --- planning ----------------------------------------------------------------------------------

    def plan(self, query: Query, history: Sequence[Message] = ()) -> tuple[Plan, list[Scored]]:
        parties = self._parties(query)
        if not query.text:
            return Plan("empty", query, parties=parties), []
        if query.injection:
            return Plan("injection", query, parties=parties), []
        if topic := query.out_of_scope:
            return Plan("refusal", query, parties=parties, detail=topic.ask, pointer=self._local(topic.pointer)), []
        if topic := query.not_provided:
            return Plan(
                "not_provided", query, parties=parties, detail=topic.what, pointer=self._local(topic.pointer)
            ), []
        if query.unknown_party:
            return Plan(
                "unknown_party", query, parties=parties, detail=query.unknown_party, pointer=self._local("preamble")
            ), []
        context = self._with_history(query, history)
        if self.options.routes and (routed := self._route(context, parties)):
            return routed, list(routed_scores(routed))
        ranked = self._retrieve(context, k=self.settings.top_k)
        if self.options.routes and (listed := self._table(context, parties, ranked)):
            return listed, ranked
        if not ranked or not self._on_topic(context, ranked[0]):
            return Plan("refusal", query, parties=parties), ranked
        return self._plan_for(ranked[0].chunk, query, parties), ranked

    def _with_history(self, query: Query, history: Sequence[Message]) -> Query:
        """A follow-up (「じゃあ小郡市の役割は？」) is read together with the last question asked."""
        previous = next((m.content for m in reversed(history) if m.role == "user" and m.content.strip()), "")
        if not previous or not (query.followup or not self._has_topic(query)):
            return query
        replied = next((m.content for m in reversed(history) if m.role == "assistant"), "")
        replied = _QUOTED.sub("", replied)[:300]  # its labels carry the topic; its quotations would mislead
        combined = analyze(
            f"{previous} {replied} {query.text}",
            self.glossary,
            limit=self.settings.max_question_chars * 3,
            aliases=self.aliases,
        )
        return replace(
            combined,
            text=query.text,
            language=query.language,
            parties=query.parties or combined.parties,
            closing=query.closing or combined.closing,
        )

    def _route(self, query: Query, parties: tuple[tuple[str, str], ...]) -> Plan | None:
        """Questions that name structure go straight to it, not through top-k luck."""
        if query.listing and query.item and "別表" in query.text:
            return self._section_of_item(query, parties)
        if query.count:
            units = [c for c in self.by_local.values() if c.kind in ("article", "annex_row")]
            return Plan("outline", query, tuple(units), parties)
        if query.which_article and "別表" in query.text:
            article = next((c for c in self.by_local.values() if c.kind == "article" and "別表" in c.text), None)
            return Plan("article", query, (article,), parties) if article else None
        if query.article is not None or (query.item and "基本方針" in query.search_text):
            return self._article_plan(query, parties)
        if query.section and (query.listing or "-" not in query.section or "分野" in query.text):
            rows = [c for c in self._rows() if str(c.metadata.get("section", "")).startswith(query.section)]
            if rows and (query.listing or not query.parties):
                return self._listing(query, parties, rows, f"別表 {rows[0].metadata.get('marker', '')} の取組:")
        if query.definition:
            return Plan("preamble", query, (self._local("preamble"),), parties)
        if query.name:
            return Plan("title", query, (self._local("preamble"),), parties)
        if query.legal and not query.closing:
            return Plan("legal", query, (self._local("preamble"),), parties)
        if query.closing:
            return Plan("closing", query, (self._local("closing"),), parties)
        return None

    def _section_of_item(self, query: Query, parties: tuple[tuple[str, str], ...]) -> Plan | None:
        """「基本方針の2番目は別表でどんな取組？」: the 別表 section whose heading carries that item's words."""
        item = self._local(f"art-2-{query.item}")
        rows = [c for c in self._rows() if item and item.text in c.embed_text]
        return self._listing(query, parties, rows, f"「{item.text}」に関する別表の取組:") if item and rows else None

    def _article_plan(self, query: Query, parties: tuple[tuple[str, str], ...]) -> Plan:
        number = query.article or 2
        article = self._local(f"art-{number}")
        if article is None:
            return Plan("no_article", query, parties=parties, detail=f"第{number}条")
        if query.item is None:
            return Plan("article", query, (article,), parties)
        item = self._local(f"art-{number}-{query.item}")
        if item is None:
            return Plan("no_article", query, parties=parties, detail=f"第{number}条第{query.item}号")
        return Plan("item", query, (item, article), parties)

    def _table(self, query: Query, parties: tuple[tuple[str, str], ...], ranked: list[Scored]) -> Plan | None:
        """Whole-table questions: everything one city does, or where the roles are the same or differ."""
        rows = self._rows()
        if query.same_roles or query.different_roles:
            same = [c for c in rows if _cells(c)[1] == _cells(c)[2]]
            picked = same if query.same_roles else [c for c in rows if c not in same]
            what = "両市の役割が同じ文言の取組" if query.same_roles else "両市の役割が異なる取組"
            return self._listing(query, parties, picked, f"{what}（別表）:")
        if query.listing and query.parties:
            city = parties[0][1]
            return self._listing(query, parties[:1], rows, f"別表に定める{city}の役割（全{len(rows)}項目）:")
        if query.listing and ranked:
            top = ranked[0].lexical
            picked = [s.chunk for s in ranked if s.chunk.kind == "annex_row" and top and s.lexical >= top * 0.6]
            if len(picked) > 1:
                return self._listing(query, (), picked, "関係する取組（別表）:")
        return None

    def _listing(self, query: Query, parties: tuple[tuple[str, str], ...], rows: list[Chunk], title: str) -> Plan:
        return Plan("listing", query, tuple(rows), parties, detail=title)

    def _plan_for(self, chunk: Chunk, query: Query, parties: tuple[tuple[str, str], ...]) -> Plan:
        if chunk.id.split("/", 1)[0] != self.scope:  # retrieval found it in another agreement: answer in its terms
            self.scope, self.by_local = chunk.id.split("/", 1)[0], self.agreements[chunk.id.split("/", 1)[0]]
            parties = self._parties(query)
        kind = {"annex_row": "row", "article": "article", "preamble": "preamble", "closing": "closing"}.get(chunk.kind)
        if kind is None:  # an item: show it with its article
            article = self._local(f"art-{chunk.metadata.get('article')}") or chunk
            return Plan("item", query, (chunk, article), parties)
        return Plan(kind, query, (chunk,), parties)  # type: ignore[arg-type]

    def _retrieve(self, query: Query, *, k: int) -> list[Scored]:
        text = query.search_text if self.options.glossary else fold(query.text)
        if not self.named:
            return self.retriever.search(text, kana=kana_only(query), mode=self.options.mode, k=k)
        found = self.retriever.search(text, kana=kana_only(query), mode=self.options.mode, k=k * len(self.agreements))
        return [s for s in found if s.chunk.id.startswith(f"{self.scope}/")][:k]

    def _read_kana(self, query: Query) -> Query:
        """しちょうのなまえ → also read as 市長 (from the corpus's own readings), so routes see the words."""
        if not kana_only(query):
            return query
        words = self.retriever.lexical.from_reading(query.text)
        if not words:
            return query
        limit = self.settings.max_question_chars * 2
        read = analyze(f"{query.text} {' '.join(words)}", self.glossary, limit=limit, aliases=self.aliases)
        return replace(read, raw=query.raw, text=query.text, truncated=query.truncated)

    def _scope(self, query: Query) -> None:
        """Which agreement a question is about: the one whose partner it names, else the first.

        Called on the per-question snapshot (see `ask`), so setting attributes here is safe."""
        self.scope = next(iter(self.agreements), "")
        self.named = False
        if len(self.agreements) > 1:
            text = query.search_text
            for slug, names in self.names.items():
                if any(alias in text for alias in party_aliases({"乙": names.get("乙", "")}).get("乙", ())[1:]):
                    self.scope, self.named = slug, True
                    break
        self.by_local = self.agreements.get(self.scope, {})

    def _rows(self) -> list[Chunk]:
        return [c for c in self.by_local.values() if c.kind == "annex_row"]

    def _has_topic(self, query: Query) -> bool:
        """Whether the question names something the agreement's own words cover (beyond generic words)."""
        content = set(self.retriever.query_lemmas(query.search_text, kana=kana_only(query))) - GENERIC_TERMS
        meaningful = {t for t in content if not t.isdigit() and (len(t) > 1 or not t.isascii())}
        return bool(meaningful & self.retriever.lexical.vocabulary)

    def _on_topic(self, query: Query, top: Scored) -> bool:
        return self._has_topic(query) or top.dense >= _MIN_DENSE

    def _parties(self, query: Query) -> tuple[tuple[str, str], ...]:
        """(mark, city) pairs, the asked city first; names come from the preamble, not from code."""
        cities = _party_names(self.by_local)
        order = [*query.parties, *(m for m in ("甲", "乙") if m not in query.parties)]
        return tuple((m, cities[m]) for m in order if m in cities)

    def _local(self, local_id: str) -> Chunk | None:
        return self.by_local.get(local_id) if local_id else None

    # --- grounding check ---------------------------------------------------------------------------

    def _checked_citations(self, plan: Plan, draft: Draft) -> tuple[Citation, ...]:
        """Cite a unit only if every quotation attributed to it is found in that unit's source text."""
        quoted: dict[str, list[str]] = {}
        for chunk_id, words in draft.quotes:
            quoted.setdefault(chunk_id, []).append(words)
        citations = []
        for chunk_id, words in quoted.items():
            source = self.sources.get(chunk_id)
            if source is None:
                continue
            haystack = fold(source.text) + "\n" + fold(annotate(source.text, plan.parties))
            if all(fold(w) in haystack for w in words):
                citations.append(Citation(source.id, source.label, source.kind, source.text))
        return tuple(citations)


def _party_names(units: dict[str, Chunk]) -> dict[str, str]:
    preamble = units.get("preamble")
    if preamble is None:
        return {}
    return {"甲": str(preamble.metadata.get("kou", "")), "乙": str(preamble.metadata.get("otsu", ""))}


def routed_scores(plan: Plan) -> list[Scored]:
    return [Scored(c, 1.0, 0.0, 0.0) for c in plan.chunks]


def _cells(chunk: Chunk) -> list[str]:
    return [line.split("：", 1)[1] for line in chunk.text.split("\n")]
