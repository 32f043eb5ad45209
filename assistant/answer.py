"""Plan → grounded answer text with quotations; no LLM needed. Quotes are checked in the engine."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from assistant.chunks import annotate, row_cells
from assistant.query import Query
from assistant.types import Chunk

PlanKind = Literal[
    "row",
    "article",
    "item",
    "preamble",
    "legal",
    "title",
    "outline",
    "closing",
    "listing",
    "comparison",
    "nearest",
    "which_partner",
    "refusal",
    "injection",
    "not_provided",
    "no_article",
    "unknown_party",
    "empty",
]
CITY_EN = {"久留米市": "Kurume City", "小郡市": "Ogori City"}
# What an agreement of this form covers, said when a question falls outside it.
_COVERS_JA = (
    "この協約書が定めているのは、{cities}の連携の目的（第1条）、基本方針（第2条）、"
    "連携する取組と役割分担（第3条・別表）、推進協議会の開催（第4条）、協議（第5条）です。"
)
_COVERS_EN = (
    "The agreement covers: its purpose (Article 1), basic policy (Article 2), the joint activities and "
    "each city's role (Article 3 and the annex table), the promotion council (Article 4) "
    "and consultation (Article 5)."
)


@dataclass(frozen=True)
class Plan:
    """What to say, decided by the engine: the kind of answer and the units it rests on."""

    kind: PlanKind
    query: Query
    chunks: tuple[Chunk, ...] = ()
    parties: tuple[tuple[str, str], ...] = ()  # (mark, city) in the order to present
    detail: str = ""  # the missing article, topic or party; where to ask
    pointer: Chunk | None = None
    premise: str = ""  # a false premise the answer corrects: an article it lacks (第7条), a city that is no party


@dataclass(frozen=True)
class Draft:
    text: str
    quotes: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (chunk id, quoted words)


class Answerer(Protocol):
    """Turns a plan into wording. The template answerer needs no model; a LangChain one can replace it."""

    def compose(self, plan: Plan) -> Draft: ...


class TemplateAnswerer:
    def compose(self, plan: Plan) -> Draft:
        english = plan.query.language == "en"
        builder = getattr(self, f"_{plan.kind}")
        return builder(plan, english)

    # --- answers grounded in one or more units ---------------------------------------------------

    def _row(self, plan: Plan, english: bool) -> Draft:
        chunk = plan.chunks[0]
        roles = row_cells(chunk)
        lead, quotes = _role_summary(chunk, plan, english)
        lines = [lead]
        if headings := [c for c in plan.chunks[1:] if c.kind == "section"]:  # asked which area: said first
            names = [c.text.split("\n", 1)[0] for c in headings]
            quotes += [(c.id, name) for c, name in zip(headings, names, strict=True)]
            path = " › ".join(f"「{name}」" for name in names)
            lines.insert(
                0, f"This activity is listed under {path}." if english else f"この取組は {path} に入っています。"
            )
        lines.append(f"Under {chunk.label}, the roles are:" if english else f"{chunk.label} の役割分担です。")
        for mark, city in plan.parties:
            role = roles[mark]
            quotes.append((chunk.id, role))
            name = f"{CITY_EN.get(city, city)} ({mark})" if english else f"{city}（{mark}）の役割"
            lines.append(f"■ {name}: 「{role}」")
        quotes.append((chunk.id, roles["content"]))
        lines.append(f"■ {'Activity' if english else '取組の内容'}: 「{roles['content']}」")
        if english:
            lines.append("(Quotations are the agreement's exact Japanese wording.)")
        return Draft("\n".join(lines), tuple(quotes))

    def _comparison(self, plan: Plan, english: bool) -> Draft:
        """Two rows side by side: each one's activity and both roles, verbatim."""
        first, second = plan.chunks[:2]
        lead = (
            f"The agreement's own words for each, side by side ({first.label} / {second.label}):"
            if english
            else f"{first.label} と {second.label} を比べると、次のとおりです。"
        )
        if first.kind != "annex_row" or second.kind != "annex_row":  # two articles: each one's own words
            bodies = [(c, annotate(c.text, plan.parties)) for c in (first, second)]
            return Draft(
                "\n".join([lead, *(f"・{c.label}: 「{body}」" for c, body in bodies)]),
                tuple((c.id, body) for c, body in bodies),
            )
        return self._listing(replace(plan, detail=lead), english)

    def _nearest(self, plan: Plan, english: bool) -> Draft:
        """Not settled by the agreement, said first; the related units follow, labelled as related only."""
        asked = _ASKED_EN.get(plan.query.asks_for, "") if english else _ASKED_JA.get(plan.query.asks_for, "")
        if english:
            head = (
                f"Not settled by the agreement: it does not set {asked or 'this'}. Related provisions (not an answer):"
            )
        else:
            head = f"協約書には定めがありません（{asked or 'ご質問の点'}は協約書に書かれていません）。関連する規定（回答ではありません）:"
        lines, quotes = [head], []
        for chunk in plan.chunks:
            words = row_cells(chunk)["content"] if chunk.kind == "annex_row" else annotate(chunk.text, plan.parties)
            lines.append(f"・{chunk.label}: 「{words}」")
            quotes.append((chunk.id, words))
        if plan.detail:
            lines.append(
                f"For this question, please ask: {plan.detail}." if english else f"お問い合わせ先の目安: {plan.detail}"
            )
        return Draft("\n".join(lines), tuple(quotes))

    def _which_partner(self, plan: Plan, english: bool) -> Draft:
        names = plan.detail.split("、")
        shown = "、".join(names[:10]) + (f" ほか{len(names) - 10}件" if len(names) > 10 else "")
        return Draft(
            f"Several agreements are loaded (partners: {shown}). Which partner city do you mean? "
            f"Please ask again naming it, e.g. 「{names[0]}の公共交通の役割は？」."
            if english
            else f"どの市との協約についてのご質問かを確認させてください。読み込まれている協約の相手方: {shown}。"
            f"市名を添えてもう一度お尋ねください（例:「{names[0]}の公共交通の役割は？」）。"
        )

    def _article(self, plan: Plan, english: bool) -> Draft:
        chunk, *referred = plan.chunks
        body = annotate(chunk.text, plan.parties)
        lead = f"{chunk.label} reads:" if english else f"{chunk.label}には次のとおり定められています。"
        if plan.detail:  # the question placed this in another article: corrected first
            lead = (
                f"That is not in {plan.detail} but in {chunk.label}, which reads:"
                if english
                else f"お尋ねの内容は{plan.detail}ではなく、{chunk.label}に定められています。"
            )
        lines, quotes = [f"{lead}\n「{body}」"], [(chunk.id, body)]
        for other in referred:  # the article a 前条 / 次条 in it points to
            text = annotate(other.text, plan.parties)
            word = "前条" if int(other.metadata.get("article", 0)) < int(chunk.metadata.get("article", 0)) else "次条"
            lines.append(
                f"「{word}」 there means {other.label}: 「{text}」"
                if english
                else f"「{word}」は{other.label}を指します。「{text}」"
            )
            quotes.append((other.id, text))
        return Draft("\n".join(lines), tuple(quotes))

    def _item(self, plan: Plan, english: bool) -> Draft:
        item, article = plan.chunks[0], plan.chunks[-1]
        body = annotate(article.text, plan.parties)
        lead = (
            f"Article {item.metadata.get('article')}, item {item.metadata.get('item')} is 「{item.text}」. The article reads:"
            if english
            else f"第{item.metadata.get('article')}条第{item.metadata.get('item')}号は「{item.text}」です。条文は次のとおりです。"
        )
        return Draft(f"{lead}\n「{body}」", ((item.id, item.text), (article.id, body)))

    def _preamble(self, plan: Plan, english: bool) -> Draft:
        chunk = plan.chunks[0]
        names = (
            ", ".join(f"{m} = {CITY_EN.get(c, c)} ({c})" for m, c in plan.parties)
            if english
            else "、".join(f"{m}は{c}" for m, c in plan.parties)
        )
        lead = f"In the agreement, {names}. The preamble:" if english else f"協約書では、{names}です。前文:"
        return Draft(f"{lead}\n「{chunk.text}」", ((chunk.id, chunk.text),))

    def _legal(self, plan: Plan, english: bool) -> Draft:
        chunk = plan.chunks[0]
        basis = chunk.metadata.get("legal_basis", "")
        lead = (
            f"The agreement was concluded under the Local Autonomy Act ({basis}). The preamble:"
            if english
            else f"この協約は{basis}の規定に基づいて締結されています。前文:"
        )
        return Draft(f"{lead}\n「{chunk.text}」", ((chunk.id, chunk.text),))

    def _title(self, plan: Plan, english: bool) -> Draft:
        chunk = plan.chunks[0]
        title = chunk.text.split("\n", 1)[0]
        lead = f"The agreement's title is 「{title}」." if english else f"この協約の名称は「{title}」です。"
        return Draft(f"{lead}\n「{chunk.text}」", ((chunk.id, title), (chunk.id, chunk.text)))

    def _outline(self, plan: Plan, english: bool) -> Draft:
        """How the agreement is built: its articles (each quoted by its opening words) and the 別表 sections."""
        articles = [c for c in plan.chunks if c.kind == "article"]
        rows = [c for c in plan.chunks if c.kind == "annex_row"]
        lead = (
            f"The agreement has a preamble, {len(articles)} articles, a closing block and an annex table "
            f"with {len(rows)} activities:"
            if english
            else f"協約書は、前文、{len(articles)}か条の本文、末文、別表（{len(rows)}の取組）で構成されています。"
        )
        lines, quotes = [lead], []
        if articles and plan.detail == "articles":  # asked about the articles as a set: how many, first
            last = articles[-1]
            lines[0] = (
                f"The body runs from Article 1 to {last.label} ({len(articles)} articles). {lead}"
                if english
                else f"本文は第1条から{last.label}までの{len(articles)}か条です。{lead}"
            )
            quotes.append((last.id, annotate(last.text.split("、", 1)[0], plan.parties)))
        for chunk in articles:
            opening = annotate(chunk.text.split("、", 1)[0], plan.parties)
            lines.append(f"・{chunk.label}「{opening}、…」")
            quotes.append((chunk.id, opening))
        sections: dict[str, int] = {}
        for row in rows:
            name = f"{row.metadata.get('marker')} {row.metadata.get('section_heading')}"
            sections[name] = sections.get(name, 0) + 1
        lines.append("Annex table:" if english else "別表:")
        lines += [f"・{name}: {count}{'' if english else '件'}" for name, count in sections.items()]
        return Draft("\n".join(lines), tuple(quotes))

    def _closing(self, plan: Plan, english: bool) -> Draft:
        chunk = plan.chunks[0]
        lines = [line for line in chunk.text.split("\n") if line]
        sentence, date, signers = lines[0], lines[1], _signers_in_order(lines[2:], plan)
        facets = plan.query.closing or ("date", "copies", "signers")
        picked = [date] if "date" in facets else []
        picked += [annotate(sentence, plan.parties)] if {"copies", "seal"} & set(facets) else []
        picked += signers if {"signers", "address"} & set(facets) else []
        iso = str(chunk.metadata.get("date", ""))
        western = f"{int(iso[:4])}年{int(iso[5:7])}月{int(iso[8:10])}日" if iso else ""
        # The date opens the answer when it is asked for, once: asked for an address or the signers, it would
        # answer a question nobody asked (「住所はどこ？」 → 「締結日は…」); a wrong year is corrected with it.
        corrected = bool(plan.query.year and iso and plan.query.year != int(iso[:4]))
        dated = "date" in facets and not corrected
        lead = (
            (f"The agreement was signed on {date} ({iso}, i.e. {western}). " if dated else "")
            + "From its closing block:"
            if english
            else (f"締結日は{date}（西暦{western}）です。" if dated else "") + "協約書の末文には次のとおりあります。"
        )
        if corrected:
            lead = (
                f"No: the agreement was signed on {date} ({western}), not in {plan.query.year}. {lead}"
                if english
                else f"いいえ、締結は{plan.query.year}年ではなく、{date}（西暦{western}）です。{lead}"
            )
        if plan.query.current:
            lead = (
                f"Not settled by the agreement: it records only who signed it on {iso}, not who holds office now. {lead}"
                if english
                else f"協約書には定めがありません（記載があるのは締結時（{date}）の署名者で、現在のことは書かれていません）。{lead}"
            )
        return Draft("\n".join([lead, *(f"「{p}」" for p in picked)]), tuple((chunk.id, p) for p in picked))

    def _listing(self, plan: Plan, english: bool) -> Draft:
        """Rows of the table: one city's role each, or (for both cities) the activity and both roles."""
        lines, quotes = [plan.detail], []
        shown = [("content", "Activity" if english else "取組の内容")] if len(plan.parties) != 1 else []
        shown += [(m, f"{CITY_EN.get(c, c)} ({m})" if english else f"{c}（{m}）") for m, c in plan.parties]
        count = sum(chunk.kind == "annex_row" for chunk in plan.chunks)
        # A listing of one section opens with its heading (`headed`: the section holds every row listed); of the
        # whole table, with what it lists (別表の取組), every section's heading then standing before its rows.
        first = plan.chunks[0] if plan.chunks and plan.chunks[0].kind == "section" else None
        headed = first is not None and first.metadata.get("rows") == count
        if first is not None:
            lead = first.text.split("\n", 1)[0] if headed and not english else plan.detail.rstrip(":")
            lines[0] = f"{lead} ({count} activities):" if english else f"{lead}（{count}件）:"
        for chunk in plan.chunks:
            if chunk.kind == "section":  # the heading is quoted, its rows follow; a field's heading (①) heads its own
                heading = chunk.text.split("\n", 1)[0]
                if not (headed and chunk is first):
                    lines.append(f"【{heading}】")
                quotes.append((chunk.id, heading))
                continue
            roles = row_cells(chunk)
            if len(shown) == 1:
                lines.append(f"・{chunk.label}: 「{roles[shown[0][0]]}」")
            else:
                lines.append(f"・{chunk.label}")
                lines += [f"　{name}: 「{roles[key]}」" for key, name in shown]
            quotes += [(chunk.id, roles[key]) for key, _ in shown]
        if not plan.parties and count:
            lines.append(_roles_hint(plan, english))
        return Draft("\n".join(lines), tuple(quotes))

    # --- answers that say the agreement does not answer ------------------------------------------

    def _refusal(self, plan: Plan, english: bool) -> Draft:
        if english:
            text = f"Not in the agreement: it does not say anything about this. {_covers(plan, english)}"
            ask = f" For this question, please ask: {plan.detail}." if plan.detail else ""
        else:
            text = f"協約書には記載がありません。ご質問の内容は協約書の対象外です。{_covers(plan, english)}"
            ask = f"\nお問い合わせ先の目安: {plan.detail}" if plan.detail else ""
        return self._with_pointer(text + ask, plan, english)

    def _not_provided(self, plan: Plan, english: bool) -> Draft:
        text = (
            f"The agreement has no provision on this ({plan.detail}). Matters it does not set out are decided "
            "by consultation between the two cities (Article 5)."
            if english
            else f"協約書には{plan.detail}についての定めはありません。協約に定めのない事項は、第5条により両市が協議して定めます。"
        )
        premise = f"{_no_such(plan.premise, english)}\n" if plan.premise else ""  # the false premise first
        return self._with_pointer(premise + text, plan, english)

    def _no_article(self, plan: Plan, english: bool) -> Draft:
        return self._with_pointer(f"{_no_such(plan.detail, english)}\n{_covers(plan, english)}", plan, english)

    def _unknown_party(self, plan: Plan, english: bool) -> Draft:
        ordered = _in_mark_order(plan.parties)
        text = (
            f"{plan.detail} is not a party to this agreement. The parties are "
            + " and ".join(f"{CITY_EN.get(c, c)} ({m})" for m, c in ordered)
            + "."
            if english
            else f"{plan.detail}はこの協約の当事者ではありません。当事者は"
            + "と".join(f"{c}（{m}）" for m, c in ordered)
            + "です。"
        )
        return self._with_pointer(text, plan, english)

    def _injection(self, plan: Plan, english: bool) -> Draft:
        text = (
            f"I answer questions about the partnership agreement only, and cannot do that. {_covers(plan, english)}"
            if english
            else f"このアシスタントは協約書の内容についてのご質問にお答えします。そのご依頼にはお応えできません。{_covers(plan, english)}"
        )
        return Draft(text)

    def _empty(self, plan: Plan, english: bool) -> Draft:
        return Draft(
            "Please type a question about the agreement."
            if english
            else "ご質問を入力してください（例:「バスのことはどっちの市に聞けばいい？」）。"
        )

    def _with_pointer(self, text: str, plan: Plan, english: bool) -> Draft:
        if plan.pointer is None:
            return Draft(text)
        quote = annotate(plan.pointer.text, plan.parties)
        label = "Related provision" if english else "関連する規定"
        return Draft(f"{text}\n{label}（{plan.pointer.label}）:「{quote}」", ((plan.pointer.id, quote),))


