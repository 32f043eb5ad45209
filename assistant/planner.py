"""Query → Plan: structural routes first, then retrieval and an evidence decision (answer / nearest / refuse).

A plan names the kind of answer and the units it rests on; wording is the answerer's job. Everything here
reads one agreement's units (`Scope`), chosen from the partner the question names.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from assistant.answer import Plan
from assistant.calibration import Calibration
from assistant.chunks import row_cells
from assistant.frame import GENERIC_TERMS
from assistant.normalize import fold
from assistant.query import Query, without_articles, without_provision, without_section
from assistant.retrieve import Scored
from assistant.tokenize import terms
from assistant.types import Chunk

Search = Callable[..., list[Scored]]  # (query, *, k, kinds) → ranked units of the scope
# Facts a unit can hold, found in its own text: what a question asking for that kind of fact needs.
_HOLDS = {
    "date": ("年", "月", "日"),
    "place": ("番地", "県"),
    "amount": ("円",),
    "time": ("時",),
    "contact": ("電話",),
    "count": tuple("0123456789"),
    "people": ("市長",),  # the closing block names the two mayors who signed, and nobody else is named
}


@dataclass(frozen=True)
class Scope:
    """The units of one agreement, by local id in document order (the index is read sorted by it), and its
    parties as (mark, city)."""

    slug: str
    units: dict[str, Chunk]
    parties: tuple[tuple[str, str], ...]

    def unit(self, local_id: str) -> Chunk | None:
        return self.units.get(local_id) if local_id else None

    def of_kind(self, *kinds: str) -> list[Chunk]:
        return [c for c in self.units.values() if c.kind in kinds]


def ordered_parties(scope: Scope, query: Query) -> tuple[tuple[str, str], ...]:
    """(mark, city), the asked city first."""
    order = [*query.parties, *(m for m in ("甲", "乙") if m not in query.parties)]
    cities = dict(scope.parties)
    return tuple((m, cities[m]) for m in order if m in cities)


@dataclass(frozen=True)
class Planner:
    scope: Scope
    search: Search
    calibration: Calibration
    routes: bool = True
    refusal_topics: bool = True

    def plan(self, query: Query) -> tuple[Plan, list[Scored]]:
        parties = ordered_parties(self.scope, query)
        if not query.text:
            return Plan("empty", query, parties=parties), []
        if query.listing and not query.asks_for and self._unwritten(_LISTED.search(query.text)):
            query = replace(query, asks_for="roster")
        if not query.asks_for and self._unwritten(named := _NAMED_THING.search(query.text)):
            # The address or name asked is that thing's, not the signatories' in the closing block.
            kind = _named_kind(named)
            query = replace(query, asks_for=kind, closing=query.closing if kind == "people" else ())
        if query.injection:
            return Plan("injection", query, parties=parties), []
        if self.refusal_topics and (topic := query.not_provided):
            lacking = query.article and self.scope.unit(f"art-{query.article}") is None
            pointer, premise = self.scope.unit(topic.pointer), f"第{query.article}条" if lacking else ""
            return Plan("not_provided", query, parties=parties, detail=topic.what, pointer=pointer, premise=premise), []
        if query.unknown_party:
            return Plan(
                "unknown_party",
                query,
                parties=parties,
                detail=query.unknown_party,
                pointer=self.scope.unit("preamble"),
                premise=query.unknown_party if query.claims_party else "",
            ), []
        if self.routes and (routed := self._route(query, parties)):
            return self._capped(routed), [Scored(c, 1.0, 0.0, 0.0) for c in routed.chunks]
        if not (query.asks_for or query.which_article) and self._unwritten(which := _WHICH.search(query.text)):
            query = replace(query, asks_for="place" if which and which.group(2) == "どこ" else "roster")
        kinds = None
        if self.routes and query.provision and not (query.provision == "目的" and self._has_row_topic(query)):
            if headed := self._headed(query.provision):
                return Plan("article", query, (headed,), parties), [Scored(headed, 1.0, 0.0, 0.0)]
            query = replace(query, search_text=f"{query.search_text} {query.provision}", which_article=True)
        if self.routes and query.which_article:  # 「どこに書かれて」: the articles, or the 別表 when it is named
            # Asked where, not which article (「…はどこに書いてある？」), an activity of the 別表 is found in its row.
            where = not _ARTICLE_ASKED.search(query.text)
            in_annex = where and (query.annex or self._row_topic(query) is not None)
            kinds = ("annex_row", "section") if in_annex else ("article", "item")
            if not in_annex and (governing := self._governing_article(query)):
                return Plan("article", query, (governing,), parties), [Scored(governing, 1.0, 0.0, 0.0)]
        ranked = self.search(query, k=8, kinds=kinds)
        unsettled = bool(query.asks_for) and bool(ranked) and not _holds(ranked[0].chunk, query.asks_for)
        if self.routes and not unsettled and (shaped := self._shaped(query, parties, ranked)):
            return shaped, ranked
        return self._decide(query, parties, ranked), ranked

    # --- structure named in the question ------------------------------------------------------------

    def _route(self, query: Query, parties: tuple[tuple[str, str], ...]) -> Plan | None:
        if query.item and query.annex and (section := self._section_of_item(query)):
            return self._section_listing(query, parties, section)
        if query.comparison and len(query.articles) >= 2:
            pair = [self.scope.unit(f"art-{n}") for n in query.articles[:2]]
            if all(pair):
                return Plan("comparison", query, tuple(c for c in pair if c), parties)
        if query.article is not None or (query.item and "基本方針" in query.search_text):
            return self._article_plan(query, parties)
        counting = query.count or query.asks_for == "count"
        if counting and (article := self._named_article(query)):  # 「基本方針はいくつ？」: the article lists them
            return Plan("article", query, (article,), parties)
        if query.stated and not query.count and query.section is None and (article := self._lists(query.stated)):
            return Plan("article", query, (article,), parties)  # 「3つの柱は？」: the article with three items
        # 「全部で何条？」「各条の見出しを全部」: the articles as a set, counted or listed, open with how many.
        articles = (query.count or query.listing) and _ARTICLES.search(query.text)
        if articles or (query.count and not query.listing) or (query.overview and not query.expansions):
            outline = tuple(self.scope.of_kind("article", "annex_row"))
            return Plan("outline", query, outline, parties, detail="articles" if articles else "")
        # 「それは第何条？」 after a 別表 answer asks for the article, not the section.
        if query.section and not query.comparison and not query.which_article:
            section = self.scope.unit(f"section-{query.section}")
            area = "-" not in query.section or "分野" in query.text  # an area, or a field called one
            if section and (query.listing or (area and not query.parties) or not self._names_a_row(query)):
                return self._section_listing(query, parties, section)
        if query.listing and query.annex and not query.section and not self._names_a_row(query):
            if len(set(query.parties)) == 1:  # 「別表の小郡市の役割を全部」: that city's role in every row
                return self._roles_of(query, parties)
            # 「別表 全部」「別表の取組を一覧で」: every section with its rows, in the table's order (with both roles
            # when both cities are asked for)
            rows = tuple(self.scope.of_kind("annex_row", "section"))
            return Plan("listing", query, rows, parties if query.parties else (), detail="別表の取組:")
        if query.marks_only and (query.definition or query.who) and not query.closing:
            return Plan("preamble", query, (self.scope.units["preamble"],), parties)
        if query.definition:
            return Plan("preamble", query, (self.scope.units["preamble"],), parties)
        if query.name:
            return Plan("title", query, (self.scope.units["preamble"],), parties)
        if query.legal and not query.closing:
            return Plan("legal", query, (self.scope.units["preamble"],), parties)
        if query.closing or (query.year and not query.article):
            return Plan("closing", query, (self.scope.units["closing"],), parties)
        return None

    def _unwritten(self, asked: re.Match[str] | None) -> bool:
        """Whether the thing a question asks to be listed or pointed at (「…病院の一覧」「工業団地はどこ？」
        「なくなるバス路線はどれ？」) is one the agreement never writes: it names the network, not its hospitals,
        and 企業誘致, not which industrial park. No unit settles that, however close the rest of the question is."""
        if asked is None:
            return False
        return not any(set(terms(asked.group(1))) & set(chunk.tokens) for chunk in self.scope.units.values())

    def _has_row_topic(self, query: Query) -> bool:
        """Whether the question's own words point at an activity (then 目的 is that activity's aim, not 第1条)."""
        if _WHY_THE_AGREEMENT.search(query.text):
            return False
        if set(query.expansions) - set(query.provision.split()) or query.section is not None:
            return True
        topic = replace(query, search_text=self._without_title(without_provision(query.search_text)))
        ranked = self.search(topic, k=1, kinds=("annex_row",), lexical_only=True)
        return bool(ranked) and ranked[0].lexical > 0

    def _without_title(self, text: str) -> str:
        """`text` less the words of the agreement's title (every unit's embedded text opens with it): asked why
        the 連携中枢都市圏 is formed, the question is about the agreement, not the row that names its ビジョン."""
        title = self.scope.units["preamble"].embed_text.split("\n", 1)[0]
        covered = [False] * len(text)
        for word in {w for w in terms(title) if len(w) > 1}:  # every occurrence, so the order does not matter
            for found in re.finditer(re.escape(word), text):
                covered[found.start() : found.end()] = [True] * len(word)
        return "".join(" " if hidden else char for char, hidden in zip(text, covered, strict=True))

    def _lists(self, numbers: tuple[int, ...]) -> Chunk | None:
        """The one article that lists one of these numbers of items, if exactly one does."""
        items = Counter(str(c.metadata.get("article")) for c in self.scope.of_kind("item"))
        found = [a for a in self.scope.of_kind("article") if items[str(a.metadata.get("article"))] in numbers]
        return found[0] if len(found) == 1 else None

    def _headed(self, provision: str) -> Chunk | None:
        """The article whose heading names the provision asked for (目的 → 第1条（目的）): the heading says what
        the article is about, where a search would also find every article that merely mentions the word."""
        headings = {_heading(a.label): a for a in self.scope.of_kind("article")}
        return next((headings[w] for w in provision.split() if w in headings), None)

    def _governing_article(self, query: Query) -> Chunk | None:
        """Which article governs the 別表 or one of its activities: the one article that refers to the 別表
        (「別表は何条の表？」, 「子育て支援は何条に基づく？」 → 第3条 in this form)."""
        refers = [a for a in self.scope.of_kind("article") if "別表" in a.text]
        if len(refers) != 1:
            return None
        return refers[0] if query.annex or self._row_topic(query) else None

    def _row_topic(self, query: Query) -> Chunk | None:
        """The 別表 row the question's own words find before any article does, if they find one."""
        ranked = self.search(query, k=1, kinds=("annex_row", "article", "item"), lexical_only=True)
        return ranked[0].chunk if ranked and ranked[0].chunk.kind == "annex_row" and ranked[0].lexical > 0 else None

    def _names_a_row(self, query: Query) -> bool:
        """Whether the question's words, besides its 別表 reference, find a row: 「(3)①の子育ての役割」 asks for
        that row, 「(3)①の取組は？」 and 「(2)の小郡市の役割」 for every row there."""
        topic = replace(query, search_text=without_section(query.search_text))
        ranked = self.search(topic, k=1, kinds=("annex_row",), lexical_only=True)
        return bool(ranked) and ranked[0].lexical > 0

    def _named_article(self, query: Query) -> Chunk | None:
        """The article with items whose heading the question uses (第2条（基本方針） for 「基本方針は…」)."""
        for article in self.scope.of_kind("article"):
            heading = _heading(article.label)
            listed = self.scope.unit(f"{article.local_id}-1") is not None
            if listed and heading and heading in query.text:
                return article
        return None

    def _section_of_item(self, query: Query) -> Chunk | None:
        """「第2条第2号に対応する別表の取組」: the 別表 section whose heading repeats that item's words."""
        item = self.scope.unit(f"art-{query.article or 2}-{query.item}")
        return next((c for c in self.scope.of_kind("section") if item and item.text in c.text), None) if item else None

    def _article_plan(self, query: Query, parties: tuple[tuple[str, str], ...]) -> Plan:
        """第N条 / 第N条第M号; a number the agreement lacks is corrected, with the unit the topic points to."""
        number = query.article or 2
        article = self.scope.unit(f"art-{number}")
        if article is None or (query.item and self.scope.unit(f"art-{number}-{query.item}") is None):
            missing = f"第{number}条" + (f"第{query.item}号" if article and query.item else "")
            pointer = article or self._topic_of(query) or self._last_article()
            return Plan("no_article", query, parties=parties, detail=missing, pointer=pointer)
        if query.item is None and (quoted := self._item_quoted(query, number)):  # 「…」は第2条の何号？
            return Plan("item", query, (quoted, article), parties)
        if query.item is None and (heading := self._item_heading_area(query, number)):  # 「人事交流は第2条のどれ？」
            return Plan("item", query, (heading, article), parties)
        if query.item is None:
            if elsewhere := self._topic_elsewhere(query, article):  # 「協議会は第3条ですよね？」: 第4条, said so
                return Plan("article", query, (elsewhere,), parties, detail=article.label)
            referred = self._referred(query, article)
            return Plan("article", query, (article, *referred), parties)
        return Plan("item", query, (self.scope.units[f"art-{number}-{query.item}"], article), parties)

    def _referred(self, query: Query, article: Chunk) -> tuple[Chunk, ...]:
        """The article a 前条 / 次条 in the asked article points to, when the question quotes that reference
        (「第2条の『前条に規定する目的』とは？」 → 第1条 too)."""
        number = int(article.metadata.get("article", 0))
        out = []
        for word, step in (("前条", -1), ("次条", 1)):
            if word in query.text and word in article.text and (other := self.scope.unit(f"art-{number + step}")):
                out.append(other)
        return tuple(out)

    def _items(self, number: int) -> list[Chunk]:
        return [c for c in self.scope.of_kind("item") if c.metadata.get("article") == number]

    def _item_quoted(self, query: Query, number: int) -> Chunk | None:
        """The item of article `number` whose text holds words the question quotes."""
        return next((c for c in self._items(number) for quote in query.quotes if fold(quote) in fold(c.text)), None)

    def _item_heading_area(self, query: Query, number: int) -> Chunk | None:
        """Which item of article `number` an activity or area comes under: the item whose words head the 別表 area
        named, or the area of the row the question names (別表 (3) 「圏域全体の生活関連機能サービスの向上に関する
        取組」 is 第2条第3号)."""
        if not query.pick_one:
            return None
        if query.section is not None:  # the area named (「別表(2)の取組は第2条のどの号？」)
            named = query.section.split("-")[0]
        else:
            topic, asked = _apart_from_articles(query)
            ranked = self.search(topic, k=1, kinds=("annex_row",), lexical_only=True)
            if not ranked or len(asked & set(ranked[0].chunk.tokens)) < 2:
                return None
            named = str(ranked[0].chunk.metadata.get("section", "")).split("-")[0]
        area = self.scope.unit(f"section-{named}")
        return next((c for c in self._items(number) if area and c.text in area.text), None)

    def _topic_elsewhere(self, query: Query, named: Chunk) -> Chunk | None:
        """The article that holds what the question asks of `named`, when `named` has none of its words and the
        other shares two or more with it: the question's premise (which article says it) is wrong, and the
        answer is the article that does. One shared word is no premise: 「第3条は何を規定？」 shares 規定
        with 第2条 and asks what 第3条 says."""
        topic, asked = _apart_from_articles(query)
        if asked & set(named.tokens):
            return None
        ranked = self.search(topic, k=1, kinds=("article",), lexical_only=True)
        if not ranked or ranked[0].chunk.id == named.id or len(asked & set(ranked[0].chunk.tokens)) < 2:
            return None
        return ranked[0].chunk

    def _topic_of(self, query: Query) -> Chunk | None:
        """What a question about a missing article is really about (「第7条の推進協議会」 → 第4条)."""
        ranked = self.search(query, k=3, kinds=None, lexical_only=True)
        return ranked[0].chunk if ranked and ranked[0].lexical > 0 else None

    def _last_article(self) -> Chunk | None:
        """Where the agreement ends, shown when a question asks what a later article says (「第7条には何が」): the
        correction "there is no 第7条" cites the last one there is (in this form, 第5条 on matters not set)."""
        articles = self.scope.of_kind("article")
        return max(articles, key=lambda c: int(c.metadata.get("article", 0))) if articles else None

    def _section_listing(self, query: Query, parties: tuple[tuple[str, str], ...], section: Chunk) -> Plan:
        """The section's heading, then each field's heading (別表(3)①②③) with the rows under it: the scope keeps
        the units in document order, where each heading stands before its rows."""
        parts = [c for c in self.scope.of_kind("annex_row", "section") if c is not section and _under(c, section)]
        return Plan("listing", query, (section, *parts), parties if query.parties else (), detail=f"{section.label}:")

    def _roles_of(self, query: Query, parties: tuple[tuple[str, str], ...]) -> Plan:
        """Every row with the asked city's role: 「小郡市の役割を全部」."""
        rows = self.scope.of_kind("annex_row")
        detail = f"別表に定める{parties[0][1]}の役割（全{len(rows)}項目）:"
        return Plan("listing", query, tuple(rows), parties[:1], detail=detail)

    def _capped(self, plan: Plan) -> Plan:
        """A routed unit that lacks the kind of fact asked for (a phone number from the closing block; how often
        the council of 第4条 meets, asked of the article or after it), or a question on a topic marked out of
        scope, gets "not settled" with that unit as related. Counting an article's own items (「いくつ」) is
        answered from its structure."""
        query = plan.query
        topic = query.out_of_scope if self.refusal_topics else None
        stated_in = ("closing", "preamble") + (("article", "item") if not query.count else ())
        lacking = query.asks_for and plan.kind in stated_in and not self._states(plan.chunks[0], query.asks_for)
        if lacking or (topic and plan.kind in ("closing", "preamble", "legal", "title")):
            return replace(plan, kind="nearest", detail=topic.ask if topic else "")
        return plan

    def _states(self, chunk: Chunk, kind: str) -> bool:
        """Whether `chunk` states a fact of this kind: the closing block a date or an address; an article how
        many items it lists (「基本方針はいくつ？」), where one without items (第4条) states no count."""
        if kind == "count" and chunk.kind in ("article", "item"):
            return bool(self._items(int(chunk.metadata.get("article", 0))))
        return _holds(chunk, kind)

    # --- shapes read from retrieval: listings, comparisons --------------------------------------------

    def _shaped(self, query: Query, parties: tuple[tuple[str, str], ...], ranked: list[Scored]) -> Plan | None:
        rows = self.scope.of_kind("annex_row")
        if query.listing and (section := self._matching_section(ranked)):
            return self._section_listing(query, parties, section)
        if query.listing and ranked and ranked[0].chunk.kind == "article" and ranked[0].lexical > 0:
            return Plan("article", query, (ranked[0].chunk,), parties)  # an article lists its items
        # Rows whose roles read the same are asked for before any comparison (「同じ文言の取組は？ほかと何が
        # 違う？」); rows whose roles differ only when no two rows are compared (「AとBで役割はどう違う？」).
        pair = self._pair(ranked) if query.comparison and not query.same_roles else None
        if pair or ((query.same_roles or query.different_roles) and (pair := _named_pair(query, ranked))):
            return Plan("comparison", query, pair, parties)
        if query.same_roles or query.different_roles:
            same = [c for c in rows if row_cells(c)["甲"] == row_cells(c)["乙"]]
            picked = same if query.same_roles else [c for c in rows if c not in same]
            what = "両市の役割が同じ文言の取組" if query.same_roles else "両市の役割が異なる取組"
            return Plan("listing", query, tuple(picked), parties, detail=f"{what}（別表）:")
        if query.listing and query.parties and not self._evidence(ranked):
            return self._roles_of(query, parties)
        if query.listing and ranked:
            top = ranked[0].lexical
            picked = {s.chunk.id for s in ranked if s.chunk.kind == "annex_row" and top and s.lexical >= top * 0.6}
            if len(picked) > 1:  # listed in the agreement's order, as a reader finds them in the table
                rows = tuple(c for c in self.scope.of_kind("annex_row") if c.id in picked)
                shown = parties if query.parties else ()  # 「久留米市が…する取組」: with the roles that say so
                return Plan("listing", query, rows, shown, detail="関係する取組（別表）:")
        return None

    def _matching_section(self, ranked: list[Scored]) -> Chunk | None:
        """A listing whose best match is a 別表 heading (or the 第2条 item it repeats) lists that section; so does
        one whose best match is a row when the heading over it matches too, close behind (「経済成長分野の取組を
        全部」: the row that writes 経済成長 comes first, its heading (1) second)."""
        if not ranked or ranked[0].lexical <= 0:
            return None
        top = ranked[0].chunk
        if top.kind == "section":
            return top
        if top.kind == "annex_row":
            headings = (s.chunk for s in ranked[1:3] if s.chunk.kind == "section" and s.lexical > 0)
            return next((heading for heading in headings if _under(top, heading)), None)
        return (
            next((c for c in self.scope.of_kind("section") if top.text in c.text), None) if top.kind == "item" else None
        )

    def _pair(self, ranked: list[Scored]) -> tuple[Chunk, Chunk] | None:
        """The two rows a comparison is about. When the question's words find one row and no other, what it
        compares is the two cities in that row (「子育て 久留米 小郡 違い」), which the row's answer shows; the
        next row by meaning alone would be a pair the question never named."""
        rows = [s for s in ranked if s.chunk.kind == "annex_row"]
        if len(rows) < 2 or (rows[0].lexical > 0 and rows[1].lexical <= 0):
            return None
        return rows[0].chunk, rows[1].chunk

    # --- the evidence decision -------------------------------------------------------------------------

    def _evidence(self, ranked: Sequence[Scored]) -> bool:
        return bool(ranked) and ranked[0].lexical > 0

    def _decide(self, query: Query, parties: tuple[tuple[str, str], ...], ranked: list[Scored]) -> Plan:
        """Answer on strong evidence; "nearest" when related but not settled; refuse when nothing relates.

        A topic listed as out of scope (glossary or staff) with only weak evidence is refused with where to ask;
        with strong evidence it is "not settled" with the related units. A question with fewer than two words
        (「alert(1)」, 「[1, 2, 3]」) is never answered on dense similarity alone."""
        ranked = [s for s in ranked if s.chunk.kind != "section"]
        topic = query.out_of_scope if self.refusal_topics else None
        ask = topic.ask if topic else ""
        if not ranked:
            return Plan("refusal", query, parties=parties, detail=ask)
        top = ranked[0]
        verdict = self.calibration.verdict(top.dense, top.lexical > 0, query.language)
        if verdict == "answer" and top.lexical <= 0 and len(query.words) < 2:
            verdict = "nearest" if query.words else "refuse"
        if verdict == "refuse" or (topic and verdict == "nearest"):
            return Plan("refusal", query, parties=parties, detail=ask)
        # A fact asked for (a date, an amount) is answered from a unit that holds one and shares a word with the
        # question: the closing block's date is no answer to 「まつりは何日？」 on meaning alone.
        unsettled = bool(query.asks_for) and (not _holds(top.chunk, query.asks_for) or top.lexical <= 0)
        if verdict == "nearest" or unsettled or topic:
            related = tuple(s.chunk for s in ranked[:3] if s is top or s.lexical > 0 or s.dense >= top.dense - 0.02)
            return Plan("nearest", query, related, parties, detail=ask)
        return plan_for(top.chunk, query, parties, self.scope)


