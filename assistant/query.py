"""Question → Query: cleaned text, language, search terms and the structure the question names."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from assistant.glossary import Glossary, Topic
from assistant.normalize import arabic_numerals, fold, katakana_as_hiragana, nfkc
from assistant.synonyms import ENGLISH_FRAME
from assistant.tokenize import AS_WRITTEN_CHARS, asked_quantities, before_a_finite_verb, lemmas

Language = Literal["ja", "en"]
ClosingFacet = Literal["date", "copies", "signers", "address", "seal"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]")
# HTML pasted into a question: script/style blocks whole, other tags (not <system>, an injection marker).
_MARKUP = re.compile(
    r"<\s*(script|style)\b[^>]*>.*?(?:<\s*/\s*\1\s*>|$)|</?(?!system\b)[a-z][a-z0-9-]*\b[^<>]{0,500}>",
    re.IGNORECASE | re.DOTALL,
)
_KANA_DIGITS = {
    "いち": 1,
    "に": 2,
    "さん": 3,
    "よん": 4,
    "し": 4,
    "ご": 5,
    "ろく": 6,
    "なな": 7,
    "しち": 7,
    "はち": 8,
    "きゅう": 9,
    "じゅう": 10,
}
_KANA_ARTICLE = re.compile(r"だい(" + "|".join(_KANA_DIGITS) + r")じょう")
# 第252条の2 (a law's article, as in 地方自治法第252条の2) is not one of ours.
_ARTICLE = re.compile(r"(?:第\s*(\d+)\s*条(?!の\d)|(?<![\d第])(\d+)\s*条(?![例の])|article\s*(\d+))", re.IGNORECASE)
# An item: 第2号, 2つ目, item 2, and 「第2条の(2)」 (an article's items are numbered (1)–(3) in its text).
_ITEM = re.compile(
    r"(?:第\s*(\d+)\s*号|(\d+)\s*号|item\s*(\d+)|(\d+)\s*つ目|(\d+)\s*番目|(?<=条)\s*の?\s*[（(]\s*(\d)\s*[)）])",
    re.IGNORECASE,
)
_ORDINAL_EN = re.compile(r"\b(first|second|third|fourth)\b", re.IGNORECASE)
# A field number follows its section: ①②③ (NFKC has made them 1 2 3 by the time these run) or (1), not the
# start of a count or a larger number (「(3)1つ目」 is a row, 「(3)12」 nothing).
_FIELD = r"[（(]?[1-3][)）]?(?![\d条号項番つ件年月日人通回])"
_SECTION = re.compile(r"別表\s*の?\s*[（(]\s*(\d)\s*[)）]\s*(" + _FIELD + ")?")
_BARE_SECTION = re.compile(r"[（(]\s*([1-3])\s*[)）]\s*(" + _FIELD + ")?")
_ANNEX_WORDS = re.compile("取組|役割")
_DEFINITION = re.compile(
    r"(?:甲|乙|甲と乙|甲乙)\s*(?:って|とは|は)[^、。?？]{0,5}?(?:誰|だれ|どこ|どちら|どっち|どの|なに|何)(?:の|[?？]|$|市|を指|ですか)"
    # 「誰と誰の協約？」「どことどこが結んだ？」: the pair that made it (not 「協議するのは誰と誰？」, 第5条's pair)
    r"|(?:誰|だれ|どこ)と(?:誰|だれ|どこ)(?:の|が結|で結|が締結)"
    r"|当事者|who is referred to as|party a|party b|who are the parties|甲と乙の違い|甲乙の違い"
    r"|(?:what|who)(?:'s| is| are| does)\s+(?:party\s+)?[甲乙](?:\s+and\s+[甲乙])?\s*(?:mean|refer|stand)?\s*\??$"
)
_NAME = re.compile(r"正式な名前|正式名称|名称|題名|タイトル|official name|title of")
# 「会議の名称」 names something in the agreement (searched for), 「協約の名称」 the agreement itself (its title); so
# does the help desk's shorthand with a space for の (「会議 名称」).
_NAME_OF = re.compile(r"([一-龥ァ-ヺー]+)(?:の|\s+)(?:正式な?)?(?:名称|名前)")
# An article named by its place next to the last one asked about (「次の条文は？」 after 第1条).
_RELATIVE_ARTICLE = re.compile(r"(次|前)の条|\b(next|following|previous|preceding) article")
# Question shapes (grammar, not topics): which provision governs something, what kind of fact is asked.
_WHICH_ARTICLE = re.compile(
    r"第?何条|どの条|条文|根拠|どこで定め|どこに(?:書|定め|規定)|which (?:article|provision|clause|part)"
    r"|where (?:in|does) the agreement|what article|basis for"
)
# Which area of the 別表 an activity falls under (「子育てサロンはどの分野？」): the row is answered with its headings.
_WHICH_AREA = re.compile(r"(?:どの|何の|どこの|どういう)(?:分野|区分|カテゴリ)|which (?:area|section|field|category)")
# Asks to pick one of several (「第2条のどれ？」, 何号, which), not どのような ("what kind of").
_PICK_ONE = re.compile(r"どの(?!よう)|どれ|何号|\bwhich\b")
_LEGAL = re.compile(r"法律|法令|法的|地方自治法|根拠法|\blaw\b|legal basis|statut")
# A law named as what the agreement rests on (地方財政法に基づいて): a legal-basis question, whatever its words
# (財政, 税) would otherwise say about the topic.
_LAW_NAMED = re.compile(r"[一-龥]{2,}法(?=に基づ|に基く|の規定|により|第\d)")
_ALL = ("全部", "すべて", "全て", "ぜんぶ")  # also an adverb: see _asks_for_a_list
_LISTING = re.compile(
    "|".join(_ALL) + r"|一覧|それぞれ|挙げ|\ball\b|\blist\b|\beverything\b|どんな取組|どのような取組|取組は何"
    r"|何が含まれ|含まれる(?:取組|もの)"  # what a heading holds: 「…分野には何が含まれますか」
    r"|いくつ[^。？?]{0,6}(?:何|なに|どれ|どんな)"  # how many, and which they are
)
_COMPARE = re.compile(r"違い|違う|異な|比べ|比較|差は|差異|\bvs\.?\b|differ|compare|contrast")
# "When" as a question word: at the start of a sentence or clause. Inside one it is a conjunction ("What is Ogori's
# role when it comes to concerts?", "…like when you need to be hospitalized?"), which asks for no date.
_WHEN = r"(?:^|[.?!,;:]\s*|\b(?:and|so|but|then)\s+)when\b"
# What kind of fact a question asks for. The agreement states roles and aims, one date and two
# addresses; it has no amounts, hours or contacts, so a question asking for one is not settled by it.
_ASKS_FOR = {
    "amount": re.compile(
        r"いくら|金額|料金|費用|値段|運賃|代金|[^\w]?何円|月額|上限額|補助額|金利|利率|利息|how much|\bcost|\bfee|\bfare"
        r"|\bprice|\bbill\b|interest rate"
    ),
    "count": re.compile(r"何人|何名|何市町|人数|いくつ|how many (?:people|members|staff|times)"),
    "time": re.compile(
        r"何時|何分(?![野の])|時間帯|営業時間|受付時間|開いて|何曜|what time|opening hours|\bopen\b"  # not 何分野, 何分の1
        r"|what (?:are|were) (?:the|its|their) (?:[a-z-]+ ){0,3}hours"  # the visiting / office / clinic hours
    ),
    "date": re.compile(
        r"何日|日程|スケジュール|締切|何年度|計画期間|[一-龥]{2}(?<!曜)日(?![本曜])|\bdeadline"
        r"|次(?:回|は)?いつ|いつ(?:開催|開か|行われ)"  # when an event is held: the agreement sets no schedule
        f"|{_WHEN}"
    ),
    "place": re.compile(
        r"どこで(?:開|行|や)|(?:場所|会場)(?:は|を教|って|[?？])|where is|where are|where (?:will|do) (?:they|it) (?:meet|take place)"
    ),
    # A day or week named from today: the agreement, signed once, sets no schedule (当番医, 開館) for it.
    "now": re.compile(
        r"今日|明日|今夜|今晩|今週|来週|今月|来月|\btoday|\btonight|\btomorrow|this (?:week|month)|next week"
    ),
    "contact": re.compile(r"番号|連絡先|メールアドレス|問い合わせ先|phone number|\bemail"),
    # Who the members or staff of a body are, by name: the agreement names bodies, and no person but the mayors.
    "people": re.compile(
        r"名簿|氏名|顔ぶれ|(?:委員|メンバー|構成員|職員|担当者)(?:全員)?の(?:名前|なまえ)"
        r"|(?:委員|メンバー|構成員|担当者)(?:って|は|には|に)(?:誰|だれ)"  # 「委員って誰？」: which people
        r"|member list|roster|names? of (?:the |its |their )?(?:[a-z']+ )?(?:members|committee|staff|people)"
    ),
    # How to apply, book or register: the agreement assigns roles and sets no procedure.
    "procedure": re.compile(
        r"予約|申し込|申込|申請|手続|登録(?:方法|の仕方)|how (?:do|can) (?:i|we) (?:apply|book|register|reserve|sign up)"
    ),
}
_ASKING = re.compile(r"[?？。、!！]")
_WHO = re.compile(r"どっち|どちら|誰|だれ|どの市|どこが|どこに(?:聞|相談|頼|お願|言|問)|which city|\bwho\b")
# Questions about two clauses every agreement of this form has, asked without their words: its purpose, and
# what happens with matters it does not settle. The value is the clause's own vocabulary, searched among the
# articles (so the article whose words these are answers, whatever its number).
_PROVISIONS = {
    "目的": re.compile(
        r"何のため|なんのため|なぜ|なんで(?![もすし])|どうして|狙い|ねらい|目指して|why (?:do|does|did|is|was|were)\b|purpose|trying to achieve"
        r"|\bgoal|\bthe point of\b|what'?s the point"
        r"|\bwhat(?:'s| is| are)\b[^?.]*\bfor\s*\?*\s*$"  # "what is this agreement for?"
    ),
    "定めのない事項 疑義 協議": re.compile(
        r"(?:書いて|書かれて|載って|定められて|決まって)(?:い)?ない|定めのない|not covered|does(?:n't| not) cover"
        # 決めていない of a thing (こと, 事項), not of a person: 「どこに住むか決めていない」 is undecided.
        r"|(?:定めて|決めて|決められて)(?:い)?ない(?:こと|事|事項|部分|点)"
        r"|not (?:in|specified in|mentioned in) the agreement|揉め|もめたら|意見が(?:分かれ|食い違)|解釈"
        r"|disagree|interpret|read (?:it|the agreement) differently"  # the English of the three before
    ),
}


def without_articles(text: str) -> str:
    """The question less its article references (第3条, Article 3): what it asks about them."""
    return _ARTICLE.sub(" ", text)


def without_provision(text: str) -> str:
    """The question less the words that asked for a provision (「何のため」 is not the topic 「ため」)."""
    for pattern in _PROVISIONS.values():
        text = pattern.sub(" ", text)
    return text


# The 別表 named, in the text's word or the English ones a translation uses for a table appended to an agreement.
_ANNEX = re.compile(r"別表|\bannex(?:es)?\b|\bappendix\b|\b(?:appended|attached) table\b", re.IGNORECASE)
_YEAR = re.compile(r"(?:(令和|平成|昭和)\s*(\d+)|(?<!\d)((?:19|20)\d\d))\s*年?")
_QUOTATION = re.compile(r"「([^「」]{2,})」")
_QUOTED_MARK = re.compile(r"[「『\"]([甲乙])[」』\"]")
_MARK_ONLY = re.compile(r"(?<![一-龥])[甲乙](?![一-龥])")
# Rows whose two roles read the same (or differ): only when the question is about roles; 「同じ感じ？」
# alone asks whether the last answer also holds for something else.
_ROLES = re.compile(r"役割|分担|やること|すること|\brole")
_SAME = re.compile(r"同じ|同一|same")
_DIFFERENT = re.compile(r"違う|異なる|差|different")
# Words pointing back at the last answer (それって…, その取組…, もう一度): the question is read with it even
# when it has words of its own. 「じゃあ…」, "what about…" only mark a turn: with a topic of its own the
# question is a new one.
_AGAIN = re.compile(
    r"^(?:それ|その|そっち|そちら|あれ|これ|この)|もう一度|もう1度|もう一回|再度|\bagain\b|^(?:that|this|it)\b"
)
# "What have the cities agreed to do?": the agreement as a whole, answered by its outline.
_OVERVIEW = re.compile(
    r"(?:両市|二つの市|2つの市|協約)(?:は|で|って)?(?:何を|なにを|どんなこと)|what (?:do|does|did|will) (?:the|both) "
    r"(?:two )?(?:cities|agreement)|what is (?:this|the) agreement about"
)
_COPIES = re.compile(r"何通|通作成|部数|copies")  # about the document whatever else is said (not 車を持って)
_CLOSING = {
    "date": re.compile(rf"いつ|締結日|日付|何年|平成|{_WHEN}|\bdate\b|signed on"),
    "copies": re.compile(rf"{_COPIES.pattern}|持って|保有|保管"),  # 持って, 保有: with _CLOSING_ABOUT only
    "seal": re.compile(r"押印|印鑑|はんこ|判子|\bseal"),
    "signers": re.compile(r"署名|市長|サイン|\bwho signed|\bsign|mayor|調印|結んだのは|締結したのは|who concluded"),
    "address": re.compile(r"住所|所在地|address"),
}
_CLOSING_ABOUT = re.compile(r"協約|締結|署名|押印|結ばれ|結んだ|決ま(?:った|り)|agreement|signed|copies|協約書")
_CURRENT = re.compile(r"現在|今の|いまの|現職|current|now\b")
_COUNT = re.compile(r"いくつ|何個|何項目|何条まで|how many")
# A number of things the question states (「3つの柱」, "the three main pillars"): not an ordinal (3つ目), and
# not the parties ("the two cities"). English number words are spelled out here: ten words need no library.
_EN_NUMBERS = {
    w: n for n, w in enumerate(["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"], 1)
}
_STATED = re.compile(
    r"(\d+)\s*(?:つ|本|項目)(?!目)"
    rf"|\b(\d+|{'|'.join(_EN_NUMBERS)})\s+(?:[a-z]+\s+){{0,2}}(?!(?:cities|parties|municipalities)\b)[a-z]+s\b"
)
_COUNT_WHAT = re.compile(r"条|取組|項目|別表|article|activit|row")
Aliases = dict[str, tuple[str, ...]]  # mark → words that name that party (甲, 久留米市, 久留米)


def party_aliases(names: dict[str, str]) -> Aliases:
    """{"甲": "久留米市"} → {"甲": ("甲", "久留米市", "久留米")}: built from the preamble, not hard-coded."""
    return {mark: (mark, name, name.removesuffix("市")) for mark, name in names.items() if name}


# A city asked about as if it took part: its role (大川市の役割), or whether it is a party (大川市も参加, 大川市の
# 三者で結んだ, 大川市とも結んだ). Group 2 is set for the second: a premise the preamble settles, as "no".
_OTHER_CITY = re.compile(
    r"([一-龥]{1,3}[市町村])(?:の役割|は何を|はどんな|の担当|(も参加|の[三3]者|(?:と|が|も|で|とも)(?:結|締結)))"
)
_NOT_A_CITY = ("両市", "各市", "同市", "本市", "両市町", "市町村", "構成市")


@dataclass(frozen=True)
class Query:
    raw: str
    text: str  # cleaned and corrected, as the user meant it
    search_text: str  # text + glossary terms, for both retrievers
    language: Language
    truncated: bool = False
    article: int | None = None
    articles: tuple[int, ...] = ()  # every article the question names, in order (第4条と第5条の違い)
    item: int | None = None
    section: str | None = None  # "3-2" for 別表(3)②
    parties: tuple[str, ...] = ()  # marks asked about, in the order asked ("乙",)
    definition: bool = False
    name: bool = False
    which_article: bool = False
    which_area: bool = False  # 「どの分野に入る？」: name the 別表 headings above the row
    pick_one: bool = False  # 「第2条のどれ？」: one of several (an article's items) is asked for
    relative_article: int = 0  # +1 / -1: the article after / before the last one asked about (engine.understand)
    count: bool = False  # "how many articles / activities": answered from the document's structure
    stated: tuple[int, ...] = ()  # numbers of things the question states (「3つの柱」): an article listing that many
    current: bool = False  # asks about now (現在の市長): the agreement only records the signing
    legal: bool = False
    closing: tuple[ClosingFacet, ...] = ()
    listing: bool = False
    annex: bool = False  # names the 別表 (in English: the annex, the appended table)
    same_roles: bool = False
    different_roles: bool = False
    comparison: bool = False
    asks_for: str = ""  # amount / time / date / place / contact: a kind of fact, "" for roles and contents
    who: bool = False  # asks which city (どっち, who)
    year: int | None = None  # a Western year the question states (平成28 → 2016), to check false premises
    marks_only: bool = False  # names 甲/乙 as marks (「甲ってどっち？」), not by city
    words: tuple[str, ...] = ()  # the question's own content words (not digits or symbols), for evidence checks
    overview: bool = False  # about the agreement as a whole (「両市は何をすることにしているの？」)
    provision: str = ""  # words of the clause a question asks about without naming it (目的, 定めのない事項)
    again: bool = False  # asks to repeat part of the last answer
    injection: bool = False
    out_of_scope: Topic | None = None
    not_provided: Topic | None = None
    unknown_party: str = ""
    claims_party: bool = False  # says the unknown party is one (三者で結んだ), rather than asking its role
    partner: str = ""  # slug of the agreement whose partner the question names
    expansions: tuple[str, ...] = ()  # the agreement's terms reached by the question's own words
    quotes: tuple[str, ...] = ()  # words the question quotes in 「」 (from the agreement, as a rule)


def clean(text: str, *, limit: int) -> tuple[str, bool]:
    """Drop markup, control and invisible characters, squash space, cut to `limit` characters."""
    text = _MARKUP.sub(" ", _CONTROL.sub(" ", unicodedata.normalize("NFC", text)))
    text = re.sub(r"\s+", " ", text).strip()
    return (text[:limit], True) if len(text) > limit else (text, False)


def detect_language(text: str) -> Language:
    """English when Latin letters clearly outnumber Japanese characters (「who is 甲?」 is English)."""
    japanese = sum("\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff" for c in text)
    latin = sum(c.isascii() and c.isalpha() for c in text)
    return "en" if latin > 3 * japanese else "ja"


def _no_words(text: str) -> list[str]:
    return []


@dataclass(frozen=True)
class Lexicon:
    """What understanding a question needs to know about the loaded corpus, built once per index."""

    glossary: Glossary
    aliases: Aliases = field(default_factory=dict)  # mark → words naming that party
    read: Callable[[str], list[str]] = _no_words  # kana → the corpus words it reads as
    expand: Callable[[str], list[str]] = _no_words  # question words → the agreement's terms (synonym dictionary)
    partners: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (agreement slug, words naming its partner)

    @cached_property
    def partner_names(self) -> re.Pattern[str] | None:
        """Any word naming a party city (not the marks 甲 and 乙 themselves), longest first: see `neutral`."""
        words = _alternation({n for words in self.aliases.values() for n in words} - {"甲", "乙"})
        return re.compile(words, re.IGNORECASE) if words else None

    @cached_property
    def partner_words(self) -> tuple[tuple[str, str, re.Pattern[str]], ...]:
        """(agreement slug, a way its partner is written, where that counts as naming it), compiled once per
        index: at ×100 a question is checked against hundreds of names."""
        return tuple((slug, word, _name_pattern(word)) for slug, words in self.partners for word in words)

    @cached_property
    def named_mark(self) -> re.Pattern[str] | None:
        """「小郡市が甲ですよね？」, 「乙は久留米市？」: a city named as a mark asks which city is which (and may
        be a false premise the definition in the preamble corrects)."""
        name = _alternation({n for words in self.aliases.values() for n in words} - {"甲", "乙"})
        return (
            re.compile(rf"(?:{name})(?:が|は|って)[「]?[甲乙](?![一-龥])|[甲乙][」]?(?:が|は|って)(?:{name})")
            if name
            else None
        )

    def neutral(self, text: str) -> str:
        """The parties' names left out: which city a question names decides its scope and whose role is quoted
        (the planner's), never its ranking. 「東川市との協約の目的は？」 ranks as 「小郡市との…」 does, and
        久留米, written in every row 小郡市 joins (久留米市と連携・協力して), pulls no row: on the annex
        questions of dev and set F, dense top-1 went from 75% to 82% without the names. The asking words
        (どっち, 誰, which city) and sentence marks go too: every role question has them, and 誰 is written in
        one row (誰もが安全・安心に暮らせる)."""
        text = self.partner_names.sub("", text) if self.partner_names else text
        return _WHO.sub(" ", _ASKING.sub(" ", text))


def analyze(raw: str, lexicon: Lexicon | Glossary, *, limit: int) -> Query:
    """Question → Query in one pass: cleaning, corrections, kana readings, expansions, shape and parties."""
    lexicon = lexicon if isinstance(lexicon, Lexicon) else Lexicon(lexicon)
    glossary = lexicon.glossary
    aliases = lexicon.aliases or {"甲": ("甲",), "乙": ("乙",)}
    text, truncated = clean(raw, limit=limit)
    folded = glossary.correct(fold(text))
    folded = _KANA_ARTICLE.sub(lambda m: f"第{_KANA_DIGITS[m.group(1)]}条", folded)
    written = folded  # as the question ends, before the words read in it are appended
    if read := lexicon.read(folded):  # こそだてしえん, ﾋｯｺｼ → also the words they spell (子育て 支援, 引っ越し)
        folded = " ".join([folded, *read])
    if spelled := katakana_as_hiragana(text):  # ｲﾂ ﾑｽﾊﾞﾚﾀ → also いつ むすばれた
        folded = f"{folded} {spelled}"
    numeric = _numeric(folded)
    language = detect_language(text)
    unquoted = _LAW_NAMED.sub(" ", _QUOTATION.sub(" ", numeric))
    actions = " ; ".join(gerund for verb in english_verbs(numeric) for gerund in _gerunds(verb))
    other_party, claimed = _unknown_party(numeric, aliases)
    topical = _topic(numeric)
    extra = list(dict.fromkeys(glossary.expand(topical) + lexicon.expand(topical) + lexicon.expand(actions)))
    # A long question's asking sentences: their words and the terms they reach count _ASK_WEIGHT times in the
    # ranking, and come first in its dense gist (see asking_part).
    repeated: list[str] = []
    if ask := asking_part(_numeric(written)) if language == "ja" else "":
        asked = _topic(ask)
        extra += (_ASK_WEIGHT - 1) * list(dict.fromkeys(glossary.expand(asked) + lexicon.expand(asked)))
        repeated = [ask] * (_ASK_WEIGHT - 1)
    return Query(
        raw=raw,
        text=text,
        search_text=lexicon.neutral(" ".join([*repeated, numeric, *extra])),
        language=language,
        truncated=truncated,
        article=_asked_article(numeric),
        articles=tuple(dict.fromkeys(int(next(g for g in m.groups() if g)) for m in _ARTICLE.finditer(numeric))),
        item=_item(numeric),
        section=_section(numeric),
        parties=_parties(numeric, aliases),
        definition=bool(_DEFINITION.search(numeric) or (lexicon.named_mark and lexicon.named_mark.search(numeric))),
        name=_names_the_agreement(numeric),
        relative_article=_relative_article(numeric),
        which_article=bool(_WHICH_ARTICLE.search(numeric)),
        which_area=bool(_WHICH_AREA.search(numeric)),
        pick_one=bool(_PICK_ONE.search(numeric)),
        count=bool(_COUNT.search(numeric) and _COUNT_WHAT.search(numeric)),
        stated=tuple(int(m[0] or _EN_NUMBERS.get(m[1], m[1])) for m in _STATED.findall(numeric)),
        current=bool(_CURRENT.search(numeric)),
        legal=bool(_LEGAL.search(numeric) or _LAW_NAMED.search(numeric)),
        closing=_closing(numeric, nouns=topical),
        listing=_asks_for_a_list(numeric),
        annex=bool(_ANNEX.search(numeric)),
        same_roles=bool(_SAME.search(numeric) and _ROLES.search(numeric)),
        comparison=bool(_COMPARE.search(numeric)),
        asks_for=_asks_for(numeric),
        who=bool(_WHO.search(numeric)),
        year=_year(numeric),
        marks_only=bool(_MARK_ONLY.search(numeric)),
        provision=next((words for words, pattern in _PROVISIONS.items() if pattern.search(numeric)), ""),
        different_roles=bool(_DIFFERENT.search(numeric) and _ROLES.search(numeric)),
        again=bool(_AGAIN.search(numeric)),
        overview=bool(_OVERVIEW.search(numeric)),
        words=tuple(w for w in lemmas(text) if len(w) > 1 and not w.isdigit()),
        injection=bool(glossary.injection.search(numeric)),
        # Words quoted from the agreement are not the question's topic: 「一定規模の人口を維持」 asks about 第1条.
        out_of_scope=next((t for t in glossary.out_of_scope if t.pattern.search(unquoted)), None),
        not_provided=next((t for t in glossary.not_provided if t.pattern.search(unquoted)), None),
        unknown_party=other_party,
        claims_party=claimed,
        partner=_partner(numeric, lexicon.partner_words),
        expansions=tuple(extra),
        quotes=tuple(_QUOTATION.findall(numeric)),
    )


def _numeric(text: str) -> str:
    """Numerals as digits, and a quoted mark unquoted: 「甲」と「乙」は… asks what 甲 and 乙 are."""
    return _QUOTED_MARK.sub(r"\1", arabic_numerals(text))


def _topic(text: str) -> str:
    """The question's topic: without its English verbs, nor the words that ask for a provision (why, the point of)."""
    return without_english_verbs(functools.reduce(lambda t, p: p.sub(" ", t), _PROVISIONS.values(), text))


_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?\n]*")
# How a sentence that asks ends, in grammar: a question mark, a question particle (か, かな, の, っけ) or a request
# (ください, ほしい, たい, 教えて, …ばいい), with the politeness and softeners that may follow.
_ASKS = re.compile(
    r"(?:[?？]|(?:か|かな|かね|かしら|の|っけ|ください|下さい|ほしい|欲しい|たい|いい|教えて|お願いします)"
    r"(?:です|ね|よ|な|なあ|ー|〜|~)*\s*[。!！]*)\s*$"
)
# Chosen on dev (5,640): the asking sentences counted 2 / 3 / 5 times fixed 2 / 4 / 4 first citations and broke
# 0 / 0 / 1; the partner-named templates (602, ×1) missed 14 / 12 / 13, against 16 without. ZD + OD: no change.
_ASK_WEIGHT = 3


