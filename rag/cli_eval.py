"""`rag eval`: run an eval set through the /ask code path and check the thresholds in evals/thresholds.toml.

Exit status: 0 all thresholds met, 1 a threshold missed, 2 a bad eval set, thresholds file or setting.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SET = PROJECT_ROOT / "evals" / "dev.jsonl"
DEFAULT_THRESHOLDS = PROJECT_ROOT / "evals" / "thresholds.toml"


@click.command("eval")
@click.option(
    "--set",
    "set_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_SET,
    show_default=True,
    help="Eval set, one JSON object a line (evals/SCHEMA.md).",
)
@click.option(
    "--json", "json_out", type=click.Path(path_type=Path), help="Write every metric and item outcome as JSON."
)
@click.option(
    "--report", type=click.Path(path_type=Path), help="Write a Markdown report (chart PNG beside it)."
)
@click.option(
    "--baselines", is_flag=True, help="Also run BM25 only, dense only and a naive llama-index pipeline."
)
@click.option(
    "--top-k",
    default=5,
    show_default=True,
    type=click.IntRange(1, 50),
    help="Answer context of the naive baseline.",
)
@click.option(
    "--thresholds",
    "thresholds_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_THRESHOLDS,
    show_default=True,
    help="Minimum (or max_ bound) per metric; exit 1 when one is missed.",
)
def eval_command(
    set_path: Path,
    json_out: Path | None,
    report: Path | None,
    baselines: bool,
    top_k: int,
    thresholds_path: Path,
) -> None:
    """Score retrieval (hit@k, MRR), answers, refusals, citations and latency, overall and per kind."""
    from pydantic import ValidationError

    from evals.metrics import EvalSetError
    from evals.runner import run_eval, table, write_json, write_report
    from rag.config import Settings

    try:
        settings = Settings()
        result = run_eval(
            set_path, settings, baselines=baselines, top_k=top_k, thresholds_path=thresholds_path
        )
    except EvalSetError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except ValidationError as exc:
        click.echo(f"Error: bad setting in the environment: {exc}", err=True)
        sys.exit(2)
    click.echo(table(result))
    if json_out:
        write_json(result, json_out)
        click.echo(f"json: {json_out}")
    if report:
        chart = write_report(result, report)
        click.echo(f"report: {report} (chart: {chart})")
    for failure in result.failures:
        click.echo(f"THRESHOLD FAILED: {failure}", err=True)
    sys.exit(1 if result.failures else 0)
