"""Question words reach the agreement's terms through the vendored Sudachi synonym dictionary.

Golden pairs run on the real dictionary (upstream commit in assistant/data/sudachi/NOTICE) and the real
corpus; the rule tests use tiny synthetic term lists so each rule is seen on its own.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import pytest

from assistant.chunks import build_chunks
from assistant.glosses import english_glosses
from assistant.parse import parse_corpus
from assistant.sudachi import (
    COMPACT_PATH,
    DATA_DIR,
    UPSTREAM,
    Expansion,
    SynonymDictionary,
    compile_compact,
    load_dictionary,
    parse_original,
    read_original,
)
from assistant.synonyms import SynonymMap, build_synonym_map, corpus_synonyms

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dictionary() -> SynonymDictionary:
    return load_dictionary()


@pytest.fixture(scope="module")
def documents() -> list[tuple[str, ...]]:
    """Each chunk's terms (assistant.tokenize.terms), as ingest indexes them."""
    return [chunk.tokens for chunk in build_chunks(parse_corpus(ROOT / "corpus"))]


@pytest.fixture(scope="module")
def corpus_map(documents: list[tuple[str, ...]], dictionary: SynonymDictionary) -> SynonymMap:
    """Sudachi alone: JMdict's English glosses (tested in test_understanding) are left out here."""
    return corpus_synonyms(documents, dictionary, english=lambda terms: {})


def only(terms: list[str], dictionary: SynonymDictionary) -> SynonymMap:
    return build_synonym_map(terms, dictionary)


# (question, corpus term it must reach): the pairs the dictionary supports, in several forms.
GOLDEN = [
    ("引っ越し", "移住"),
    ("引っ越してくる人を増やす計画は？", "移住"),  # verb form: UniDic lemma 引っ越す, also in the group
    ("引越しの相談", "移住"),  # spelling variant
    ("転居したい", "移住"),
    ("小郡で起業したい", "創業"),
    ("育児の相談はどこ？", "子育て"),
    ("Which city handles the meeting?", "会議"),
    ("Where are meetings held?", "会議"),  # plural
    ("打合せの規定", "会議"),
    ("話し合い", "協議"),
    ("両市が集まって話し合う場", "協議"),  # conjugated verb
    ("評議会の名前", "協議会"),
]


@pytest.mark.parametrize(("question", "term"), GOLDEN)
def test_question_words_reach_the_agreements_terms(corpus_map: SynonymMap, question: str, term: str) -> None:
    assert term in corpus_map.expand(question)


def _entry_in_group_of(dictionary: SynonymDictionary, word: str, target: str) -> Expansion | None:
    """The expansion flag of `word` in a group that also holds `target`, or None if no group holds both."""
    for group in set(dictionary.groups_of(word)) & set(dictionary.groups_of(target)):
        return next(entry.expansion for entry in dictionary.entries(group) if entry.key == word)
    return None


@pytest.mark.parametrize(("word", "term"), [("開業", "創業"), ("council", "協議会"), ("子供", "児童")])
def test_words_upstream_marks_as_not_a_trigger_are_not_expanded(
    corpus_map: SynonymMap, dictionary: SynonymDictionary, word: str, term: str
) -> None:
    """The issue asks for these pairs, but Sudachi flags the word 展開制御フラグ=1 in that group."""
    assert _entry_in_group_of(dictionary, word, term) == Expansion.TARGET_ONLY
    assert term not in corpus_map.expand(word)


def test_kids_and_hospital_reach_nothing_the_dictionary_does_not_connect(
    corpus_map: SynonymMap, dictionary: SynonymDictionary, documents: list[tuple[str, ...]]
) -> None:
    assert _entry_in_group_of(dictionary, "kids", "児童") is None  # kids is in 子供's group, not 児童's
    assert corpus_map.expand("What do they do for kids?") == []
    assert _entry_in_group_of(dictionary, "hospital", "病院") == Expansion.ALWAYS
    assert not any("病院" in terms for terms in documents)  # the agreement says 医療 and 診療, never 病院
    assert corpus_map.expand("hospitals sharing patient records") == []


def test_a_frame_word_reaches_no_term(corpus_map: SynonymMap, dictionary: SynonymDictionary) -> None:
    """関係 is a frame word (retrieval ignores it, assistant.frame): through the group it shares with the
    agreement's 結びつき, 「IT関係の会社を立ち上げたい」 pulled the rows of 別表(3)② above 創業."""
    assert _entry_in_group_of(dictionary, "関係", "結びつき") == Expansion.ALWAYS
    assert "結びつき" not in corpus_map.expand("IT関係の会社を立ち上げたい")
    assert "結びつき" in corpus_map.expand("地域のつながり")  # the group's topical words still reach it


@pytest.mark.parametrize("question", ["ゴミの収集日は？", "第4条には何が書いてある？", "How much is the bus fare?"])
def test_a_question_without_synonyms_gets_no_expansion(corpus_map: SynonymMap, question: str) -> None:
    assert corpus_map.expand(question) == []


def test_a_word_reaches_the_corpus_spelling_of_its_lexeme(corpus_map: SynonymMap) -> None:
    """UniDic's lexeme of the agreement's 活かす is 生かす, of けん引 牽引: either spelling finds the agreement's,
    and a question already writing the agreement's spelling gets nothing more (no name becomes its reading)."""
    assert "活かす" in corpus_map.expand("地元の特色を生かして")
    assert "けん引" in corpus_map.expand("牽引役はどっち")
    assert corpus_map.expand("けん引役はどっち") == []
    assert corpus_map.expand("カジワラさん") == []


