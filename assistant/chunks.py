"""Agreement → citable chunks: one per article, per item, per annex row, plus preamble and closing."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.errors import CorpusError
from assistant.tokenize import terms
from assistant.types import Agreement, AnnexRow, AnnexSection, Article, Chunk, ChunkKind, Facet, Item

_CLAUSE_END = re.compile(r"[、。]")
_TITLE_MIN, _TITLE_MAX = 12, 24


def build_chunks(agreements: Sequence[Agreement]) -> list[Chunk]:
    """Chunks for every agreement; labels name the partner city when the corpus holds several."""
    several = len(agreements) > 1
    chunks = [chunk for agreement in agreements for chunk in agreement_chunks(agreement, several=several)]
    _check_unique(chunks)
    return chunks


def agreement_chunks(agreement: Agreement, *, several: bool = False) -> list[Chunk]:
    prefix = f"{agreement.party('乙').name}との協約 " if several else ""
    out: list[Chunk] = []

    def make(local_id: str, kind: ChunkKind, label: str, text: str, embed: str, **meta: str | int) -> Chunk:
        return Chunk(
            id=f"{agreement.slug}/{local_id}",
            kind=kind,
            label=f"{prefix}{label}",
            text=text,
            # 甲/乙 stay marks here, not city names: then a row or article reads the same in every partner's
            # agreement made from one template, and its vector (keyed by embed text) is computed once for all of
            # them. Which partner a question means is decided by the planner, never by the vector.
            embed_text=f"{agreement.title}\n{label}\n{embed}",
            # A unit's label (an article's heading, a row's opening words) counts twice, as a title field does in
            # BM25F: 第1条（目的） is about 目的 more than 第2条, which mentions it. A 別表 heading is found by its
            # own words only; its rows' words stay theirs, so BM25 still tells rows apart.
            tokens=tuple(terms(label) if kind == "section" else terms(label) + terms(f"{label}\n{embed}")),
            metadata=_metadata(agreement, local_id, order=len(out), **meta),
        )

    preamble = agreement.preamble
    opening = f"{preamble.title}\n{preamble.text}" if preamble.title else preamble.text
    out.append(make("preamble", "preamble", "前文", opening, opening, legal_basis=preamble.legal_basis))
    for article in agreement.articles:
        out.append(
            make(
                f"art-{article.number}",
                "article",
                article_label(article),
                article_text(article),
                article_text(article),
                article=article.number,
                line=article.line,
            )
        )
        for item in article.items:
            label = item_label(article, item)
            out.append(
                make(
                    f"art-{article.number}-{item.number}",
                    "item",
                    label,
                    item.text,
                    f"{article.text}\n{item.text}",
                    article=article.number,
                    item=item.number,
                )
            )
    closing = agreement.closing
    out.append(
        make(
            "closing",
            "closing",
            "末文（締結日・署名者）",
            closing_text(agreement),
            closing_text(agreement),
            date=closing.date.isoformat(),
        )
    )
    row_labels = [row_label(row) for row in agreement.annex]
    listed: set[str] = set()
    for row, label in zip(agreement.annex, row_labels, strict=True):
        for section in (s for s in row.sections if s.path not in listed):  # a heading is cited by area listings
            listed.add(section.path)
            heading = f"{section_label(section)}"
            members = [r for r in agreement.annex if section in r.sections]
            body = "\n".join(f"・{row_title(r)}" for r in members)
            out.append(
                make(
                    f"section-{section.path}",
                    "section",
                    heading,
                    f"{heading}\n{body}",
                    f"{heading}\n" + "\n".join(r.content for r in members),
                    section=section.path,
                    marker=section.marker,
                    section_heading=section.heading,
                    rows=len(members),
                )
            )
        numbered = row_labels.count(label) > 1  # rows opening with the same words: tell them apart by position
        out.append(
            make(
                row.local_id,
                "annex_row",
                row_label(row, numbered=numbered),
                row_text(row, agreement),
                row_embed_text(row),
                section=row.section.path,
                marker=row.section.marker,
                section_heading=row.section.heading,
                line=row.line,
            )
        )
    return out


def article_label(article: Article) -> str:
    return f"第{article.number}条（{article.heading}）" if article.heading else f"第{article.number}条"


def item_label(article: Article, item: Item) -> str:
    return f"{article_label(article)}第{item.number}号 {item.text}"


def article_text(article: Article) -> str:
    items = [f"（{item.number}）{item.text}" for item in article.items]
    return "\n".join([article.text, *items])


def closing_text(agreement: Agreement) -> str:
    closing = agreement.closing
    signers = [f"{p.mark}（{p.name}） {p.address} {p.mayor}" for p in closing.parties]
    return "\n".join([closing.text, closing.date_text, *signers])


def row_title(row: AnnexRow) -> str:
    """A short handle for a row, taken from the start of 取組の内容 (the source gives rows no titles)."""
    content, end = row.content, 0
    for match in _CLAUSE_END.finditer(content):
        end = match.start()
        if end >= _TITLE_MIN:
            break
    end = end if end >= _TITLE_MIN else len(content)
    title = content[: min(end, _TITLE_MAX)]
    return title if len(title) == len(content) or content[len(title)] in "、。" else f"{title}…"


def row_label(row: AnnexRow, *, numbered: bool = False) -> str:
    position = f"{row.index}行目 " if numbered else ""
    return f"別表 {row.section.marker} {position}{row_title(row)}"


def section_label(section: AnnexSection) -> str:
    return f"別表 {section.marker} {section.heading}"


def section_path_text(row: AnnexRow) -> str:
    return " ".join(f"{s.marker} {s.heading}" for s in row.sections)


def row_text(row: AnnexRow, agreement: Agreement) -> str:
    kou, otsu = agreement.party("甲").name, agreement.party("乙").name
    return f"取組の内容：{row.content}\n{kou}（甲）の役割：{row.role_kou}\n{otsu}（乙）の役割：{row.role_otsu}"


def row_embed_text(row: AnnexRow) -> str:
    return f"{section_path_text(row)}\n取組の内容：{row.content}\n甲の役割：{row.role_kou}\n乙の役割：{row.role_otsu}"


def annotate(text: str, parties: tuple[tuple[str, str], ...]) -> str:
    """甲 → 久留米市（甲）, so a quotation always shows the city; 「甲」 definitions and marks that
    already carry their city are left alone. The one place that turns marks into city names."""
    for mark, city in parties:
        text = re.sub(rf"(?<![「（]){mark}(?![（」）])", f"{city}（{mark}）", text)
    return text


def row_cells(chunk: Chunk) -> dict[str, str]:
    """The three cells of an annex row chunk (取組の内容, 甲's role, 乙's role), read back from its text."""
    content, kou, otsu = (line.split("：", 1)[1] for line in chunk.text.split("\n")[:3])
    return {"content": content, "甲": kou, "乙": otsu}


# Japanese clause boundaries in an activity's wording: punctuation and the connectives this form uses to
# join clauses. A sentence splitter library would cut only at 。, which leaves most rows whole.
_CLAUSE = re.compile(r"[、。]|とともに|により|ことで")
_FACET_MIN = 4  # shorter pieces (「等」, 「など」) mean nothing on their own


def row_facets(chunk: Chunk) -> list[str]:
    """The facet texts of an annex row chunk (none for other kinds), in order, without repeats."""
    if chunk.kind != "annex_row":
        return []
    cells = row_cells(chunk)
    clauses = [part for part in _CLAUSE.split(cells["content"]) if len(part) >= _FACET_MIN]
    return list(dict.fromkeys([*clauses, cells["甲"], cells["乙"]]))


def facets_of(chunks: Sequence[Chunk]) -> list[Facet]:
    """Every distinct facet text of the corpus with the rows that have it."""
    rows: dict[str, list[str]] = {}
    for chunk in chunks:
        for text in row_facets(chunk):
            rows.setdefault(text, []).append(chunk.id)
    return [Facet(text, tuple(ids)) for text, ids in rows.items()]


def _metadata(agreement: Agreement, local_id: str, **extra: str | int) -> dict[str, str | int]:
    return {
        "agreement": agreement.slug,
        "local_id": local_id,
        "kou": agreement.party("甲").name,
        "otsu": agreement.party("乙").name,
        "source": agreement.source,
        **extra,
    }


def _check_unique(chunks: list[Chunk]) -> None:
    for attribute in ("id", "label"):
        values = [getattr(chunk, attribute) for chunk in chunks]
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            sources = sorted({str(c.metadata["source"]) for c in chunks if getattr(c, attribute) in duplicates})
            msg = f"chunk {attribute}s are not unique: {', '.join(duplicates[:3])} (the same partner city twice?)"
            raise CorpusError(", ".join(sources), msg)
