"""Load test of `POST /ask` on a real `rag serve` process: 1, 20 and 50 concurrent clients.

    python benchmarks/serve_bench.py                        # the seeds (vectors from the shared cache)
    python benchmarks/serve_bench.py --corpus full          # seeds + evals/corpora/{provinces-2025,hailar,extra}
    python benchmarks/serve_bench.py --url http://127.0.0.1:7860 --pid 12345   # a server already running

The server runs on a fresh RAG_HOME under /tmp/bench-serve-* (loopback only); vectors of the corpus are copied
from the benchmarks' cache (/tmp/bench-vectors, filled by build_bench.py) when it has them, else the server
computes them; the load test starts once /health says "hybrid". Clients are asyncio tasks in one process
(httpx.AsyncClient), each sending its next question as soon as its previous answer came: questions cycle
through the eval items of the corpus (dev, tuning, holdout). Per round: requests, errors (non-200 or no
answer), client-side latency p50/p95/p99, the server's own `latency_ms` p50 (the time inside `RAG.ask`,
without queueing and HTTP), throughput, the server's RSS (and with its embedding worker, if any), load average.

Writes benchmarks/results/serve-<corpus>.md and a PNG beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_bench import (  # noqa: E402
    ROOT,
    SEEDS,
    bench_dir,
    full_corpus,
    load,
    percentile,
    prefill_vectors,
    rss_mb,
    save_vectors,
    tree_rss_mb,
    write_results,
)

EVAL_SETS = [ROOT / "evals" / f"{name}.jsonl" for name in ("dev", "tuning", "holdout")]


def questions_for(corpora: set[str]) -> list[str]:
    """The questions of the eval items asked of these corpora, in file order."""
    out = []
    for path in EVAL_SETS:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                if item.get("corpus", "seeds") in corpora:
                    out.append(item["question"])
    return list(dict.fromkeys(out))


class Server:
    """`rag serve` (python -m ui serve) as a child process on a free loopback port."""

    def __init__(self, home: Path, corpus: Path, env: dict | None = None):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.home, self.log = home, home / "serve.log"
        home.mkdir(parents=True, exist_ok=True)
        full_env = {**os.environ, "RAG_HOME": str(home), "RAG_CORPUS": str(corpus), "HF_HUB_OFFLINE": "1"}
        full_env.pop("RAG_API_TOKEN", None)
        full_env.update(env or {})
        self.started = time.perf_counter()
        with self.log.open("w") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "ui", "serve", "--port", str(self.port)],
                                         env=full_env, cwd=ROOT, stdout=out, stderr=out)  # fmt: skip
        self.pid = self.proc.pid

    def wait_ready(self, timeout: float = 600) -> float:
        """Seconds from the start until it printed "ready" and /health answers."""
        deadline = time.perf_counter() + timeout
        while True:
            if self.proc.poll() is not None:
                sys.exit(f"rag serve exited:\n{self.log.read_text()[-3000:]}")
            if time.perf_counter() > deadline:
                self.stop()
                sys.exit(f"rag serve not up in {timeout} s:\n{self.log.read_text()[-3000:]}")
            if "ready: " in self.log.read_text():
                try:
                    if httpx.get(f"{self.url}/health", timeout=10).status_code == 200:
                        return time.perf_counter() - self.started
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)

    def wait_hybrid(self, timeout: float = 1800) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            health = httpx.get(f"{self.url}/health", timeout=30).json()
            if health["search"] == "hybrid" and not (health.get("indexing") or {}).get("running"):
                return time.perf_counter() - self.started
            time.sleep(1)
        sys.exit("the server did not finish embedding in time")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_server(tag: str, corpus_name: str, cache: bool = True) -> tuple[Server, Path, Path]:
    """A server on a fresh home with the corpus's vectors prefilled from the cache: (server, root, corpus)."""
    from rag.config import Settings

    root = bench_dir(tag)
    corpus = SEEDS if corpus_name == "seeds" else full_corpus(root / "corpus")
    home = root / "home"
    if cache:
        copied = prefill_vectors(Settings(home=home, corpus=corpus))
        print(f"{copied} statement vectors copied from the cache", flush=True)
    server = Server(home, corpus)
    return server, root, corpus


