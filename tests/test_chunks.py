"""`python -m assistant chunks --json`: the citable units a user sees, with readable, stable ids and labels."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from assistant.chunks import build_chunks
from assistant.parse import parse_text

ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = ROOT / "corpus"
CORPUS_FILE = CORPUS_DIR / "kurume-ogori.txt"

ANNEX_IDS = [
    "annex-1-1",
    "annex-1-2",
    "annex-1-3",
    "annex-1-4",
    "annex-2-1",
    "annex-2-2",
    "annex-2-3",
    "annex-3-1-1",
    "annex-3-1-2",
    "annex-3-1-3",
    "annex-3-2-1",
    "annex-3-2-2",
    "annex-3-3-1",
]
MARKERS = {"1": "(1)", "2": "(2)", "3-1": "(3)①", "3-2": "(3)②", "3-3": "(3)③"}
ARTICLE_LABELS = {
    "art-1": "第1条（目的）",
    "art-2": "第2条（基本方針）",
    "art-3": "第3条（連携する取組及び役割分担）",
    "art-4": "第4条（会議）",
    "art-5": "第5条（協議）",
}


def raw_cells() -> dict[str, tuple[str, str, str]]:
    """The 別表 cells straight from the file (independent of the parser), keyed by row id in file order."""
    lines = CORPUS_FILE.read_text(encoding="utf-8").splitlines()
    rows = [line for line in lines if "\t" in line and not line.startswith("取組の内容")]
    cells = [tuple(re.sub(r"</?p>", "", cell) for cell in row.split("\t")) for row in rows]
    return dict(zip(ANNEX_IDS, cells, strict=True))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def listing(run_cli) -> tuple[str, list[dict]]:
    result = run_cli("-m", "assistant", "chunks", "--json", "--corpus-dir", str(CORPUS_DIR))
    assert result.returncode == 0, result.stderr
    return result.stdout, json.loads(result.stdout)


@pytest.fixture(scope="module")
def chunks(listing) -> dict[str, dict]:
    return {chunk["id"]: chunk for chunk in listing[1]}


def test_29_chunks_by_kind(listing):
    kinds = Counter(chunk["kind"] for chunk in listing[1])
    assert kinds == {"article": 5, "item": 3, "annex_row": 13, "preamble": 1, "closing": 1, "section": 6}
    assert len(listing[1]) == 29


def test_annex_section_headings_are_citable_units(chunks):
    units = chunks
    section = units["kurume-ogori/section-3-2"]
    assert section["label"] == "別表 (3)② 結びつきやネットワークの強化に係る分野"
    assert section["text"].startswith("別表 (3)② 結びつきやネットワークの強化に係る分野")
    assert section["metadata"]["rows"] == 2
    assert units["kurume-ogori/section-3"]["metadata"]["rows"] == 6


def test_ids_are_readable_and_prefixed_by_the_agreement(listing):
    ids = [chunk["id"] for chunk in listing[1]]
    assert len(set(ids)) == len(ids)
    expected = {
        "preamble",
        "closing",
        *ARTICLE_LABELS,
        "art-2-1",
        "art-2-2",
        "art-2-3",
        *ANNEX_IDS,
        *(f"section-{path}" for path in ("1", "2", "3", "3-1", "3-2", "3-3")),
    }
    assert set(ids) == {f"kurume-ogori/{local}" for local in expected}
    assert all(re.fullmatch(r"kurume-ogori/[a-z]+(-\d+)*", i) for i in ids)


def test_article_and_item_labels(chunks):
    for local, label in ARTICLE_LABELS.items():
        chunk = chunks[f"kurume-ogori/{local}"]
        assert chunk["label"] == label
        assert chunk["kind"] == "article"
    article_2 = chunks["kurume-ogori/art-2"]["text"]
    for number, text in enumerate(
        ["圏域全体の経済成長のけん引", "高次の都市機能の集積・強化", "圏域全体の生活関連機能サービスの向上"], 1
    ):
        item = chunks[f"kurume-ogori/art-2-{number}"]
        assert item["kind"] == "item"
        assert item["label"].startswith(f"第2条（基本方針）第{number}号")
        assert item["text"] == text
        assert text in article_2  # the article chunk quotes its items too


def test_annex_row_labels_name_the_section_and_the_row(chunks):
    labels = []
    for row_id in ANNEX_IDS:
        label = chunks[f"kurume-ogori/{row_id}"]["label"]
        marker = MARKERS[row_id.removeprefix("annex-").rsplit("-", 1)[0]]
        assert label.startswith(f"別表 {marker} "), label
        # The rest of the label is the row's own opening words (maybe shortened with …).
        title = label.removeprefix(f"別表 {marker} ").removesuffix("…")
        assert len(title) >= 5
        assert raw_cells()[row_id][0].startswith(title), label
        labels.append(label)
    assert len(set(labels)) == len(labels)
    assert chunks["kurume-ogori/annex-3-2-1"]["label"].startswith("別表 (3)② 行政域を越える公共交通機関")


@pytest.mark.parametrize("row_id", ANNEX_IDS)
def test_each_annex_row_says_what_each_city_does_verbatim(chunks, row_id):
    chunk = chunks[f"kurume-ogori/{row_id}"]
    content, role_kou, role_otsu = raw_cells()[row_id]
    text = chunk["text"]
    assert chunk["kind"] == "annex_row"
    assert content in text
    lines = text.splitlines()
    # Each role is on its own line, attributed to its city by name (not just 甲/乙).
    kou_lines = [i for i, line in enumerate(lines) if line.endswith(role_kou) and "久留米市" in line[: -len(role_kou)]]
    otsu_lines = [i for i, line in enumerate(lines) if line.endswith(role_otsu) and "小郡市" in line[: -len(role_otsu)]]
    assert kou_lines, text
    assert otsu_lines, text
    assert any(k != o for k in kou_lines for o in otsu_lines)  # two lines, even when the roles read alike


def test_preamble_and_closing_chunks(chunks):
    preamble = chunks["kurume-ogori/preamble"]["text"]
    assert "久留米市（以下「甲」という。）と小郡市（以下「乙」という。）" in preamble
    assert "地方自治法（昭和22年法律第67号）第252条の2第1項" in preamble
    closing = chunks["kurume-ogori/closing"]["text"]
    for fact in ["署名押印", "平成28年2月23日", "久留米市長 梶原利則", "小郡市長 平安正知", "福岡県小郡市小郡255番地1"]:
        assert fact in closing


def test_listing_is_identical_across_runs(run_cli, listing):
    again = run_cli("-m", "assistant", "chunks", "--json", "--corpus-dir", str(CORPUS_DIR))
    assert again.returncode == 0, again.stderr
    assert again.stdout == listing[0]


def test_plain_listing_shows_ids_and_labels(run_cli):
    result = run_cli("-m", "assistant", "chunks", "--corpus-dir", str(CORPUS_DIR))
    assert result.returncode == 0, result.stderr
    assert "kurume-ogori/art-4\tarticle\t第4条（会議）" in result.stdout
    assert "推進協議会を開催する" in result.stdout


def test_rows_opening_with_the_same_words_get_distinct_labels():
    # A valid agreement whose two rows in one section start alike used to crash chunking (duplicate labels).
    raw = CORPUS_FILE.read_text(encoding="utf-8")
    lines = raw.splitlines(keepends=True)
    twin = lines[65].replace("など、地域医療の連携", "など、地域医療と介護の連携")  # line 66, (2) second row
    agreement = parse_text("".join([*lines[:66], twin, *lines[66:]]), source=Path("twin.txt"))
    labels = {c.id: c.label for c in build_chunks([agreement])}
    assert labels["twin/annex-2-2"] != labels["twin/annex-2-3"]
    assert labels["twin/annex-2-2"].startswith("別表 (2) 2行目 診療情報ネットワーク")
    assert labels["twin/annex-2-3"].startswith("別表 (2) 3行目 診療情報ネットワーク")
    assert labels["twin/annex-2-1"].startswith("別表 (2) 久留米シティプラザ")  # unaffected rows keep their label
