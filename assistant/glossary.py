"""The domain glossary (data/glossary.toml): synonyms, corrections, out-of-scope topics, injections."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from assistant.normalize import fold

GLOSSARY_PATH = Path(__file__).parent / "data" / "glossary.toml"
_KANJI = re.compile(r"[\u4e00-\u9fff々]")


@dataclass(frozen=True)
class Topic:
    """A topic the agreement does not cover (or a provision it does not have) and where to look."""

    pattern: re.Pattern[str]
    ask: str = ""  # where a resident could ask instead
    what: str = ""  # the missing provision, for "there is none" answers
    pointer: str = ""  # local chunk id of what the agreement does say


@dataclass(frozen=True)
class Glossary:
    synonyms: tuple[tuple[re.Pattern[str], str], ...]
    corrections: tuple[tuple[re.Pattern[str], str], ...]
    out_of_scope: tuple[Topic, ...]
    not_provided: tuple[Topic, ...]
    injection: re.Pattern[str]
    keys: tuple[str, ...] = ()  # the everyday words the synonyms map, for reading kana spellings

    def correct(self, text: str) -> str:
        for pattern, replacement in self.corrections:
            text = pattern.sub(replacement, text)
        return text

    def expand(self, text: str) -> list[str]:
        """The agreement's terms for the everyday words in `text`."""
        return [terms for pattern, terms in self.synonyms if pattern.search(text)]


def _key(word: str) -> re.Pattern[str]:
    """ASCII keys match whole words, plurals allowed (buses, cities; "bus" is not in "business") and a plural
    key its singular (kids: kid); one kanji as a word of its own; other Japanese keys anywhere."""
    folded = fold(word)
    if len(folded) == 1 and _KANJI.fullmatch(folded):  # a word alone (熱を出した), not inside one (熱心, 情熱)
        return re.compile(rf"(?<!{_KANJI.pattern}){re.escape(folded)}(?!{_KANJI.pattern})")
    if not folded.isascii():
        return re.compile(re.escape(folded))
    if folded.endswith("s") and not folded.endswith("ss") and len(folded) > 3:
        folded = folded[:-1]
    if folded.endswith("y"):
        return re.compile(rf"\b{re.escape(folded[:-1])}(?:y|ies)\b")
    return re.compile(rf"\b{re.escape(folded)}(?:e?s)?\b")


@cache
def load_glossary(path: Path = GLOSSARY_PATH) -> Glossary:
    data = tomllib.loads(path.read_text(encoding="utf-8"))

    def topics(name: str) -> tuple[Topic, ...]:
        return tuple(
            Topic(re.compile(t["pattern"], re.IGNORECASE), t.get("ask", ""), t.get("what", ""), t.get("pointer", ""))
            for t in data.get(name, [])
        )

    return Glossary(
        synonyms=tuple((_key(k), fold(v)) for k, v in data["synonyms"].items()),
        corrections=tuple((_key(k), fold(v)) for k, v in data["corrections"].items()),
        out_of_scope=topics("out_of_scope"),
        not_provided=topics("not_provided"),
        injection=re.compile(data["injection"]["pattern"], re.IGNORECASE),
        keys=tuple(fold(k) for k in data["synonyms"] if not k.isascii()),
    )


# The "no hand glossary" ablation: no domain synonyms, corrections, topics or injection patterns.
EMPTY_GLOSSARY = Glossary((), (), (), (), re.compile(r"(?!)"))
