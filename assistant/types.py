"""Frozen domain types passed between pipeline stages."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Literal

ChunkKind = Literal["preamble", "article", "item", "closing", "annex_row", "section"]


@dataclass(frozen=True)
class Party:
    """A signatory: 甲 or 乙, resolved to its city from the preamble."""

    mark: str  # 甲 / 乙
    name: str  # 久留米市
    address: str = ""
    mayor: str = ""  # 久留米市長 梶原利則


@dataclass(frozen=True)
class Item:
    """A numbered item inside an article, e.g. 第2条 (1)."""

    number: int
    text: str


@dataclass(frozen=True)
class Article:
    number: int
    heading: str  # 目的, as written inside （）
    text: str  # the article body, starting with 第N条
    items: tuple[Item, ...] = ()
    line: int = 0


@dataclass(frozen=True)
class Preamble:
    title: str
    text: str
    parties: tuple[Party, ...]
    legal_basis: str


@dataclass(frozen=True)
class Closing:
    text: str  # the attestation sentence, joined across its line break
    date_text: str  # 平成28年2月23日
    date: dt.date
    parties: tuple[Party, ...]
    raw: str  # the whole block as received, for display


@dataclass(frozen=True)
class AnnexSection:
    """One level of the 別表 headings, e.g. ("3", "圏域全体の…") or ("3-2", "結びつき…")."""

    path: str  # "1", "2", "3-1"
    marker: str  # "(1)", "(3)②"
    heading: str


@dataclass(frozen=True)
class AnnexRow:
    section: AnnexSection
    sections: tuple[AnnexSection, ...]  # outermost first
    index: int  # 1-based within its section
    content: str  # 取組の内容
    role_kou: str  # 甲の役割
    role_otsu: str  # 乙の役割
    line: int = 0

    @property
    def local_id(self) -> str:
        return f"annex-{self.section.path}-{self.index}"


@dataclass(frozen=True)
class Agreement:
    slug: str  # from the corpus file name; prefixes every chunk id
    source: str  # file path
    title: str
    preamble: Preamble
    articles: tuple[Article, ...]
    closing: Closing
    annex_title: str
    annex: tuple[AnnexRow, ...]

    def party(self, mark: str) -> Party:
        return next(p for p in self.preamble.parties if p.mark == mark)


@dataclass(frozen=True)
class Chunk:
    id: str  # "kurume-ogori/art-4"
    kind: ChunkKind
    label: str  # 「第4条（会議）」
    text: str  # original wording, for display and quotation
    embed_text: str  # self-contained text for the embedder
    tokens: tuple[str, ...]  # normalised lemmas for BM25
    metadata: dict[str, str | int] = field(default_factory=dict)

    @property
    def local_id(self) -> str:
        return self.id.split("/", 1)[-1]


@dataclass(frozen=True)
class Citation:
    id: str
    label: str
    kind: str
    text: str


@dataclass(frozen=True)
class Message:
    role: Literal["user", "assistant"]
    content: str


Outcome = Literal["answer", "nearest", "refusal"]


@dataclass(frozen=True)
class Answer:
    """`outcome`: answered from the agreement; "nearest" = not settled by it, related units shown; or refused."""

    question: str
    text: str
    citations: tuple[Citation, ...]
    outcome: Outcome
    language: Literal["ja", "en"]
    latency_ms: float = 0.0
    notices: tuple[str, ...] = ()
    ranked: tuple[str, ...] = ()  # retrieval order, for evaluation; not part of the JSON contract

    @property
    def refused(self) -> bool:
        """True for "nearest" too: the agreement does not settle the question (kept for existing clients)."""
        return self.outcome != "answer"

    def to_json(self) -> dict[str, object]:
        return {
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "outcome": self.outcome,
            "citations": [c.__dict__ for c in self.citations],
            "language": self.language,
            "latency_ms": round(self.latency_ms, 2),
            "notices": list(self.notices),
        }


@dataclass(frozen=True)
class Facet:
    """One short part of annex rows (a clause of an activity, or one city's role), embedded on its own.

    A row's text is long and names several things (販路拡大, 新規就農支援, 就職支援); its one vector blurs them.
    A question usually means one of them, and matches that part's vector more closely. Facets are not
    citable: they only add to their rows' dense score (retrieve.Retriever). One record per distinct text,
    naming every row that has it: agreements made from one template share them."""

    text: str
    rows: tuple[str, ...]  # chunk ids of the rows with this part

    @property
    def id(self) -> str:
        return "facet:" + hashlib.sha1(self.text.encode("utf-8")).hexdigest()[:16]