def asking_part(text: str) -> str:
    """The sentences a long question ends with that ask something, when sentences of context come before them:
    「母が一人で住んでいて…大きい病院に通うのに…。市をまたぐバスを便利にしてほしいのですが、どちらの市が…教えて
    ください。」 asks about buses, and its hospital is background. "" when every sentence asks or the last does not."""
    if len(text) <= AS_WRITTEN_CHARS:
        return ""
    sentences = _SENTENCE.findall(text)
    asking = len(sentences)
    while asking and _ASKS.search(sentences[asking - 1].strip()):
        asking -= 1
    return "".join(sentences[asking:]).strip() if 0 < asking < len(sentences) else ""


# An English word used as a verb: after a negated auxiliary or a subject pronoun, or before an object's
# determiner or an adverb that only modifies verbs (together, jointly). The glossary and the dictionary map English nouns (train → 公共交通, address → 番地), and the
# verb of the same spelling asks about something else ("Do they train their staff", "doesn't address").
# No English tagger installs offline, so the cue is these closed-class words, not a list of topics.
_ENGLISH_VERB = re.compile(
    r"(?:\b(?:doesn't|don't|didn't|won't|can't|cannot|not|never|i|we|they|you|it)\s+)([a-z]+)\b"
    r"|\b([a-z]+)(?=\s+(?:the|a|an|their|our|its|my|your|his|her|them|us|together|jointly)\b)"
)


