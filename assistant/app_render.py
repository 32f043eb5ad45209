"""HTML for the app: citation cards, the role-split table and the full agreement. Pure functions, no Gradio.

Every piece of text is escaped before any markup is added, so corpus or user text never becomes HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from assistant.chunks import annotate, row_cells
from assistant.glossary import Glossary
from assistant.normalize import fold
from assistant.query import analyze
from assistant.tokenize import tokens
from assistant.types import Chunk, Citation

SOURCES_CLASS = "sources"
# Words that occur in nearly every unit: highlighting them would mark everything.
_UNMARKED = frozenset(
    {"協約", "役割", "久留米", "小郡", "久留米市", "小郡市", "取組", "取り組", "教え", "分担", "役割分担", "圏域"}
)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")
_TRAILING_KANA = re.compile(r"[ぁ-ゖ]+$")
_KANJI_OR_KATAKANA = re.compile(r"[一-龥ァ-ヶー]")


@dataclass(frozen=True)
class Section:
    path: str  # "3-2"
    marker: str  # "(3)②"
    heading: str


# --- escaping -----------------------------------------------------------------------------------


def as_text(text: str) -> str:
    """A user's words for the Markdown chat: shown exactly as typed, never as HTML or formatting."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def from_text(content: str) -> str:
    """Inverse of `as_text`, to give the engine the question as it was typed."""
    return html.unescape(re.sub(r"\\(.)", r"\1", content, flags=re.DOTALL))


def anchor(chunk_id: str) -> str:
    """The HTML id of a unit in the full agreement: the chunk id with its slash replaced."""
    return chunk_id.replace("/", "--")


# --- highlighting ---------------------------------------------------------------------------------


def match_terms(question: str, glossary: Glossary, *, limit: int) -> list[str]:
    """The question's content words (and the agreement's terms for them), as stems that match inflections."""
    query = analyze(question, glossary, limit=limit)
    terms = set()
    for token in tokens(query.search_text):
        stem = _TRAILING_KANA.sub("", token.lemma) if _KANJI_OR_KATAKANA.search(token.lemma) else token.lemma
        if len(stem) >= 2 and stem not in _UNMARKED:
            terms.add(stem)
    return sorted(terms, key=len, reverse=True)


def highlight(text: str, terms: Sequence[str]) -> str:
    """Escape `text`, then wrap each occurrence of a term in <mark>; line breaks become <br>."""
    escaped = html.escape(text, quote=False)
    if terms:
        pattern = re.compile("|".join(re.escape(html.escape(t, quote=False)) for t in terms), re.IGNORECASE)
        escaped = pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", escaped).replace("</mark><mark>", "")
    return escaped.replace("\n", "<br>")


def excerpt(text: str, terms: Sequence[str]) -> str:
    """The lines or sentences of a unit that contain a matched word (the whole unit if none does)."""
    parts = [p for p in re.split(r"(?<=[。\n])", text) if p.strip()]
    folded = [fold(t) for t in terms]
    hits = [p.strip() for p in parts if any(t in fold(p) for t in folded)]
    return "\n".join(hits) if hits else text


# --- citation cards -------------------------------------------------------------------------------


def parties_of(chunks: Iterable[Chunk]) -> tuple[tuple[str, str], ...]:
    """(mark, city) for 甲 and 乙, read from the preamble's metadata."""
    preamble = next((c for c in chunks if c.kind == "preamble"), None)
    if preamble is None:
        return ()
    return (("甲", str(preamble.metadata.get("kou", "甲"))), ("乙", str(preamble.metadata.get("otsu", "乙"))))


