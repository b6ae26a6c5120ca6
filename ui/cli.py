"""The `rag` command: a thin layer over library functions. Heavy modules load inside the commands, so
`rag --help` loads no model. Known failures (a bad setting, a model that cannot load, a bad eval set) end
with their message and exit status 2, never a traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from rag.config import Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SETS = [PROJECT_ROOT / "evals" / f"{name}.jsonl" for name in ("dev", "tuning", "holdout")]
DEFAULT_THRESHOLDS = PROJECT_ROOT / "evals" / "thresholds.toml"


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic ValidationError: a bad RAG_* value
        raise click.ClickException(f"bad setting in the environment: {exc}") from exc


def _open(progress: bool = True):
    from rag.service import RAG

    return RAG.open(_settings(), progress=progress)


def _echo(text: str = "") -> None:
    """Print, and end quietly when the reader went away (`rag chunks | head`)."""
    try:
        click.echo(text)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Ask questions of Chinese government work reports; answers cite the source paragraphs.

    The corpus lives under RAG_HOME: the reports of RAG_CORPUS (default: the seeds) plus those you add with
    `rag ingest PATH`. Settings come from RAG_* environment variables (see README).
    """


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--ray", "ray_address", is_flag=False, flag_value="", default=None, metavar="[ADDRESS]",
              help="Read, chunk and embed on a Ray cluster (needs the `ray` extra): ADDRESS of its head, "
              "else RAG_RAY_ADDRESS, else Ray's default (RAY_ADDRESS, or the cluster started on this machine, "
              "or a new local one). Put it after the PATHs.")  # fmt: skip
def ingest(paths: tuple[Path, ...], ray_address: str | None) -> None:
    """Add report files or folders (txt, html, pdf, docx) to the corpus and index them.

    With no PATH, re-scans the corpus folder (RAG_CORPUS). Added reports are copied under RAG_HOME and stay
    until `rag remove`. Exit status 1 when a file was refused (the message says why).
    """
    import time

    started = time.perf_counter()
    settings = _settings()
    if ray_address and Path(ray_address).exists():  # `--ray PATH`: click took the path for the address
        paths, ray_address = (Path(ray_address), *paths), ""
    if ray_address is not None or settings.ray_address:
        _ingest_on_ray(settings, paths, ray_address or settings.ray_address or None, started)
    rag = _open()
    if paths:
        missing = [p for p in paths if not p.exists()]
        for p in missing:
            _echo(f"  skipped {p}: no such file or folder")
        report = rag.add([p for p in paths if p.exists()], source="added", added_by="cli", progress=True)
        _echo(report.summary())
        refused = bool(report.skipped or missing)
    else:
        refused = False
    health = rag.health()
    _echo(f"{health['documents']} documents, {health['chunks']} chunks, {health['embedded']} statement vectors "
          f"({time.perf_counter() - started:.1f}s); corpus under {rag.settings.home}")  # fmt: skip
    sys.exit(1 if refused else 0)


def _ingest_on_ray(settings: Settings, paths: tuple[Path, ...], address: str | None, started: float) -> None:
    import importlib.util
    import time

    from rag.distributed import ingest_on_ray

    if importlib.util.find_spec("ray") is None:
        raise click.ClickException("--ray needs Ray: pip install -e '.[ray]'")
    missing = [p for p in paths if not p.exists()]
    for p in missing:
        _echo(f"  skipped {p}: no such file or folder")
    report = ingest_on_ray(settings, [p for p in paths if p.exists()], address, added_by="cli")
    _echo(report.summary())
    _echo(f"{report.documents} documents, {report.chunks} chunks, {report.vectors} statement vectors "
          f"({time.perf_counter() - started:.1f}s); corpus under {settings.home}")  # fmt: skip
    sys.exit(1 if report.skipped or missing else 0)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
def docs(as_json: bool) -> None:
    """List the documents in the corpus: place, level, year, sections, chunks, where they came from."""
    from dataclasses import asdict

    from rag.corpus import Corpus

    settings = _settings()
    corpus = Corpus(settings.home, settings.corpus, settings.chunk_max_chars)
    if not corpus.documents():
        corpus.sync_folder()
    for d in corpus.documents():
        if as_json:
            _echo(json.dumps(asdict(d), ensure_ascii=False, default=str))
        else:
            chain = " > ".join(d.place_chain) if d.place_chain else (d.place or "?")
            _echo(f"{d.doc}  [{d.id}]  {chain} ({d.level or '?'}) {d.report_year or '?'}  "
                  f"{d.sections} sections, {d.chunks} chunks  {d.source} {d.added_at}{' by ' + d.added_by if d.added_by else ''}")  # fmt: skip
            _echo(f"    {d.title[:60]}")


