"""The vendored Sudachi synonym dictionary (data/sudachi/): its entries, and a compact form that loads fast.

`synonyms.txt.xz` is upstream's file unchanged. Parsing its 67k CSV lines costs 0.5–0.9 s on this machine, so
`python -m assistant.sudachi` derives `synonyms.compact.gz` from it once (a headword index plus one line per
group) and `load_dictionary` reads only that; a test checks the two agree. Format: upstream docs/synonyms.md.
"""

from __future__ import annotations

import gzip
import json
import lzma
from dataclasses import dataclass
from enum import IntEnum
from functools import cache
from pathlib import Path

from assistant.normalize import nfkc

DATA_DIR = Path(__file__).parent / "data" / "sudachi"
ORIGINAL_PATH = DATA_DIR / "synonyms.txt.xz"
COMPACT_PATH = DATA_DIR / "synonyms.compact.gz"
UPSTREAM = {
    "repository": "https://github.com/WorksApplications/SudachiDict",
    "path": "src/main/text/synonyms.txt",
    "commit": "2c7cbcf2914edaccab53a28ae0d3e4befb524053",
    "date": "2024-03-27",
    "license": "Apache-2.0",
}
_SECTION = "\x1e"  # ASCII record separator: never in the dictionary text
_FIELDS = 11  # group, 体言/用言, 展開制御, 語彙番号, 語形種別, 略語, 表記揺れ, 分野, 見出し, 予約, 予約


class Expansion(IntEnum):
    """展開制御フラグ: may this word trigger an expansion, be reached by one, or neither."""

    ALWAYS = 0  # 常に展開に使用する
    TARGET_ONLY = 1  # 自分自身は展開のトリガーとならないが、同グループ内の別の見出しからは展開される
    NEVER = 2  # 常に展開に使用しない (a deleted pairing kept so it is not re-added by mistake)


@dataclass(frozen=True)
class SynonymEntry:
    """One line of synonyms.txt. Omitted flags take upstream's defaults (0)."""

    group: str  # 6-digit group number
    headword: str  # 見出し as written upstream
    key: str  # NFKC + casefold, the form the corpus tokenizer produces
    predicate: bool  # 用言 (verb, adjective) rather than 体言
    expansion: Expansion
    lexemes: tuple[int, ...]  # 語彙素番号: same number = same word; "1/2" (an abbreviation of both) occurs 63 times
    form: int  # 0 代表語, 1 対訳, 2 別称, 3 旧称, 4 誤用
    abbreviation: int  # 0 代表語形, 1 略語 (alphabet), 2 略語 (other)
    variant: int  # 0 代表表記, 1 alphabet spelling, 2 異表記, 3 誤表記
    domains: tuple[str, ...]  # 分野, e.g. ("企業名", "交通"); () for general words

    @property
    def triggers(self) -> bool:
        return self.expansion == Expansion.ALWAYS


@dataclass(frozen=True)
class SynonymDictionary:
    """Headword → groups, and each group's entries, parsed on demand (a corpus needs a few hundred of 25k)."""

    index: dict[str, str]  # normalised headword → space-separated group numbers
    blocks: tuple[str, ...]  # blocks[int(group)]: that group's lines without the group number, tab-separated
    upstream: dict[str, str]

    def groups_of(self, word: str) -> tuple[str, ...]:
        found = self.index.get(word)
        return tuple(found.split()) if found else ()

    def entries(self, group: str) -> tuple[SynonymEntry, ...]:
        number = int(group)
        block = self.blocks[number] if number < len(self.blocks) else ""
        return tuple(_entry([group, *line.split(",")]) for line in block.split("\t") if line)


def _flag(field: str) -> int:
    return int(field) if field else 0


def _entry(fields: list[str]) -> SynonymEntry:
    group, kind, expansion, lexeme, form, abbreviation, variant, domains, headword = fields[:9]
    return SynonymEntry(
        group=group,
        headword=headword,
        key=normalize_key(headword),
        predicate=kind == "2",
        expansion=Expansion(_flag(expansion)),
        lexemes=tuple(int(n) for n in lexeme.split("/") if n),
        form=_flag(form),
        abbreviation=_flag(abbreviation),
        variant=_flag(variant),
        domains=tuple(d for d in domains.strip("()").split("/") if d),
    )


def normalize_key(word: str) -> str:
    return nfkc(word).casefold().strip()


def parse_original(text: str) -> list[SynonymEntry]:
    """Every entry of upstream's synonyms.txt (CSV without quoting; blank lines separate groups)."""
    out: list[SynonymEntry] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != _FIELDS or not fields[0].isdigit() or not fields[8]:
            msg = f"synonyms.txt line {number}: expected {_FIELDS} comma-separated fields with a headword: {line!r}"
            raise ValueError(msg)
        out.append(_entry(fields))
    return out


def compile_compact(original: str, upstream: dict[str, str]) -> str:
    """The compact form of `original`: header, headwords, their groups, and one line per group number."""
    lines = [line for line in original.splitlines() if line.strip()]
    index: dict[str, list[str]] = {}
    blocks: dict[int, list[str]] = {}
    for line, entry in zip(lines, parse_original(original), strict=True):
        groups = index.setdefault(entry.key, [])
        if entry.group not in groups:
            groups.append(entry.group)
        blocks.setdefault(int(entry.group), []).append(line.split(",", 1)[1].removesuffix(",,"))
    header = json.dumps({**upstream, "entries": sum(map(len, blocks.values())), "groups": len(blocks)})
    rows = ["\t".join(blocks.get(number, [])) for number in range(max(blocks) + 1)]
    sections = [header, "\n".join(index), "\n".join(" ".join(g) for g in index.values()), "\n".join(rows)]
    return _SECTION.join(sections)


def read_compact(text: str) -> SynonymDictionary:
    header, headwords, groups, rows = text.split(_SECTION)
    # dict(zip(...)) of two split strings builds the 64k-entry index in C, without a Python-level loop.
    index = dict(zip(headwords.split("\n"), groups.split("\n"), strict=True))
    return SynonymDictionary(index=index, blocks=tuple(rows.split("\n")), upstream=json.loads(header))


@cache
def load_dictionary(path: Path = COMPACT_PATH) -> SynonymDictionary:
    """The vendored dictionary (cached: ingest may ask for it more than once)."""
    return read_compact(gzip.decompress(path.read_bytes()).decode("utf-8"))


def read_original(path: Path = ORIGINAL_PATH) -> str:
    return lzma.decompress(path.read_bytes()).decode("utf-8")


def main() -> None:
    """Rebuild the compact form from the vendored original (after replacing it and updating UPSTREAM)."""
    compact = compile_compact(read_original(), UPSTREAM)
    COMPACT_PATH.write_bytes(gzip.compress(compact.encode("utf-8"), compresslevel=9, mtime=0))
    print(f"wrote {COMPACT_PATH} ({COMPACT_PATH.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