# A word after a determiner, with at most one word between, is a noun, whatever follows it: "the basic
# policies the two cities agreed on" has no verb "policies".
_DETERMINED = re.compile(r"\b(?:the|a|an|their|our|its|my|your|his|her|this|these|those)\s+(?:[a-z]+\s+)?$")


def _verb_spans(text: str) -> list[tuple[int, int]]:
    """Where `text`'s English verbs are (see _ENGLISH_VERB)."""
    spans = []
    for match in _ENGLISH_VERB.finditer(text):
        group = 1 if match.group(1) else 2
        if group == 2 and _DETERMINED.search(text, 0, match.start(2)):
            continue
        spans.append(match.span(group))
    return spans


def without_english_verbs(text: str) -> str:
    """`text` with its English verbs blanked, for looking up the terms its nouns stand for."""
    for start, end in reversed(_verb_spans(text)):
        text = text[:start] + " " + text[end:]
    return text


def english_verbs(text: str) -> list[str]:
    """The English verbs of `text` (see _ENGLISH_VERB), the question's frame (lead, run, handle…) left out."""
    verbs = [text[start:end] for start, end in _verb_spans(text)]
    return [v for v in verbs if len(v) > 2 and _base_form(v) not in ENGLISH_FRAME]


def _base_form(verb: str) -> str:
    """trains → train (not address → addres)."""
    return verb[:-1] if verb.endswith("s") and not verb.endswith("ss") else verb


