"""Crashes and damaged files at the level of the real processes: `rag serve` on loopback restarted over a
RAG_HOME whose vector segments or chunk store were damaged, `rag ingest` killed with SIGKILL while it embeds,
and two `rag ingest` runs at the same time."""

import hashlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import DATA, ROOT, SEEDS, running_server

QUESTION = "固定资产投资目标是多少"  # the excerpt names no district
EXPECTED = "300亿元"


def rag_cli(home: Path, corpus: Path, *args: str, env: dict | None = None, **popen) -> subprocess.Popen:
    """`rag ARGS…` as a real process with RAG_HOME=`home`, RAG_CORPUS=`corpus`."""
    full_env = {**os.environ, "RAG_HOME": str(home), "RAG_CORPUS": str(corpus), "HF_HUB_OFFLINE": "1"}
    full_env.pop("RAG_API_TOKEN", None)
    full_env.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "ui", *args], env=full_env, cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, **popen,
    )  # fmt: skip


def run_cli(home: Path, corpus: Path, *args: str, env: dict | None = None, timeout: float = 240):
    proc = rag_cli(home, corpus, *args, env=env)
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out.replace("\r", "\n")


def store_folder(home: Path) -> Path:
    (folder,) = [p for p in (home / "vectors").iterdir() if p.is_dir()]
    return folder


def segments(home: Path) -> list[Path]:
    return sorted(store_folder(home).glob("seg-*.npz"))


def vector_state(home: Path, corpus: Path) -> tuple[int, list[str]]:
    """(statements of the corpus, their keys without a vector in the store), read in this process."""
    from rag.corpus import Corpus
    from rag.index import VectorStore, text_key
    from rag.snapshot import all_embed_texts

    keys = {text_key(t) for t in all_embed_texts(Corpus(home, corpus).chunks())}
    model_id = json.loads((store_folder(home) / "model.json").read_text())["embed_model"]
    store = VectorStore(home / "vectors", model_id)
    vectors, found = store.get(sorted(keys))
    assert np.isfinite(vectors[found]).all()
    assert np.allclose(np.linalg.norm(vectors[found], axis=1), 1, atol=1e-3)
    return len(keys), store.missing(sorted(keys))


