"""`rag eval`: every question through the `/ask` code path (`RAG.ask`), metrics overall and per kind,
baselines side by side, a JSON dump and a Markdown report with a chart."""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

from evals.metrics import (
    EvalItem,
    aggregate,
    answer_score,
    by_kind,
    check_thresholds,
    first_hit_rank,
    grounded,
    is_hit,
    load_items,
    numbers_in,
)
from rag.types import Answer

THRESHOLDS = Path(__file__).with_name("thresholds.toml")
RANK_DEPTH = 10
TABLE_METRICS = ["hit@1", "hit@5", "mrr@10", "answer_accuracy", "refusal_precision", "refusal_recall",
                 "citation_support", "grounded_numbers", "latency_p50_ms", "latency_p95_ms"]  # fmt: skip


def score_item(item: EvalItem, answer: Answer, ranked: list[tuple[str, str]]) -> dict:
    cited = [c.text for c in answer.citations]
    nums = numbers_in(answer.answer) if answer.answerable else []
    return {
        "id": item.id,
        "kind": item.kind,
        "question": item.question,
        "gold_answerable": item.answerable,
        "refused": not answer.answerable,
        "rank": first_hit_rank(ranked[:RANK_DEPTH], item) if item.answerable else None,
        "score": answer_score(answer.answer, answer.answerable, item),
        "cited_support": any(is_hit(c.doc, c.text, item) for c in answer.citations),
        "numbers": len(nums),
        "grounded": grounded(nums, cited),
        "latency_ms": answer.latency_ms,
        "expected": item.must_include,
        "expected_where": [f"{d}:{ln}" for d, ln in zip(item.docs, item.line if isinstance(item.line, list) else [item.line])],
        "answer": answer.answer,
        "cited": [f"{c.doc}:{c.start_line}-{c.end_line}" for c in answer.citations],
    }


def _evaluate(items: list[EvalItem], ask: Callable[[str], tuple[Answer, list[tuple[str, str]]]]) -> dict:
    rows = []
    for item in items:
        answer, ranked = ask(item.question)
        rows.append(score_item(item, answer, ranked))
    return {"overall": aggregate(rows), "kinds": by_kind(rows), "items": rows}


def run_eval(set_path: Path, settings, baselines: bool = False, top_k: int = 5) -> dict:
    from rag.answer import compose
    from rag.service import RAG

    items = load_items(set_path)
    rag = RAG.open(settings, progress=True)

    def ours(q: str):
        answer = rag.ask(q, RANK_DEPTH)  # the /ask path; ranks read from its retrieved list
        return answer, [(r.doc, r.text) for r in answer.retrieved]

    result = {"set": str(set_path), "systems": {"ours": _evaluate(items, ours)}}
    if baselines:
        for mode in ("bm25", "dense"):

            def plain(q: str, mode=mode):
                started = time.perf_counter()
                retrieved = rag.retrieve(q, RANK_DEPTH, mode=mode)
                return compose(q, retrieved[:top_k], started), [(s.chunk.doc, s.chunk.text) for s in retrieved]

            result["systems"][mode] = _evaluate(items, plain)
        from evals.baselines import NaiveLlamaIndex

        naive = NaiveLlamaIndex(settings.corpus, rag.embed_model)

        def llama(q: str):
            started = time.perf_counter()
            retrieved = naive.retrieve(q, RANK_DEPTH)
            return compose(q, retrieved[:top_k], started), [(s.chunk.doc, s.chunk.text) for s in retrieved]

        result["systems"]["naive-llama-index"] = _evaluate(items, llama)
    thresholds = tomllib.loads(THRESHOLDS.read_text()) if THRESHOLDS.exists() else {}
    ours_result = result["systems"]["ours"]
    result["failures"] = check_thresholds(ours_result["overall"], ours_result["kinds"], thresholds)
    return result


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.0f}" if isinstance(v, float) and v > 10 else f"{v:.3f}" if isinstance(v, float) else str(v)


def table(result: dict) -> str:
    ours = result["systems"]["ours"]
    head = ["", "n"] + TABLE_METRICS
    rows = [["overall", str(ours["overall"]["n"])] + [_fmt(ours["overall"][m]) for m in TABLE_METRICS]]
    rows += [[k, str(v["n"])] + [_fmt(v[m]) for m in TABLE_METRICS] for k, v in ours["kinds"].items()]
    for name, system in result["systems"].items():
        if name != "ours":
            rows.append([f"[{name}]", str(system["overall"]["n"])] + [_fmt(system["overall"][m]) for m in TABLE_METRICS])
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in [head] + rows]
    return "\n".join(lines[:1] + ["-" * len(lines[0])] + lines[1:])


def write_report(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    ours = result["systems"]["ours"]
    kinds = list(ours["kinds"])
    chart = path.with_suffix(".png")
    fig, ax = plt.subplots(figsize=(9, 4))
    x = range(len(kinds))
    acc = [ours["kinds"][k]["answer_accuracy"] or 0 for k in kinds]
    hit = [ours["kinds"][k]["hit@5"] or 0 for k in kinds]
    ax.bar([i - 0.2 for i in x], acc, 0.4, label="answer_accuracy")
    ax.bar([i + 0.2 for i in x], hit, 0.4, label="hit@5")
    ax.set_xticks(list(x), kinds, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Per-kind accuracy and hit@5 — {Path(result['set']).name}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(chart, dpi=110)
    plt.close(fig)
    md = [f"# Eval report: {result['set']}", "", "```", table(result), "```", "", f"![per-kind chart]({chart.name})", ""]
    if len(result["systems"]) > 1:
        md += ["## Systems side by side", "", "| system | " + " | ".join(TABLE_METRICS) + " |",
               "|---" * (len(TABLE_METRICS) + 1) + "|"]  # fmt: skip
        for name, system in result["systems"].items():
            md.append(f"| {name} | " + " | ".join(_fmt(system["overall"][m]) for m in TABLE_METRICS) + " |")
        md.append("")
    md += ["## Threshold failures", ""] + ([f"- {f}" for f in result["failures"]] or ["none"]) + [""]
    md += ["## Failed items", "", "| id | kind | question | expected | got | cited |", "|---|---|---|---|---|---|"]
    for r in ours["items"]:
        if r["score"] < 1 or (r["gold_answerable"] and (r["rank"] is None or r["rank"] > 5)):
            expected = (", ".join(r["expected"]) or "(not found)") + f" @ {', '.join(r['expected_where'])}"
            got = r["answer"].replace("|", "\\|").replace("\n", " ")[:160]
            md.append(f"| {r['id']} | {r['kind']} | {r['question']} | {expected} | {got} | {', '.join(r['cited'])} |")
    path.write_text("\n".join(md) + "\n", encoding="utf-8")


def write_json(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
