"""Question words → the agreement's own terms, through the Sudachi synonym dictionary.

At ingest, `build_synonym_map` looks up every corpus term in the dictionary and maps the other members of
its groups (spelling variants, abbreviations, synonyms, English 対訳) to it, honouring the expansion flags
and reaching only terms the corpus has. At question time `SynonymMap.expand` finds those words in a
question. Nothing here knows the agreement: any corpus gets the map its own terms call for.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property

from assistant import tokenize
from assistant.frame import GENERIC_TERMS
from assistant.glosses import english_glosses
from assistant.normalize import nfkc
from assistant.sudachi import Expansion, SynonymDictionary, load_dictionary, normalize_key

FORMAT = 1
# Groups that tie a proper name to its aliases (シティ → シティバンク, 昭和 → 昭和産業), not a concept to its
# synonyms: a corpus word that equals such an alias is a coincidence, and expanding it drags in the company.
_NAME_DOMAINS = frozenset({"企業名", "旧企業名", "人名", "店名", "商品", "キャラ", "大学名"})
_KANA = re.compile(r"[\u3041-\u309f\u30a0-\u30ff]")
_HIRAGANA_ONLY = re.compile(r"[\u3041-\u309f]+")
_KANA_ONLY = re.compile(r"[\u3041-\u309f\u30a0-\u30ff]+")
_LATIN_KEY = re.compile(r"[a-z0-9\u00c0-\u024f][a-z0-9\u00c0-\u024f .'&/-]*")
_LATIN_WORD = re.compile(r"[a-z0-9\u00c0-\u024f]+(?:[-'][a-z0-9\u00c0-\u024f]+)*")
GENERIC_SHARE = 1 / 3  # a term in more than this share of the chunks decides nothing (役割, 機能, 強化 here)


@dataclass(frozen=True)
class SynonymMap:
    """Lookup tables from question-side forms to corpus terms. Plain data, so it round-trips through JSON."""

    words: dict[str, tuple[str, ...]] = field(default_factory=dict)  # one token's surface or lemma
    sequences: dict[str, tuple[str, ...]] = field(default_factory=dict)  # lemmas of a multi-token key, \t-joined
    phrases: dict[str, tuple[str, ...]] = field(default_factory=dict)  # a multi-token key as written
    english: dict[str, tuple[str, ...]] = field(default_factory=dict)  # lower-case words, one space apart
    pairs: tuple[tuple[str, str, str], ...] = ()  # (question word, corpus term, group) for audits and reports
    dictionary: str = ""  # upstream commit the map was built from

    def expand(self, text: str) -> list[str]:
        """Corpus terms reached by words in `text`, without repeats (Japanese matches first, then English)."""
        folded = nfkc(text).casefold()
        found: dict[str, None] = {}
        tokens = tokenize.words(folded)
        for token in tokens:
            found.update(dict.fromkeys(self.words.get(token.surface, ())))
            found.update(dict.fromkeys(self.words.get(token.lemma, ())))
            # By its lexeme's spelling (引っこし → 引っ越し), less the word itself: the corpus's けん引 is 牽引 as a
            # lexeme, and 牽引 leads to けん引 (see _lexeme_spellings), which a question writing けん引 already has.
            spelled = self.words.get(token.standard, ()) if token.standard else ()
            found.update(dict.fromkeys(term for term in spelled if term != token.lemma))
        lemmas = [token.lemma for token in tokens]
        for size in range(2, self._longest_sequence + 1):
            for start in range(len(lemmas) - size + 1):
                found.update(dict.fromkeys(self.sequences.get("\t".join(lemmas[start : start + size]), ())))
        for size in self._phrase_lengths:
            for start in range(len(folded) - size + 1):
                found.update(dict.fromkeys(self.phrases.get(folded[start : start + size], ())))
        for candidate in _english_candidates(folded, self._longest_english):
            found.update(dict.fromkeys(self.english.get(candidate, ())))
        return list(found)

    @cached_property
    def _longest_sequence(self) -> int:
        return max((key.count("\t") + 1 for key in self.sequences), default=0)

    @cached_property
    def _phrase_lengths(self) -> tuple[int, ...]:
        return tuple(sorted({len(key) for key in self.phrases}))

    @cached_property
    def _longest_english(self) -> int:
        return max((key.count(" ") + 1 for key in self.english), default=0)

    @property
    def keys(self) -> list[str]:
        """The Japanese question-side words, for reading kana spellings of them."""
        return [key for key in self.words if not key.isascii()]

    def to_json(self) -> str:
        tables = {name: {k: list(v) for k, v in getattr(self, name).items()} for name in _TABLES}
        pairs = [list(pair) for pair in self.pairs]
        return json.dumps(
            {"format": FORMAT, "dictionary": self.dictionary, **tables, "pairs": pairs}, ensure_ascii=False
        )

    @classmethod
    def from_json(cls, text: str) -> SynonymMap:
        """The map `to_json` wrote; anything else is refused with one line saying what was wrong."""
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                msg = f"expected format {FORMAT}, got {data.get('format')!r}"
                raise ValueError(msg)
            tables = {name: {str(k): tuple(v) for k, v in data[name].items()} for name in _TABLES}
            pairs = tuple((word, term, group) for word, term, group in data["pairs"])
            return cls(**tables, pairs=pairs, dictionary=str(data["dictionary"]))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            reason = f"no {error} field" if isinstance(error, KeyError) else str(error)
            msg = f"synonym map: not one this version wrote ({reason}); rebuild the index with `assistant ingest`"
            raise ValueError(msg) from None


_TABLES = ("words", "sequences", "phrases", "english")


def _english_candidates(folded: str, longest: int) -> Iterable[str]:
    """Word n-grams of the question's Latin words, the last word in each of its forms (see _word_forms)."""
    tokens = [w.removesuffix("'s") for w in _LATIN_WORD.findall(folded)]
    for size in range(1, longest + 1):
        for start in range(len(tokens) - size + 1):
            head, last = tokens[start : start + size - 1], tokens[start + size - 1]
            for form in _word_forms(last):
                yield " ".join([*head, form])


