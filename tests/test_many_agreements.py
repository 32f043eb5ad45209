"""A region's every agreement in one index: 100 agreements made from the real one (evals.corpus.replicate), every
vector computed (about 40 s to ingest here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.engine import Engine
from assistant.ingestion import ingest
from assistant.settings import Settings
from evals import corpus

CORPUS_FILE = Path(__file__).resolve().parent.parent / "corpus" / "kurume-ogori.txt"


@pytest.fixture(scope="module")
def hundred(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, list[corpus.Partner]]:
    folder = tmp_path_factory.mktemp("hundred")
    partners = corpus.replicate(CORPUS_FILE, folder / "corpus", 100)
    settings = Settings(corpus_dir=folder / "corpus", data_dir=folder / "data")
    ingest(settings)
    return Engine.load(settings), partners


def test_a_named_partners_every_unit_is_ranked_by_meaning_exactly(hundred) -> None:
    """Each row of the template has 99 identical copies in the other agreements. Searched through Chroma's
    filtered HNSW, one agreement got 83 of its 99 units and facets, and a partner-named question missed its row
    in one build and not in the next. Every unit of the named agreement (and every facet) must get its cosine,
    in exact order, in every build."""
    engine, partners = hundred
    index = engine.index
    facets = set(index.facets)
    vector = engine.embedder.embed_queries(["子どもが夜中に急に熱を出したとき、診てもらえる体制はある？"])[0]
    for partner in partners[::9]:
        units = {c.id: c for c in index.chunks if c.id.startswith(f"{partner.slug}/")}
        found = index.nearest(vector, k=128, agreement=partner.slug)
        assert {i for i, _ in found} == set(units) | facets
        cosines = [similarity for _, similarity in found]
        assert cosines == sorted(cosines, reverse=True)
        assert found[0][0] in {f"{partner.slug}/annex-3-1-1", *facets}


def test_a_partner_named_question_is_answered_from_that_partners_row(hundred) -> None:
    """A resident's question that missed its row for some partners in one ×100 build and not in another."""
    engine, partners = hundred
    for partner in partners[::11]:
        answer = engine.ask(
            f"夜中に子どもが急に熱を出したとき、診てもらえる体制づくりって久留米市と{partner.stem}市どっちがやってるの？"
        )
        assert answer.citations[0].id == f"{partner.slug}/annex-3-1-1"
        assert f"{partner.stem}市" in answer.text
        assert all(c.id.startswith(f"{partner.slug}/") for c in answer.citations)


_SEEDED_ASK = """
import sys
import os
import subprocess
import sys
from pathlib import Path
from assistant.engine import Engine
from assistant.settings import Settings
engine = Engine.load(Settings(corpus_dir=Path(sys.argv[1]), data_dir=Path(sys.argv[2])))
print(engine.ask(sys.argv[3]).citations[0].id)
"""


def test_an_answer_does_not_depend_on_the_processs_hash_seed(hundred) -> None:
    """Python orders a set of strings by a hash seeded per process. The ranking took back the scores of a row's
    bound words (相談, 支援 in 子育て相談, 子育て支援) in set order, and what rounding left (about 1e-7) was a
    match in one process in four: this question found the childcare row under seeds 4, 5 and 7, and the
    startup row under 0-3 and 6."""
    engine, partners = hundred
    partner = next(p for p in partners if p.slug.endswith("copy073"))
    question = (
        f"{partner.stem}で小さなパン屋を開こうと思っていて、いろいろ調べているところです。商工会にも相談に行ったんですが、"
        "市どうしで新しく商売を始める人を応援する取り組みがあるって聞いて。"
        f"それって久留米市と{partner.stem}市、どっちが引っ張っている取り組みなんですか？"
    )
    settings = engine.settings
    firsts = set()
    for seed in ("0", "4", "5"):
        done = subprocess.run(
            [sys.executable, "-c", _SEEDED_ASK, str(settings.corpus_dir), str(settings.data_dir), question],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
        )
        firsts.add(done.stdout.strip().splitlines()[-1])
    assert firsts == {f"{partner.slug}/annex-1-3"}