def test_expansions_are_always_corpus_terms(corpus_map: SynonymMap, documents: list[tuple[str, ...]]) -> None:
    vocabulary = {term for terms in documents for term in terms}
    reached = {term for _word, term, _group in corpus_map.pairs}
    assert reached <= vocabulary
    assert len(reached) >= 40  # most of the agreement's content words have a group


def test_expansion_only_reaches_terms_the_corpus_has(dictionary: SynonymDictionary) -> None:
    synonyms = only(["移住"], dictionary)
    assert synonyms.expand("起業して引っ越したい") == ["移住"]  # 起業 → 創業 exists, but 創業 is not in this corpus
    assert only([], dictionary).expand("引っ越したい") == []


def test_flags_are_directional(dictionary: SynonymDictionary) -> None:
    """開業 (flag 1) is never a trigger, but may be reached from 創業 or 起業 in its group."""
    assert only(["創業"], dictionary).expand("開業したい") == []
    assert only(["開業"], dictionary).expand("創業したい") == ["開業"]


def test_a_pairing_upstream_marks_never_is_not_used(dictionary: SynonymDictionary) -> None:
    own = [e for g in dictionary.groups_of("協約") for e in dictionary.entries(g) if e.key == "協約"]
    assert [e.expansion for e in own] == [Expansion.NEVER]  # 協約 ↔ 契約 was deleted upstream
    assert only(["協約"], dictionary).expand("契約の engagement") == []


def test_english_reaches_a_term_through_its_japanese_synonyms_glosses(dictionary: SynonymDictionary) -> None:
    """JMdict glosses 移住 as migration and immigration, and 引っ越し (its Sudachi synonym) as moving: "moving to
    Ogori" found the childcare row by meaning alone. Glosses come from the real JMdict database here."""
    synonyms = build_synonym_map(["移住"], dictionary, english=english_glosses)
    assert synonyms.expand("Who should I ask about moving to Ogori?") == ["移住"]
    assert synonyms.expand("immigration") == ["移住"]
    assert build_synonym_map(["会議"], dictionary, english=english_glosses).expand("moving") == []


def test_a_term_most_chunks_share_is_not_a_target(dictionary: SynonymDictionary) -> None:
    documents = [("会議", "移住"), ("会議",), ("会議",), ("会議",)]
    assert corpus_synonyms(documents, dictionary).expand("meeting で引っ越し") == ["移住"]
    assert sorted(corpus_synonyms(documents[:1], dictionary).expand("meeting で引っ越し")) == ["会議", "移住"]


@pytest.mark.parametrize(
    ("term", "question"),
    [
        ("日", "Sunday"),  # one character: Sudachi's group picks a sense (日曜日) the corpus may not mean
        ("つくり", "刺身"),  # kana only: 作り, 造り or the 刺身 sense
        ("城南", "城南進学研究社"),  # a company-name group: the district name only looks like the alias
        ("ルート", "累乗根"),  # a homograph that upstream flags not-a-trigger in each of its groups
        ("大まか", "about"),  # an English function word listed as a 対訳
        ("le", "ル"),  # a single kana
    ],
)
def test_ambiguous_pairings_are_skipped(dictionary: SynonymDictionary, term: str, question: str) -> None:
    assert dictionary.groups_of(term)  # the dictionary does connect them ...
    assert only([term], dictionary).expand(question) == []  # ... but the rule keeps the noise out


def test_the_map_round_trips_through_json(corpus_map: SynonymMap) -> None:
    restored = SynonymMap.from_json(corpus_map.to_json())
    assert restored == corpus_map
    assert restored.expand("引っ越しと育児の話し合い") == corpus_map.expand("引っ越しと育児の話し合い")
    assert restored.dictionary == UPSTREAM["commit"]


@pytest.mark.parametrize("text", ['{"words": {}}', "[]", '{"format": 1}', "not json"])
def test_a_foreign_json_is_refused_with_a_clear_message(text: str) -> None:
    with pytest.raises(ValueError, match=r"^synonym map: not one this version wrote \(.+\); rebuild the index"):
        SynonymMap.from_json(text)


def test_the_compact_form_is_exactly_the_vendored_original() -> None:
    """What load_dictionary reads is derived from upstream's file, byte for byte reproducible."""
    original = read_original()
    assert gzip.decompress(COMPACT_PATH.read_bytes()).decode("utf-8") == compile_compact(original, UPSTREAM)
    notice = (DATA_DIR / "NOTICE").read_text(encoding="utf-8")
    assert hashlib.sha256(original.encode("utf-8")).hexdigest() in notice
    assert UPSTREAM["commit"] in notice
    assert (DATA_DIR / "LICENSE-2.0.txt").read_text(encoding="utf-8").lstrip().startswith("Apache License")


def test_a_malformed_dictionary_line_is_named() -> None:
    with pytest.raises(ValueError, match=re.escape("synonyms.txt line 2")):
        parse_original("000001,1,0,1,0,0,0,(),曖昧,,\n000001,1,0,あいまい\n")
