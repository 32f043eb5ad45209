"""Synthetic corpora for the bench: N distinct agreements made from the real one, and questions that name
their partner, with the unit of that partner's agreement that answers them.

Each copy is the real agreement with another partner city (乙), its own mayor, address and signing date:
one template, as a region's agreements are. Units that name the partner (preamble, closing block) differ in
every copy; rows and articles keep 甲/乙 as marks in the embedded text and read the same, so ingest embeds
each distinct text once (a fresh data dir: nothing comes from an earlier index).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.evaluation import Case

PARTNER_CITY, PARTNER_STEM = "小郡市", "小郡"
ADDRESS, MAYOR, SIGNED = "福岡県小郡市小郡255番地1", "小郡市長 平安正知", "平成28年2月23日"
_FIRST, _SECOND = "大東西南北上新古高中", "川山野原田津浦島岡沢"
PARTNER_STEMS = tuple(a + b for a in _FIRST for b in _SECOND)  # 100 made-up partner names, none with と/甲/乙
_SURNAMES = ("佐藤", "鈴木", "高橋", "渡辺", "伊藤", "山本", "小林", "加藤", "吉田", "松本")
_GIVEN = ("一郎", "健二", "誠", "浩", "隆", "明美", "直樹", "裕子", "達也", "恵")


@dataclass(frozen=True)
class Partner:
    slug: str  # the agreement's file stem, which prefixes its unit ids
    stem: str  # 小郡 / 東山: the city's name without 市


def partner_names(index: int) -> tuple[str, str, str, str]:
    """Stem, address, mayor and signing date of made-up partner `index` (1…99; 0 is the real 小郡市)."""
    stem = PARTNER_STEMS[index]
    address = f"福岡県{stem}市{stem}{100 + 7 * index}番地{1 + index % 9}"
    mayor = f"{stem}市長 {_SURNAMES[index // 10]}{_GIVEN[index % 10]}"
    day = dt.date(2016, 1, 5) + dt.timedelta(days=5 * index)
    return stem, address, mayor, f"平成{day.year - 1988}年{day.month}月{day.day}日"


def replicate(source: Path, target: Path, copies: int) -> list[Partner]:
    """`copies` distinct agreements in `target`: the original, then copies with other partners (乙)."""
    if copies > len(PARTNER_STEMS):
        msg = f"cannot make {copies} agreements: only {len(PARTNER_STEMS)} partner names are defined"
        raise ValueError(msg)
    target.mkdir(parents=True, exist_ok=True)
    text = source.read_text(encoding="utf-8")
    (target / source.name).write_text(text, encoding="utf-8")
    partners = [Partner(source.stem, PARTNER_STEM)]
    for i in range(1, copies):
        stem, address, mayor, signed = partner_names(i)
        copy = text.replace(ADDRESS, address).replace(MAYOR, mayor).replace(SIGNED, signed)
        copy = copy.replace(PARTNER_CITY, f"{stem}市").replace(PARTNER_STEM, stem)
        slug = f"{source.stem}-copy{i:03d}"
        (target / f"{slug}.txt").write_text(copy, encoding="utf-8")
        partners.append(Partner(slug, stem))
    return partners


# Questions that name the partner: templates, plus the dev questions that name 小郡 by its written name
# (not in hiragana or with a typo, which a made-up name has no counterpart for).
TEMPLATES = (
    ("{p}市の子育て支援の役割は？", "annex-3-1-2"),
    ("{p}市との協約の第4条は？", "art-4"),
    ("{p}市との協約はいつ締結されたの？", "closing"),
    ("{p}市の公共交通の役割は？", "annex-3-2-1"),
    ("{p}市との協約の目的は？", "art-1"),
    ("{p}市長として署名したのは誰？", "closing"),
)
# The partner's name in the spellings a template cannot carry over to another partner.
_OTHER_SPELLINGS = re.compile(r"ogori|おごおり|オゴオリ|ｵｺﾞｵﾘ", re.IGNORECASE)
_DEV_GROUPS = frozenset({"resident", "staff", "helpdesk", "halfwidth", "long", "metadata"})


def partner_templates(dev: Sequence[Case]) -> list[tuple[str, str]]:
    """(question with {p} for the partner stem, expected local id): the templates and the usable dev questions."""
    from_dev = [
        (case.question.replace(PARTNER_STEM, "{p}"), case.expected[0])
        for case in dev
        if PARTNER_STEM in case.question
        and not _OTHER_SPELLINGS.search(case.question)  # 「Ogoriに住んでます…小郡市も」 would name two partners
        and case.group in _DEV_GROUPS
        and not case.history
        and not case.refuse
        and len(case.expected) == 1
    ]
    return list(dict.fromkeys([*TEMPLATES, *from_dev]))


@dataclass(frozen=True)
class PartnerQuestion:
    question: str
    expected: str  # slug/local-id: the unit of the named partner's agreement


def partner_questions(partners: Sequence[Partner], dev: Sequence[Case], *, per_partner: int) -> list[PartnerQuestion]:
    """At least `per_partner` questions for each agreement, rotating through the templates, and as many as it
    takes to ask every template once: so each corpus size is scored on all of them, ×1 included, and a
    difference between sizes is the corpus's, not a different sample's."""
    templates = partner_templates(dev)
    per_partner = max(per_partner, -(-len(templates) // max(len(partners), 1)))
    out = []
    for n, partner in enumerate(partners):
        for j in range(per_partner):
            question, local = templates[(n * per_partner + j) % len(templates)]
            out.append(PartnerQuestion(question.format(p=partner.stem), f"{partner.slug}/{local}"))
    return out


def edit_one(corpus: Path, partners: Sequence[Partner]) -> str:
    """Change one sentence of the middle agreement's 第4条, as a staff member's correction would; its slug."""
    slug = partners[len(partners) // 2].slug
    path = corpus / f"{slug}.txt"
    text = path.read_text(encoding="utf-8")
    if "定期的に" not in text:
        msg = f"{path}: the sentence to edit (定期的に) is not there"
        raise ValueError(msg)
    path.write_text(text.replace("定期的に", "随時", 1), encoding="utf-8")
    return slug
