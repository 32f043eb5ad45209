"""Japanese tokenisation with fugashi (UniDic-lite): lemmas for BM25, readings for kana-only queries."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache

import fugashi

from assistant.normalize import is_kana_only, nfkc, to_katakana

# Parts of speech that carry meaning for search; particles, auxiliaries and symbols do not.
_CONTENT_POS = frozenset({"名詞", "動詞", "形容詞", "形状詞", "副詞", "代名詞", "接頭辞", "接尾辞"})
# A pronoun points at something named elsewhere: これ in 第5条's 「これを定める」 or 誰 in 「誰もが安全・安心に」 is
# no topic a question shares (「これからの計画、誰が作ってる？」 found 第5条 and the transport row by them).
_TERM_POS = _CONTENT_POS - {"代名詞"}
_STOP_LEMMAS = frozenset({"する", "ある", "いる", "なる", "いう", "言う", "こと", "等", "もの", "れる", "られる"})


@dataclass(frozen=True)
class Token:
    lemma: str  # NFKC'd dictionary form (取り組み → 取り組む)
    reading: str  # katakana reading (子育て → コソダテ), "" when unknown


@cache
def _tagger() -> fugashi.Tagger:
    return fugashi.Tagger()


def _lemma(word: fugashi.UnidicNode) -> str:
    """The form a word is indexed and matched under: its written dictionary form (取り組み → 取り組む), NFKC'd
    and casefolded."""
    return nfkc(word.feature.orthBase or word.surface).casefold()


def tokens(text: str) -> tuple[Token, ...]:
    """Content-word tokens of `text`, normalised so query and passage forms meet."""
    out: list[Token] = []
    for word in _tagger()(nfkc(text)):
        feature = word.feature
        if feature.pos1 not in _CONTENT_POS:
            continue
        lemma = _lemma(word)
        if lemma in _STOP_LEMMAS:
            continue
        out.append(Token(lemma=lemma, reading=feature.kana or ""))
    return tuple(out)


# Counters whose questions other parts answer: dates and times (the closing block, the "date" / "time" kinds) and
# the agreement's own structure (第何条, 第何号, 何番目: the routes).
_OTHER_COUNTERS = frozenset(
    {"年", "月", "日", "時", "分", "秒", "曜", "条", "号", "項", "番", "度", "項目", "分野", "取組", "事業"}
)


_CALENDAR = frozenset({"年", "月", "日"})


def before_a_finite_verb(text: str) -> bool:
    """Whether `text` opens with a verb that ends its clause (終止形, 連体形): after 全部 that makes 全部 an
    adverb of the act (「久留米が全部仕切るんですか」, does it run all of it), not a request to list everything,
    whose verb is a request (「全部教えて」「全部挙げてください」, 連用形 + て)."""
    first = next(iter(_tagger()(nfkc(text))), None)
    return (
        first is not None and first.feature.pos1 == "動詞" and str(first.feature.cForm).startswith(("終止形", "連体形"))
    )


def asked_quantities(text: str) -> set[str]:
    """What quantity a question asks for, read from its grammar rather than a word list: "count" for the numeral
    何 before a counter or any noun (何台, 何回, 何か所, 何歳, 何席, 何%: UniDic tags few counters, and 何 + noun
    asks for a number whatever the noun), "amount" for a fee or cost suffix (チケット代, 駐車料, 事業費: 代, 料
    and 費 as suffixes, not 時代 or 世代), "date" for 何 before a calendar unit (何月, 何年) and for the word いつ
    (「いつ結んだ」; not 「いつも」, nor the いつ inside 「かいつまんで」 that a pattern over characters finds)."""
    words = list(_tagger()(nfkc(text)))
    found = set()
    for word, after in itertools.pairwise([*words, None]):
        asked_when = word.surface.startswith(("いつ", "イツ")) and word.feature.lemma.startswith("何時")
        if asked_when and (after is None or after.surface != "も"):
            found.add("date")
    for before, word in itertools.pairwise(words):
        feature = word.feature
        # 何 may be tagged a pronoun (何部屋 read as "what room"): a fact is asked all the same.
        counter = feature.pos1 == "名詞"
        if before.surface == "何" and (counter or word.surface == "%") and word.surface not in _OTHER_COUNTERS:
            found.add("count")
        if before.surface == "何" and word.surface in _CALENDAR:  # 何月から何月まで: a date is asked
            found.add("date")
        if feature.pos1 == "接尾辞" and word.surface in ("代", "料", "費") and before.feature.pos1 == "名詞":
            found.add("amount")
    return found


def lemmas(text: str) -> list[str]:
    return [token.lemma for token in tokens(text)]


@lru_cache(maxsize=8192)
def terms(text: str) -> tuple[str, ...]:
    """Lemmas plus compounds of adjacent nouns (二次+救急 → 二次救急), so exact compounds outrank parts.

    Cached: agreements made from one template repeat most of their text in every partner's copy (at ×100,
    tokenizing was a third of an unchanged re-ingest), and questions repeat too."""
    out: list[str] = []
    previous = ""
    for word in _tagger()(nfkc(text)):
        feature = word.feature
        # A verb UniDic marks as possibly auxiliary (非自立可能: できる, くれる, みる, 係る) is the grammar of a
        # request, not its topic: できる in 「相談できる人もいない」 matched the row that writes 利用できる. So is
        # an auxiliary's stem (助動詞語幹: the よう of 「使えるようになる」, みたい, そう), which matched the row
        # that writes 「利用できるよう」.
        grammar = feature.pos2 == "助動詞語幹" or (feature.pos1 == "動詞" and feature.pos2 == "非自立可能")
        if feature.pos1 not in _TERM_POS or grammar:
            previous = ""
            continue
        lemma = _lemma(word)
        if lemma in _STOP_LEMMAS:
            previous = ""
            continue
        if feature.pos1 != "接尾辞":  # a suffix counts in its compound: 企業間's 間 is not the 間 of 「行く間」
            out.append(lemma)
        if previous and feature.pos1 in ("名詞", "接尾辞", "接頭辞"):
            out.append(previous + lemma)
        previous = lemma if feature.pos1 in ("名詞", "接頭辞") else ""
    return tuple(out)


# A question this long or shorter is embedded as written; a longer one as its gist (below), and its asking
# sentences weigh more (query.asking_part).
AS_WRITTEN_CHARS = 64
_GIST_POS = frozenset({"名詞", "動詞", "形容詞", "形状詞"})
# Numerals, time and formal nouns (先月, とき, ところ) and auxiliary verbs (てくる, てもらえる) carry no topic.
_NO_GIST = frozenset({"数詞", "副詞可能"})


def gist(text: str) -> list[str]:
    """The content words of a long question in order, without repeats, compounds or its frame: what a dense
    query of bounded length should spend its characters on (a long question's request often comes last)."""
    out: list[str] = []
    after_te = False
    for word in _tagger()(nfkc(text)):
        feature = word.feature
        auxiliary = feature.pos2 == "非自立可能" and (after_te or feature.pos1 != "動詞")
        after_te = feature.pos1 == "助詞" and word.surface in ("て", "で")
        if feature.pos1 not in _GIST_POS or {feature.pos2, feature.pos3} & _NO_GIST or auxiliary:
            continue
        lemma = _lemma(word)
        if lemma not in _STOP_LEMMAS and lemma not in out:
            out.append(lemma)
    return out


@lru_cache(maxsize=4096)
def place_terms(text: str) -> frozenset[str]:
    """The terms of `text` that name a place (UniDic's 固有名詞・地名: 福岡, and compounds it heads: 福岡市)."""
    places = {
        _lemma(word)
        for word in _tagger()(nfkc(text))
        if word.feature.pos2 == "固有名詞" and word.feature.pos3 == "地名"
    }
    return frozenset(term for term in terms(text) if term.startswith(tuple(places))) if places else frozenset()


@lru_cache(maxsize=4096)
def bound_heads(text: str) -> dict[str, frozenset[str]]:
    """Action nouns (UniDic サ変可能) that `text` only writes inside a compound, after the noun that says which
    one (子育て相談, 就職支援, 新規就農支援), each with those modifiers. Asked bare (「相談するなら」「支援して
    る？」), such a word is the request, not the topic: the row is about 子育て or 就職, not about 相談."""
    modifiers: dict[str, set[str]] = {}
    free: set[str] = set()
    previous = ""
    for word in _tagger()(nfkc(text)):
        feature = word.feature
        lemma = _lemma(word)
        if feature.pos1 == "名詞" and feature.pos3 == "サ変可能":
            if previous:
                modifiers.setdefault(lemma, set()).add(previous)
            else:
                free.add(lemma)
        previous = lemma if feature.pos1 == "名詞" else ""
    return {head: frozenset(found) for head, found in modifiers.items() if head not in free}


@dataclass(frozen=True)
class Word:
    surface: str  # NFKC'd, casefolded text as written (引越し)
    lemma: str  # the same dictionary form `terms` indexes (引越し, 引っ越す)
    pos: str  # UniDic's first part-of-speech level (名詞, 動詞, 助詞, 記号 for strings it does not know)
    standard: str = ""  # UniDic's standard spelling of the word (引っこし → 引っ越し), "" when the same as lemma

    @property
    def function(self) -> bool:
        """A particle, auxiliary, conjunction, interjection, punctuation or stop lemma: never a topic."""
        return self.pos in _FUNCTION_POS or self.lemma in _STOP_LEMMAS


_FUNCTION_POS = frozenset({"助詞", "助動詞", "接続詞", "感動詞", "補助記号", "空白"})


def words(text: str) -> tuple[Word, ...]:
    """Every token with its surface and lemma, for dictionary keys that may meet either form."""
    out: list[Word] = []
    for word in _tagger()(nfkc(text)):
        surface = nfkc(word.surface).casefold()
        lemma = _lemma(word)
        standard = nfkc((word.feature.lemma or "").split("-")[0]).casefold()  # バス-bus: a loanword's origin
        out.append(Word(surface, lemma, word.feature.pos1, standard if standard != lemma else ""))
    return tuple(out)


_KATAKANA_RUN = re.compile(r"[ァ-ヺー]{3,}")
_LARGE_KANA = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")
_UNREAD = re.compile(r"[0-9A-Za-z０-９Ａ-Ｚａ-ｚ]")
_WORD_RUN = re.compile(r"[一-龥々ァ-ヺー]{3,}")
# A hiragana word followed by a particle, in mixed text (こそだての相談, いじゅうを考えて): the particle marks where
# the word ends, which a run of hiragana alone does not (しているんですよね holds シテイ, a word that is not there).
_HIRAGANA_WORD = re.compile(
    r"(?:(?<![ぁ-ゖ])|(?<=[のをはがにでともへや]))([ぁ-ゖー]{3,}?)(?=って|[のをはがにでともへや])"
)


def reading_of(word: str) -> str:
    """A word's katakana reading, its tokens' readings joined (子育て支援 → コソダテシエン)."""
    return "".join(t.reading for t in tokens(word))


def read_words(words: Iterable[str]) -> dict[str, str]:
    """Each word's reading, as `Readings` takes them ready-made."""
    return {word: reading_of(word) for word in sorted(set(words))}


class Readings:
    """Known words by their katakana reading, so kana spellings reach them (こそだて, ﾋｯｺｼ → 引っ越し).

    Built from the words the assistant can use: the corpus's terms and the synonym and glossary keys. Ingest
    reads the corpus's and the synonyms' words once and stores them (`read_words`); a server given that table
    reads only the rest, which keeps about 7 MB of UniDic's pages (and ~20 ms) out of every start."""

    def __init__(self, known: Iterable[str], read_already: Mapping[str, str] | None = None) -> None:
        self._known = frozenset(known)
        stored = read_already or {}
        # Every known word of a reading, not the first one met: homophones (起業 and 企業 both read キギョウ)
        # are all kept, so the rest of the question decides between them, and the result never depends on
        # the order a set of strings happens to iterate in.
        table: dict[str, list[str]] = {}
        # Words without digits or Latin letters, which have no reading: 第1, 第252 and 2第 would all read ダイ,
        # and be found in てつだい.
        for word in sorted(w for w in self._known if not _UNREAD.search(w)):
            reading = stored[word] if word in stored else reading_of(word)
            if len(reading) >= 2:
                table.setdefault(reading, []).append(word)
        self._table = {reading: tuple(words) for reading, words in table.items()}
        self._longest = max((len(r) for r in table), default=0)
        # The same readings with small kana written large (シテイ for シティ, ヒツコシ for ヒッコシ: a common slip),
        # kept only where that does not make two known readings alike.
        loose: dict[str, list[tuple[str, ...]]] = {}
        for reading, words in self._table.items():
            loose.setdefault(reading.translate(_LARGE_KANA), []).append(words)
        self._loose = {reading: found[0] for reading, found in loose.items() if len(found) == 1}

    def read(self, text: str) -> list[str]:
        """Words read in `text`: greedy longest match over a kana-only text; else whole katakana runs, and
        kanji the writer's input method got wrong (地域新興 → 地域振興: same reading, other kanji)."""
        if not is_kana_only(text):
            # Hiragana read as katakana must spell a known word whole (ばす → バス); a run written in katakana
            # may also carry a slip or the start of a particle (ｼﾃｲﾌﾟﾗｻﾞ, シテイプラザハ). Kept apart: read loosely,
            # converted hiragana finds words that are not there (しているんですよね → シテイ → シティ).
            normalized = nfkc(text)
            whole = [self._table.get(run, ()) for run in _KATAKANA_RUN.findall(to_katakana(text))]
            written = [self._run(run) for run in _KATAKANA_RUN.findall(normalized)]
            runs = [m.span(1) for m in _HIRAGANA_WORD.finditer(normalized)]
            spelled = [
                self._table.get(to_katakana(normalized[a:b]), ()) for a, b in _words_not_grammar(normalized, runs)
            ]
            found = [word for words in [*whole, *written, *spelled] for word in words]
            return list(dict.fromkeys(found)) + self._homophones(text)
        return self._greedy(text)

    def _run(self, run: str) -> tuple[str, ...]:
        """The known word the longest start of a katakana run spells (a run may carry the particle after it:
        シテイプラザハ), exactly or with its small kana written large."""
        inside = _inside_known_words(run)
        for size in range(len(run), 2, -1):
            head = run[:size]
            if size in inside:
                continue
            if words := self._table.get(head) or self._loose.get(head.translate(_LARGE_KANA)):
                return words
        return ()

    def _homophones(self, text: str) -> list[str]:
        """Known words spelled with other characters of the same reading (a wrong conversion choice)."""
        out = []
        for run in _WORD_RUN.findall(nfkc(text)):
            if run in self._known or any(run in word for word in self._known if len(word) > len(run)):
                continue
            words = self._table.get("".join(t.reading for t in tokens(run)), ())  # the whole run, known words
            out.extend(word for word in words if word != run)
        return out

    def _greedy(self, text: str) -> list[str]:
        """Longest known readings, left to right. A one-character word (会, 第) is read only where UniDic's own
        segmentation of the kana puts a word: its reading hides inside longer words (かいしゃ, てつだい)."""
        kana, out, i = to_katakana(text), [], 0
        edges = _word_edges(nfkc(text))
        while i < len(kana):
            for size in range(min(self._longest, len(kana) - i), 1, -1):
                words = self._table.get(kana[i : i + size], ())
                if words := [w for w in words if len(w) > 1 or {i, i + size} <= edges]:
                    out.extend(words)
                    i += size
                    break
            else:
                i += 1
        return out


def _word_spans(text: str) -> list[tuple[int, int, fugashi.UnidicNode]]:
    """UniDic's words of `text` with their start and end as character offsets."""
    spans, position = [], 0
    for word in _tagger()(text):
        position += len(word.white_space)
        spans.append((position, position + len(word.surface), word))
        position += len(word.surface)
    return spans


def _inside_known_words(run: str) -> set[int]:
    """Offsets that fall inside a word UniDic knows: a known word's start is not read as another word
    (ニュース holds ニュー, a synonym key for 新規), while an unknown run's still is (シテイプラザハ)."""
    return {n for start, end, word in _word_spans(run) if not word.is_unk for n in range(start + 1, end)}


def _words_not_grammar(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans of `text` that UniDic, reading the whole text, does not split into particles and auxiliaries
    alone: 「小郡からだと」 is から + だ, no からだ (体), while こそだて (こそ + だて) may still spell 子育て."""
    if not spans:
        return []
    words = _word_spans(text)
    return [
        (a, b)
        for a, b in spans
        if not all(word.feature.pos1 in ("助詞", "助動詞") for start, end, word in words if start < b and end > a)
    ]


def _word_edges(text: str) -> set[int]:
    """Where UniDic's words start and end in `text`, as character offsets."""
    return {0} | {edge for start, end, _ in _word_spans(text) for edge in (start, end)}