async def _round(url: str, questions: list[str], n: int, clients: int, headers: dict) -> dict:
    latencies: list[float] = []
    server_ms: list[float] = []
    errors: list[str] = []
    counter = iter(range(n))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=300) as client:

        async def worker() -> None:
            for i in counter:
                started = time.perf_counter()
                try:
                    r = await client.post(f"{url}/ask", json={"question": questions[i % len(questions)]})
                    body = r.json()
                    if r.status_code != 200 or "answer" not in body:
                        errors.append(f"{r.status_code}: {str(body)[:100]}")
                        continue
                except (httpx.HTTPError, ValueError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                server_ms.append(float(body.get("latency_ms") or 0.0))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - started
    return {"clients": clients, "requests": len(latencies), "errors": len(errors), "error_examples": errors[:3],
            "p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "p99": percentile(latencies, 99),
            "server_p50": percentile(server_ms, 50), "server_p95": percentile(server_ms, 95),
            "throughput": len(latencies) / wall, "wall_s": wall}  # fmt: skip


def load_test(url: str, questions: list[str], n: int, clients: int, headers: dict | None = None) -> dict:
    """n questions sent by `clients` concurrent clients; latency percentiles in ms."""
    load_before = os.getloadavg()[0]
    result = asyncio.run(_round(url, questions, n, clients, headers or {}))
    result["load"] = (load_before, os.getloadavg()[0])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", choices=["seeds", "full"], default="seeds")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 20, 50])
    parser.add_argument("-n", type=int, default=200, help="requests per round (at least 2 per client)")
    parser.add_argument("--url", help="a running server on 127.0.0.1 (default: start one)")
    parser.add_argument("--pid", type=int, help="the running server's pid, for its RSS")
    parser.add_argument("--token", default=os.environ.get("RAG_API_TOKEN"), help="bearer token, if needed")
    args = parser.parse_args()
    corpora = {"seeds"} if args.corpus == "seeds" else {"seeds", "provinces-2025", "hailar"}
    questions = questions_for(corpora)
    server, root = None, None
    if args.url:
        if urlparse(args.url).hostname not in {"127.0.0.1", "localhost"}:
            sys.exit("this benchmark only targets 127.0.0.1")
        url, pid = args.url.rstrip("/"), args.pid
    else:
        server, root, _ = start_server("serve", args.corpus)
        url, pid = server.url, server.pid
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    rounds = []
    try:
        if server is not None:
            ready = server.wait_ready()
            hybrid = server.wait_hybrid()
            print(f"ready after {ready:.1f} s, hybrid after {hybrid:.1f} s (load {load()})", flush=True)
        health = httpx.get(f"{url}/health", headers=headers, timeout=30).json()
        load_test(url, questions, len(questions), 1, headers)  # warm-up: every question once
        idle_rss = rss_mb(pid) if pid else None
        for clients in args.clients:
            print(f"{clients} client(s), {max(args.n, 2 * clients)} requests (load {load()})", flush=True)
            r = load_test(url, questions, max(args.n, 2 * clients), clients, headers)
            r["rss"], r["tree_rss"] = (rss_mb(pid), tree_rss_mb(pid)) if pid else (None, None)
            rounds.append(r)
            print(f"  p50 {r['p50']:.0f} ms p95 {r['p95']:.0f} ms p99 {r['p99']:.0f} ms, {r['throughput']:.1f} req/s, "
                  f"{r['errors']} errors", flush=True)  # fmt: skip
        peak = rss_mb(pid, peak=True) if pid else None
    finally:
        if server is not None:
            server.stop()
            save_vectors(server.home / "vectors")
            shutil.rmtree(root, ignore_errors=True)
    report(args.corpus, health, rounds, idle_rss, peak, len(questions))


def report(corpus: str, health: dict, rounds: list[dict], idle_rss, peak, n_questions: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mb = lambda x: f"{x:.0f} MB" if x else "–"  # noqa: E731
    body = [
        f"`rag serve` on {health['documents']} documents, {health['chunks']:,} chunks, {health['statements']:,} "
        f"statement vectors (search: {health['search']}); {n_questions} distinct questions (the eval items of the "
        "corpus) cycled; clients are asyncio tasks in the benchmark's own process on the same 2 cores as the "
        "server, so at high concurrency they take CPU from it. Server RSS after the warm-up "
        f"{mb(idle_rss)}, peak {mb(peak)}.",
        "",
        "Targets (issue 11, full corpus): p50 ≤ 50 ms, p95 ≤ 120 ms; server RSS ≤ 1 GB. Before this work: 20 "
        "clients on the seeds p95 ≈ 690 ms; full corpus p50 85 ms, p95 117 ms.",
        "",
        "| clients | requests | errors | p50 | p95 | p99 | in `RAG.ask` p50 / p95 | throughput | server RSS | "
        "load (1 min) before → after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rounds:
        body.append(
            f"| {r['clients']} | {r['requests']} | {r['errors']} | {r['p50']:.0f} ms | {r['p95']:.0f} ms | "
            f"{r['p99']:.0f} ms | {r['server_p50']:.0f} / {r['server_p95']:.0f} ms | {r['throughput']:.1f} req/s | "
            f"{mb(r['rss'])} | {r['load'][0]:.1f} → {r['load'][1]:.1f} |"
        )
    errors = [e for r in rounds for e in r["error_examples"]]
    if errors:
        body += ["", "Errors seen: " + "; ".join(errors[:5])]
    body += [
        "",
        "With one client the latency is the time of one question; with more, requests queue: `RAG.ask` runs in "
        "FastAPI's thread pool but is CPU-bound Python (the GIL) on 2 cores, so throughput stays near 1 / (time "
        "of one question) and the latency grows with the queue (about clients / throughput).",
    ]
    fig, ax = plt.subplots(figsize=(6, 4))
    clients = [r["clients"] for r in rounds]
    for key, label in (("p50", "p50"), ("p95", "p95"), ("p99", "p99")):
        ax.plot(clients, [r[key] for r in rounds], marker="o", label=label)
    ax.set_xlabel("concurrent clients")
    ax.set_ylabel("/ask latency (ms)")
    ax.set_yscale("log")
    ax.set_title(f"/ask under load ({corpus}, {health['chunks']:,} chunks)")
    ax.legend()
    write_results(f"serve-{corpus}", f"`POST /ask` under concurrent load ({corpus})", body, fig)


if __name__ == "__main__":
    main()