def _gerunds(verb: str) -> tuple[str, ...]:
    """The -ing forms a verb may take (train → training, manage → managing, plan → planning): the agreement's
    action nouns (研修, 企画) are glossed as gerunds, so a verb reaches its term through them."""
    stem = _base_form(verb)
    return tuple(dict.fromkeys([stem + "ing", stem.removesuffix("e") + "ing", stem + stem[-1] + "ing"]))


def _names_the_agreement(text: str) -> bool:
    """Asks for the agreement's name: 「正式名称は？」, 「この協約の名前」, not 「会議の名称」 (a name written in it)."""
    if not _NAME.search(text):
        return False
    owner = _NAME_OF.search(text)
    return owner is None or owner.group(1).endswith(("協約", "協約書"))


def _relative_article(text: str) -> int:
    found = _RELATIVE_ARTICLE.search(text)
    if not found:
        return 0
    return 1 if (found.group(1) or found.group(2)) in ("次", "next", "following") else -1


def _asks_for(text: str) -> str:
    """The kind of fact asked for; a question that asks which city is about roles whatever else it says."""
    if _ASKS_FOR["people"].search(text):  # who the members are is asked with 誰, and is no role question
        return "people"
    if _WHO.search(text):
        return ""
    quantities = asked_quantities(text)
    kind = next((kind for kind, pattern in _ASKS_FOR.items() if kind in quantities or pattern.search(text)), "")
    # How many articles, activities or items: the agreement's own structure, which it does answer. An article
    # named is what is asked about, not what is counted (「第4条の会議は年に何回？」 counts meetings).
    return "" if kind == "count" and _COUNT_WHAT.search(without_articles(text)) else kind