def _word_forms(word: str) -> tuple[str, ...]:
    """The word, its singular (hospitals → hospital) and, for an adverb, its adjective (regularly → regular,
    periodically → periodic, jointly → joint): glosses are nouns and adjectives, questions use all three."""
    forms = [word]
    if word.endswith("ies") and len(word) > 4:
        forms.append(word[:-3] + "y")
    if word.endswith("es") and len(word) > 3:
        forms.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss") and len(word) > 2:
        forms.append(word[:-1])
    if word.endswith("ly") and len(word) > 5:
        adjective = word[:-3] + "y" if word.endswith("ily") else word[:-2]
        forms += [adjective, adjective.removesuffix("al")] if adjective.endswith("ical") else [adjective]
    return tuple(forms)


def generic_terms(documents: Iterable[Iterable[str]], *, share: float = GENERIC_SHARE) -> frozenset[str]:
    """Terms found in more than `share` of the documents (and in at least 3): too common to decide anything."""
    docs = [set(terms) for terms in documents]
    counts = Counter(term for terms in docs for term in terms)
    limit = max(2, share * len(docs))
    return frozenset(term for term, count in counts.items() if count > limit)


def corpus_synonyms(
    documents: Sequence[Iterable[str]],
    dictionary: SynonymDictionary | None = None,
    *,
    english: Callable[[Collection[str]], dict[str, tuple[str, ...]]] | None = None,
) -> SynonymMap:
    """The map for a corpus given as each chunk's terms (`Chunk.tokens`): what ingest calls.

    `english` gives English glosses of terms (default: JMdict, assistant.glosses), for the English questions
    that Sudachi's few 対訳 do not reach."""
    docs = [tuple(terms) for terms in documents]
    vocabulary = [term for terms in docs for term in terms]
    generic = generic_terms(docs)
    gloss = english or english_glosses
    return build_synonym_map(vocabulary, dictionary or load_dictionary(), generic=generic, english=gloss)


