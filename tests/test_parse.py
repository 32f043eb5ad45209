"""The parser reads the agreement's real structure: parties, articles, items, closing and every 別表 row."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from assistant.chunks import build_chunks
from assistant.errors import CorpusError
from assistant.parse import parse_file, parse_text
from assistant.types import Agreement

CORPUS_FILE = Path(__file__).resolve().parent.parent / "corpus" / "kurume-ogori.txt"
RAW = CORPUS_FILE.read_text(encoding="utf-8")

# (local id, 取組の内容, 甲の役割, 乙の役割), copied from the source file with the <p> tags removed.
ANNEX_ROWS = [
    (
        "annex-1-1",
        "圏域の経済成長等を図るため、構成市町で組織する推進協議会や産学金官民によるビジョン懇談会などの推進体制を整備・運営し、連携中枢都市圏ビジョンの策定、進捗管理などを行う。",
        "圏域の経済成長等を図るため、推進体制の整備・運営を行うとともに、連携中枢都市圏ビジョンの推進に取り組む。",
        "圏域の経済成長等を図るため、推進体制に参加するとともに、久留米市と連携・協力して連携中枢都市圏ビジョンの推進に取り組む。",
    ),
    (
        "annex-1-2",
        "大都市圏や全国に向けた圏域の特産品・製品の販路拡大や販売促進に取り組むとともに、新規就農支援、地域企業への就職支援などを行い、地域資源の活用による地域産業の裾野拡大を図る。",
        "地域資源の活用による地域産業の裾野拡大に係る取組について、けん引役となって事業を行う。",
        "地域資源の活用による地域産業の裾野拡大のため、久留米市と連携・協力して事業に取り組む。",
    ),
    (
        "annex-1-3",
        "企業間の新たな連携の創出、創業しやすい環境づくり、オープンイノベーションによる研究開発・事業化、企業誘致のための環境整備などに取り組み、地域産業の創出・育成・強化などによる地域経済の活性化を図る。",
        "地域産業の創出・育成・強化に係る取組について、けん引役となって事業を行う。",
        "地域産業の創出・育成・強化のため、久留米市と連携・協力して事業に取り組む。",
    ),
    (
        "annex-1-4",
        "圏域の観光資源の磨き上げや広域観光周遊ルートの形成、フルーツ観光やグルメツアーなどの観光商品の造成、観光客の受入れ体制の整備、情報発信力の強化、圏域内のスポーツ施設間の連携によるスポーツコミッション等による圏域全体への誘客拡大を図る。",
        "圏域の魅力ある観光資源等を活用した圏域全体の誘客拡大に係る取組について、けん引役となって事業を行う。",
        "圏域全体の誘客拡大のため、久留米市と連携・協力して事業に取り組む。",
    ),
    (
        "annex-2-1",
        "久留米シティプラザを圏域全体の賑わいづくりをはじめとした「文化」「活力」創造の拠点として、圏域内の自治体の様々な情報発信に活用する。",
        "久留米シティプラザを圏域自治体の情報発信の場として提供するとともに、久留米シティプラザの自主事業を広域的に実施し、圏域の賑わいづくりに取り組む。",
        "圏域全体の賑わいづくりのため、久留米シティプラザの活用を図るとともに、久留米市と連携・協力して事業に取り組む。",
    ),
    (
        "annex-2-2",
        "診療情報ネットワークの充実や圏域での救急医療体制の整備など、地域医療の連携及び救急医療の更なる充実を図る。",
        "関係機関と調整を図り、診療情報ネットワークの充実や圏域での救急医療体制の整備に取り組む。",
        "久留米市と連携・協力して、診療情報ネットワークの充実や圏域での救急医療体制の整備に取り組む。",
    ),
    (
        "annex-2-3",
        "美術や音楽、演劇など優れた文化芸術を鑑賞する機会を提供し、圏域において文化芸術に対する興味や関心を高め、豊かな感性や郷土を愛する心を育む。",
        "圏域住民に、優れた美術や音楽、演劇などの文化芸術の鑑賞機会を提供する。",
        "文化芸術の鑑賞機会の提供に当たり、効果的な事業の実施に必要な協力を行う。",
    ),
    (
        "annex-3-1-1",
        "二次救急医療や小児救急医療の安定的な運営等により、圏域住民が安心して暮らすことができる救急医療体制の充実を図る。",
        "二次救急医療や小児救急医療の安定的な運営のため、関係機関との連携及び調整を行う。",
        "二次救急医療や小児救急医療の安定的な運営のため、関係機関との連携及び調整の協力を行う。",
    ),
    (
        "annex-3-1-2",
        "児童の一時預かりや、子育て相談、地域での子育てサロンなど、圏域における広域的な子育て支援の各事業についてサービスの向上を図る。",
        "圏域の住民が子育て支援サービスを円滑に利用できるよう、事業実施体制の充実や周知等に取り組む。",
        "圏域の住民が子育て支援サービスを円滑に利用できるよう、久留米市と連携・協力して事業実施体制の充実や周知等に取り組む。",
    ),
    (
        "annex-3-1-3",
        "圏域の多様な地域資源を活かした取組を行うとともに、情報発信をすることにより、圏域全体の活性化や地域振興を図る。",
        "様々な地域資源を活かした圏域全体の地域振興に取り組む。",
        "様々な地域資源を活かした圏域全体の地域振興に取り組む。",
    ),
    (
        "annex-3-2-1",
        "行政域を越える公共交通機関の利用促進や利便性の向上に取り組むことで、誰もが安全・安心に暮らせる持続可能な交通体系の実現を目指す。",
        "圏域内の公共交通における課題を抽出し、利用促進や利便性向上を図るとともに、公共交通ネットワークの再編検討について主体的に取り組む。",
        "久留米市と連携・協力して圏域内の公共交通における課題を抽出し、利用促進や利便性向上を図るとともに、公共交通ネットワークの再編検討に取り組む。",
    ),
    (
        "annex-3-2-2",
        "主に福岡都市圏を対象とした、圏域の豊かな自然や文化、食などの地域資源や充実した生活環境など、暮らしに関する情報発信による圏域への移住促進を図る。",
        "圏域への移住を促進するための施策の推進に当たって、事業の企画立案、実施及び広域的なコーディネートを行う。",
        "圏域への移住を促進するための施策の推進に当たって、事業の企画立案に協力し、効果的な事業実施に必要な協力を行う。",
    ),
    (
        "annex-3-3-1",
        "人事交流、研修会の合同開催、人材確保・育成のノウハウの共有化等に取り組み、自治体を取り巻く環境変化への的確な対応と圏域マネジメント能力の強化を図る。",
        "圏域マネジメント能力の強化に向けて、講演会及び研修会等を企画・実施する。",
        "圏域マネジメント能力の強化に向けて、講演会及び研修会等の検討・調整・参加に協力する。",
    ),
]

ARTICLES = [
    (1, "目的"),
    (2, "基本方針"),
    (3, "連携する取組及び役割分担"),
    (4, "会議"),
    (5, "協議"),
]

SECTIONS = {
    # local id prefix: (marker, heading, outer headings)
    "annex-1-": ("(1)", "圏域全体の経済成長のけん引に関する取組", ()),
    "annex-2-": ("(2)", "高次の都市機能の集積・強化に関する取組", ()),
    "annex-3-1-": ("(3)①", "生活機能の強化に係る分野", ("圏域全体の生活関連機能サービスの向上に関する取組",)),
    "annex-3-2-": (
        "(3)②",
        "結びつきやネットワークの強化に係る分野",
        ("圏域全体の生活関連機能サービスの向上に関する取組",),
    ),
    "annex-3-3-": (
        "(3)③",
        "圏域マネジメント能力の強化に係る分野",
        ("圏域全体の生活関連機能サービスの向上に関する取組",),
    ),
}


@pytest.fixture(scope="module")
def agreement() -> Agreement:
    return parse_file(CORPUS_FILE)


def rows_by_id(agreement: Agreement) -> dict:
    return {row.local_id: row for row in agreement.annex}


def test_preamble_resolves_the_parties_and_the_legal_basis(agreement):
    assert agreement.slug == "kurume-ogori"
    assert agreement.title == "久留米広域連携中枢都市圏形成に係る連携協約"
    assert [(p.mark, p.name) for p in agreement.preamble.parties] == [("甲", "久留米市"), ("乙", "小郡市")]
    assert agreement.party("甲").name == "久留米市"
    assert agreement.party("乙").name == "小郡市"
    assert agreement.preamble.legal_basis == "地方自治法第252条の2第1項"
    assert agreement.preamble.text.startswith("久留米市（以下「甲」という。）と小郡市（以下「乙」という。）は、")
    assert agreement.preamble.text in RAW


def test_articles_have_their_numbers_headings_and_verbatim_text(agreement):
    assert [(a.number, a.heading) for a in agreement.articles] == ARTICLES
    for article in agreement.articles:
        assert article.text.startswith(f"第{article.number}条")
        assert article.text in RAW  # one source line each, kept as written
    assert agreement.articles[3].text == (
        "第4条 甲と乙は、この協約の推進に関し定期的に協議調整を図るため、"
        "久留米広域連携中枢都市圏推進協議会を開催するものとする。"
    )


def test_article_2_has_its_three_items(agreement):
    article = agreement.articles[1]
    assert [(item.number, item.text) for item in article.items] == [
        (1, "圏域全体の経済成長のけん引"),
        (2, "高次の都市機能の集積・強化"),
        (3, "圏域全体の生活関連機能サービスの向上"),
    ]
    assert all(not a.items for a in agreement.articles if a.number != 2)


def test_closing_sentence_date_and_signatories(agreement):
    closing = agreement.closing
    # One sentence in the agreement, broken across two lines in the file (署名 / 押印).
    assert closing.text == "この協約の締結を証するため、本協約書2通を作成し、甲と乙が署名押印の上、各自1通を保有する。"
    assert "署名押印" in closing.text
    assert closing.date == dt.date(2016, 2, 23)
    assert closing.date_text == "平成28年2月23日"
    assert [(p.mark, p.name, p.address, p.mayor) for p in closing.parties] == [
        ("甲", "久留米市", "福岡県久留米市城南町15番地3", "久留米市長 梶原利則"),
        ("乙", "小郡市", "福岡県小郡市小郡255番地1", "小郡市長 平安正知"),
    ]


def test_annex_has_all_13_rows_in_their_sections(agreement):
    assert agreement.annex_title == "別表（第3条関係）"
    assert [row.local_id for row in agreement.annex] == [row_id for row_id, *_ in ANNEX_ROWS]
    for row in agreement.annex:
        prefix = row.local_id.rsplit("-", 1)[0] + "-"
        marker, heading, outer = SECTIONS[prefix]
        assert (row.section.marker, row.section.heading) == (marker, heading)
        assert tuple(s.heading for s in row.sections[:-1]) == outer
        assert row.sections[-1] == row.section


@pytest.mark.parametrize(("row_id", "content", "role_kou", "role_otsu"), ANNEX_ROWS, ids=[r[0] for r in ANNEX_ROWS])
def test_annex_row_cells_are_verbatim(agreement, row_id, content, role_kou, role_otsu):
    row = rows_by_id(agreement)[row_id]
    assert (row.content, row.role_kou, row.role_otsu) == (content, role_kou, role_otsu)
    for cell in (row.content, row.role_kou, row.role_otsu):
        assert cell in RAW
        assert "<" not in cell and ">" not in cell


def test_parties_come_from_the_preamble_not_from_fixed_names():
    swapped = RAW.replace(
        "久留米市（以下「甲」という。）と小郡市（以下「乙」という。）",
        "小郡市（以下「甲」という。）と久留米市（以下「乙」という。）",
    )
    assert swapped != RAW
    agreement = parse_text(swapped, source=Path("ogori-kurume.txt"))
    assert (agreement.party("甲").name, agreement.party("乙").name) == ("小郡市", "久留米市")
    # The signatory blocks are matched by mark, so the names follow the preamble too.
    assert [(p.mark, p.name) for p in agreement.closing.parties] == [("甲", "小郡市"), ("乙", "久留米市")]


def test_another_city_as_kou_is_named_in_parse_and_chunks():
    text = RAW.replace("久留米市", "大牟田市")
    agreement = parse_text(text, source=Path("omuta-ogori.txt"))
    assert agreement.slug == "omuta-ogori"
    assert agreement.party("甲").name == "大牟田市"
    assert agreement.closing.parties[0].mayor == "大牟田市長 梶原利則"
    row = next(c for c in build_chunks([agreement]) if c.id == "omuta-ogori/annex-3-2-1")
    assert "大牟田市" in row.text
    assert "久留米市" not in row.text


def test_half_width_brackets_in_the_preamble_are_read_the_same():
    text = RAW.replace("久留米市（以下「甲」という。）", "久留米市(以下「甲」という。)")
    assert text != RAW
    agreement = parse_text(text, source=Path("kurume-ogori.txt"))
    assert [(p.mark, p.name) for p in agreement.preamble.parties] == [("甲", "久留米市"), ("乙", "小郡市")]


def test_text_between_articles_is_an_error_not_a_silently_lost_article():
    # A numbered paragraph (第2項) after 第4条 used to end the articles there: 第5条 vanished and the
    # paragraph was read as the closing sentence. Now the file is refused at the line that broke the structure.
    text = RAW.replace(
        "開催するものとする。\n", "開催するものとする。\n\n2 前項の協議会に関し必要な事項は、別に定める。\n", 1
    )
    with pytest.raises(CorpusError, match=r"x\.txt:30: .*第4条.*line 35"):
        parse_text(text, source=Path("x.txt"))