def ask(url: str) -> dict:
    r = httpx.post(f"{url}/ask", json={"question": QUESTION}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()  # a NaN score would not even be valid JSON


def assert_answers(url: str) -> None:
    body = ask(url)
    assert body["answerable"] and EXPECTED in body["answer"], body["answer"]
    assert all(math.isfinite(r["score"]) for r in body["retrieved"])
    assert body["retrieved"][0]["doc"] == "wuchang_2021_excerpt.txt"


def wait_hybrid(url: str, timeout: float = 120) -> dict:
    """/health once every statement has its vector; fails when the background worker has ended (plus a few
    seconds for the server to swap in its vectors) and some are still missing."""
    deadline, ended = time.time() + timeout, None
    while True:
        health = httpx.get(f"{url}/health", timeout=10).json()
        if health["embedded"] == health["statements"]:
            return health
        indexing = health.get("indexing") or {}
        if indexing and not indexing["running"] and indexing["done"] >= indexing["total"]:
            ended = ended or time.time()
        assert ended is None or time.time() < ended + 10, f"worker done, vectors not served: {health}"
        assert time.time() < deadline, f"vectors not complete in {timeout} s: {health}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    shutil.copy(DATA / "wuchang_2021_excerpt.txt", folder)
    return folder


@pytest.fixture(scope="module")
def built_home(tmp_path_factory, corpus) -> Path:
    """A RAG_HOME with the tiny corpus chunked and embedded by `rag ingest`; tests damage copies of it."""
    home = tmp_path_factory.mktemp("built")
    code, out = run_cli(home, corpus, "ingest")
    assert code == 0, out
    assert vector_state(home, corpus)[1] == []
    return home


@pytest.fixture
def home(built_home, tmp_path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(built_home, copy)
    return copy


def test_flipped_bits_in_a_vector_segment_are_detected_and_embedded_again(home, corpus):
    (segment,) = segments(home)
    data = bytearray(segment.read_bytes())
    for offset in range(len(data) // 2, len(data) // 2 + 400, 7):  # inside the vectors' bytes
        data[offset] ^= 0b0101_0001
    segment.write_bytes(bytes(data))  # same size, same name: only its checksum tells
    with running_server(home, corpus) as url:
        assert_answers(url)  # at once, while the damaged vectors are being computed again (BM25)
        health = wait_hybrid(url)
        assert health["embedded"] == health["statements"] > 0
        assert_answers(url)
        log = (home / "serve.log").read_text()
    assert "dropping segment" in log and "do not match the checksum" in log, log
    assert segment.with_name(segment.name + ".corrupt").exists()  # kept aside, for a look
    assert all(hashlib.sha256(p.read_bytes()).hexdigest() in p.name for p in segments(home))
    assert vector_state(home, corpus)[1] == []


def test_nan_vectors_under_a_valid_checksum_are_dropped_and_embedded_again(home, corpus):
    """A segment whose checksum matches but whose rows are NaN or not of unit norm (a buggy writer)."""
    import io

    (segment,) = segments(home)
    with np.load(segment) as npz:
        keys, vectors = npz["keys"], npz["vectors"].copy()
    vectors[:3] = np.nan
    vectors[3] *= 3.0
    buffer = io.BytesIO()
    np.savez(buffer, keys=keys, vectors=vectors)
    segment.unlink()
    (segment.parent / f"seg-000001-{hashlib.sha256(buffer.getvalue()).hexdigest()}.npz").write_bytes(
        buffer.getvalue()
    )
    with running_server(home, corpus) as url:
        assert_answers(url)
        wait_hybrid(url)
        assert_answers(url)
        log = (home / "serve.log").read_text()
    assert "dropping 4 of" in log and "not finite or not of unit norm" in log, log
    assert vector_state(home, corpus)[1] == []


@pytest.mark.parametrize("damage", ["truncated", "garbled"])
def test_damaged_chunk_store_is_rebuilt_at_start(home, corpus, damage):
    store = home / "chunks.jsonl"
    data = store.read_bytes()
    if damage == "truncated":
        store.write_bytes(data[: len(data) // 2])  # cut inside a line
    else:
        middle = len(data) // 2
        store.write_bytes(data[:middle] + b'\x00{"garbage' + data[middle + 10 :])
    with running_server(home, corpus) as url:
        health = httpx.get(f"{url}/health", timeout=10).json()
        assert health["documents"] == 1 and health["chunks"] == 2
        assert_answers(url)
        log = (home / "serve.log").read_text()
    said = "is cut off" if damage == "truncated" else "is not valid JSON"
    assert "chunks.jsonl line" in log and said in log and "rebuilding the chunk store" in log, log
    from rag.corpus import Corpus

    assert [c.doc for c in Corpus(home, corpus).chunks()] == ["wuchang_2021_excerpt.txt"] * 2


EMBEDDING = re.compile(r"embedding:\s+\d+%\|[^|]*\|\s*(\d+)/(\d+)")


def embedded_by(out: str) -> int:
    """How many statements a `rag ingest` run embedded, from its progress bar (0 when it showed none)."""
    totals = [int(total) for _, total in EMBEDDING.findall(out)]
    return max(totals, default=0)


def test_ingest_killed_while_embedding_resumes_where_it_stopped(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEEDS / "001_61e2f93ad6a7b961.txt", corpus)  # 238 statements: ~13 s on one thread
    home = tmp_path / "home"
    one_thread = {"RAG_BUILD_THREADS": "1"}
    proc = rag_cli(home, corpus, "ingest", env=one_thread)
    deadline = time.time() + 180
    while not (
        (home / "vectors").is_dir() and any((home / "vectors").iterdir()) and len(segments(home)) >= 2
    ):
        assert proc.poll() is None, proc.communicate()[0]
        assert time.time() < deadline, "no two segments written in 180 s"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    statements, missing = vector_state(home, corpus)
    kept = statements - len(missing)
    assert 0 < kept < statements, "killed before or after embedding"

    code, out = run_cli(home, corpus, "ingest", env=one_thread)
    assert code == 0, out
    assert embedded_by(out) == len(missing) < statements, out  # the vectors already written were kept
    assert f"{statements} statement vectors" in out, out
    assert vector_state(home, corpus)[1] == []
    assert not list(store_folder(home).glob(".tmp-*")) and not list(store_folder(home).glob("*.corrupt"))

    code, out = run_cli(home, corpus, "ask", "武昌2021年固定资产投资目标")
    assert code == 0 and EXPECTED in out, out
    code, out = run_cli(home, corpus, "ingest")
    assert code == 0 and embedded_by(out) == 0, out  # nothing left to embed


JIANGAN = """2020年武汉市江岸区政府工作报告

一、2019年工作回顾

江岸区2019年完成固定资产投资410亿元,增长8%。地区生产总值达到1300亿元,增长7.5%。

二、2020年主要工作

全年主要预期目标是:地区生产总值增长7%左右,完成固定资产投资450亿元。
"""


def test_two_ingests_at_the_same_time_both_land_and_say_so(tmp_path, corpus):
    home = tmp_path / "home"
    jiangan = tmp_path / "jiangan_2020.txt"
    jiangan.write_text(JIANGAN, encoding="utf-8")
    hailar = DATA / "hailar_2016_excerpt.txt"
    procs = [rag_cli(home, corpus, "ingest", str(path)) for path in (hailar, jiangan)]
    outs = [p.communicate(timeout=240)[0].replace("\r", "\n") for p in procs]
    for proc, out, name in zip(procs, outs, (hailar.name, jiangan.name), strict=True):
        assert proc.returncode == 0, out
        assert f"  added {name}:" in out and "1 added" in out and "0 skipped" in out, out
    from rag.corpus import Corpus

    docs = {d.doc: d for d in Corpus(home, corpus).documents()}
    assert set(docs) == {"wuchang_2021_excerpt.txt", hailar.name, jiangan.name}
    assert docs[hailar.name].added_by == docs[jiangan.name].added_by == "cli"
    assert vector_state(home, corpus)[1] == []
    code, out = run_cli(home, corpus, "ingest")
    assert code == 0 and embedded_by(out) == 0 and "3 documents" in out, out
    code, out = run_cli(home, corpus, "ask", "江岸区2020年固定资产投资目标")
    assert code == 0 and "450亿元" in out, out
