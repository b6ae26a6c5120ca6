"""Sustained load on a real `rag serve` over the seeds, and the cost of worst-case questions.

    python benchmarks/load_bench.py                          # 50 clients for 60 s (a quick run)
    python benchmarks/load_bench.py --duration 300           # the issue's 50 clients x 5 minutes
    python benchmarks/load_bench.py --url http://127.0.0.1:7860 --pid 12345 --token T   # a running server

1. **Worst cases, one at a time** (no other load): `--reps` rounds of a normal question (the README's
   "武昌2021年固定资产投资目标") and of each worst case at the longest accepted length (RAG_MAX_QUESTION_CHARS,
   500): punctuation only; a character and a punctuation mark alternating; rare characters; place names and
   years repeated; a long English question; the normal question repeated. Per kind: the server's own time
   (`latency_ms`, inside `RAG.ask`) and the client's, p50; the ratio worst / normal (target: at most 3x).
2. **Sustained load**: `--clients` asyncio clients (one process, httpx) each sending its next question as
   soon as its previous answer came, for `--duration` seconds: the eval questions of the seeds, with a share
   `--worst-share` of worst cases mixed in. Errors (non-200, no answer, transport errors), p50/p95/p99 per
   kind, throughput; every `--sample-every` seconds the server's RSS (and with its embedding worker), the
   requests and errors so far and the latency of the last interval.
3. **Where a worst case spends its time** (a server we started only): the same questions in this process on
   the server's RAG_HOME, `RAG.ask` split into parse (rag.query), retrieval (rag.retrieve, incl. the query
   embedding) and answer (rag.answer), and the top functions of a cProfile run of each worst case.

The server runs on a fresh RAG_HOME under /tmp/bench-load-* (loopback only), its vectors copied from the
benchmarks' cache (/tmp/bench-vectors) when it has them. Writes benchmarks/results/load.md and load.png.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import os
import pstats
import random
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_bench import load, percentile, rss_mb, save_vectors, tree_rss_mb, write_results  # noqa: E402
from serve_bench import questions_for, start_server  # noqa: E402

NORMAL = "武昌2021年固定资产投资目标"
MAX_CHARS = 500  # RAG_MAX_QUESTION_CHARS's default: the longest question a client can send
PUNCTUATION = "，。！？、；：“”‘’（）《》【】…—·,.!?;:'\"()[]{}<>/\\|@#$%^&*-_=+~` "
PLACES = ["武昌", "江汉", "青山", "洪山", "汉阳", "江岸", "硚口", "海拉尔", "武汉市", "湖北省"]
ENGLISH = (
    "What was the fixed asset investment target of Wuchang district for 2021, and how did it compare with the "
    "GDP growth, retail sales of consumer goods, general public budget revenue, urban employment, per capita "
    "disposable income of urban and rural residents, industrial output above designated size, foreign trade, "
    "actual use of foreign capital, and the targets set by Jianghan, Qingshan, Hongshan and Hanyang districts in "
    "their government work reports for 2017, 2018, 2019, 2020, 2021 and 2022; please also list the key projects, "
    "reforms, the innovation programme and the plans for education, health care, housing and the environment"
)


def worst_cases(limit: int = MAX_CHARS) -> dict[str, str]:
    """The adversarial questions, each exactly `limit` characters long."""
    rng = random.Random(13)
    punctuation = "".join(rng.choice(PUNCTUATION) for _ in range(limit))
    pairs = zip(itertools.cycle(PLACES), itertools.cycle(range(2015, 2026)))
    places = "".join(f"{p}{y}年" for p, y in itertools.islice(pairs, limit))
    english = (ENGLISH + " ") * (limit // len(ENGLISH) + 1)
    repeated = NORMAL * (limit // len(NORMAL) + 1)
    return {
        "punctuation ×500": punctuation[:limit],
        "hanzi, punctuation alternating ×500": ("武，" * limit)[:limit],
        "rare characters ×500": "".join(chr(0x3400 + 13 * i) for i in range(limit)),  # CJK Extension A
        "places+years ×500": places[:limit],
        "long English (500)": english[:limit].strip().ljust(limit, "?"),
        "normal question repeated ×500": repeated[:limit],
    }


# ---------------------------------------------------------------- 1. worst cases, one at a time
def _post(client: httpx.Client, url: str, question: str) -> httpx.Response | None:
    """POST /ask; None on a transport error (counted as an error by the caller)."""
    try:
        return client.post(f"{url}/ask", json={"question": question})
    except httpx.HTTPError as exc:
        print(f"  {type(exc).__name__}: {exc}", flush=True)
        return None


def measure_cost(url: str, headers: dict, reps: int) -> dict[str, dict]:
    """Per kind: server and client times (ms) of `reps` sequential asks, kinds interleaved."""
    kinds = {"normal": NORMAL, **worst_cases()}
    times: dict[str, dict[str, list]] = {k: {"server": [], "client": [], "status": []} for k in kinds}
    with httpx.Client(headers=headers, timeout=120) as client:
        for question in kinds.values():  # warm-up: each once
            _post(client, url, question)
        for _ in range(reps):
            for kind, question in kinds.items():
                started = time.perf_counter()
                r = _post(client, url, question)
                times[kind]["client"].append((time.perf_counter() - started) * 1000)
                times[kind]["status"].append(r.status_code if r is not None else None)
                if r is not None and r.status_code == 200:
                    body = r.json()
                    times[kind]["server"].append(float(body["latency_ms"]))
                    times[kind]["answerable"] = body["answerable"]
    out = {}
    for kind, t in times.items():
        out[kind] = {"server_p50": percentile(t["server"], 50), "client_p50": percentile(t["client"], 50),
                     "server_max": max(t["server"], default=float("nan")), "chars": len(kinds[kind]),
                     "errors": sum(s != 200 for s in t["status"]), "answerable": t.get("answerable")}  # fmt: skip
    base = out["normal"]
    for row in out.values():
        row["ratio_server"] = row["server_p50"] / base["server_p50"]
        row["ratio_client"] = row["client_p50"] / base["client_p50"]
    return out


# ---------------------------------------------------------------- 2. sustained load
async def _sustained(url, headers, clients, duration, questions, worst, worst_share, sample_every, pid):
    results: list[tuple[float, str, float]] = []  # (time done, kind, ms)
    errors: list[str] = []
    samples: list[dict] = []
    rng = random.Random(7)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    started = time.perf_counter()
    stop_at = started + duration

    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=300) as client:

        async def worker(i: int) -> None:
            order = itertools.cycle(questions[i % len(questions) :] + questions[: i % len(questions)])
            while time.perf_counter() < stop_at:
                if worst and rng.random() < worst_share:
                    kind, question = rng.choice(list(worst.items()))
                else:
                    kind, question = "eval questions", next(order)
                t0 = time.perf_counter()
                try:
                    r = await client.post(f"{url}/ask", json={"question": question})
                    body = r.json()
                    if r.status_code != 200 or "answer" not in body:
                        errors.append(f"{kind}: HTTP {r.status_code}: {str(body)[:120]}")
                        continue
                except (httpx.HTTPError, ValueError) as exc:
                    errors.append(f"{kind}: {type(exc).__name__}: {exc}")
                    continue
                now = time.perf_counter()
                results.append((now - started, kind, (now - t0) * 1000))

        async def sampler() -> None:
            last = 0.0
            while time.perf_counter() < stop_at:
                await asyncio.sleep(sample_every)
                t = time.perf_counter() - started
                window = [ms for done, _, ms in results if last < done <= t]
                samples.append({"t": t, "rss": rss_mb(pid) if pid else None,
                                "tree_rss": tree_rss_mb(pid) if pid else None, "requests": len(results),
                                "errors": len(errors), "p50": percentile(window, 50),
                                "p95": percentile(window, 95), "rate": len(window) / (t - last),
                                "load": os.getloadavg()[0]})  # fmt: skip
                last = t

        await asyncio.gather(sampler(), *(worker(i) for i in range(clients)))
        wall = time.perf_counter() - started
    return results, errors, samples, wall


def sustained_load(url, headers, clients, duration, questions, worst, worst_share, sample_every, pid) -> dict:
    results, errors, samples, wall = asyncio.run(
        _sustained(url, headers, clients, duration, questions, worst, worst_share, sample_every, pid)
    )
    by_kind: dict[str, list[float]] = {}
    for _, kind, ms in results:
        by_kind.setdefault(kind, []).append(ms)
    everything = [ms for _, _, ms in results]

    def row(values: list[float]) -> dict:
        return {"n": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95),
                "p99": percentile(values, 99), "max": max(values, default=float("nan"))}  # fmt: skip

    return {"clients": clients, "duration": duration, "wall": wall, "requests": len(results),
            "errors": len(errors), "error_examples": errors[:5], "all": row(everything),
            "by_kind": {k: row(v) for k, v in sorted(by_kind.items())}, "samples": samples,
            "throughput": len(results) / wall}  # fmt: skip


# ---------------------------------------------------------------- 3. where the time goes
def profile_in_process(home: Path, corpus: Path, reps: int) -> dict:
    """`RAG.ask` split into parse / retrieve / compose for each kind, and cProfile's top functions."""
    from rag import retrieve as retrieve_module
    from rag import service
    from rag.config import Settings

    stages: dict[str, float] = {}

    def timed(owner, attr: str, label: str) -> None:
        original = getattr(owner, attr)

        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                stages[label] = stages.get(label, 0.0) + time.perf_counter() - t0

        setattr(owner, attr, wrapper)

    rag = service.RAG.open(Settings(home=home, corpus=corpus))
    timed(service, "parse_query", "parse (rag.query)")
    timed(retrieve_module.Retriever, "retrieve", "retrieve (rag.retrieve)")
    timed(service, "compose", "answer (rag.answer)")
    kinds = {"normal": NORMAL, **worst_cases()}
    out: dict[str, dict] = {}
    for kind, question in kinds.items():
        rag.ask(question)  # warm
        stages.clear()
        t0 = time.perf_counter()
        for _ in range(reps):
            rag.ask(question)
        total = (time.perf_counter() - t0) / reps * 1000
        out[kind] = {"total_ms": total, **{k: v / reps * 1000 for k, v in stages.items()}}
        if kind != "normal":
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(max(1, reps // 2)):
                rag.ask(question)
            profiler.disable()
            stats = pstats.Stats(profiler)
            rows = []
            for (file, _line, func), (_, calls, _tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
                if "/rag/" in file or "/ingest/" in file:
                    rows.append(
                        (
                            cumtime / max(1, reps // 2) * 1000,
                            f"{Path(file).parent.name}/{Path(file).name}:{func}",
                            calls,
                        )
                    )
            out[kind]["top"] = sorted(rows, reverse=True)[:6]
    return out


# ---------------------------------------------------------------- report
def report(health, cost, sustained, stages, args, idle_rss, peak_rss) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mb = lambda x: f"{x:.0f} MB" if x else "–"  # noqa: E731
    worst_ratio = max(r["ratio_server"] for k, r in cost.items() if k != "normal")
    worst_kind = max((k for k in cost if k != "normal"), key=lambda k: cost[k]["ratio_server"])
    s = sustained
    body = [
        f"`rag serve` on the seeds: {health['documents']} documents, {health['chunks']:,} chunks, "
        f"{health['statements']:,} statement vectors (search: {health['search']}). Clients are asyncio tasks in "
        "the benchmark's own process, on the same machine as the server (they take CPU from it).",
        "",
        "## Worst-case questions (one at a time, no other load)",
        "",
        f"{args.reps} rounds, kinds interleaved; p50 of the server's own time (`latency_ms`, inside `RAG.ask`) "
        "and of the client's (HTTP included). Target: a worst case costs at most 3x a normal question.",
        "",
        "| question | chars | server p50 | server max | client p50 | ratio (server) | ratio (client) | answerable | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, r in cost.items():
        body.append(
            f"| {kind} | {r['chars']} | {r['server_p50']:.1f} ms | {r['server_max']:.1f} ms | {r['client_p50']:.1f} ms | "
            f"{r['ratio_server']:.2f}x | {r['ratio_client']:.2f}x | {r['answerable']} | {r['errors']} |"
        )
    verdict = "within" if worst_ratio <= 3 else "OVER"
    body += ["", f"**Worst ratio: {worst_ratio:.2f}x ({worst_kind}), {verdict} the 3x target.**", ""]
    body += [
        f"## Sustained load: {s['clients']} clients for {s['duration']:.0f} s",
        "",
        f"{s['requests']:,} answers in {s['wall']:.0f} s ({s['throughput']:.1f} req/s), **{s['errors']} errors**; "
        f"{args.worst_share:.0%} of the questions are the worst cases above, the rest the seeds' eval questions. "
        f"Server RSS after the warm-up {mb(idle_rss)}, peak (VmHWM) {mb(peak_rss)}.",
        "",
        "| questions | answers | p50 | p95 | p99 | max |",
        "|---|---|---|---|---|---|",
    ]
    for kind, r in [("all", s["all"]), *s["by_kind"].items()]:
        body.append(
            f"| {kind} | {r['n']:,} | {r['p50']:.0f} ms | {r['p95']:.0f} ms | {r['p99']:.0f} ms | {r['max']:.0f} ms |"
        )
    if s["error_examples"]:
        body += ["", "Errors seen: " + "; ".join(s["error_examples"])]
    body += ["", "Sampled over time (every few samples shown):", "",
             "| t | server RSS | with worker | answers so far | errors so far | p50 (interval) | p95 (interval) | req/s | load |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    step = max(1, len(s["samples"]) // 12)
    for x in s["samples"][::step] + ([s["samples"][-1]] if (len(s["samples"]) - 1) % step else []):
        body.append(
            f"| {x['t']:.0f} s | {mb(x['rss'])} | {mb(x['tree_rss'])} | {x['requests']:,} | {x['errors']} | "
            f"{x['p50']:.0f} ms | {x['p95']:.0f} ms | {x['rate']:.1f} | {x['load']:.1f} |"
        )
    if stages:
        labels = [k for k in next(iter(stages.values())) if k not in ("total_ms", "top")]
        body += ["", "## Where the time goes (in process, the same questions, mean of runs)", "",
                 "| question | total | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]  # fmt: skip
        for kind, r in stages.items():
            body.append(
                f"| {kind} | {r['total_ms']:.1f} ms | "
                + " | ".join(f"{r.get(k, 0):.1f} ms" for k in labels)
                + " |"
            )
        body += ["", "Top functions of the project by cumulative time per question (cProfile, which slows Python "
                 "code down; compare rows with each other, not with the table above):", ""]  # fmt: skip
        for kind, r in stages.items():
            if r.get("top"):
                body.append(
                    f"- {kind}: "
                    + "; ".join(f"`{name}` {ms:.1f} ms ({calls} calls)" for ms, name, calls in r["top"])
                )
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    t = [x["t"] for x in s["samples"]]
    ax1.plot(t, [x["p50"] for x in s["samples"]], label="p50")
    ax1.plot(t, [x["p95"] for x in s["samples"]], label="p95")
    ax1.set_ylabel("/ask latency (ms)")
    ax1.legend()
    ax1.set_title(f"{s['clients']} clients on the seeds")
    ax2.plot(t, [x["rss"] or 0 for x in s["samples"]], label="server RSS")
    ax2.plot(t, [x["tree_rss"] or 0 for x in s["samples"]], label="with embedding worker")
    ax2.set_ylabel("MB")
    ax2.set_xlabel("seconds")
    ax2.legend()
    write_results(
        "load",
        f"Sustained load and worst-case questions ({s['clients']} clients × {s['duration']:.0f} s)",
        body,
        fig,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of sustained load (issue: 300)")
    parser.add_argument("--reps", type=int, default=15, help="rounds of the worst-case comparison")
    parser.add_argument("--worst-share", type=float, default=0.05, help="share of worst cases under load")
    parser.add_argument("--sample-every", type=float, default=2.0, help="seconds between RSS samples")
    parser.add_argument("--url", help="a running server on 127.0.0.1 (default: start one on the seeds)")
    parser.add_argument("--pid", type=int, help="the running server's pid, for its RSS")
    parser.add_argument("--token", default=os.environ.get("RAG_API_TOKEN"), help="bearer token, if needed")
    parser.add_argument("--no-profile", action="store_true", help="skip the in-process breakdown")
    args = parser.parse_args()
    questions = questions_for({"seeds"})
    server = root = None
    if args.url:
        if urlparse(args.url).hostname not in {"127.0.0.1", "localhost"}:
            sys.exit("this benchmark only targets 127.0.0.1")
        url, pid = args.url.rstrip("/"), args.pid
    else:
        server, root, corpus = start_server("load", "seeds")
        url, pid = server.url, server.pid
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    stages = {}
    try:
        if server is not None:
            ready, hybrid = server.wait_ready(), server.wait_hybrid()
            print(f"ready after {ready:.1f} s, hybrid after {hybrid:.1f} s (load {load()})", flush=True)
        health = httpx.get(f"{url}/health", headers=headers, timeout=30).json()
        print(f"worst cases, {args.reps} rounds (load {load()})", flush=True)
        cost = measure_cost(url, headers, args.reps)
        for kind, r in cost.items():
            print(f"  {kind}: server p50 {r['server_p50']:.1f} ms ({r['ratio_server']:.2f}x), "
                  f"client p50 {r['client_p50']:.1f} ms ({r['ratio_client']:.2f}x)", flush=True)  # fmt: skip
        with httpx.Client(headers=headers, timeout=120) as client:  # warm-up: every question once
            for q in questions:
                _post(client, url, q)
        idle_rss = rss_mb(pid) if pid else None
        print(f"{args.clients} clients for {args.duration:.0f} s (load {load()})", flush=True)
        sustained = sustained_load(url, headers, args.clients, args.duration, questions, worst_cases(),
                                   args.worst_share, args.sample_every, pid)  # fmt: skip
        a = sustained["all"]
        print(f"  {sustained['requests']} answers, {sustained['errors']} errors, p50 {a['p50']:.0f} ms, "
              f"p95 {a['p95']:.0f} ms, p99 {a['p99']:.0f} ms", flush=True)  # fmt: skip
        peak_rss = rss_mb(pid, peak=True) if pid else None
        if server is not None:
            server.stop()
            if not args.no_profile:
                print("in-process breakdown", flush=True)
                stages = profile_in_process(server.home, corpus, max(3, args.reps // 3))
    finally:
        if server is not None:
            server.stop()
            save_vectors(server.home / "vectors")
            shutil.rmtree(root, ignore_errors=True)
    report(health, cost, sustained, stages, args, idle_rss, peak_rss)


if __name__ == "__main__":
    main()