def sources_html(
    citations: Sequence[Citation],
    *,
    terms: Sequence[str],
    units: dict[str, Chunk],
    parties: tuple[tuple[str, str], ...],
    answer_id: str,
    related: bool = False,
) -> str:
    """The cards under one answer; the citation ids and answer id travel with the message itself.

    `related`: the agreement does not settle the question, so the cards are labelled as related units,
    not as the source of an answer."""
    ids = " ".join(html.escape(c.id) for c in citations)
    head = f'<div class="{SOURCES_CLASS}" data-answer-id="{html.escape(answer_id)}" data-citations="{ids}">'
    if not citations:
        return f'{head}<p class="no-sources">この回答には協約書からの引用はありません。</p></div>'
    cards = "".join(_card(n, c, terms, units, parties) for n, c in enumerate(citations, 1))
    title = f"関連する規定（回答ではありません・{len(citations)}件）" if related else f"出典（{len(citations)}件）"
    kind = " related" if related else ""
    return f'{head}<div class="sources-title{kind}">{title}</div>{cards}</div>'


def _card(
    number: int, citation: Citation, terms: Sequence[str], units: dict[str, Chunk], parties: tuple[tuple[str, str], ...]
) -> str:
    text = annotate(citation.text, parties)
    whole = _whole_unit(citation, units, parties)
    link = f'<a class="open-unit" href="#{anchor(whole[0])}" data-anchor="{anchor(whole[0])}">協約書全文で開く</a>'
    return (
        f'<div class="cite-card" data-citation="{html.escape(citation.id)}">'
        f'<div class="cite-label"><span class="cite-num">{number}</span>{html.escape(citation.label)}</div>'
        f'<div class="cite-text">{highlight(excerpt(text, terms), terms)}</div>'
        f"<details><summary>{html.escape(whole[1])}の全体を表示</summary>"
        f'<div class="cite-full">{highlight(whole[2], terms)}</div>{link}</details></div>'
    )


def _whole_unit(
    citation: Citation, units: dict[str, Chunk], parties: tuple[tuple[str, str], ...]
) -> tuple[str, str, str]:
    """(chunk id, what it is, full text) of the unit to show on demand: an item opens its whole article."""
    chunk = units.get(citation.id)
    if chunk is not None and chunk.kind == "item":
        parent_id = f"{chunk.id.rsplit('/', 1)[0]}/art-{chunk.metadata.get('article')}"
        chunk = units.get(parent_id, chunk)
    if chunk is None:
        return citation.id, "引用箇所", annotate(citation.text, parties)
    what = {"annex_row": "別表の行", "article": "条文", "item": "条文", "preamble": "前文", "closing": "末文"}
    return chunk.id, what.get(chunk.kind, "規定"), annotate(chunk.text, parties)


# --- the 別表, split by role ------------------------------------------------------------------------


def row_question(chunk: Chunk, parties: tuple[tuple[str, str], ...]) -> str:
    """The question that asks the engine about one row: its own 取組 wording finds it exactly."""
    cities = "と".join(city for _, city in parties) or "両市"
    return f"「{row_cells(chunk)['content']}」について、{cities}の役割を教えてください。"