_ASKED_JA = {
    "amount": "金額・料金",
    "count": "数・回数",
    "time": "時間・曜日",
    "date": "日程・期日",
    "place": "場所",
    "contact": "連絡先",
    "procedure": "申込みや手続きの方法",
    "people": "委員や担当者の氏名",
    "roster": "個々の機関や施設などの名称や一覧",
}
_ASKED_EN = {
    "amount": "amounts or fees",
    "count": "numbers or counts",
    "time": "hours",
    "date": "dates",
    "place": "places",
    "contact": "contacts",
    "procedure": "how to apply or book",
    "people": "the names of members or staff",
    "roster": "the names or lists of individual institutions, facilities and the like",
}


def _role_summary(chunk: Chunk, plan: Plan, english: bool) -> tuple[str, list[tuple[str, str]]]:
    """One opening sentence that answers "which city, doing what", in the row's own closing words."""
    roles = row_cells(chunk)
    if roles["甲"] == roles["乙"]:
        cities = "と".join(c for _, c in _in_mark_order(plan.parties))
        clause = _last_clause(roles["甲"])
        text = (
            f"Both cities have the same role here: 「{clause}」."
            if english
            else f"この取組では、{cities}の役割は同じ文言です:「{clause}」。"
        )
        return text, [(chunk.id, clause)]
    parts, quotes = [], []
    for mark, city in plan.parties:
        clause = _last_clause(roles[mark])
        parts.append(f"{CITY_EN.get(city, city) if english else city}: 「{clause}」")
        quotes.append((chunk.id, clause))
    joined = "; ".join(parts) if english else "、".join(parts)
    return (f"In short — {joined}." if english else f"要点: {joined}。"), quotes


