"""The `rag` command: a thin layer over library functions (ingest, ask, serve, eval …). Heavy modules load
inside the commands, so `rag --help` loads no model."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rag.config import Settings


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic ValidationError: a bad RAG_* value
        raise click.ClickException(f"bad setting in the environment: {exc}") from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Ask questions of Chinese government work reports; answers cite the source paragraphs.

    Settings come from RAG_* environment variables (see README): RAG_HOME, RAG_CORPUS, RAG_EMBED_MODEL,
    RAG_LLM_BASE_URL, RAG_LLM_MODEL, ...
    """


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def ingest(paths: tuple[Path, ...]) -> None:
    """Ingest report files (txt, html, pdf, docx) or folders and build the index.

    With no PATH, ingests the corpus folder (RAG_CORPUS, default seeds/) and uploaded files.
    The chunk store then holds exactly the chunks of these files. Exit status 1 when a file was skipped.
    """
    import time

    from ingest.pipeline import ingest_paths

    settings = _settings()
    started = time.perf_counter()
    targets = list(paths) or settings.corpus_paths
    report = ingest_paths(targets, settings.chunk_store, settings.chunk_max_chars, progress=True)
    if report.chunks:
        from rag.embed import get_embed_model
        from rag.index import build_or_update

        build_or_update(
            report.chunks,
            get_embed_model(settings.embed_model, settings.embed_threads),
            settings.index_dir,
            progress=True,
        )
    click.echo(report.summary())
    click.echo(f"done in {time.perf_counter() - started:.1f}s; index at {settings.index_dir}")
    if report.skipped:
        sys.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="JSON lines with every field.")
def chunks(as_json: bool) -> None:
    """Print every chunk of the last ingest."""
    from ingest.pipeline import chunk_json, load_store

    settings = _settings()
    store = load_store(settings.chunk_store)
    if not store:
        raise click.ClickException(f"no chunks at {settings.home}; run `rag ingest` first")
    for c in store:
        if as_json:
            click.echo(chunk_json(c))
        else:
            click.echo(
                f"{c.doc}:{c.start_line}-{c.end_line} [{c.place} {c.section_year} {c.kind}] {c.section}"
            )
            click.echo("    " + c.clean.replace("\n", " ")[:200])


@cli.command()
@click.argument("question")
@click.option("--top-k", default=None, type=click.IntRange(1, 50), help="Sources to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the Answer as JSON.")
def ask(question: str, top_k: int | None, as_json: bool) -> None:
    """Answer QUESTION from the reports, citing the paragraphs."""
    from rag.service import RAG

    if not question.strip():
        raise click.UsageError("the question is empty")
    answer = RAG.open(_settings(), progress=True).ask(question, top_k)
    if as_json:
        click.echo(answer.model_dump_json(indent=2))
        return
    click.echo(answer.answer)
    if answer.note:
        click.echo(f"({answer.note})")
    for c in answer.citations:
        click.echo(f"[{c.n}] {c.doc}:{c.start_line}-{c.end_line} {c.place or ''} {c.section}")
        click.echo(f"    “{c.quote}”")
    if not answer.answerable:
        for r in answer.retrieved[:3]:
            click.echo(f"  closest: {r.doc}:{r.start_line}-{r.end_line} {r.section}")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=7860, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on."
)
def serve_command(host: str, port: int) -> None:
    """Serve the Gradio chat at / and POST /ask, GET /health, /docs (builds the index on first start)."""
    from rag.config import Settings
    from ui.server import serve

    try:
        settings = Settings()
    except Exception as exc:  # pydantic ValidationError: a bad RAG_* value
        raise click.ClickException(f"bad setting in the environment: {exc}") from exc
    serve(settings, host, port)


PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SET = PROJECT_ROOT / "evals" / "dev.jsonl"
DEFAULT_THRESHOLDS = PROJECT_ROOT / "evals" / "thresholds.toml"


@cli.command("eval")
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


def main() -> None:
    """The `rag` entry point: known failures (a model that cannot load, an index built with another model)
    end with their message and exit status 2, not a traceback."""
    from rag.errors import EmbeddingModelError, IndexModelMismatch

    try:
        cli()
    except (EmbeddingModelError, IndexModelMismatch) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
