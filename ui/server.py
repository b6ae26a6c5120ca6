"""One process: FastAPI (`/ask`, `/health`, `/docs`) with the Gradio chat mounted at `/`."""

from __future__ import annotations

import logging

from rag.config import Settings

log = logging.getLogger("rag.serve")


def create_server(rag, settings: Settings):
    import gradio as gr

    from ui.api import create_app
    from ui.chat import CSS, build_chat

    app = create_app(rag, settings)
    return gr.mount_gradio_app(app, build_chat(rag, settings), path="/", css=CSS)


def serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from rag.service import RAG

    print(f"loading the index under {settings.home} (built on first start: about a minute for the seeds)", flush=True)
    rag = RAG.open(settings, progress=True)
    health = rag.health()
    print(f"{health['documents']} documents, {health['chunks']} chunks, embeddings: {health['embed_model']}", flush=True)
    app = create_server(rag, settings)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    print(f"ready: http://{host}:{port}/  (chat)  ·  POST http://{host}:{port}/ask  ·  http://{host}:{port}/docs", flush=True)
    server.run()
