"""Hybrid retrieval: dense search in Chroma + BM25 over fugashi lemmas, fused by reciprocal rank."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from assistant.embed import Embedder
from assistant.frame import GENERIC_TERMS
from assistant.index import IndexReader
from assistant.lazy import import_without
from assistant.tokenize import AS_WRITTEN_CHARS, gist, place_terms, terms
from assistant.types import Chunk
from assistant.word_tables import BOUND_HEADS, ROLE_TERMS, BoundHeads, stored_bound_heads, stored_role_terms

# bm25s imports scipy.sparse when it can, for a matrix backend this index does not use (its default, "numpy"):
# about 20 MB of the app's memory and 0.2 s of a cold start for nothing.
bm25s = import_without("bm25s", "scipy")

Mode = Literal["hybrid", "dense", "lexical"]
_RRF_K = 60  # the constant from Cormack et al. (2009); rank fusion is 5 lines, not worth a dependency
_DECISIVE = 2.0  # BM25 margin over the runner-up beyond which the words alone decide (no query embedding)
# Every unit and facet of one agreement (29 + 70 here) gets a dense vote, so none is ranked on words alone.
_DENSE_DEPTH = 128
# A row's best facet's share of its dense score, chosen on dev. At round 5 (1,095 questions) 0.1-0.3 tied at 95.3%
# first citation. Since the ranking text lost the parties' names (round 7), on dev + set H (1,380 answerable):
# 0.1 / 0.2 / 0.3 / 0.4 / 0.5 / 0.8 give 1319 / 1322 / 1322 / 1324 / 1320 / 1320 right. A row holds several
# activities, so its own cosine blurs the one asked about (就職支援, in a row mostly about 販路拡大).
_FACET = 0.4
# A long question's gist (its content words, see tokenize.gist), measured on dev (3,045): cut at 64 / 96 / 128
# characters, 2 / 2 / 2 questions fixed and 1 / 0 / 0 lost against the old cut (its first 64 characters of
# lemmas and compounds); p95 45.8 ms at 96, 47.3 at 128.
_GIST_CHARS = 96
# Cosines closer than this tie in the dense ranking (the words decide between them): chosen on dev, where
# 0.002 / 0.003 / 0.005 / 0.008 give first citation 95.9 / 95.9 / 95.8 / 95.6% (the largest of the best).
_DENSE_TIE = 0.003
_ROUNDING = 1e-5  # BM25 scores here are 0.1 and up
# BM25 scores closer than this share of the larger tie in the words (the meaning decides an exact fused tie between
# them), chosen on dev: 0.02 / 0.05 / 0.10 / 0.20 / always the meaning gave +1 −0 / +2 −0 / +7 −1 / +7 −2 / +8 −6.
_WORDS_TIE = 0.10


@dataclass(frozen=True)
class Scored:
    chunk: Chunk
    score: float
    lexical: float  # raw BM25 score, 0 when no query term is in the chunk
    dense: float  # cosine similarity


class Lexical:
    """BM25 (bm25s) over the chunks' lemmas."""

    def __init__(self, chunks: list[Chunk], bound: BoundHeads) -> None:
        """`bound`: each unit's action nouns it only writes inside a compound (see word_tables)."""
        self._bm25 = bm25s.BM25()
        self._bm25.index([list(c.tokens) or ["∅"] for c in chunks], show_progress=False)
        self.vocabulary = frozenset(t for c in chunks for t in c.tokens)
        # Per action noun, the units that only write it inside a compound, with that compound's modifiers.
        self._bound: dict[str, list[tuple[int, frozenset[str]]]] = {}
        for n, chunk in enumerate(chunks):
            for head, modifiers in bound.get(chunk.id, {}).items():
                self._bound.setdefault(head, []).append((n, modifiers))

    def scores(
        self,
        query_lemmas: list[str],
        *,
        ignore: frozenset[str] = GENERIC_TERMS,
        groups: Sequence[Sequence[str]] = (),
        context: frozenset[str] = frozenset(),
    ) -> np.ndarray:
        """BM25 of the question's known words; a bare action noun counts nothing for a unit that only writes
        it after a modifier the question lacks (see tokenize.bound_heads). Each of `groups` (the terms one
        question word was expanded to: 病院 → 救急医療 診療情報ネットワーク, eight terms with their parts) counts
        as one word, its terms' scores averaged, so a long term does not outweigh the question's other words.
        `context` words (place names) count only for a unit that shares another of the question's own words: 福岡
        says where, not what (selling in 福岡 and 東京 is not the row that writes 福岡都市圏 for moving here)."""
        known = [t for t in query_lemmas if t in self.vocabulary and t not in ignore and _meaningful(t)]
        if not known:
            return np.zeros(self._bm25.scores["num_docs"], dtype=np.float32)
        total = self._bm25.get_scores(known)
        asked = set(query_lemmas)
        for term in sorted(set(known) & self._bound.keys()):  # sorted: one order of float sums in every process
            units = [n for n, modifiers in self._bound[term] if not modifiers & asked]
            if units:
                total[units] -= known.count(term) * self._bm25.get_scores([term])[units]
        for group in groups:
            members = [t for t in group if t in known]
            if len(members) > 1:
                total -= (1 - 1 / len(members)) * self._bm25.get_scores(members)
        expanded = {t for group in groups for t in group}
        if places := [t for t in known if t in context and t not in expanded]:
            topical = self.scores([t for t in query_lemmas if t not in expanded], ignore=ignore | context)
            total -= np.where(topical > 0, 0, self._bm25.get_scores(places))
        # What the subtractions leave of a unit whose every word was taken back is rounding error (±1e-7), and
        # it was a match: one in four processes (by their hash seeds) ranked 子育て相談's row for 相談 + 支援.
        return np.where(total > _ROUNDING, total, 0)


