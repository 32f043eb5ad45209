"""Tables of the corpus's words that ingest derives once and stores with each index generation.

Why: each needs UniDic (or Sudachi and JMdict) over the whole corpus. A server that derived them at start
tokenized every unit, which left more of UniDic's pages mapped for good (the app's peak RSS under the
bench's load run: the readings about 6 MB, the bound heads and role words about 4 MB) and slowed its start.
The tables only save work: a server given an index built before one existed, or one it cannot parse,
derives that table itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from assistant.chunks import row_cells
from assistant.synonyms import corpus_synonyms
from assistant.tokenize import bound_heads, read_words, terms
from assistant.types import Chunk

SYNONYMS = "synonyms"  # the Sudachi + JMdict synonym map of the corpus's terms (SynonymMap JSON)
READINGS = "readings"  # the corpus's and synonyms' words → katakana reading
BOUND_HEADS = "bound_heads"  # unit id → action noun → the modifiers it is only written after
ROLE_TERMS = "role_terms"  # the 別表's role words (see role_vocabulary)
NAMES = (SYNONYMS, READINGS, BOUND_HEADS, ROLE_TERMS)

BoundHeads = dict[str, dict[str, frozenset[str]]]


def derive(chunks: Sequence[Chunk]) -> dict[str, str]:
    """Every table, as the JSON text stored with the index."""
    synonym_map = corpus_synonyms([chunk.tokens for chunk in chunks])
    words = [*(t for chunk in chunks for t in chunk.tokens), *synonym_map.keys]
    bound = {chunk.id: bound_heads(chunk.text) for chunk in chunks}
    return {
        SYNONYMS: synonym_map.to_json(),
        READINGS: _dump(read_words(words)),
        BOUND_HEADS: _dump({i: {head: sorted(found) for head, found in b.items()} for i, b in bound.items() if b}),
        ROLE_TERMS: _dump(sorted(role_vocabulary(chunks))),
    }


def role_vocabulary(chunks: Sequence[Chunk]) -> frozenset[str]:
    """Words of the 別表 that only say how a city takes part (けん引役, 参加, 企画, 実施): written in the role
    cells of several rows and nowhere else. They say who does what, not what is done, so they never decide
    which row a question is about (「地域振興は久留米市がけん引役？」 is about 地域振興, not the rows that write
    けん引役). Read from the table's columns, so it holds for any agreement of this form."""
    topics: set[str] = set()
    roles: dict[str, set[str]] = {}
    for chunk in chunks:
        if chunk.kind != "annex_row":
            topics.update(chunk.tokens)
            continue
        cells = row_cells(chunk)
        topics.update(terms(cells["content"]))
        for term in {*terms(cells["甲"]), *terms(cells["乙"])}:
            roles.setdefault(term, set()).add(chunk.local_id)
    return frozenset(term for term, rows in roles.items() if len(rows) >= 2 and term not in topics)


def stored_readings(text: str) -> dict[str, str] | None:
    """The stored readings; None (read every word at load) when there are none or they do not parse."""
    table = _parsed(text, lambda t: isinstance(t, dict) and all(isinstance(v, str) for v in t.values()))
    return table if isinstance(table, dict) else None


def stored_bound_heads(text: str, chunks: Sequence[Chunk]) -> BoundHeads:
    """Each unit's bound action nouns, from the stored table or, without one, from its text."""
    table = _parsed(text, lambda t: isinstance(t, dict) and all(_is_heads(v) for v in t.values()))
    if not isinstance(table, dict):
        return {chunk.id: bound_heads(chunk.text) for chunk in chunks}
    return {chunk.id: {h: frozenset(m) for h, m in table.get(chunk.id, {}).items()} for chunk in chunks}


def stored_role_terms(text: str, chunks: Sequence[Chunk]) -> frozenset[str]:
    """The 別表's role words, from the stored table or, without one, from the units."""
    table = _parsed(text, lambda t: isinstance(t, list) and all(isinstance(w, str) for w in t))
    return frozenset(table) if isinstance(table, list) else role_vocabulary(chunks)


def _dump(table: object) -> str:
    return json.dumps(table, ensure_ascii=False, sort_keys=True)


def _parsed(text: str, valid: Callable[[object], bool]) -> object:
    """The table in `text`, or None when there is none or it is damaged (it must never stop the engine)."""
    try:
        table = json.loads(text) if text else None
    except ValueError:
        return None
    return table if table is not None and valid(table) else None


def _is_heads(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(m, list) and all(isinstance(w, str) for w in m) for m in value.values()
    )
