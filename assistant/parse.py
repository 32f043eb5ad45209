"""Corpus text → Agreement: the agreement's real structure, read from the file as received.

The source mixes full- and half-width numbering, wraps table cells in `<p>` tags and breaks one
sentence across two lines; each line is matched in its NFKC form, and text is kept as written.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import CorpusError
from assistant.normalize import nfkc, squash_spaces, strip_markup
from assistant.types import (
    Agreement,
    AnnexRow,
    AnnexSection,
    Article,
    Closing,
    Item,
    Party,
    Preamble,
)

_PARTY_DEF = re.compile(r"(?:^|と)([^と、。（）()]+?)[（(]以下「([甲乙丙丁])」という。?[）)]")
_LEGAL_BASIS = re.compile(r"(地方自治法)(?:[（(][^）)]*[）)])?(第\d+条(?:の\d+)?第\d+項)")
_HEADING = re.compile(r"^[（(]([^()（）]+)[）)]$")
_ARTICLE = re.compile(r"^第(\d+)条\s*(.*)$")
_ITEM = re.compile(r"^(?:[-・]\s*)?[（(](\d+)[）)]\s*(.+)$")
_DATE = re.compile(r"^(明治|大正|昭和|平成|令和)(元|\d+)年(\d+)月(\d+)日$")
_SIGNATORY = re.compile(r"^([甲乙丙丁])\s+(.+)$")
_ANNEX = re.compile(r"^別表")
_SECTION = re.compile(r"^[（(](\d+)[）)]\s*(.+)$")
_SUBSECTION = re.compile(r"^([①-⑳])\s*(.+)$")
_ERA_START = {"明治": 1868, "大正": 1912, "昭和": 1926, "平成": 1989, "令和": 2019}
_COLUMNS = 3


@dataclass(frozen=True)
class _Line:
    number: int  # 1-based, as an editor shows it
    raw: str  # as received, trailing whitespace removed
    norm: str  # NFKC and squashed spaces, for matching


def read_text(path: Path) -> str:
    """Read a corpus file strictly: invalid UTF-8 and empty files are errors naming the place."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CorpusError(path, f"cannot read file ({error.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise CorpusError(path, "not valid UTF-8 text", line=line) from None
    if not text.strip():
        raise CorpusError(path, "file is empty")
    return text


def parse_file(path: Path) -> Agreement:
    return parse_text(read_text(path), source=path)


def parse_text(text: str, *, source: Path) -> Agreement:
    lines = [_Line(n, raw.rstrip(), squash_spaces(nfkc(raw))) for n, raw in enumerate(text.splitlines(), 1)]
    annex_at = next((i for i, line in enumerate(lines) if _ANNEX.match(line.norm)), None)
    if annex_at is None:
        raise CorpusError(source, "no 別表 (annex table) found")
    body, annex = lines[:annex_at], lines[annex_at:]
    preamble_at = next((i for i, line in enumerate(body) if _PARTY_DEF.search(line.norm)), None)
    if preamble_at is None:
        raise CorpusError(source, "no preamble defining 甲 and 乙 (「以下「甲」という。」) found")
    preamble = _preamble(body[:preamble_at], body[preamble_at], source)
    articles, closing_at = _articles(body, preamble_at + 1, source)
    marks = {p.mark: p.name for p in preamble.parties}
    closing = _closing(body[closing_at:], marks, source)
    return Agreement(
        slug=source.stem,
        source=str(source),
        title=preamble.title,
        preamble=preamble,
        articles=articles,
        closing=closing,
        annex_title=annex[0].raw.strip(),
        annex=_annex(annex[1:], source),
    )


def _preamble(title_lines: list[_Line], line: _Line, source: Path) -> Preamble:
    parties = tuple(Party(mark=m.group(2), name=m.group(1).strip()) for m in _PARTY_DEF.finditer(line.norm))
    if {p.mark for p in parties} < {"甲", "乙"}:
        raise CorpusError(source, "the preamble must define both 甲 and 乙", line=line.number)
    basis = _LEGAL_BASIS.search(line.norm)
    titles = [t.raw.strip() for t in title_lines if t.norm]
    return Preamble(
        title=titles[-1] if titles else "",
        text=line.raw.strip(),
        parties=parties,
        legal_basis="".join(basis.groups()) if basis else "",
    )


def _articles(body: list[_Line], start: int, source: Path) -> tuple[tuple[Article, ...], int]:
    """Read headed articles from `start`; return them and where the closing block begins."""
    articles: list[Article] = []
    heading, i = "", start
    while i < len(body):
        line = body[i]
        if heading_match := _HEADING.match(line.norm):
            heading, i = heading_match.group(1), i + 1
            continue
        if article := _ARTICLE.match(line.norm):
            parsed, i = _article(body, i, int(article.group(1)), heading)
            articles.append(parsed)
            heading = ""
            continue
        if line.norm and articles:
            # Unheaded text ends the articles; if another article follows, it was not the closing block.
            if later := next((b for b in body[i:] if _ARTICLE.match(b.norm)), None):
                msg = f"text after 第{articles[-1].number}条 is not part of an article, but an article follows at line {later.number}"
                raise CorpusError(source, msg, line=line.number)
            return tuple(articles), i
        i += 1
    if not articles:
        raise CorpusError(source, "no articles (第1条 …) found")
    raise CorpusError(source, "no closing block (date and signatories) after the articles")


def _article(body: list[_Line], i: int, number: int, heading: str) -> tuple[Article, int]:
    first_line = body[i].number
    text_lines = [body[i].raw.strip()]
    i += 1
    while i < len(body) and body[i].norm and not _ITEM.match(body[i].norm):
        text_lines.append(body[i].raw.strip())
        i += 1
    items: list[Item] = []
    while i < len(body) and (not body[i].norm or _ITEM.match(body[i].norm)):
        if match := _ITEM.match(body[i].norm):
            items.append(Item(int(match.group(1)), _item_text(body[i].raw)))
        i += 1
    return Article(number, heading, "".join(text_lines), tuple(items), line=first_line), i


def _item_text(raw: str) -> str:
    """The item's own words, without the list dash and its (1) marker."""
    return re.sub(r"^\s*(?:[-・]\s*)?[（(][0-9０-９]+[）)]\s*", "", raw).strip()


def _closing(lines: list[_Line], marks: dict[str, str], source: Path) -> Closing:
    blocks = _paragraphs(lines)
    if not blocks:
        raise CorpusError(source, "no closing block after the articles")
    sentence = "".join(line.raw.strip() for line in blocks[0])
    date_line = next((line for block in blocks for line in block if _DATE.match(line.norm)), None)
    if date_line is None:
        raise CorpusError(source, "no signing date (e.g. 平成28年2月23日) in the closing block", line=lines[0].number)
    parties = tuple(_signatory(block, marks) for block in blocks if _SIGNATORY.match(block[0].norm))
    return Closing(
        text=sentence,
        date_text=date_line.raw.strip(),
        date=_era_date(date_line.norm),
        parties=parties,
        raw="\n".join(line.raw for line in lines).strip(),
    )


def _paragraphs(lines: list[_Line]) -> list[list[_Line]]:
    blocks: list[list[_Line]] = [[]]
    for line in lines:
        if line.norm:
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [block for block in blocks if block]


def _signatory(block: list[_Line], marks: dict[str, str]) -> Party:
    match = _SIGNATORY.match(block[0].raw.strip())
    assert match  # guarded by the caller's filter
    mark, address = match.group(1), match.group(2).strip()
    mayor = squash_spaces(block[-1].raw) if len(block) > 1 else ""
    return Party(mark=mark, name=marks.get(mark, ""), address=address, mayor=mayor)


def _era_date(text: str) -> dt.date:
    era, year, month, day = _DATE.match(text).groups()  # type: ignore[union-attr]
    return dt.date(_ERA_START[era] + (1 if year == "元" else int(year)) - 1, int(month), int(day))


def _annex(lines: list[_Line], source: Path) -> tuple[AnnexRow, ...]:
    rows: list[AnnexRow] = []
    top: AnnexSection | None = None
    current: AnnexSection | None = None
    for line in lines:
        if not line.norm:
            continue
        if "\t" in line.raw:
            if current is None:
                raise CorpusError(source, "table row before any section heading", line=line.number)
            cells = [strip_markup(cell) for cell in line.raw.strip().split("\t")]
            if len(cells) != _COLUMNS:
                msg = f"table row has {len(cells)} columns, expected {_COLUMNS} (取組の内容, 甲の役割, 乙の役割)"
                raise CorpusError(source, msg, line=line.number)
            if cells[0] == "取組の内容":
                continue
            sections = (top, current) if top and current is not top else (current,)
            index = sum(1 for row in rows if row.section == current) + 1
            rows.append(AnnexRow(current, sections, index, *cells, line=line.number))  # type: ignore[arg-type]
        elif sub := _SUBSECTION.match(line.raw.strip()):
            if top is None:
                raise CorpusError(source, "sub-section before any (N) section", line=line.number)
            number = ord(sub.group(1)) - ord("①") + 1
            current = AnnexSection(f"{top.path}-{number}", f"{top.marker}{sub.group(1)}", sub.group(2).strip())
        elif sec := _SECTION.match(line.norm):
            top = current = AnnexSection(sec.group(1), f"({sec.group(1)})", sec.group(2).strip())
    if not rows:
        raise CorpusError(source, "the 別表 has no table rows")
    return tuple(rows)


def parse_corpus(corpus_dir: Path) -> list[Agreement]:
    """Every agreement in `corpus_dir` (*.txt, sorted, so chunk order and ids are stable)."""
    if not corpus_dir.is_dir():
        raise CorpusError(corpus_dir, "corpus directory not found")
    files = sorted(corpus_dir.glob("*.txt"))
    if not files:
        raise CorpusError(corpus_dir, "no agreement files (*.txt) in the corpus directory")
    return [parse_file(path) for path in files]