def _meaningful(term: str) -> bool:
    """Digits and single Latin letters (the 1 of 「(1)」 or 「alert(1)」) are evidence of nothing."""
    return not term.isdigit() and not (len(term) == 1 and term.isascii())


def dense_query(text: str, expansions: Sequence[str] = ()) -> str:
    """What the embedder sees. Its cost grows with length, so a long question (or one carrying its
    history) is embedded as its gist: its content words in order, less the frame (parties, 役割, question
    words), numerals, time words and auxiliary verbs, so the request at its end still fits.

    An English question keeps its wording and the Japanese terms its words reached, up to twice the length
    (English words are few tokens each): cut to its first English words, the terms were lost, and the
    embedder matches English words poorly against the Japanese text (dense-only first citation on the
    English questions of dev and set D: 59% cut, 86% kept).

    A short Japanese question is embedded as written, without the terms appended for BM25: the model reads
    its words well, and appended terms pulled it to any unit that writes them (子ども → 児童 put the
    childcare row above 小児救急 for a child's fever at night). On dev + set H: 1,328 first citations, 1,324 with."""
    if sum(not c.isascii() for c in text) * 4 < len(text):
        return text[: 2 * AS_WRITTEN_CHARS]
    own = _without_appended(text, expansions)
    if len(own) <= AS_WRITTEN_CHARS:
        return own
    return " ".join(w for w in gist(own) if w not in GENERIC_TERMS)[:_GIST_CHARS]


def _without_appended(text: str, appended: Sequence[str]) -> str:
    """`text` less the `appended` strings at its end (a query's expansions, see query.analyze)."""
    for tail in reversed(appended):
        if text.rstrip().endswith(tail):
            text = text.rstrip().removesuffix(tail)
    return text.rstrip()


def _by_meaning_then_words(by_meaning: dict[str, float], lexical: dict[str, float]) -> list[str]:
    """The dense ranking, where units within _DENSE_TIE of the best of their group (closer than the model can
    tell apart) rank by the words they share with the question, then by meaning."""
    groups: list[list[str]] = []
    for unit in sorted(by_meaning, key=by_meaning.__getitem__, reverse=True):
        if groups and by_meaning[groups[-1][0]] - by_meaning[unit] < _DENSE_TIE:
            groups[-1].append(unit)
        else:
            groups.append([unit])
    return [u for group in groups for u in sorted(group, key=lambda u: lexical.get(u, 0.0), reverse=True)]