_ERAS = {"令和": 2018, "平成": 1988, "昭和": 1925}


def _year(text: str) -> int | None:
    match = _YEAR.search(text)
    if not match:
        return None
    era, number, western = match.groups()
    return _ERAS[era] + int(number) if era else int(western)


def _partner(text: str, partner_words: tuple[tuple[str, str, re.Pattern[str]], ...]) -> str:
    """The agreement whose partner the question names: a name written in kanji (or Latin letters) over one
    spelled in kana, then the longest (大川内市 over 大川)."""
    found = [
        (not _KANA_NAME.fullmatch(word), len(word), slug)
        for slug, word, pattern in partner_words
        if pattern.search(text)
    ]
    return max(found)[2] if found else ""


_KANA_NAME = re.compile(r"[ぁ-ゖー]+")
# A name spelled in hiragana starts a word: at the start, after a non-hiragana character or after a particle.
# Inside running hiragana it is other words (北野 → きたの in 「売れるようになってきたので」).
_WORD_START = r"(?:(?<![ぁ-ゖ])|(?<=[のをはがにともへや]))"


def _name_pattern(word: str) -> re.Pattern[str]:
    """Where `word` names a partner: kana at a word start, Latin letters between non-letters, kanji anywhere."""
    if _KANA_NAME.fullmatch(word):
        return re.compile(_WORD_START + re.escape(word))
    if word.isascii():
        return re.compile(rf"(?<![a-z]){re.escape(word)}(?![a-z])", re.IGNORECASE)
    return re.compile(re.escape(word))


