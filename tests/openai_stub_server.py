"""A real, small OpenAI-compatible HTTP server for tests: `POST /v1/chat/completions` (non-streaming).

It runs uvicorn + FastAPI in a background thread on 127.0.0.1 (a free port), answers with scripted
replies taken from a queue (or computed from the request), and records every request it receives.
Scripted replies can also sleep (to outlast a client timeout), fail with an HTTP status, or send a
malformed body.

    with OpenAIStubServer() as server:
        server.reply("地区生产总值增长7%左右[1]。")
        ...  # point the client at server.base_url
        server.requests[0]["json"]["messages"]
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass
class Reply:
    """One scripted reply: `content` as the assistant message, after `delay` seconds, with HTTP `status`;
    `body` (when set) is sent as the raw JSON body instead of a chat.completion."""

    content: str | None = ""
    status: int = 200
    delay: float = 0.0
    body: Any = None


Script = Reply | Callable[[dict], "Reply | str"]


def chat_completion(model: str, content: str | None, prompt_chars: int) -> dict:
    """A non-streaming `chat.completion` object as the OpenAI API returns it."""
    completion_tokens = len(content or "")
    return {
        "id": f"chatcmpl-stub-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_chars,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_chars + completion_tokens,
        },
    }


class OpenAIStubServer:
    """Serves scripted chat completions at `base_url` (…/v1) and records the requests in `requests`."""

    def __init__(self) -> None:
        self.script: deque[Script] = deque()
        self.requests: list[dict[str, Any]] = []
        self._stopping = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # --- scripting -------------------------------------------------------------------------------------
    def reply(self, *contents: str | None) -> None:
        """Queue assistant replies, one per request."""
        self.script.extend(Reply(content=c) for c in contents)

    def respond_with(self, fn: Callable[[dict], Reply | str]) -> None:
        """Queue a reply computed from the request's JSON body."""
        self.script.append(fn)

    def sleep(self, seconds: float, content: str = "too late") -> None:
        """Queue a reply that arrives only after `seconds` (longer than the client's timeout)."""
        self.script.append(Reply(content=content, delay=seconds))

    def fail(self, status: int = 500) -> None:
        """Queue an HTTP error response."""
        self.script.append(Reply(status=status))

    def malformed(self, body: Any = None) -> None:
        """Queue a 200 response whose body is not a chat.completion."""
        self.script.append(Reply(body=body if body is not None else {"unexpected": True}))

    def reset(self) -> None:
        self.script.clear()
        self.requests.clear()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- the app ---------------------------------------------------------------------------------------
    def _next(self, body: dict) -> Reply:
        if not self.script:
            return Reply(status=500, body={"error": {"message": "the stub has no scripted reply left"}})
        item = self.script.popleft()
        if isinstance(item, Reply):
            return item
        result = item(body)
        return result if isinstance(result, Reply) else Reply(content=result)

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/models")
        async def models() -> dict:
            return {"object": "list", "data": [{"id": "stub-model", "object": "model", "owned_by": "tests"}]}

        @app.post("/v1/chat/completions")
        async def chat_completions(request: Request) -> JSONResponse:
            body = await request.json()
            self.requests.append({"headers": dict(request.headers), "json": body})
            if body.get("stream"):
                return JSONResponse({"error": {"message": "the stub does not stream"}}, status_code=400)
            reply = self._next(body)
            deadline = time.monotonic() + reply.delay
            while time.monotonic() < deadline and not self._stopping.is_set():
                await asyncio.sleep(0.02)
            if reply.status != 200:
                error = reply.body or {
                    "error": {"message": f"scripted HTTP {reply.status}", "type": "server_error"}
                }
                return JSONResponse(error, status_code=reply.status)
            if reply.body is not None:
                return JSONResponse(reply.body)
            prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
            return JSONResponse(chat_completion(body.get("model", ""), reply.content, prompt_chars))

        return app

    # --- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> OpenAIStubServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self._app(), log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the OpenAI stub server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIStubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    """A port nothing listens on (for connection-refused tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
