"""Bounded requests: a body larger than the route allows is refused with 413 before it is read into memory
(by its Content-Length, or while it streams in when it has none), and every error the HTTP layer produces
itself (404, 405, 413, a body that is not JSON) has the API's one shape, `{"error": "…"}`."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """ASGI middleware: request bodies up to `default` bytes, or `per_prefix[path prefix]` for routes that
    take files (uploads)."""

    def __init__(self, app: ASGIApp, default: int, per_prefix: dict[str, int] | None = None):
        self.app = app
        self.default = default
        self.per_prefix = per_prefix or {}

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.per_prefix.items():
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await too_large(send, limit)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await too_large(send, limit)


class _TooLarge(Exception):
    pass


async def too_large(send: Send, limit: int) -> None:
    await json_error(send, 413, f"request body too large (limit {limit:,} bytes)")


async def json_error(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
