"""The `rag` command: a thin layer over library functions. Heavy modules load inside the commands."""

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
                f"{c.doc}:{c.start_line}-{c.end_line} [{c.district} {c.section_year} {c.kind}] {c.section}"
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
        click.echo(f"[{c.n}] {c.doc}:{c.start_line}-{c.end_line} {c.district or ''} {c.section}")
        click.echo(f"    “{c.quote}”")
    if not answer.answerable:
        for r in answer.retrieved[:3]:
            click.echo(f"  closest: {r.doc}:{r.start_line}-{r.end_line} {r.section}")


from rag.cli_eval import eval_command  # noqa: E402  (light: heavy imports happen inside)
from rag.cli_serve import serve_command  # noqa: E402

cli.add_command(serve_command, "serve")
cli.add_command(eval_command, "eval")


def main() -> None:
    """The `rag` entry point: known failures (a model that cannot load, an index built with another model)
    end with their message and exit status 2, not a traceback."""
    from rag.errors import EmbeddingModelError, IndexModelMismatch

    try:
        cli()
    except (EmbeddingModelError, IndexModelMismatch) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
