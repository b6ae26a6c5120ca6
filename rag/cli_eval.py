"""`rag eval`: run an eval set through the /ask code path and check the thresholds in evals/thresholds.toml."""

from __future__ import annotations

import sys
from pathlib import Path

import click

DEFAULT_SET = Path(__file__).resolve().parent.parent / "evals" / "dev.jsonl"


@click.command("eval")
@click.option("--set", "set_path", type=click.Path(path_type=Path), default=DEFAULT_SET, show_default=True,
              help="Eval set in the evals/SCHEMA.md format.")  # fmt: skip
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Write all results as JSON.")
@click.option("--report", type=click.Path(path_type=Path), help="Write a Markdown report (chart PNG beside it).")
@click.option("--baselines", is_flag=True, help="Also run BM25 only, dense only and naive llama-index.")
@click.option("--top-k", default=5, show_default=True, type=click.IntRange(1, 50), help="Answer context for baselines.")
def eval_command(set_path: Path, json_out: Path | None, report: Path | None, baselines: bool, top_k: int) -> None:
    """Evaluate retrieval, answers, citations and refusals; exit 1 when a threshold is missed."""
    from evals.metrics import EvalSetError, load_items
    from evals.runner import run_eval, table, write_json, write_report
    from rag.config import Settings

    try:
        load_items(set_path)
    except EvalSetError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    result = run_eval(set_path, Settings(), baselines=baselines, top_k=top_k)
    click.echo(table(result))
    if json_out:
        write_json(result, json_out)
    if report:
        write_report(result, report)
        click.echo(f"report: {report}")
    for failure in result["failures"]:
        click.echo(f"THRESHOLD FAILED: {failure}", err=True)
    sys.exit(1 if result["failures"] else 0)
