"""English words for the agreement's terms, from JMdict's glosses (jamdict-data), looked up at ingest.

The Sudachi synonym dictionary carries few English 対訳, so an English question ("purpose", "parenting",
"public transport") rarely reaches the agreement's Japanese terms through it. JMdict (EDRDG, CC BY-SA 4.0)
glosses nearly every term: 目的 → purpose, goal, aim; 子育て → child rearing, parenting. Only the first
senses of an exact headword count, and only short glosses, so a term is reached by what it means, not by
a rare sense or an explanation.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Collection
from pathlib import Path

_SENSES = 2  # JMdict lists senses by frequency; later ones are rare uses of the word
_MAX_WORDS = 3  # longer glosses are explanations ("fundamental plan of action"), not words people type
_PARENTHESES = re.compile(r"\([^)]*\)")
_GLOSS = re.compile(r"[a-z][a-z' -]*[a-z]")
_BATCH = 500  # SQLite's default limit on bound parameters is 999


def database() -> Path:
    import jamdict_data  # lazily: only ingest needs the 300 MB database

    return Path(jamdict_data.__file__).parent / "jamdict.db"


def english_glosses(terms: Collection[str], path: Path | None = None) -> dict[str, tuple[str, ...]]:
    """term → its short English glosses (lower case), for the terms JMdict has as a headword."""
    wanted = sorted(set(terms))
    found: dict[str, dict[str, None]] = {}
    with sqlite3.connect(f"file:{path or database()}?mode=ro", uri=True) as connection:
        for start in range(0, len(wanted), _BATCH):
            batch = wanted[start : start + _BATCH]
            marks = ",".join("?" * len(batch))
            for table in ("Kanji", "Kana"):
                rows = connection.execute(_QUERY.format(table=table, marks=marks), batch).fetchall()
                for term, rank, gloss in rows:
                    if rank < _SENSES and (words := _clean(gloss)):
                        found.setdefault(term, {})[words] = None
    return {term: tuple(glosses) for term, glosses in found.items()}


# Senses are numbered within each entry by their order (the ID sequence), glosses kept only in English.
# `+g.lang` keeps SQLite off the index on lang (nearly every gloss is English, so it meant a scan of them all,
# 0.4 s a query); then it looks terms up by their own index (2 ms).
_QUERY = """
select h.text, (select count(*) from Sense p where p.idseq = s.idseq and p.ID < s.ID), g.text
from {table} h join Sense s on s.idseq = h.idseq join SenseGloss g on g.sid = s.ID
where h.text in ({marks}) and +g.lang = 'eng'
"""


def _clean(gloss: str) -> str:
    """'establishment (of a business)' → 'establishment'; long glosses → ''. A verb sense ('to produce', of 生ずる)
    → '': the English word is as often the noun ("local produce", "an address"), and an English verb reaches
    the agreement's action nouns through their gerund glosses instead (query.english_verbs)."""
    text = _PARENTHESES.sub(" ", gloss.casefold()).strip()
    if text.startswith("to "):
        return ""
    text = re.sub(r"^(a|an|the) ", "", text).strip()
    match = _GLOSS.fullmatch(text)
    return text if match and len(text.split()) <= _MAX_WORDS else ""