def build_synonym_map(
    corpus_terms: Iterable[str],
    dictionary: SynonymDictionary,
    *,
    generic: Collection[str] = frozenset(),
    english: Callable[[Collection[str]], dict[str, tuple[str, ...]]] | None = None,
) -> SynonymMap:
    """Map every other member of each corpus term's synonym groups to that term (see `_targets`), and each
    English gloss of a term to it (the same rules for which terms may be reached)."""
    vocabulary = sorted({normalize_key(term) for term in corpus_terms})
    pairs: dict[tuple[str, str], str] = {}
    for gloss, term in _english_pairs([(t, t) for t in vocabulary], generic, english) if english else ():
        pairs.setdefault((gloss, term), "jmdict")
    for key, term in _lexeme_spellings(vocabulary, generic):
        pairs.setdefault((key, term), "unidic")
    # A frame word (関係, 役割) is no evidence of a topic in a question, so it reaches no term either.
    for term in vocabulary:
        for group in _targets(term, dictionary, generic):
            for entry in dictionary.entries(group):
                if entry.key != term and entry.triggers and _usable_key(entry.key) and entry.key not in GENERIC_TERMS:
                    pairs.setdefault((entry.key, term), group)
    # English reaches a term through its Japanese synonyms' glosses too: "moving" is JMdict's gloss of 引っ越し,
    # which the dictionary groups with the corpus's 移住, whose own glosses are migration and immigration.
    synonyms = [(key, term) for (key, term), group in pairs.items() if group not in ("jmdict", "unidic")]
    for gloss, term in _english_pairs(synonyms, generic, english) if english else ():
        pairs.setdefault((gloss, term), "jmdict")
    return _tables(pairs, dictionary)


def _lexeme_spellings(vocabulary: list[str], generic: Collection[str]) -> list[tuple[str, str]]:
    """(spelling, corpus term) for a corpus word that UniDic spells otherwise as a lexeme (語彙素): 活かす is
    生かす, so 「特色を生かして」 reaches the row that writes 地域資源を活かした. The tokenizer gives each
    question word's lexeme spelling too (Word.standard), so this is one dictionary's knowledge, not a list."""
    out: list[tuple[str, str]] = []
    for term in filter(lambda term: _reachable(term, generic), vocabulary):
        found = tokenize.words(term)
        spelling = found[0].standard if len(found) == 1 else ""
        # A name's lexeme is its reading (梶原 → カジワラ): kana spellings are the readings' job (tokenize.Readings).
        if spelling and _usable_key(spelling) and not (_KANA_ONLY.fullmatch(spelling) and not _KANA.search(term)):
            out.append((spelling, term))
    return out


def _english_pairs(
    words: list[tuple[str, str]],
    generic: Collection[str],
    english: Callable[[Collection[str]], dict[str, tuple[str, ...]]],
) -> list[tuple[str, str]]:
    """(English gloss, corpus term) pairs from (Japanese word, the corpus term it stands for) pairs. Katakana
    loanwords are skipped (their gloss is the English word they came from: シティ → city), and so is any gloss
    that a frame word shares (市 → city, 協約 → agreement): words every question about the agreement uses
    would otherwise pull one unit into every answer."""
    reachable = [(w, t) for w, t in words if len(w) > 1 and not _KANA_ONLY.fullmatch(w) and w not in generic]
    glosses = english([*{w for w, _ in reachable}, *FRAME_WORDS])
    framed = {gloss for word in FRAME_WORDS for gloss in glosses.get(word, ())} | set(ENGLISH_FRAME)
    return [(g, t) for w, t in reachable for g in glosses.get(w, ()) if g not in framed and _usable_key(g)]


# Words of the question frame rather than its topic: the parties, the document, roles (see frame.GENERIC_TERMS).
FRAME_WORDS = ("協約", "協約書", "市", "役割", "分担", "取組", "住民", "圏域", "両市")
# The English frame of a role question (which city leads / runs / handles / is responsible for X): as glosses
# these reach 営む, 扱う and 主体的, and pulled 第1条 or the one row saying 主体的 into such questions. And
# "activity", the English of the 別表's 取組 (JMdict glosses 取組 as effort, initiative): as 賑わい's gloss it
# found the City Plaza row in 'List every activity in the 別表'.
ENGLISH_FRAME = (
    "lead",
    "run",
    "responsible",
    "handle",
    "manage",
    "in charge",
    "take care of",
    "do",
    "carry out",
    "activity",
)


