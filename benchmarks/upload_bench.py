"""From an upload to a running server to the first cited answer from it, and to fully hybrid search.

    python benchmarks/upload_bench.py
    python benchmarks/upload_bench.py --report evals/corpora/provinces-2025/hubei_2025.docx \
        --question "湖北2025年经济增长预期目标是多少？" --expect 6%

A real `rag serve` process on the seeds (fresh RAG_HOME under /tmp/bench-upload-*, the seeds' vectors copied
from the benchmarks' cache, hybrid before the upload). Then, over HTTP:
1. POST /documents with the report (multipart): the time until the response (read, chunk, store, lexical
   snapshot swapped in).
2. /ask polled with a question the report answers, from the moment the upload was sent: the time to the first
   answer that cites the report and holds the expected figure.
3. /ask and /health polled until /health says "hybrid" with no indexing running: the time to fully hybrid,
   the /ask latency while the vectors are computed in the background (the worker takes the cores) and after,
   and the RSS of the server alone and with its embedding worker.

Writes benchmarks/results/upload.md and upload.png.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_bench import ROOT, load, percentile, rss_mb, save_vectors, tree_rss_mb, write_results  # noqa: E402
from serve_bench import questions_for, start_server  # noqa: E402

REPORT = ROOT / "evals" / "corpora" / "provinces-2025" / "hubei_2025.docx"
QUESTION = "湖北2025年经济增长预期目标是多少？"
EXPECT = "6%"


def cites(answer: dict, doc: str, expect: str) -> bool:
    from evals.metrics import normalize

    return (
        answer.get("answerable", False)
        and any(c["doc"] == doc for c in answer.get("citations", []))
        and normalize(expect) in normalize(answer["answer"])
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--report", type=Path, default=REPORT)
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--expect", default=EXPECT, help="text the cited answer must hold")
    parser.add_argument("--after", type=int, default=60, help="/ask requests timed once hybrid")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for hybrid search")
    args = parser.parse_args()
    doc = args.report.name
    seeds_questions = questions_for({"seeds"})
    server, root, _ = start_server("upload", "seeds")
    samples: list[dict] = []  # while embedding: t, latency, cited, rss, tree_rss, embedded
    try:
        ready = server.wait_ready()
        hybrid_before = server.wait_hybrid()
        client = httpx.Client(timeout=300)
        for q in seeds_questions[:10]:  # warm-up
            client.post(f"{server.url}/ask", json={"question": q})
        before = []
        for _ in range(5):
            t = time.perf_counter()
            client.post(f"{server.url}/ask", json={"question": args.question})
            before.append((time.perf_counter() - t) * 1000)
        rss_before = rss_mb(server.pid)
        health0 = client.get(f"{server.url}/health").json()
        print(f"server ready in {ready:.1f} s, hybrid in {hybrid_before:.1f} s; uploading {doc} (load {load()})",
              flush=True)  # fmt: skip
        load_at_upload = os.getloadavg()
        started = time.perf_counter()
        with args.report.open("rb") as fh:
            r = client.post(f"{server.url}/documents", files={"files": (doc, fh)})
        upload_s = time.perf_counter() - started
        if r.status_code != 201:
            sys.exit(f"upload refused: {r.status_code} {r.text[:500]}")
        added = r.json()["added"][0]
        first_cited = first_answer = None
        hybrid_s = None
        turn = 0
        while time.perf_counter() - started < args.timeout:
            t = time.perf_counter()
            question = args.question if turn % 2 == 0 else seeds_questions[turn // 2 % len(seeds_questions)]
            answer = client.post(f"{server.url}/ask", json={"question": question}).json()
            latency = (time.perf_counter() - t) * 1000
            health = client.get(f"{server.url}/health").json()
            now = time.perf_counter() - started
            ok = question == args.question and cites(answer, doc, args.expect)
            samples.append({"t": now, "latency": latency, "server_ms": answer["latency_ms"], "cited": ok,
                            "own": question == args.question, "rss": rss_mb(server.pid),
                            "tree_rss": tree_rss_mb(server.pid), "embedded": health["embedded"],
                            "statements": health["statements"], "load": os.getloadavg()[0]})  # fmt: skip
            if ok and first_cited is None:
                first_cited, first_answer = now, answer
                print(f"first cited answer after {now:.2f} s: {answer['answer'][:80]}", flush=True)
            turn += 1
            if health["search"] == "hybrid" and not (health.get("indexing") or {}).get("running"):
                hybrid_s = now
                indexing = health.get("indexing") or {}
                break
            time.sleep(0.25)
        if hybrid_s is None:
            sys.exit(f"not hybrid after {args.timeout} s")
        print(f"hybrid after {hybrid_s:.1f} s (load {load()})", flush=True)
        after, after_own = [], []
        final = None
        for i in range(args.after):
            question = args.question if i % 4 == 0 else seeds_questions[i % len(seeds_questions)]
            t = time.perf_counter()
            answer = client.post(f"{server.url}/ask", json={"question": question}).json()
            (after_own if question == args.question else after).append((time.perf_counter() - t) * 1000)
            if question == args.question:
                final = answer
        peak = rss_mb(server.pid, peak=True)
        rss_after = rss_mb(server.pid)
        health1 = client.get(f"{server.url}/health").json()
    finally:
        server.stop()
        save_vectors(server.home / "vectors")
        shutil.rmtree(root, ignore_errors=True)

    during = [s["latency"] for s in samples]
    body = [
        f"A `rag serve` process on the seeds ({health0['chunks']} chunks, hybrid), then `POST /documents` with "
        f"`{args.report.relative_to(ROOT) if args.report.is_relative_to(ROOT) else args.report}` "
        f"({added['chunks']} chunks, {health1['statements'] - health0['statements']} new statements), and "
        f"`/ask` polled with “{args.question}” (a cited answer must cite {doc} and hold “{args.expect}”) "
        "alternating with the seeds' eval questions, each poll followed by /health, 0.25 s apart. Load average "
        f"(1 min) at the upload {load_at_upload[0]:.1f}, at the end {os.getloadavg()[0]:.1f}: other jobs shared "
        "the 2 cores.",
        "",
        "Target (issue 11): first cited answer ≤ 5 s after the upload.",
        "",
        "| event | seconds after the upload was sent |",
        "|---|---|",
        f"| `POST /documents` answered (read, chunked, stored, lexical snapshot in place) | {upload_s:.2f} |",
        f"| **first cited answer** from the report | **{first_cited:.2f}** |"
        if first_cited is not None
        else "| first cited answer | never (see below) |",
        f"| fully hybrid (/health: search hybrid, indexing done) | {hybrid_s:.1f} |",
        "",
        f"Embedding the report's statements in the worker: {indexing.get('total') or '?'} statements, "
        f"{(indexing.get('rate') or 0):.1f} statements/s with {indexing.get('threads') or '?'} threads.",
        "",
        "| /ask latency | requests | p50 | p95 | max |",
        "|---|---|---|---|---|",
        f"| before the upload (this question: refused then) | {len(before)} | {percentile(before, 50):.0f} ms | "
        f"{percentile(before, 95):.0f} ms | {max(before):.0f} ms |",
        f"| while the vectors are computed (client side) | {len(during)} | {percentile(during, 50):.0f} ms | "
        f"{percentile(during, 95):.0f} ms | {max(during):.0f} ms |",
        f"| after: hybrid, seeds questions | {len(after)} | {percentile(after, 50):.0f} ms | "
        f"{percentile(after, 95):.0f} ms | {max(after):.0f} ms |",
        f"| after: hybrid, the report's question | {len(after_own)} | {percentile(after_own, 50):.0f} ms | "
        f"{percentile(after_own, 95):.0f} ms | {max(after_own):.0f} ms |",
        "",
        "| memory | MB |",
        "|---|---|",
        f"| server RSS before the upload | {rss_before:.0f} |",
        f"| server + embedding worker, highest seen while embedding | {max(s['tree_rss'] or 0 for s in samples):.0f} |",
        f"| server alone, highest seen while embedding | {max(s['rss'] or 0 for s in samples):.0f} |",
        f"| server RSS at the end / its peak (VmHWM) | {rss_after:.0f} / {peak:.0f} |",
        "",
        f"First cited answer: “{(first_answer or {}).get('answer', '')[:120]}”",
        f"Answer once hybrid: “{(final or {}).get('answer', '')[:120]}” "
        f"(cites {doc}: {'yes' if final and cites(final, doc, args.expect) else 'no'})",
    ]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    ts = [s["t"] for s in samples]
    top.scatter([s["t"] for s in samples if s["own"]], [s["latency"] for s in samples if s["own"]], s=12,
                label="the report's question")  # fmt: skip
    top.scatter([s["t"] for s in samples if not s["own"]], [s["latency"] for s in samples if not s["own"]], s=12,
                label="seeds questions")  # fmt: skip
    if first_cited is not None:
        top.axvline(first_cited, color="tab:green", linestyle="--", label="first cited answer")
    top.axvline(hybrid_s, color="tab:red", linestyle=":", label="hybrid")
    top.set_ylabel("/ask latency (ms)")
    top.set_yscale("log")
    top.legend(fontsize=8)
    bottom.plot(ts, [s["embedded"] - health0["statements"] for s in samples], label="new statements embedded")
    ax2 = bottom.twinx()
    ax2.plot(ts, [s["tree_rss"] for s in samples], color="tab:purple", label="RSS server + worker (MB)")
    ax2.plot(ts, [s["rss"] for s in samples], color="tab:gray", label="RSS server (MB)")
    ax2.set_ylabel("MB")
    bottom.set_xlabel("seconds after the upload was sent")
    bottom.set_ylabel("statements")
    bottom.legend(loc="upper left", fontsize=8)
    ax2.legend(loc="lower right", fontsize=8)
    write_results("upload", "Upload to a running server: first cited answer and hybrid search", body, fig)


if __name__ == "__main__":
    main()