def _tie_broken(fused: dict[str, float], lexical: dict[str, float], by_meaning: dict[str, float]) -> list[str]:
    """Units by fused score. Exact ties (one ranking each way) go to the unit with more lexical evidence, unless
    the two BM25 scores are within _WORDS_TIE of each other (as close as cosines within _DENSE_TIE): then to
    the closer meaning, by the score the dense ranking itself used (a row's blend with its best facet)."""

    def compare(a: str, b: str) -> int:
        if fused[a] != fused[b]:
            return -1 if fused[a] > fused[b] else 1
        words_a, words_b = lexical.get(a, 0.0), lexical.get(b, 0.0)
        if abs(words_a - words_b) > _WORDS_TIE * max(words_a, words_b):
            return -1 if words_a > words_b else 1
        meaning_a, meaning_b = by_meaning.get(a, 0.0), by_meaning.get(b, 0.0)
        return -1 if meaning_a > meaning_b else 1 if meaning_a < meaning_b else 0

    return sorted(fused, key=functools.cmp_to_key(compare))


def _by_agreement(rows: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    grouped: dict[str, list[str]] = {}
    for row in rows:
        grouped.setdefault(row.split("/", 1)[0], []).append(row)
    return {slug: tuple(ids) for slug, ids in grouped.items()}


def rrf(
    rankings: list[list[str]], *, k: int = _RRF_K, weights: list[dict[str, float]] | None = None
) -> dict[str, float]:
    """Reciprocal rank fusion; `weights` (one map per ranking, default 1) scale a unit's vote in that ranking."""
    scores: dict[str, float] = defaultdict(float)
    for number, ranking in enumerate(rankings):
        weight = weights[number] if weights else {}
        for rank, chunk_id in enumerate(ranking):
            scores[chunk_id] += weight.get(chunk_id, 1.0) / (k + rank + 1)
    return scores


class Retriever:
    def _dense(
        self, vector: np.ndarray, agreement: str, allowed: Callable[[str], bool]
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Each allowed unit's cosine (what the calibrated thresholds read), and the score the dense ranking
        uses: for an annex row, its own cosine blended with its best facet's (see chunks.row_facets)."""
        found = self.index.nearest(vector, k=_DENSE_DEPTH, agreement=agreement)
        best_facet: dict[str, float] = {}
        for record, similarity in found:
            by_agreement = self.facet_rows.get(record, {})
            for rows in [by_agreement.get(agreement, ())] if agreement else by_agreement.values():
                for row in rows:
                    best_facet[row] = max(best_facet.get(row, -1.0), similarity)
        dense = {i: v for i, v in found if i in self.chunks and allowed(i)}
        return dense, {i: (1 - _FACET) * v + _FACET * best_facet[i] if i in best_facet else v for i, v in dense.items()}

    def _decisive(self, lexical: dict[str, float], query_lemmas: list[str], ignore: frozenset[str]) -> bool:
        """Whether BM25 alone settles the ranking: its best unit shares two or more of the question's words
        and scores at least twice the runner-up, or it is the one unit that holds every word of the question the
        corpus knows (two or more: 第4条 alone writes both 推進協議会 and 開催, while row 1-1, which the embedder
        prefers, names the council only). The words are then trusted over the meaning (on dev and blind this
        cascade answered as well as or better than fusion) and the query is not embedded."""
        ranked = sorted((v for v in lexical.values() if v > 0), reverse=True)
        if not ranked:
            return False
        top = max(lexical, key=lexical.__getitem__)
        known = {t for t in query_lemmas if t in self.lexical.vocabulary and t not in ignore}
        if len(known) >= 2:
            holders = [u for u, score in lexical.items() if score > 0 and known <= set(self.chunks[u].tokens)]
            if holders == [top]:
                return True
        clear = len(ranked) == 1 or ranked[0] >= _DECISIVE * ranked[1]
        return clear and len(known & set(self.chunks[top].tokens)) >= 2

    def _strength(
        self, matched: list[str], query_lemmas: list[str], ignore: frozenset[str], confirmed: frozenset[str]
    ) -> dict[str, float]:
        """A unit that shares one word with the question gets half a lexical vote: one word (相談, 支援)
        does not decide a row on its own, but two or more shared words, or the dense ranking, can. The unit
        both rankings put first (`confirmed`) keeps its full vote: halved, it lost to the runner-up of both."""
        known = {t for t in query_lemmas if t in self.lexical.vocabulary and t not in ignore}
        return {i: 0.5 for i in matched if len(known & set(self.chunks[i].tokens)) < 2 and i not in confirmed}

    def __init__(self, index: IndexReader, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder
        self.chunks = {c.id: c for c in index.chunks}
        self.order = [c.id for c in index.chunks]
        self.lexical = Lexical(index.chunks, stored_bound_heads(index.table(BOUND_HEADS), index.chunks))
        # Positions of each agreement's units, and each facet's rows by agreement: at ×100 a question reads
        # its own agreement's 29 units and facet rows, not all 2,900 (index.chunks is sorted by agreement).
        self.positions: dict[str, list[int]] = {}
        for n, chunk in enumerate(index.chunks):
            self.positions.setdefault(chunk.id.split("/", 1)[0], []).append(n)
        self.facet_rows: dict[str, dict[str, tuple[str, ...]]] = {
            facet: _by_agreement(rows) for facet, rows in index.facets.items()
        }
        # The parties' names say which agreement a question is about (the planner's scope), not which unit:
        # left in, 「大川市との協約の目的は？」 would find the closing block, where 大川市 is written.
        names = {str(c.metadata.get(k, "")) for c in index.chunks for k in ("kou", "otsu")} - {""}
        self.party_terms = frozenset(t for name in names for t in terms(name) + terms(name.removesuffix("市")))
        self.role_terms = stored_role_terms(index.table(ROLE_TERMS), index.chunks)

    def search(
        self,
        text: str,
        *,
        mode: Mode = "hybrid",
        k: int = 5,
        agreement: str = "",
        kinds: tuple[str, ...] | None = None,
        cascade: bool = True,
        expansions: Sequence[str] = (),
        quotes: Sequence[str] = (),
    ) -> list[Scored]:
        """Units of `agreement` (all when "") and of `kinds` (all when None), best first. With `cascade`, a
        question whose words settle the ranking is not embedded (and only units sharing a word are ranked).
        A role word the question quotes (「けん引役」と書かれた取組) is what it looks for, so it counts."""
        query_lemmas = terms(text)

        def allowed(chunk_id: str) -> bool:  # the agreement is scoped already: `positions` and the dense filter
            return kinds is None or self.chunks[chunk_id].kind in kinds

        # Generic words (役割, 分担) tell rows apart poorly, but they do tell articles apart (第3条 役割分担).
        rows = kinds is None or "annex_row" in kinds
        roles = self.role_terms.difference(*(terms(quote) for quote in quotes))
        ignore = self.party_terms | (GENERIC_TERMS | roles if rows else frozenset())
        groups = [terms(e) for e in expansions]
        scores = self.lexical.scores(query_lemmas, ignore=ignore, groups=groups, context=place_terms(text))
        where = self.positions.get(agreement, []) if agreement else range(len(self.order))
        lexical = {self.order[n]: float(scores[n]) for n in where if allowed(self.order[n])}
        dense: dict[str, float] = {}
        by_meaning: dict[str, float] = {}
        if cascade and mode == "hybrid" and self._decisive(lexical, query_lemmas, ignore):
            mode = "lexical"  # the words settle it: the query embedding (most of an answer's time) is skipped
        if mode != "lexical":
            vector = self.embedder.embed_queries([dense_query(text, expansions)])[0]
            dense, by_meaning = self._dense(vector, agreement, allowed)
        rankings, weights = [], []
        by_meaning_ranked = _by_meaning_then_words(by_meaning, lexical) if mode != "lexical" else []
        if mode != "dense":
            matched = [i for i in sorted(lexical, key=lexical.__getitem__, reverse=True) if lexical[i] > 0]
            rankings.append(matched)
            confirmed = frozenset(matched[:1]) & frozenset(by_meaning_ranked[:1])
            weights.append(self._strength(matched, query_lemmas, ignore, confirmed) if mode == "hybrid" else {})
        if mode != "lexical":
            rankings.append(by_meaning_ranked)
            weights.append({})
        fused = rrf(rankings, weights=weights)
        ranked = _tie_broken(fused, lexical, by_meaning)[:k]
        return [Scored(self.chunks[i], fused[i], lexical.get(i, 0.0), dense.get(i, 0.0)) for i in ranked]
