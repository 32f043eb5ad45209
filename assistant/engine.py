"""The engine every interface shares: question (+ history) → Query → Plan → checked, cited Answer.

One path per question: `query.analyze` understands it (once), the planner picks the units, the answerer
words them, and every quotation is checked against its unit before the citation is shown.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import jaconv

from assistant import overlay
from assistant.answer import Answerer, Draft, Plan, TemplateAnswerer
from assistant.calibration import load_calibration
from assistant.chunks import annotate
from assistant.embed import Embedder, embedder_id, load_embedder
from assistant.errors import AssistantError
from assistant.frame import GENERIC_TERMS
from assistant.glossary import EMPTY_GLOSSARY, Glossary, load_glossary
from assistant.index import IndexReader, open_index
from assistant.normalize import fold
from assistant.planner import Planner, Scope
from assistant.query import Lexicon, Query, analyze, party_aliases
from assistant.retrieve import Mode, Retriever, Scored
from assistant.settings import Settings
from assistant.synonyms import SynonymMap
from assistant.tokenize import Readings, terms, tokens
from assistant.types import Answer, Chunk, Citation, Message, Outcome
from assistant.word_tables import READINGS, SYNONYMS, stored_readings

_QUOTED = re.compile(r"「[^「」]*(?:「[^「」]*」[^「」]*)*」")
_UNITS = ("preamble", "article", "item", "closing", "annex_row")
_REFUSED = frozenset({"refusal", "injection", "not_provided", "no_article", "unknown_party", "empty"})


@dataclass(frozen=True)
class Options:
    """Switches for ablations; the product runs with the defaults."""

    mode: Mode = "hybrid"
    glossary: bool = True  # the hand glossary (domain synonyms, corrections, where-to-ask topics)
    synonyms: bool = True  # the Sudachi synonym dictionary
    routes: bool = True
    cascade: bool = True  # skip the query embedding when the words settle the ranking (retrieve.Retriever)


@dataclass(frozen=True)
class State:
    """Everything built from one index snapshot; swapped whole on refresh, so a question sees one index."""

    index: IndexReader
    retriever: Retriever
    scopes: dict[str, Scope]
    lexicon: Lexicon
    sources: dict[str, Chunk]


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
        self.glossary: Glossary = load_glossary() if options.glossary else EMPTY_GLOSSARY
        self.calibration = load_calibration()
        self._lock = threading.Lock()
        self._overlay_stamp, self._overlay_checked = overlay.stamp(settings), time.monotonic()
        if options.glossary:
            self.glossary = overlay.with_overlay(self.glossary, overlay.load_overlay(settings))
        self.state = self._build(index)

    @classmethod
    def load(cls, settings: Settings, **kwargs: object) -> Engine:
        embedder = load_embedder(settings)
        if settings.llm and "answerer" not in kwargs:
            from assistant.llm import load_answerer

            kwargs["answerer"] = load_answerer(settings.llm)
        return cls(settings, open_index(settings, embedder_id(settings)), embedder, **kwargs)  # type: ignore[arg-type]

    # Read-only views the app uses.
    @property
    def index(self) -> IndexReader:
        return self.state.index

    @property
    def sources(self) -> dict[str, Chunk]:
        return self.state.sources

    @property
    def lexicon(self) -> Lexicon:
        return self.state.lexicon

    def _build(self, index: IndexReader) -> State:
        retriever = Retriever(index, self.embedder)
        units: dict[str, dict[str, Chunk]] = {}
        for chunk in index.chunks:
            units.setdefault(str(chunk.metadata.get("agreement", "")), {})[chunk.local_id] = chunk
        scopes = {slug: Scope(slug, by_id, _party_names(by_id)) for slug, by_id in units.items()}
        aliases: dict[str, tuple[str, ...]] = {}
        for scope in scopes.values():
            for mark, words in party_aliases(dict(scope.parties)).items():
                aliases[mark] = tuple(dict.fromkeys([*aliases.get(mark, ()), *words, *_spoken(words[1])]))
        partners = tuple(
            (slug, tuple(dict.fromkeys([*party_aliases({"乙": name})["乙"][1:], *_spoken(name)])))
            for slug, scope in scopes.items()
            if (name := dict(scope.parties).get("乙"))
        )
        stored = index.table(SYNONYMS)
        synonyms = SynonymMap.from_json(stored) if self.options.synonyms and stored else None
        known = [*retriever.lexical.vocabulary, *self.glossary.keys, *(synonyms.keys if synonyms else ())]
        lexicon = Lexicon(
            self.glossary,
            aliases,
            Readings(known, stored_readings(index.table(READINGS))).read,
            synonyms.expand if synonyms else Lexicon.expand,
            partners if len(scopes) > 1 else (),
        )
        return State(index, retriever, scopes, lexicon, {c.id: c for c in index.chunks})

    def refresh(self, *, every: float = 2.0) -> None:
        """Pick up a re-ingest or staff glossary changes (each checked at most every `every` s): the new
        snapshot is built aside and swapped in whole, so a question sees old or new, never a mix."""
        index = self.state.index
        if index.changed(every=every):
            # A new index that is unusable (being rebuilt, other embedder) leaves this one serving.
            with contextlib.suppress(AssistantError):
                index = open_index(self.settings, embedder_id(self.settings))
        glossary = self._staff_glossary(every=every)
        if index is self.state.index and glossary is None:
            return
        with self._lock:
            self.glossary = glossary or self.glossary
            self.state = self._build(index)

    def _staff_glossary(self, *, every: float) -> Glossary | None:
        """The packaged glossary plus staff additions (assistant/overlay.py), when those changed; else None."""
        now = time.monotonic()
        if not self.options.glossary or now - self._overlay_checked < every:
            return None
        self._overlay_checked = now
        seen = overlay.stamp(self.settings)
        if seen == self._overlay_stamp:
            return None
        self._overlay_stamp = seen
        return overlay.with_overlay(load_glossary(), overlay.load_overlay(self.settings))

    # --- public API ------------------------------------------------------------------------------

    def ask(self, question: str, history: Sequence[Message] = ()) -> Answer:
        self.refresh()
        started = time.perf_counter()
        state = self.state
        query = self.understand(question, history, state)
        plan, ranked = self._plan(query, state)
        draft = self.answerer.compose(plan)
        citations = _checked_citations(plan, draft, state.sources)
        if draft.quotes and not citations and plan.kind not in _REFUSED:
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
            outcome=_outcome(plan),
            language=query.language,
            latency_ms=(time.perf_counter() - started) * 1000,
            notices=notices,
            ranked=tuple(s.chunk.id for s in ranked),
        )

    def retrieve(self, question: str, history: Sequence[Message] = (), *, k: int | None = None) -> list[Chunk]:
        """The units the engine would ground an answer on, best first, scoped to the partner the question names.

        Empty when the engine would refuse (off-topic, an instruction instead of a question)."""
        self.refresh()
        state = self.state
        query = self.understand(question, history, state)
        plan, ranked = self._plan(query, state)
        if _outcome(plan) == "refusal":
            return []
        k = k or self.settings.top_k
        found = {
            c.id: c for c in [*plan.chunks, *(s.chunk for s in ranked)] if c.kind != "section" or plan.kind == "listing"
        }
        if len(found) < k and (scope := _scope(query, state)):  # a route or the cascade ranked fewer: fill up
            more = state.retriever.search(query.search_text, k=k, agreement=scope.slug, kinds=_UNITS, cascade=False)
            found |= {s.chunk.id: s.chunk for s in more if s.chunk.id not in found}
        return list(found.values())[:k]

    # --- understanding ------------------------------------------------------------------------------

    def understand(self, question: str, history: Sequence[Message], state: State) -> Query:
        """The question as one Query; one with no topic of its own, or asking to repeat, is read with the last one."""
        limit = self.settings.max_question_chars
        query = analyze(question, state.lexicon, limit=limit)
        previous = next((m.content for m in reversed(history) if m.role == "user" and m.content.strip()), "")
        if query.relative_article and query.article is None and previous:  # 「次の条文は？」 after 第1条
            last = analyze(previous, state.lexicon, limit=limit).article
            if last and last + query.relative_article >= 1:  # before 第1条 there is none: read as a follow-up
                return replace(query, article=last + query.relative_article)
        if not previous or not query.text or query.provision or (_has_topic(query, state) and not query.again):
            return query  # a provision asked about (「書いてないことが出てきたら？」) is a whole topic of its own
        replied = next((m.content for m in reversed(history) if m.role == "assistant"), "")
        replied = _QUOTED.sub("", replied)[:300]  # its labels carry the topic; its quotations would mislead
        combined = analyze(f"{previous} {replied} {query.text}", state.lexicon, limit=limit * 3)
        # The topic (words, article, section) may come from the history; the shape is this question's own.
        return replace(
            query,
            search_text=combined.search_text,
            expansions=combined.expansions,
            article=query.article or combined.article,
            item=query.item or combined.item,
            section=query.section or combined.section,
            parties=query.parties or combined.parties,
            closing=query.closing or combined.closing,
            partner=query.partner or combined.partner,
        )

    # --- planning -------------------------------------------------------------------------------------

    def _plan(self, query: Query, state: State) -> tuple[Plan, list[Scored]]:
        scope = _scope(query, state)
        if scope is None:  # several agreements and the question names no partner: ask which one
            return self._which_partner(query, state), []

        def search(q: Query, *, k: int, kinds: tuple[str, ...] | None, lexical_only: bool = False) -> list[Scored]:
            text = q.search_text if self.options.glossary or self.options.synonyms else fold(q.text)
            kinds = kinds or ((*_UNITS, "section") if q.listing else _UNITS)  # headings only answer listings
            mode: Mode = "lexical" if lexical_only else self.options.mode
            expansions = q.expansions if text == q.search_text else ()
            return state.retriever.search(
                text,
                mode=mode,
                k=k,
                agreement=scope.slug,
                kinds=kinds,
                cascade=self.options.cascade,
                expansions=expansions,
                quotes=q.quotes,
            )

        planner = Planner(scope, search, self.calibration, self.options.routes, self.options.glossary)
        return planner.plan(query)

    def _which_partner(self, query: Query, state: State) -> Plan:
        names = [name for _, (name, *_) in state.lexicon.partners]
        return Plan("which_partner", query, detail="、".join(names))


def _scope(query: Query, state: State) -> Scope | None:
    if query.partner:
        return state.scopes[query.partner]
    if len(state.scopes) == 1:
        return next(iter(state.scopes.values()))
    return None if query.text and not query.injection else next(iter(state.scopes.values()))


def _has_topic(query: Query, state: State) -> bool:
    """Whether a question names something of its own (a structure, or a word the agreement covers)."""
    if query.article or query.section or query.closing or query.provision or query.expansions:
        return True
    content = set(terms(query.search_text)) - GENERIC_TERMS
    meaningful = {t for t in content if not t.isdigit() and len(t) > 1}  # 的, 等, 市: parts of words, not topics
    return bool(meaningful & state.retriever.lexical.vocabulary)


def _outcome(plan: Plan) -> Outcome:
    """A false premise corrected (no 第7条, 大川市 is no party) is an answer: what was asked is settled, as "no"."""
    if (plan.kind == "no_article" or plan.premise) and plan.pointer is not None:
        return "answer"  # with the provision the question is really about
    if plan.kind in ("nearest", "which_partner", "not_provided") or (plan.kind == "closing" and plan.query.current):
        return "nearest"
    return "refusal" if plan.kind in _REFUSED else "answer"


def _spoken(name: str) -> list[str]:
    """小郡市 → おごおり, ogoori, ogori: how people type a city's name without its kanji."""
    stem = name.removesuffix("市").removesuffix("町").removesuffix("村")
    kana = jaconv.kata2hira("".join(t.reading for t in tokens(stem)))
    if not kana:
        return []
    romaji = jaconv.kana2alphabet(kana)
    plain = re.sub(r"([aiueo])\1|ou", lambda m: m.group(0)[0], romaji)  # ogoori → ogori (long vowels dropped)
    return [w for w in dict.fromkeys([kana, romaji, plain]) if len(w) >= 3]


def _party_names(units: dict[str, Chunk]) -> tuple[tuple[str, str], ...]:
    preamble = units.get("preamble")
    if preamble is None:
        return ()
    return (("甲", str(preamble.metadata.get("kou", ""))), ("乙", str(preamble.metadata.get("otsu", ""))))


def _checked_citations(plan: Plan, draft: Draft, sources: dict[str, Chunk]) -> tuple[Citation, ...]:
    """Cite a unit only if every quotation attributed to it is found in that unit's source text."""
    quoted: dict[str, list[str]] = {}
    for chunk_id, words in draft.quotes:
        quoted.setdefault(chunk_id, []).append(words)
    citations = []
    for chunk_id, words in quoted.items():
        source = sources.get(chunk_id)
        if source is None:
            continue
        haystack = fold(source.text) + "\n" + fold(annotate(source.text, plan.parties))
        if all(fold(w) in haystack for w in words):
            citations.append(Citation(source.id, source.label, source.kind, source.text))
    return tuple(citations)