def role_table_html(
    rows: Sequence[Chunk],
    sections: dict[str, Section],
    parties: tuple[tuple[str, str], ...],
    *,
    keyword: str = "",
    city: str = "",
    buttons: bool = True,
) -> str:
    """The 別表 as one table, grouped by section; `keyword` filters rows, `city` keeps one city's column.

    With `buttons`, each row can be explained in the chat; without, rows carry their anchors (full agreement).
    """
    names = [name for _, name in parties] or ["甲", "乙"]
    shown = [i for i, name in enumerate(names) if not city or city == name]
    words = [w for w in re.split(r"[\s　]+", keyword.strip()) if w]
    picked = [r for r in rows if all(fold(w) in fold(r.text) for w in words)]
    head = "".join(f"<th>{html.escape(names[i])}の役割</th>" for i in shown)
    button_head = "<th></th>" if buttons else ""
    body, last_path = [], ""
    for row in picked:
        path = str(row.metadata.get("section", ""))
        body += _section_rows(path, last_path, sections, 2 + len(shown) - (0 if buttons else 1))
        last_path = path
        body.append(_row_html(row, shown, words, buttons=buttons, anchored=not buttons))
    count = f'<p class="table-count">{len(rows)}項目中 {len(picked)}項目を表示</p>'
    if not picked:
        return f'{count}<p class="no-rows">該当する取組はありません。別のことばで検索してください。</p>'
    return (
        f'{count}<table class="role-table"><thead><tr><th>取組の内容</th>{head}{button_head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _section_rows(path: str, last: str, sections: dict[str, Section], width: int) -> list[str]:
    """Heading rows for the sections entered between the previous row and this one."""
    out = []
    parts = path.split("-")
    for depth in range(1, len(parts) + 1):
        prefix = "-".join(parts[:depth])
        if last == prefix or last.startswith(f"{prefix}-"):
            continue
        section = sections.get(prefix, Section(prefix, prefix, ""))
        title = html.escape(f"{section.marker} {section.heading}".strip())
        out.append(f'<tr class="section depth-{depth}"><th colspan="{width}">{title}</th></tr>')
    return out


def _row_html(row: Chunk, shown: list[int], words: list[str], *, buttons: bool, anchored: bool) -> str:
    unit = row_cells(row)
    content, roles = unit["content"], [unit["甲"], unit["乙"]]
    cells = [f"<td>{highlight(content, words)}</td>"] + [f"<td>{highlight(roles[i], words)}</td>" for i in shown]
    if buttons:
        cells.append(f'<td><button class="explain" data-row="{html.escape(row.id)}">チャットで説明</button></td>')
    where = f' id="{anchor(row.id)}"' if anchored else ""  # anchors only in the full agreement: ids are unique
    return f'<tr{where} class="unit">{"".join(cells)}</tr>'


# --- the full agreement -----------------------------------------------------------------------------


def agreement_html(
    chunks: Sequence[Chunk], sections: dict[str, Section], parties: tuple[tuple[str, str], ...], *, title: str = ""
) -> str:
    """Preamble, articles with their items, closing and 別表, each unit anchored by its chunk id."""
    items: dict[object, list[Chunk]] = {}
    for chunk in chunks:
        if chunk.kind == "item":
            items.setdefault(chunk.metadata.get("article"), []).append(chunk)
    parts = [f"<h2>{html.escape(title)}</h2>"] if title else []
    example = f"（例: {parties[0][1]}（甲））" if parties else ""
    parts.append(f'<p class="note">読みやすさのため、甲・乙に市名を補っています{html.escape(example)}。</p>')
    for chunk in chunks:
        if chunk.kind == "preamble":
            body = chunk.text.split("\n", 1)[-1] if title and chunk.text.startswith(title) else chunk.text
            parts.append(_unit(chunk, "", annotate(body, parties)))
        elif chunk.kind == "article":
            parts.append(_article_html(chunk, items.get(chunk.metadata.get("article"), []), parties))
        elif chunk.kind == "closing":
            parts.append(_unit(chunk, "末文", annotate(chunk.text, parties)))
    rows = [c for c in chunks if c.kind == "annex_row"]
    if rows:
        parts.append('<section class="annex"><h3>別表（第3条関係）</h3>')
        parts.append(role_table_html(rows, sections, parties, buttons=False).split("</p>", 1)[1])
        parts.append("</section>")
    return f'<article class="agreement">{"".join(parts)}</article>'


def _unit(chunk: Chunk, heading: str, text: str) -> str:
    title = f"<h3>{html.escape(heading)}</h3>" if heading else ""
    return f'<section id="{anchor(chunk.id)}" class="unit">{title}<p>{highlight(text, ())}</p></section>'


def _article_html(article: Chunk, items: Sequence[Chunk], parties: tuple[tuple[str, str], ...]) -> str:
    body = annotate(re.sub(r"^第\d+条\s*", "", article.text.split("\n", 1)[0]), parties)
    listed = "".join(
        f'<li id="{anchor(i.id)}" class="unit"><span class="item-no">（{i.metadata.get("item")}）</span>'
        f"{html.escape(annotate(i.text, parties))}</li>"
        for i in items
    )
    return (
        f'<section id="{anchor(article.id)}" class="unit"><h3>{html.escape(article.label)}</h3>'
        f"<p>{html.escape(body)}</p>{f'<ol class=items>{listed}</ol>' if listed else ''}</section>"
    )