def _asked_article(text: str) -> int | None:
    """The article asked about: the first named, unless the others only modify (「第1条の目的を達成するため、
    第2条では何を…」: 第1条 followed by の, 第2条 by the topic particle では asks about 第2条)."""
    found = list(_ARTICLE.finditer(text))
    marked = [m for m in found if re.match(r"\s*(?:では|には|は|って)", text[m.end() :])]
    modifiers = [m for m in found if text[m.end() :].lstrip().startswith("の")]
    if len(found) > 1 and len(marked) == 1 and len(modifiers) == len(found) - 1:
        return _first_int(marked[0])
    return _first_int(found[0]) if found else None


def _first_int(match: re.Match[str] | None) -> int | None:
    if match is None:
        return None
    return int(next(g for g in match.groups() if g))


def _item(text: str) -> int | None:
    if found := _first_int(_ITEM.search(text)):
        return found
    if ordinal := _ORDINAL_EN.search(text):
        return ["first", "second", "third", "fourth"].index(ordinal.group(1).lower()) + 1
    return None


def _section(text: str) -> str | None:
    text = nfkc(text)
    match = _SECTION.search(text)
    # Without 別表, (N) is still the 別表's section when a field number follows (only the 別表 has ①②③) or the
    # question asks for the 別表's own things, its 取組 or their 役割: 第2条 numbers its 事項 (1)–(3) too.
    if not match and (bare := _BARE_SECTION.search(text)) and (bare.group(2) or _ANNEX_WORDS.search(text)):
        match = bare
    if not match:
        return None
    field = re.sub(r"\D", "", match.group(2) or "")
    return f"{match.group(1)}-{field}" if field else match.group(1)


