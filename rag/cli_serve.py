"""`rag serve`: the chat and the /ask API in one process."""

from __future__ import annotations

import click


@click.command("serve")
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
