"""One credential for the whole server: when `RAG_API_TOKEN` is set, every route (the API, the chat page,
Gradio's upload, call and queue routes, its static files) needs it; only `/health` and the login page stay
open.

A request carries the token either as `Authorization: Bearer <token>` (API clients, `gradio_client` with
`headers=`) or as the `rag_token` cookie that `POST /login` sets for a browser (HttpOnly, SameSite=Strict, so
other sites cannot ride on it). Without it: 401, a JSON `{"error": …}` for API calls and the login form for a
browser asking for a page; a websocket is closed with code 1008.
"""

from __future__ import annotations

import html
import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, quote, unquote

from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "rag_token"
OPEN_PATHS = {"/health", "/login"}
LOGIN_FORM_MAX_BYTES = 4096
LOGIN_PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>登录 · Sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,"Noto Sans CJK SC","Noto Sans SC",sans-serif;max-width:26em;margin:12vh auto;
padding:0 1em;color:#1f2328}} input{{width:100%;padding:.5em;margin:.5em 0;font-size:1em;box-sizing:border-box}}
button{{padding:.5em 1.2em;font-size:1em}} .err{{color:#b42318}}</style></head><body>
<h2>政府工作报告问答 · Government work report QA</h2>
<p>此服务需要访问令牌。/ This server needs its access token (RAG_API_TOKEN).</p>{message}
<form method="post" action="/login"><input type="password" name="token" placeholder="token" autofocus
autocomplete="current-password"><button type="submit">登录 Sign in</button></form></body></html>"""


def login_page(message: str = "") -> bytes:
    shown = f'<p class="err">{html.escape(message)}</p>' if message else ""
    return LOGIN_PAGE.format(message=shown).encode()


def _token_of(scope: Scope) -> str | None:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is no credential
        return None
    return unquote(cookie[COOKIE].value) if COOKIE in cookie else None


class TokenGate:
    """ASGI middleware: lets a request through when `token` is None or the request carries it."""

    def __init__(self, app: ASGIApp, token: str | None):
        self.app = app
        self.token = token

    def _valid(self, given: str | None) -> bool:
        return given is not None and secrets.compare_digest(given.encode(), (self.token or "").encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.token or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if scope["type"] == "http" and path == "/login":
            await self._login(scope, receive, send)
            return
        if path in OPEN_PATHS or self._valid(_token_of(scope)):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        accept = dict(scope.get("headers", [])).get(b"accept", b"").decode("latin-1")
        if scope.get("method") == "GET" and "text/html" in accept:
            await _respond(send, 401, login_page(), "text/html; charset=utf-8")
        else:
            await _respond(
                send,
                401,
                b'{"error":"missing or wrong token (Authorization: Bearer <RAG_API_TOKEN>)"}',
                "application/json",
                [(b"www-authenticate", b"Bearer")],
            )

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") != "POST":
            await _respond(send, 200, login_page(), "text/html; charset=utf-8")
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > LOGIN_FORM_MAX_BYTES:
                await _respond(send, 413, b'{"error":"login form too large"}', "application/json")
                return
        given = (parse_qs(body.decode("utf-8", "replace")).get("token") or [""])[0].strip()
        if not self._valid(given):
            await _respond(send, 401, login_page("令牌不对 / Wrong token."), "text/html; charset=utf-8")
            return
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        cookie = f"{COOKIE}={quote(given, safe='')}; Path=/; HttpOnly; SameSite=Strict{secure}".encode(
            "latin-1"
        )
        await _respond(send, 303, b"", "text/plain", [(b"location", b"/"), (b"set-cookie", cookie)])


async def _respond(
    send: Send, status: int, body: bytes, content_type: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ]
            + (headers or []),
        }
    )
    await send({"type": "http.response.body", "body": body})