def _last_clause(role: str) -> str:
    """The part of a role after its last 、: the verb phrase that says what the city does."""
    clause = role.rstrip("。").rsplit("、", 1)[-1]
    return clause if len(clause) >= 8 else role.rstrip("。")


def _in_mark_order(parties: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """甲 before 乙 (code points would put 乙 first)."""
    marks = "甲乙丙丁"
    return sorted(parties, key=lambda party: marks.find(party[0]))


def _no_such(article: str, english: bool) -> str:
    """第7条 is not in the agreement, said with what it does have."""
    if english:
        named = re.sub(
            r"第(\d+)条(?:第(\d+)号)?", lambda m: f"Article {m[1]}" + (f", item {m[2]}" if m[2] else ""), article
        )
        return f"The agreement has no {named}. It has Articles 1 to 5 and an annex table."
    return f"協約書に{article}はありません。協約は第1条から第5条までと別表で構成されています。"


def _roles_hint(plan: Plan, english: bool) -> str:
    """A listing of activities without their roles says whose they are and how to ask for the roles: the
    cities are never left out of an answer about the 別表 (they are its two role columns)."""
    row = next(c for c in plan.chunks if c.kind == "annex_row")
    kou, otsu = (str(row.metadata.get(key, mark)) for key, mark in (("kou", "甲"), ("otsu", "乙")))
    first = plan.chunks[0]
    marker = str(first.metadata.get("marker", "")) if first.kind == "section" else ""
    if english:
        example = (
            f'"{CITY_EN.get(otsu, otsu)}\'s roles in 別表{marker}"'
            if marker
            else f'"{CITY_EN.get(otsu, otsu)}\'s roles"'
        )
        return (
            f"Each activity's roles for {CITY_EN.get(kou, kou)} (甲) and {CITY_EN.get(otsu, otsu)} (乙) are set in "
            f"the 別表 as well: ask with a city's name, e.g. {example}."
        )
    example = f"（例:「{marker}の{otsu}の役割」）" if marker else ""
    return f"各取組の{kou}（甲）と{otsu}（乙）の役割も別表に定められています。市名を添えてお尋ねください{example}。"


def _covers(plan: Plan, english: bool) -> str:
    """What the agreement covers, naming its parties as the preamble does (not hard-coded cities)."""
    if english:
        return _COVERS_EN
    cities = "と".join(city for _, city in _in_mark_order(plan.parties)) or "両市"
    return _COVERS_JA.format(cities=cities)


def _signers_in_order(lines: list[str], plan: Plan) -> list[str]:
    """Signatory lines, the asked city first; only that city's line when the question names one."""
    asked = plan.query.parties
    order = [mark for mark, _ in plan.parties]
    ranked = sorted(lines, key=lambda line: order.index(line[0]) if line[0] in order else len(order))
    return [line for line in ranked if line[0] in asked] if len(asked) == 1 else ranked
