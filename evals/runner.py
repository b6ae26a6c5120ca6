"""`rag eval`: every question through the `/ask` code path (`RAG.ask`, index built or loaded once), the
metrics of evals/SCHEMA.md overall and per kind, baselines side by side, a JSON dump and a Markdown report
with a chart.

Systems:
- ours: `rag.ask(question, 10)`. The answer and its latency are exactly those of `/ask` (ask always answers
  from `ANSWER_CONTEXT` chunks; top_k only trims the listed sources), and asking for 10 sources gives the
  top-10 ranks for hit@k and mrr@10.
- bm25, dense: `rag.retrieve(question, same context as ours, mode)` answered by `rag.answer.compose`, so only
  the retrieval mode differs from ours.
- naive-llama-index (evals/baselines.py): default `SentenceSplitter`, same embedder, `VectorStoreIndex`;
  its top `top_k` nodes are the answer context of the same answerer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from evals.metrics import (
    EvalItem,
    ItemScore,
    SystemScores,
    answer_score,
    check_thresholds,
    first_hit_rank,
    is_hit,
    load_items,
    load_thresholds,
    summarize,
)
from ingest.text import claimed_numbers, number_grounded
from rag.types import Answer

THRESHOLDS = Path(__file__).with_name("thresholds.toml")
RANK_DEPTH = 10
TABLE_METRICS = ["hit@1", "hit@5", "mrr@10", "answer_accuracy", "refusal_precision", "refusal_recall",
                 "citation_support", "grounded_numbers", "latency_p50_ms", "latency_p95_ms"]  # fmt: skip

# question -> (answer, ranked (doc, original text) of the top RANK_DEPTH retrieved chunks)
System = Callable[[str], tuple[Answer, list[tuple[str, str]]]]


@dataclass
class EvalResult:
    set_path: str
    systems: dict[str, SystemScores]  # "ours" first, then the baselines
    failures: list[str]  # threshold failures of "ours"
    config: dict = field(default_factory=dict)

    @property
    def ours(self) -> SystemScores:
        return self.systems["ours"]

    def to_dict(self) -> dict:
        return {
            "set": self.set_path,
            "config": self.config,
            "failures": self.failures,
            "systems": {name: s.to_dict() for name, s in self.systems.items()},
        }


def score_item(item: EvalItem, answer: Answer, ranked: list[tuple[str, str]]) -> ItemScore:
    numbers = claimed_numbers(answer.answer) if answer.answerable else []
    cited = [c.text for c in answer.citations]
    return ItemScore(
        id=item.id,
        kind=item.kind,
        gold_answerable=item.answerable,
        refused=not answer.answerable,
        rank=first_hit_rank(ranked[:RANK_DEPTH], item) if item.answerable else None,
        score=answer_score(answer.answer, answer.answerable, item),
        cited_support=any(is_hit(c.doc, c.text, item) for c in answer.citations),
        numbers=len(numbers),
        grounded=sum(number_grounded(n, cited) for n in numbers),
        latency_ms=round(answer.latency_ms, 1),
        question=item.question,
        expected=item.must_include,
        expected_where=[f"{d}:{ln}" for d, ln in zip(item.docs, item.lines, strict=False)] or item.docs,
        answer=answer.answer,
        cited=[f"{c.doc}:{c.start_line}-{c.end_line}" for c in answer.citations],
    )


def evaluate(items: list[EvalItem], system: System) -> SystemScores:
    return summarize([score_item(item, *system(item.question)) for item in items])


def run_eval(
    set_path: Path,
    settings,
    baselines: bool = False,
    top_k: int = 5,
    thresholds_path: Path | None = THRESHOLDS,
) -> EvalResult:
    """Load the set (EvalSetError on a bad file, before any model loads), open the pipeline once, score
    ours and, when asked, the baselines; thresholds from `thresholds_path` are checked against ours."""
    from rag.answer import compose
    from rag.service import ANSWER_CONTEXT, RAG

    items = load_items(set_path)
    thresholds = load_thresholds(thresholds_path) if thresholds_path else {}
    rag = RAG.open(settings, progress=True)
    context = max(top_k, ANSWER_CONTEXT)

    def ours(q: str) -> tuple[Answer, list[tuple[str, str]]]:
        answer = rag.ask(q, RANK_DEPTH)
        return answer, [(r.doc, r.text) for r in answer.retrieved[:RANK_DEPTH]]

    systems = {"ours": evaluate(items, ours)}
    if baselines:
        for mode in ("bm25", "dense"):

            def plain(q: str, mode: str = mode) -> tuple[Answer, list[tuple[str, str]]]:
                started = time.perf_counter()
                retrieved = rag.retrieve(q, max(context, RANK_DEPTH), mode=mode)
                answer = compose(q, retrieved[:context], started)
                answer.latency_ms = (time.perf_counter() - started) * 1000
                return answer, [(s.chunk.doc, s.chunk.text) for s in retrieved]

            systems[mode] = evaluate(items, plain)
        from evals.baselines import NaiveLlamaIndex

        naive = NaiveLlamaIndex(settings.corpus, rag.embed_model)

        def llama(q: str) -> tuple[Answer, list[tuple[str, str]]]:
            started = time.perf_counter()
            retrieved = naive.retrieve(q, max(top_k, RANK_DEPTH))
            answer = compose(q, retrieved[:top_k], started)
            answer.latency_ms = (time.perf_counter() - started) * 1000
            return answer, [(s.chunk.doc, s.chunk.text) for s in retrieved]

        systems["naive-llama-index"] = evaluate(items, llama)
    config = {
        "top_k": top_k,
        "answer_context": {"ours": context, "bm25": context, "dense": context, "naive-llama-index": top_k},
        "embed_model": settings.embed_model,
        "corpus": str(settings.corpus),
        "llm": settings.llm_model if settings.llm_enabled else None,
        "items": len(items),
    }
    return EvalResult(str(set_path), systems, check_thresholds(systems["ours"], thresholds), config)


def fmt(value, metric: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}" if metric.endswith("_ms") else f"{value:.3f}"
    return str(value)


def table(result: EvalResult) -> str:
    """Plain-text table: ours overall and per kind, then each baseline's overall."""
    head = ["", "n"] + TABLE_METRICS
    rows = [
        ["overall", fmt(result.ours.overall["n"])] + [fmt(result.ours.overall[m], m) for m in TABLE_METRICS]
    ]
    rows += [
        [f"  {k}", fmt(v["n"])] + [fmt(v[m], m) for m in TABLE_METRICS] for k, v in result.ours.kinds.items()
    ]
    for name, system in result.systems.items():
        if name != "ours":
            rows.append(
                [f"[{name}]", fmt(system.overall["n"])] + [fmt(system.overall[m], m) for m in TABLE_METRICS]
            )
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [head, *rows]]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def write_json(result: EvalResult, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")


def failure_reason(row: ItemScore) -> str | None:
    """Why an item of ours counts as failed in the report, or None when it passed."""
    if row.gold_answerable and row.refused:
        return "false refusal"
    if not row.gold_answerable and not row.refused:
        return "answered an unanswerable question"
    if row.score < 1:
        return "partial answer" if row.score > 0 else "wrong answer"
    if row.gold_answerable and (row.rank is None or row.rank > 5):
        return "evidence not in top 5"
    if row.gold_answerable and not row.cited_support:
        return "no cited chunk holds the evidence"
    if row.grounded < row.numbers:
        return "number not in cited text"
    return None


def _cell(text: str, limit: int = 200) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def write_chart(result: EvalResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(result.ours.kinds)
    systems = list(result.systems)
    fig, axes = plt.subplots(
        1, 2 if len(systems) > 1 else 1, figsize=(13 if len(systems) > 1 else 9, 4.2), squeeze=False
    )
    ax = axes[0][0]
    x = range(len(kinds))
    for offset, metric in ((-0.2, "answer_accuracy"), (0.2, "hit@5")):
        ax.bar([i + offset for i in x], [result.ours.kinds[k][metric] or 0 for k in kinds], 0.4, label=metric)
    ax.set_xticks(list(x), kinds, rotation=30, ha="right")
    ax.set_ylim(0, 1.22)
    ax.set_title("ours, per kind")
    ax.legend(loc="upper right", ncol=2, fontsize="small")
    if len(systems) > 1:
        ax = axes[0][1]
        x = range(len(systems))
        for offset, metric in ((-0.2, "answer_accuracy"), (0.2, "hit@5")):
            ax.bar(
                [i + offset for i in x],
                [result.systems[s].overall[metric] or 0 for s in systems],
                0.4,
                label=metric,
            )
        ax.set_xticks(list(x), systems, rotation=15, ha="right")
        ax.set_ylim(0, 1.22)
        ax.set_title("systems, overall")
        ax.legend(loc="upper right", ncol=2, fontsize="small")
    fig.suptitle(f"{Path(result.set_path).name}: answer accuracy and hit@5")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(result: EvalResult, path: Path) -> Path:
    """The Markdown report and, next to it, `<report name>.png` (the chart); returns the chart's path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    chart = path.with_suffix(".png")
    write_chart(result, chart)
    md = [f"# Eval report: {Path(result.set_path).name}", ""]
    md += [
        f"{result.config.get('items')} items; config: `{json.dumps(result.config, ensure_ascii=False)}`",
        "",
    ]
    md += [
        "## Ours, overall and per kind",
        "",
        "```",
        table(result),
        "```",
        "",
        f"![per-kind chart]({chart.name})",
        "",
    ]
    if len(result.systems) > 1:
        md += [
            "## Systems side by side",
            "",
            "| system | " + " | ".join(TABLE_METRICS) + " |",
            "|---" * (len(TABLE_METRICS) + 1) + "|",
        ]
        md += [
            f"| {name} | " + " | ".join(fmt(s.overall[m], m) for m in TABLE_METRICS) + " |"
            for name, s in result.systems.items()
        ]
        md += [
            "",
            "Per kind, answer_accuracy / hit@5:",
            "",
            "| kind | " + " | ".join(result.systems) + " |",
            "|---" * (len(result.systems) + 1) + "|",
        ]
        for kind in result.ours.kinds:
            cells = [
                f"{fmt(s.kinds.get(kind, {}).get('answer_accuracy'))} / {fmt(s.kinds.get(kind, {}).get('hit@5'))}"
                for s in result.systems.values()
            ]
            md.append(f"| {kind} | " + " | ".join(cells) + " |")
        md.append("")
    md += (
        ["## Thresholds", ""]
        + ([f"- FAILED: {f}" for f in result.failures] or ["All thresholds met."])
        + [""]
    )
    failed = [(r, why) for r in result.ours.items if (why := failure_reason(r))]
    md += [f"## Failed items ({len(failed)} of {len(result.ours.items)})", ""]
    md += ["| id | kind | why | question | expected (where) | got | cited | rank |", "|---" * 8 + "|"]
    for r, why in failed:
        expected = (", ".join(r.expected) if r.gold_answerable else "not found") + (
            f" ({', '.join(r.expected_where)})" if r.expected_where else ""
        )
        md.append(
            f"| {r.id} | {r.kind} | {why} | {_cell(r.question)} | {_cell(expected)} | {_cell(r.answer)} "
            f"| {', '.join(r.cited[:3]) or '–'} | {fmt(r.rank)} |"
        )
    path.write_text("\n".join(md) + "\n", encoding="utf-8")
    return chart