# What a listing asks to see: the noun written before の一覧 / のリスト (「参加している病院の一覧」 → 病院).
_LISTED = re.compile(r"([一-龥ァ-ヶー]+)の(?:一覧|リスト)")
# The name or address of a thing, asked by its noun (「夜間に診てくれる病院の名前と住所」「農園の名称」): when the
# agreement never writes that noun, it names no such thing. A city's or a mayor's (「両市の住所」) is the closing
# block's.
_NAMED_THING = re.compile(r"([一-龥ァ-ヶー]+)(?<![市町村長])の(名前|なまえ|名称|住所|所在地)")
_ADDRESS = ("住所", "所在地")


def _named_kind(named: re.Match[str] | None) -> str:
    """A person's name (「署名した人の名前」) is asked as the names of people, an address as a place."""
    if named and named.group(1).endswith(("人", "者", "方")):
        return "people"
    return "place" if named and named.group(2) in _ADDRESS else "roster"


# What a question asks to be pointed at, ending on it: 「工業団地はどこ？」「…はどこにありますか」「なくなるバス路線は
# どれですか」. Not どこに聞けば, どこが or どこで: those ask which city or office, a role the agreement does assign.
_WHICH = re.compile(
    r"([一-龥ァ-ヶー]+)(?:は|って)(どこ|どれ)(?:にあ[るりっ]\S*?)?(?:ですか|でしょうか|なの|なん|[?？]|$)"
)
# Why the agreement itself was made (「この協約はなぜ結ばれた」「なぜこの協約を結んだのか」): 第1条, whatever
# other words the question has (背景にある課題 is no activity's 課題).
_WHY_THE_AGREEMENT = re.compile(
    r"協約(?:書)?(?:は|を|って|が)?(?:なぜ|何のため|なんのため|どうして)|(?:なぜ|何のため|なんのため|どうして)(?:この|その|両市は)?協約"
)
_ARTICLES = re.compile(r"何条|何か条|各条|全条|条文|見出し|\barticles\b", re.IGNORECASE)
# An article asked for by name (何条, 条文, 根拠), where 「どこに書いてある」 asks only where the text says it.
_ARTICLE_ASKED = re.compile(r"何条|どの条|条文|根拠|基づ|\b(?:article|provision|clause)s?\b", re.IGNORECASE)