@cli.command()
@click.argument("name")
def remove(name: str) -> None:
    """Remove a document (by name or id, see `rag docs`) from the corpus and the index."""
    rag = _open(progress=False)
    try:
        record = rag.remove(name)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0]) if exc.args else f"no document {name!r}") from exc
    _echo(f"removed {record.doc} ({record.chunks} chunks)")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="JSON lines with every field.")
def chunks(as_json: bool) -> None:
    """Print every chunk of the corpus with its provenance."""
    from rag.corpus import Corpus

    settings = _settings()
    corpus = Corpus(settings.home, settings.corpus, settings.chunk_max_chars)
    if not corpus.documents():
        corpus.sync_folder()
    for c in corpus.chunks():
        if as_json:
            _echo(json.dumps(c.model_dump(exclude={"clean"}), ensure_ascii=False))
        else:
            _echo(f"{c.doc}:{c.start_line}-{c.end_line} [{c.place} {c.section_year} {c.kind}] {c.section}")
            _echo("    " + c.clean.replace("\n", " ")[:200])


@cli.command()
@click.argument("question")
@click.option("--top-k", default=None, type=click.IntRange(1, 50), help="Sources to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the Answer as JSON.")
def ask(question: str, top_k: int | None, as_json: bool) -> None:
    """Answer QUESTION from the reports, citing the paragraphs."""
    if not question.strip():
        raise click.UsageError("the question is empty")
    answer = _open(progress=False).ask(question, top_k)
    if as_json:
        _echo(answer.model_dump_json(indent=2))
        return
    _echo(answer.answer)
    if answer.note:
        _echo(f"({answer.note})")
    for c in answer.citations:
        _echo(f"[{c.n}] {c.doc}:{c.start_line}-{c.end_line} {c.place or ''} {c.section}")
        _echo(f"    “{c.quote}”")
    if not answer.answerable:
        for r in answer.retrieved[:3]:
            _echo(f"  closest: {r.doc}:{r.start_line}-{r.end_line} {r.section}")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535), help="Port.")
def serve_command(host: str, port: int) -> None:
    """Serve the chat at / and the API (/ask, /documents, /health, /docs) in one process; stop with Ctrl-C."""
    from ui.server import serve

    serve(_settings(), host, port)


@cli.command("eval")
@click.option("--set", "set_paths", multiple=True, type=click.Path(path_type=Path),
              help="Eval set (evals/SCHEMA.md); repeat for several. Default: dev, tuning and holdout.")  # fmt: skip
@click.option("--corpus", type=click.Path(path_type=Path, file_okay=False),
              help="Ask every item of the corpus folder given here instead of the one the item names.")  # fmt: skip
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Write all metrics and outcomes.")
@click.option("--report", type=click.Path(path_type=Path), help="Write a Markdown report (chart beside it).")
@click.option("--baselines", is_flag=True, help="Also run BM25 only, dense only and naive llama-index.")
@click.option("--thresholds", "thresholds_path", type=click.Path(path_type=Path), default=DEFAULT_THRESHOLDS,
              show_default=True, help="Minimum (or max_ bound) per set and metric; exit 1 when one is missed.")  # fmt: skip
def eval_command(set_paths, corpus, json_out, report, baselines, thresholds_path) -> None:
    """Score retrieval (hit@k, MRR), answers, refusals, citations and latency, per set, kind and group."""
    from evals.metrics import EvalSetError
    from evals.report import side_by_side, table, write_json, write_report
    from evals.runner import run_sets

    settings = _settings()
    try:
        results = run_sets(list(set_paths) or DEFAULT_SETS, settings, baselines, thresholds_path, corpus)
    except EvalSetError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    for result in results:
        _echo(f"\n== {result.set_path}")
        _echo(table(result))
    if len(results) > 1:
        _echo("\n" + side_by_side(results))
    if json_out:
        write_json(results, json_out)
        _echo(f"json: {json_out}")
    if report:
        write_report(results, report)
        _echo(f"report: {report}")
    failures = [f"{Path(r.set_path).stem}: {f}" for r in results for f in r.failures]
    for failure in failures:
        click.echo(f"THRESHOLD FAILED: {failure}", err=True)
    sys.exit(1 if failures else 0)


def main() -> None:
    from rag.errors import EmbeddingModelError, IndexModelMismatch

    try:
        cli()
    except (EmbeddingModelError, IndexModelMismatch) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
