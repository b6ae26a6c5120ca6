"""One process: FastAPI (`/ask`, `/health`, `/docs`) with the Gradio chat mounted at `/`."""

from __future__ import annotations

import time

from rag.config import Settings


def create_server(rag, settings: Settings):
    """The FastAPI app with the chat mounted at `/` (routes added before mounting take precedence)."""
    import gradio as gr

    from ui.api import create_app
    from ui.chat import CSS, build_chat

    app = create_app(rag, settings)
    return gr.mount_gradio_app(app, build_chat(rag, settings), path="/", css=CSS)


def serve(settings: Settings, host: str, port: int) -> None:
    """Open the pipeline (build the index on the first start, load it later), then serve until stopped."""
    import uvicorn

    from rag.service import RAG

    started = time.perf_counter()
    print(f"opening the index under {settings.home} (the first start builds it: a minute or two)", flush=True)
    rag = RAG.open(settings, progress=True)
    health = rag.health()
    print(
        f"{health['documents']} documents, {health['chunks']} chunks, embeddings {health['embed_model']}, "
        f"answers {'LLM ' + health['llm'] if health.get('llm') else 'extractive'} "
        f"({time.perf_counter() - started:.1f}s)",
        flush=True,
    )
    if settings.api_token:
        print("POST /ask requires 'Authorization: Bearer <RAG_API_TOKEN>'", flush=True)

    class Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if not self.should_exit:
                url = f"http://{host}:{port}"
                print(f"ready: {url}/ (chat) · POST {url}/ask · {url}/health · {url}/docs", flush=True)

    Server(uvicorn.Config(create_server(rag, settings), host=host, port=port, log_level="warning")).run()