def _reachable(term: str, generic: Collection[str]) -> bool:
    """Whether a question's other words may lead to `term`."""
    # One character (日, 本, 間, 体) or kana only (つくり): the spelling does not say which sense the corpus means,
    # and a dictionary picks one (日 → Sunday, 本 → book, つくり → 刺身). A term most chunks share (役割, 都市,
    # 行う) decides nothing; expanding to it only adds noise (city → 都市).
    return len(term) > 1 and not _HIRAGANA_ONLY.fullmatch(term) and term not in generic


def _targets(term: str, dictionary: SynonymDictionary, generic: Collection[str]) -> list[str]:
    """The groups `term` may be reached through. Each rule drops a kind of noise seen in real groups."""
    if not _reachable(term, generic):
        return []
    groups = dictionary.groups_of(term)
    out = []
    for group in groups:
        own = [entry for entry in dictionary.entries(group) if entry.key == term]
        if all(entry.expansion == Expansion.NEVER for entry in own):
            continue  # upstream records this pairing as harmful (協約 ↔ 契約, 1 ↔ one)
        if any(set(entry.domains) & _NAME_DOMAINS for entry in own):
            continue
        if len(groups) > 1 and all(entry.expansion == Expansion.TARGET_ONLY for entry in own):
            # A homograph (ルート: 経路 / 累乗根, 人事: 人事部 / 他人事) that upstream keeps from triggering in
            # this sense: which sense the corpus means is unknown, so this group is not evidence for it.
            continue
        out.append(group)
    return out


def _usable_key(key: str) -> bool:
    """Question-side words we can match without dragging in noise."""
    if len(key) == 1 and _KANA.fullmatch(key):
        return False  # a single kana is a particle or a syllable in almost every question
    if _LATIN_KEY.fullmatch(key):
        return len(key) > 1 and key not in _english_stopwords()
    tokens = tokenize.words(key)
    if all(token.function for token in tokens):
        return False  # read as particles, auxiliaries or stop lemmas (する, こと): never a topic
    # Kana the tokenizer splits (うで → う|で, ことなる → こと|なる) is not a word it knows, and as a substring it
    # would fire inside ordinary phrasing (どうですか contains うで).
    return len(tokens) == 1 or not _HIRAGANA_ONLY.fullmatch(key)


@cache
def _english_stopwords() -> frozenset[str]:
    """English function words never carry a topic; Sudachi lists some as 対訳 (over, out, with, about, and).

    NLTK's list as bm25s ships it, imported here because bm25s pulls in scipy and only building needs it.
    """
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS)


def _tables(pairs: dict[tuple[str, str], str], dictionary: SynonymDictionary) -> SynonymMap:
    """Index each question-side word under the forms the tokenizer will produce for it in a question."""
    tables: dict[str, dict[str, list[str]]] = {name: {} for name in _TABLES}

    def put(table: str, key: str, term: str) -> None:
        terms = tables[table].setdefault(key, [])
        if term not in terms:
            terms.append(term)

    for (key, term), _group in pairs.items():
        if _LATIN_KEY.fullmatch(key):
            put("english", " ".join(_LATIN_WORD.findall(key)), term)
            continue
        tokens = tokenize.words(key)
        if len(tokens) == 1:
            put("words", key, term)
            put("words", tokens[0].lemma, term)  # 引越す → 引っ越す when UniDic's dictionary form differs
        else:
            put("phrases", key, term)
            put("sequences", "\t".join(token.lemma for token in tokens), term)  # 知れ渡って → 知れる 渡る
    frozen = {name: {k: tuple(v) for k, v in sorted(table.items())} for name, table in tables.items()}
    listed = tuple(sorted((key, term, group) for (key, term), group in pairs.items()))
    return SynonymMap(**frozen, pairs=listed, dictionary=dictionary.upstream.get("commit", ""))
