"""Load test of `POST /ask`: N questions with 1 and with 20 concurrent clients, on 127.0.0.1 only.

    python benchmarks/serve_bench.py                      # starts `rag serve` (RAG_HOME from the env, or a tmp dir)
    python benchmarks/serve_bench.py --url http://127.0.0.1:7860 --pid 12345   # an already running server

Prints /ask latency p50/p95, throughput and the server's resident memory (RSS).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "武昌2021年固定资产投资目标",
    "江汉区2018年地区生产总值是多少",
    "青山区2017年新增就业多少人",
    "青山区“四水共治”包括哪几个方面",
    "What was Wuchang District's GDP growth in the first half of 2019?",
    "武昌2022年固定资产投资目标",
    "2017年青山区和武昌区的招商引资总额分别是多少",
    "洪山区2019年固定资产投资目标",
]


def rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def start_server(home: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAG_HOME": home, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "ui", "serve", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 600
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited with status {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(1)
    proc.kill()
    sys.exit("server did not come up in 600 s")


def run_round(client: httpx.Client, url: str, n: int, concurrency: int, max_seconds: float) -> dict:
    deadline = time.perf_counter() + max_seconds
    latencies: list[float] = []
    errors = 0

    def one(i: int) -> None:
        nonlocal errors
        if time.perf_counter() > deadline:
            return
        started = time.perf_counter()
        try:
            r = client.post(f"{url}/ask", json={"question": QUESTIONS[i % len(QUESTIONS)]}, timeout=120)
            ok = r.status_code == 200 and "answer" in r.json()
        except httpx.HTTPError:
            ok = False
        if ok:
            latencies.append((time.perf_counter() - started) * 1000)
        else:
            errors += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(n)))
    wall = time.perf_counter() - started
    latencies.sort()

    def pick(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")

    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "p95_ms": pick(0.95),
        "throughput_rps": len(latencies) / wall if wall else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="a running server (127.0.0.1 only); default: start one")
    parser.add_argument("--pid", type=int, help="the running server's process id, for its RSS")
    parser.add_argument("-n", type=int, default=40, help="questions per round (at most 400)")
    parser.add_argument("--max-seconds", type=float, default=120, help="time bound per round")
    parser.add_argument(
        "--token", default=os.environ.get("RAG_API_TOKEN"), help="bearer token, if /ask needs one"
    )
    args = parser.parse_args()
    n = max(1, min(args.n, 400))

    proc, pid = None, args.pid
    if args.url:
        if urlparse(args.url).hostname not in {"127.0.0.1", "localhost"}:
            sys.exit("this benchmark only targets 127.0.0.1")
        url = args.url.rstrip("/")
    else:
        home = os.environ.get("RAG_HOME") or tempfile.mkdtemp(prefix="rag-bench-")
        print(f"starting `rag serve` with RAG_HOME={home} (the first start builds the index)", flush=True)
        proc, url = start_server(home)
        pid = proc.pid
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    try:
        with httpx.Client(headers=headers, limits=httpx.Limits(max_connections=32)) as client:
            print(f"server: {url}  health: {client.get(f'{url}/health').json()}")
            client.post(f"{url}/ask", json={"question": QUESTIONS[0]}, timeout=120)  # warm-up
            print(f"RSS after warm-up: {rss_mb(pid) or float('nan'):.0f} MB")
            print(
                f"{'clients':>7} {'ok':>5} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>7} {'RSS MB':>7}"
            )
            for concurrency in (1, 20):
                s = run_round(client, url, n, concurrency, args.max_seconds)
                print(
                    f"{s['concurrency']:>7} {s['requests']:>5} {s['errors']:>6} {s['p50_ms']:>8.0f} "
                    f"{s['p95_ms']:>8.0f} {s['throughput_rps']:>7.1f} {rss_mb(pid) or float('nan'):>7.0f}",
                    flush=True,
                )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