def without_section(text: str) -> str:
    """The question less its 別表 reference (別表, (3)②): what it asks about that part of the table."""
    return _BARE_SECTION.sub(" ", _SECTION.sub(" ", text)).replace("別表", " ")


def _parties(text: str, aliases: Aliases) -> tuple[str, ...]:
    found: list[tuple[int, str]] = []
    for mark, words in aliases.items():
        positions = [text.find(a) for a in words if a in text and not _is_place_name(text, a)]
        if positions:
            found.append((min(positions), mark))
    return tuple(mark for _, mark in sorted(found))


def _is_place_name(text: str, alias: str) -> bool:
    """久留米 in 久留米シティプラザ or 久留米広域… names a place, not the party."""
    after = ("シティ", "広域", "ラーメン", " city plaza", "city plaza")
    return all(text[i + len(alias) :].startswith(after) for i in _find_all(text, alias))


def _find_all(text: str, word: str) -> list[int]:
    return [m.start() for m in re.finditer(re.escape(word), text)]


def _closing(text: str, *, nouns: str) -> tuple[ClosingFacet, ...]:
    """The closing block's facets asked about; an address only as a noun (not "doesn't address it")."""
    facets = tuple(
        facet for facet, pattern in _CLOSING.items() if pattern.search(nouns if facet == "address" else text)
    )
    about_closing = _CLOSING_ABOUT.search(text) or _COPIES.search(text) or any(f in facets for f in ("seal", "address"))
    return facets if about_closing or "signers" in facets else ()


def _asks_for_a_list(text: str) -> bool:
    """A listing word, unless it is 全部 / すべて as the adverb of a verb (see tokenize.before_a_finite_verb)."""
    return any(
        not (match.group() in _ALL and before_a_finite_verb(text[match.end() :])) for match in _LISTING.finditer(text)
    )


def _alternation(words: set[str]) -> str:
    """A regex alternative of `words`, longest first, so 大川内市 wins over 大川."""
    return "|".join(map(re.escape, sorted(words, key=len, reverse=True)))


def _unknown_party(text: str, aliases: Aliases) -> tuple[str, bool]:
    """A city the question treats as a party that is not one, and whether it says it is one (see _OTHER_CITY)."""
    match = _OTHER_CITY.search(text)
    if not match:
        return "", False
    name = match.group(1)
    known = any(a in name for words in aliases.values() for a in words if a not in ("甲", "乙"))
    return ("", False) if known or name.endswith(_NOT_A_CITY) else (name, bool(match.group(2)))