def _apart_from_articles(query: Query) -> tuple[Query, set[str]]:
    """What a question asks about the articles it names: its search without them, and its topic terms."""
    text = without_articles(query.search_text)
    return replace(query, search_text=text), set(terms(text)) - GENERIC_TERMS


def _named_pair(query: Query, ranked: list[Scored]) -> tuple[Chunk, Chunk] | None:
    """Two rows the question names by their own words (「販路拡大と創業って役割は同じ？」): the two best rows each
    share a word with it that the other lacks (別表, in every row's label, names neither)."""
    rows = [s.chunk for s in ranked if s.chunk.kind == "annex_row" and s.lexical > 0][:2]
    if len(rows) < 2:
        return None
    asked = set(terms(query.search_text))
    first, second = (asked & set(c.tokens) for c in rows)
    return (rows[0], rows[1]) if first - second and second - first else None


def _heading(label: str) -> str:
    """「第1条（目的）」 → 目的."""
    found = re.search(r"（(.+?)）", label)
    return found.group(1) if found else ""


def _under(row: Chunk, section: Chunk) -> bool:
    """Whether a 別表 row is in a section: (3)② holds row 3-2-1, (3) holds every 3-…, (1) not 10-…."""
    area, path = str(section.metadata.get("section", "")), str(row.metadata.get("section", ""))
    return path == area or path.startswith(f"{area}-")


def _holds(chunk: Chunk, kind: str) -> bool:
    return any(mark in chunk.text for mark in _HOLDS.get(kind, ())) and chunk.kind in ("closing", "preamble")


def plan_for(chunk: Chunk, query: Query, parties: tuple[tuple[str, str], ...], scope: Scope) -> Plan:
    kind = {"annex_row": "row", "article": "article", "preamble": "preamble", "closing": "closing"}.get(chunk.kind)
    if kind is None:  # an item: show it with its article
        article = scope.unit(f"art-{chunk.metadata.get('article')}") or chunk
        return Plan("item", query, (chunk, article), parties)
    if kind == "row" and query.which_area:  # the headings above it, outermost first: section-3, section-3-1
        path = chunk.local_id.removeprefix("annex-").split("-")[:-1]
        headings = [scope.unit("section-" + "-".join(path[:n])) for n in range(1, len(path) + 1)]
        return Plan("row", query, (chunk, *(h for h in headings if h)), parties)
    return Plan(kind, query, (chunk,), parties)  # type: ignore[arg-type]
