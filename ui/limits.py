"""Bounded requests and one error shape.

`BodyLimit`: a body larger than the route allows is refused with 413 before it is read into memory (by its
Content-Length, or while it streams in when it has none).

`ErrorShape`: every error response of the server has the API's one shape, `{"error": "…"}`, whoever produced
it: FastAPI, the middlewares, or the Gradio app mounted at `/` (which answers `{"detail": …}`, lists of
validation errors, or plain text for paths of its own and for every path no API route takes). A method an
API route does not accept gets 405 rather than Gradio's 404. An HTML error page asked for by a browser
stays a page. 5xx bodies are replaced by a reference number (the original is logged).

`public_message`: a message for users with server paths and URLs left out (they go to the log instead).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus

from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("rag.api")
URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
PATH = re.compile(r"(?<![\w.~/-])(?:~|[A-Za-z]:)?[/\\](?:[\w.@+-]+[/\\])+[\w.@+-]*")


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


def public_message(text: str) -> str:
    """`text` with URLs and absolute file paths (two levels or more) replaced by `<url>` and `<path>`."""
    return PATH.sub("<path>", URL.sub("<url>", text))


class ErrorShape:
    """ASGI middleware: error responses (status >= 400) rewritten as `{"error": "…"}`; see the module
    docstring. `routes()` gives the API's routes (to tell a wrong method from an unknown path)."""

    def __init__(self, app: ASGIApp, routes: Callable[[], Iterable]):
        self.app = app
        self.routes = routes

    def _allowed(self, scope: Scope) -> list[str]:
        """The methods of the API route whose path `scope` names, when none takes its method."""
        methods: set[str] = set()
        for route in self.routes():
            if isinstance(route, Mount) or not hasattr(route, "matches"):
                continue
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return []
            if match == Match.PARTIAL:
                methods |= set(getattr(route, "methods", None) or ())
        return sorted(methods)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accept = dict(scope.get("headers", [])).get(b"accept", b"").decode("latin-1")
        held: Message | None = None
        chunks: list[bytes] = []

        async def shaped_send(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = dict(message.get("headers", []))
                kind = headers.get(b"content-type", b"").decode("latin-1")
                if status < 400 or ("text/html" in kind and "text/html" in accept):
                    await send(message)
                else:
                    held = message
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self._send_shaped(scope, held, b"".join(chunks), send)

        await self.app(scope, receive, shaped_send)

    async def _send_shaped(self, scope: Scope, start: Message, body: bytes, send: Send) -> None:
        status = start["status"]
        drop = (b"content-length", b"content-type")
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in drop]
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        if status == 404 and (allowed := self._allowed(scope)):
            status, message = 405, f"method {scope.get('method')} not allowed (allowed: {', '.join(allowed)})"
            headers.append((b"allow", ", ".join(allowed).encode()))
        elif isinstance(data, dict) and isinstance(data.get("error"), str):
            message = None  # already in the API's shape (ours): sent as it was
        elif status >= 500:
            reference = uuid.uuid4().hex[:8]
            original = body[:2000].decode("utf-8", "replace")
            log.error("internal error %s on %s: %s", reference, scope.get("path"), original)
            message = f"internal error (reference {reference})"
        else:
            message = public_message(_describe(data, body, status))
        out = body if message is None else json.dumps({"error": message}, ensure_ascii=False).encode()
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": out})


def validation_message(errors: Iterable[dict]) -> str:
    """Pydantic/FastAPI validation errors in one line: `top_k: Input should be …; question: …`."""
    problems = []
    for e in errors:
        if e.get("type") == "json_invalid":
            why = (e.get("ctx") or {}).get("error")
            problems.append("body is not valid JSON" + (f" ({why})" if why else ""))
            continue
        loc = [str(p) for p in e.get("loc", ())]
        where = ".".join(loc[1:] if loc and loc[0] == "body" else loc) or "body"
        problems.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(problems) or "invalid request"


def _describe(data, body: bytes, status: int) -> str:
    """The message of an error body in another shape: FastAPI's `detail` (a string or validation errors),
    a short plain text, else the status's phrase."""
    detail = data.get("detail") if isinstance(data, dict) else None
    if isinstance(detail, str) and detail:
        return detail
    if isinstance(detail, list) and detail and all(isinstance(e, dict) for e in detail):
        return validation_message(detail)
    text = body.decode("utf-8", "replace").strip() if data is None else ""
    if text and len(text) <= 200 and "<" not in text:
        return text
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "request failed"
