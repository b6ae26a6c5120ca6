"""Retrieval and answer benchmark: index build time (cold and warm), retrieval and /ask-path latency
percentiles with the index loaded, throughput, and peak memory. Run: python benchmarks/retrieval_bench.py"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from rag.config import PROJECT_ROOT, Settings
from rag.service import RAG


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round((len(s) - 1) * p / 100))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--set", type=Path, default=PROJECT_ROOT / "evals" / "dev.jsonl")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the question set")
    args = parser.parse_args()
    questions = [
        json.loads(line)["question"]
        for line in args.set.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    home = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    try:
        settings = Settings(home=home)
        t = time.perf_counter()
        RAG.open(settings)
        cold = time.perf_counter() - t
        t = time.perf_counter()
        rag = RAG.open(settings)
        warm = time.perf_counter() - t
        for q in questions[:5]:
            rag.ask(q)
        retrieval, answer = [], []
        t_all = time.perf_counter()
        for _ in range(args.rounds):
            for q in questions:
                t = time.perf_counter()
                rag.retrieve(q, 5)
                retrieval.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                rag.ask(q)
                answer.append((time.perf_counter() - t) * 1000)
        elapsed = time.perf_counter() - t_all
    finally:
        shutil.rmtree(home, ignore_errors=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"corpus: {len(rag.chunks)} chunks from {rag.health()['documents']} documents")
    print(
        f"index build (cold, embeds every chunk): {cold:.1f} s; load (warm, nothing to embed): {warm:.2f} s"
    )
    for name, values in (("retrieve", retrieval), ("ask (retrieve + answer)", answer)):
        print(f"{name:24s} p50 {percentile(values, 50):6.1f} ms  p95 {percentile(values, 95):6.1f} ms  "
              f"mean {statistics.mean(values):6.1f} ms  n={len(values)}")  # fmt: skip
    print(f"throughput: {len(answer) / elapsed:.1f} questions/s (retrieve + ask, one thread)")
    print(f"peak memory (RSS): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
