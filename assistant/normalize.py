"""Text normalisation shared by the parser, the tokenizer and query handling."""

from __future__ import annotations

import html
import re
import unicodedata

import jaconv

_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_SPACE = re.compile(r"[ \t\u3000]+")
_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}
# A kanji numeral counts something only after 第 or before a counter (四条, 十三項目, 二通, 平成二十八年);
# elsewhere it is part of a word (二次救急, 一覧, 一時預かり) and stays as written.
_KANJI_NUMBER = re.compile(
    r"(?<=第)[〇零一二三四五六七八九十百千]+|[〇零一二三四五六七八九十百千]+(?=\s*(?:条|号|番目|項目|項|つ|か条|ヶ条|通|年|月|日|人|件|分野))"
)


def nfkc(text: str) -> str:
    """NFKC: full-width digits, letters and brackets, and half-width kana, to one form."""
    return unicodedata.normalize("NFKC", text)


def strip_markup(cell: str) -> str:
    """Drop the `<p>` wrappers the source table carries and unescape entities.

    A regex is enough here: cells hold plain text wrapped in paragraph tags, never nested markup.
    """
    return html.unescape(_TAG.sub("", cell)).strip()


def squash_spaces(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def kanji_to_int(text: str) -> int:
    """四 → 4, 十二 → 12, 二百五十二 → 252. No library in our set reads kanji numerals."""
    total, digit = 0, 0
    for char in text:
        if char in _KANJI_DIGITS:
            digit = _KANJI_DIGITS[char]
        else:
            total += (digit or 1) * _KANJI_UNITS[char]
            digit = 0
    return total + digit


def arabic_numerals(text: str) -> str:
    """Rewrite kanji numerals that count something (第四条, 四条, 十三) as digits."""
    return _KANJI_NUMBER.sub(lambda m: str(kanji_to_int(m.group())), text)


def fold(text: str) -> str:
    """The comparison form: NFKC, case-folded, spaces squashed. Used to check quotations."""
    return squash_spaces(nfkc(text).casefold())


def is_kana_only(text: str) -> bool:
    """True when a question is written only in hiragana/katakana (こそだて), so readings must be used."""
    letters = [c for c in nfkc(text) if not unicodedata.category(c).startswith(("P", "Z", "S"))]
    return bool(letters) and all("\u3040" <= c <= "\u30ff" for c in letters)


def to_katakana(text: str) -> str:
    return jaconv.hira2kata(nfkc(text))


def katakana_as_hiragana(text: str) -> str:
    """A question typed wholly in katakana (no kanji, no hiragana: ｷｮｳﾔｸ ﾊ ｲﾂ ﾑｽﾊﾞﾚﾀ?, as old phones and some
    forms take it) in hiragana, so its particles and question words (は, いつ, いくら) read as they do when typed
    so; "" for any other text."""
    letters = nfkc(text)
    if _KANJI_OR_HIRAGANA.search(letters) or not _KATAKANA.search(letters):
        return ""
    return jaconv.kata2hira(letters)


_KANJI_OR_HIRAGANA = re.compile(r"[ぁ-ゖ一-龥々]")
_KATAKANA = re.compile(r"[ァ-ヺ]")
