"""Reports of `rag eval`: plain-text tables (one set per kind and group; several sets side by side), a JSON
dump, and a Markdown report with a chart per set and the failed items."""

from __future__ import annotations

import json
from pathlib import Path

from evals.metrics import ItemScore
from evals.runner import TABLE_METRICS, EvalResult

SIDE_METRICS = ["answer_accuracy", "false_refusal_rate", "refusal_precision", "refusal_recall", "citation_support",
                "grounded_numbers", "hit@1", "hit@5", "latency_p50_ms", "latency_p95_ms"]  # fmt: skip


def fmt(value, metric: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}" if metric.endswith("_ms") else f"{value:.3f}"
    return str(value)


def _grid(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [head, *rows]]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def table(result: EvalResult) -> str:
    """Ours overall, per kind and per group (corpus, English, colloquial); then each baseline overall."""
    ours = result.ours

    def row(label: str, m: dict) -> list[str]:
        return [label, fmt(m.get("n"))] + [fmt(m.get(k), k) for k in TABLE_METRICS]

    rows = [row("overall", ours.overall)]
    rows += [row(f"  {k}", v) for k, v in ours.kinds.items()]
    rows += [row(f"  <{k}>", v) for k, v in ours.groups.items()]
    rows += [row(f"[{name}]", s.overall) for name, s in result.systems.items() if name != "ours"]
    return _grid(["", "n"] + TABLE_METRICS, rows)


def side_by_side(results: list[EvalResult]) -> str:
    """Ours on each set, side by side: overall and the groups."""
    names = [Path(r.set_path).stem for r in results]
    scopes = ["overall"] + sorted({g for r in results for g in r.ours.groups})
    rows = []
    for scope in scopes:
        for metric in SIDE_METRICS:
            values = [
                (r.ours.overall if scope == "overall" else r.ours.groups.get(scope, {})).get(metric)
                for r in results
            ]
            if any(v is not None for v in values) and (
                scope == "overall" or metric in ("answer_accuracy", "false_refusal_rate")
            ):
                rows.append([scope, metric] + [fmt(v, metric) for v in values])
    return _grid(["scope", "metric"] + names, rows)


def write_json(results: list[EvalResult], path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=1), encoding="utf-8"
    )


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

    kinds = list(result.ours.kinds) + list(result.ours.groups)
    values = {**result.ours.kinds, **result.ours.groups}
    systems = list(result.systems)
    fig, axes = plt.subplots(
        1, 2 if len(systems) > 1 else 1, figsize=(14 if len(systems) > 1 else 10, 4.4), squeeze=False
    )
    ax = axes[0][0]
    x = range(len(kinds))
    for offset, metric in ((-0.2, "answer_accuracy"), (0.2, "hit@5")):
        ax.bar([i + offset for i in x], [values[k].get(metric) or 0 for k in kinds], 0.4, label=metric)
    ax.set_xticks(list(x), kinds, rotation=35, ha="right")
    ax.set_ylim(0, 1.22)
    ax.set_title("ours, per kind and group")
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


def _set_section(result: EvalResult, chart: Path) -> list[str]:
    md = [f"## {Path(result.set_path).name}", "",
          f"{result.config.get('items')} items; config: `{json.dumps(result.config, ensure_ascii=False)}`", "",
          "```", table(result), "```", "", f"![chart]({chart.name})", ""]  # fmt: skip
    if len(result.systems) > 1:
        md += ["| system | " + " | ".join(TABLE_METRICS) + " |", "|---" * (len(TABLE_METRICS) + 1) + "|"]
        md += [f"| {name} | " + " | ".join(fmt(s.overall[m], m) for m in TABLE_METRICS) + " |"
               for name, s in result.systems.items()]  # fmt: skip
        md.append("")
    md += ["Thresholds: " + ("; ".join(f"FAILED {f}" for f in result.failures) or "all met."), ""]
    failed = [(r, why) for r in result.ours.items if (why := failure_reason(r))]
    md += [f"### Failed items ({len(failed)} of {len(result.ours.items)})", ""]
    md += ["| id | kind | why | question | expected (where) | got | cited | rank |", "|---" * 8 + "|"]
    for r, why in failed:
        expected = (", ".join(r.expected) if r.gold_answerable else "not found") + (
            f" ({', '.join(r.expected_where)})" if r.expected_where else ""
        )
        md.append(f"| {r.id} | {r.kind} | {why} | {_cell(r.question)} | {_cell(expected)} | {_cell(r.answer)} "
                  f"| {', '.join(r.cited[:3]) or '–'} | {fmt(r.rank)} |")  # fmt: skip
    return md + [""]


def write_report(results: list[EvalResult], path: Path) -> None:
    """The Markdown report and one chart per set beside it (`<report>-<set>.png`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    md = ["# Eval report", ""]
    if len(results) > 1:
        md += ["```", side_by_side(results), "```", ""]
    for result in results:
        chart = path.with_name(f"{path.stem}-{Path(result.set_path).stem}.png")
        write_chart(result, chart)
        md += _set_section(result, chart)
    path.write_text("\n".join(md) + "\n", encoding="utf-8")
