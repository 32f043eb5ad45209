"""Agreement → citable chunks: one per article, per item, per annex row, plus preamble and closing."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.errors import CorpusError
from assistant.tokenize import terms
from assistant.types import Agreement, AnnexRow, Article, Chunk, ChunkKind, Item

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
            embed_text=f"{agreement.title}\n{label}\n{with_city_names(embed, agreement)}",
            tokens=tuple(terms(f"{label}\n{embed}")),
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
    for row, label in zip(agreement.annex, row_labels, strict=True):
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


def section_path_text(row: AnnexRow) -> str:
    return " ".join(f"{s.marker} {s.heading}" for s in row.sections)


def row_text(row: AnnexRow, agreement: Agreement) -> str:
    kou, otsu = agreement.party("甲").name, agreement.party("乙").name
    return f"取組の内容：{row.content}\n{kou}（甲）の役割：{row.role_kou}\n{otsu}（乙）の役割：{row.role_otsu}"


def row_embed_text(row: AnnexRow) -> str:
    return f"{section_path_text(row)}\n取組の内容：{row.content}\n甲の役割：{row.role_kou}\n乙の役割：{row.role_otsu}"


def with_city_names(text: str, agreement: Agreement) -> str:
    """甲/乙 → 久留米市（甲）/小郡市（乙), so every chunk reads on its own."""
    for party in agreement.preamble.parties:
        text = re.sub(f"{party.mark}(?!（)", f"{party.name}（{party.mark}）", text)
    return text


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
