"""The bench machinery on a tiny subset: 10 questions, ×1 corpus, no load run, no MiniLM (full run: `assistant bench`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assistant import evaluation
from assistant.chunks import build_chunks, row_facets
from assistant.ingestion import load_chunks
from assistant.parse import parse_corpus
from assistant.settings import load_settings
from evals import bench, corpus, report
from evals.baseline import ChunkMapper

CORPUS_FILE = Path(__file__).resolve().parent.parent / "corpus" / "kurume-ogori.txt"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("results")
    config = bench.BenchConfig(questions=10, sizes=(1,), load=False, minilm=False, cold_runs=1, out=out)
    results = bench.run(config)
    report.write(results, out)
    return {**results, "out": out}


def test_table_has_a_row_for_every_system(results: dict[str, Any]) -> None:
    lines = results["table"].splitlines()
    assert lines[0].startswith("| system | first citation | top-3 |")
    names = [*bench.ABLATIONS, bench.NAIVE]
    assert [line.split(" | ")[0].removeprefix("| ") for line in lines[2:]] == names


def test_scores_are_sane(results: dict[str, Any]) -> None:
    by_name = {s["name"]: s for s in results["systems"]}
    for system in results["systems"]:
        scores = system["scores"]
        assert scores["questions"] == 10
        assert all(0.0 <= scores[k] <= 1.0 for k in ("first_citation", "top3", "mrr", "must_contain"))
        assert 0.0 <= scores["p50_ms"] <= scores["p95_ms"]
    product, naive = by_name[bench.PRODUCT]["scores"], by_name[bench.NAIVE]["scores"]
    assert product["top3"] >= 0.8
    assert product["top3"] >= naive["top3"]
    assert by_name[bench.NAIVE]["refusals"] == 0  # the naive baseline always answers
    assert "| naive LangChain RAG |" in results["table"] and "| n/a / " in results["table"]


def test_performance_figures(results: dict[str, Any]) -> None:
    assert results["ingest"]["chunks"] == 29 and results["ingest"]["ingest_s"] > 0
    assert results["ingest"]["peak_rss_mb"] > 50
    probe = results["cold_start"]["probe"]
    assert probe["cited"] and probe["first_ask_ms"] > 0
    assert not probe["torch_imported"], "the default path must not import torch"
    assert not probe["chromadb_client_imported"], "answering reads the store through Chroma's core, not its client"
    assert [p["agreements"] for p in results["scaling"]] == [1]
    ingest = results["ingest"]
    # Every text embedded once: the 29 units and the distinct facets of the 別表 rows (their clauses and roles).
    facets = {text for chunk in load_chunks(load_settings(env={})) for text in row_facets(chunk)}
    assert (ingest["added"], ingest["embedded"], ingest["kept"]) == (29, 29 + len(facets), False)
    assert ingest["units_per_s"] > 0
    partner = results["scaling"][0]["partner"]
    # One agreement: every partner template is asked of it (more than the 5 per partner of a large corpus).
    assert partner["questions"] == len(corpus.partner_templates(evaluation.load_set("dev")))
    assert 0.0 <= partner["top1"] <= partner["top3"] <= 1.0


def test_report_files(results: dict[str, Any]) -> None:
    out: Path = results["out"]
    assert json.loads((out / "latest.json").read_text())["questions"] == 10
    assert (out / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (out / "REPORT.md").read_text(encoding="utf-8")
    assert results["table"] in text and "(chart.png)" in text


def test_replicated_agreements_are_distinct(tmp_path: Path) -> None:
    partners = corpus.replicate(CORPUS_FILE, tmp_path, 100)
    agreements = parse_corpus(tmp_path)
    assert len(agreements) == 100 and {a.slug for a in agreements} == {p.slug for p in partners}
    signatories = [next(p for p in a.closing.parties if p.mark == "乙") for a in agreements]
    for attribute in ("name", "mayor", "address"):
        assert len({getattr(party, attribute) for party in signatories}) == 100, attribute
    assert len({a.closing.date for a in agreements}) == 100
    assert {a.party("甲").name for a in agreements} == {"久留米市"}
    copy = next(a for a in agreements if a.slug == partners[7].slug)
    assert (
        copy.party("乙").name == f"{partners[7].stem}市" and "小郡" not in (tmp_path / f"{copy.slug}.txt").read_text()
    )


def test_partner_questions_name_their_partner_and_expect_its_own_unit(tmp_path: Path) -> None:
    partners = corpus.replicate(CORPUS_FILE, tmp_path, 10)
    templates = corpus.partner_templates(evaluation.load_set("dev"))
    questions = corpus.partner_questions(partners, evaluation.load_set("dev"), per_partner=3)
    per_partner = -(-len(templates) // 10)  # more than 3: every template is asked at least once
    askers = [p for p in partners for _ in range(per_partner)]
    assert len(questions) == 10 * per_partner
    units = {c.id for c in build_chunks(parse_corpus(tmp_path))}
    for item, partner in zip(questions, askers, strict=True):
        assert partner.stem in item.question and item.expected.startswith(f"{partner.slug}/")
        assert item.expected in units, item.expected
    assert len(templates) > 10 and ("{p}市長として署名したのは誰？", "closing") in templates  # in both, kept once
    used = {
        (q.question.replace(p.stem, "{p}"), q.expected.split("/")[1]) for q, p in zip(questions, askers, strict=True)
    }
    # The questions rotate through the templates, and every one is asked.
    assert used == set(templates)


def test_naive_pieces_map_to_the_chunk_they_overlap_most() -> None:
    chunks = build_chunks(parse_corpus(CORPUS_FILE.parent))
    mapper = ChunkMapper(chunks)
    item = next(c for c in chunks if c.local_id == "art-2-1")
    assert mapper("- (1) " + item.text) == item  # the item, not the article that also contains its words
    assert mapper("<p>行政域を越える公共交通機関の利用促進や利便性の向上に取り組む</p>").local_id == "annex-3-2-1"  # type: ignore[union-attr]
    assert mapper("xyz") is None
