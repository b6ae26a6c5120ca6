"""One process: FastAPI (`/ask`, `/health`, `/docs`) with the Gradio chat mounted at `/`."""

from __future__ import annotations

import os
import time

from rag.config import Settings


def create_server(rag, settings: Settings):
    """The FastAPI app with the chat mounted at `/` (routes added before mounting take precedence).

    Gradio keeps uploads in its own folder (GRADIO_TEMP_DIR, here under RAG_HOME). `mount_gradio_app` never
    marks the Blocks as launched, and Gradio skips its check that a file named in a request was uploaded by
    a user unless they are: without `has_launched`, a forged `FileData` path makes Gradio copy any server file
    into its cache. So the Blocks are marked launched here, and the upload handler checks paths itself too.

    Every path no API route takes falls through to Gradio, which answers errors in shapes of its own
    (`{"detail": …}`, validation lists, plain text) and a 404 for a wrong method on an API path: the app's
    outermost middleware (`ui.limits.ErrorShape`, added by `create_app`) gives them the API's `{"error": …}`
    shape and the 405."""
    os.environ["GRADIO_TEMP_DIR"] = str(settings.gradio_temp_dir)
    import gradio as gr

    from ui.api import create_app
    from ui.chat import CSS, FONTS, build_chat

    app = create_app(rag, settings)
    demo = build_chat(rag, settings)
    theme = gr.themes.Default(font=FONTS, font_mono=["Noto Sans Mono CJK SC", "monospace"])
    app = gr.mount_gradio_app(
        app, demo, path="/", css=CSS, theme=theme, max_file_size=settings.max_upload_bytes
    )
    demo.has_launched = True
    return app


def serve(settings: Settings, host: str, port: int) -> None:
    """Open the pipeline (build the index on the first start, load it later), then serve until stopped."""
    import uvicorn

    from rag.service import RAG

    started = time.perf_counter()
    print(f"opening the corpus under {settings.home}", flush=True)
    rag = RAG.open(settings, progress=True, background=True)
    health = rag.health()
    print(
        f"{health['documents']} documents, {health['chunks']} chunks, embeddings {health['embed_model']}, "
        f"answers {'LLM ' + health['llm'] if health.get('llm') else 'extractive'} "
        f"({time.perf_counter() - started:.1f}s)",
        flush=True,
    )
    if settings.api_token:
        print(
            "every route but /health requires RAG_API_TOKEN (Bearer header, or sign in at /login)", flush=True
        )

    class Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if not self.should_exit:
                url = f"http://{host}:{port}"
                print(f"ready: {url}/ (chat) · POST {url}/ask · {url}/health · {url}/docs", flush=True)

    Server(uvicorn.Config(create_server(rag, settings), host=host, port=port, log_level="warning")).run()
