"""The HTTP API: `POST /ask`, `GET/POST /documents`, `DELETE /documents/{id}`, `GET /health`; OpenAPI docs
at `/docs`.

Errors are JSON `{"error": "..."}` on every route (`ui.limits.ErrorShape`, also for the paths that fall
through to the mounted Gradio app): 422 for a bad request body (not JSON, empty question, question too long,
wrong types, `top_k` out of range, a file that cannot be ingested), 413 for a body over its limit, 404 and
405, 401 for a missing or wrong token when `RAG_API_TOKEN` is set (checked for every route by
`ui.auth.TokenGate`), 500 with a reference number and no internals. Messages name no server path and no URL
(`ui.limits.public_message`). Cross-origin requests are refused unless `RAG_CORS_ORIGINS` lists the origin.
"""

# No `from __future__ import annotations` here: FastAPI must see the local AskRequest class itself.
import json
import logging
import re
import shutil
import tempfile
import uuid
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, StrictBool, StrictInt, StrictStr, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.config import Settings
from rag.types import Answer
from ui.auth import TokenGate
from ui.limits import BodyLimit, ErrorShape, public_message, validation_message

MAX_JSON_BODY = 64_000  # bytes: a question is at most a few thousand

MAX_TOP_K = 20
log = logging.getLogger("rag.api")


def ask_request_model(max_question_chars: int) -> type[BaseModel]:
    """The `/ask` body; the question's length limit (a setting) is part of the schema shown at /docs."""

    class AskRequest(BaseModel):
        question: StrictStr = Field(
            max_length=max_question_chars,
            description=f"The question, in Chinese or English (1 to {max_question_chars} characters).",
            examples=["武昌2021年固定资产投资目标"],
        )
        top_k: StrictInt | None = Field(
            default=None,
            ge=1,
            le=MAX_TOP_K,
            description=f"Retrieved chunks to return (1-{MAX_TOP_K}); default: the setting.",
        )
        stream: StrictBool = Field(
            default=False,
            description="Answer as server-sent events: `retrieved` (the ranked chunks), `answer` (the Answer), `done`.",
        )

        @field_validator("question")
        @classmethod
        def not_blank(cls, v: str) -> str:
            if not v.strip():
                raise ValueError("question is empty")
            return v.strip()

    return AskRequest


def create_app(rag, settings: Settings) -> FastAPI:
    app = FastAPI(
        title="Government work report QA",
        description="Answers questions about Chinese government work reports, citing the source paragraphs.",
        version="0.1.0",
    )
    AskRequest = ask_request_model(settings.max_question_chars)
    upload_limit = settings.max_upload_bytes + 64_000  # the file and its multipart framing
    app.add_middleware(
        BodyLimit,
        default=MAX_JSON_BODY,
        per_prefix={"/documents": upload_limit, "/gradio_api/upload": upload_limit},
    )
    app.add_middleware(TokenGate, token=settings.api_token)
    # A CORSMiddleware of ours also switches off Gradio's own, which echoes any localhost origin.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Authorization", "Content-Type"],
    )
    app.add_middleware(ErrorShape, routes=lambda: app.router.routes)  # outermost: sees every response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"error": validation_message(exc.errors())})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = public_message(exc.detail) if isinstance(exc.detail, str) else "request failed"
        return JSONResponse(status_code=exc.status_code, content={"error": message}, headers=exc.headers)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        reference = uuid.uuid4().hex[:8]
        log.error("internal error %s on %s", reference, request.url.path, exc_info=exc)
        return JSONResponse(status_code=500, content={"error": f"internal error (reference {reference})"})

    @app.post(
        "/ask",
        response_model=Answer,
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "The Answer, or with `stream` an event stream.",
            },
            401: {"description": "Missing or wrong token (when RAG_API_TOKEN is set)."},
            422: {"description": 'Invalid request: `{"error": "..."}`.'},
        },
    )
    async def ask(body: AskRequest):  # type: ignore[valid-type]
        """Answer a question with citations; `answerable` is false when the reports do not say."""
        if body.stream:
            return StreamingResponse(_events(rag, body.question, body.top_k), media_type="text/event-stream")
        return await run_in_threadpool(rag.ask, body.question, body.top_k)

    @app.get("/health")
    async def health() -> dict:
        """Status, corpus counts (documents, chunks, statement vectors), indexing progress, models."""
        health = rag.health()
        if (indexing := health.get("indexing")) and indexing.get("error"):  # /health is open: no paths
            health["indexing"] = {**indexing, "error": public_message(indexing["error"])}
        return health

    @app.get("/documents")
    async def list_documents() -> list[dict]:
        """The documents in the corpus: name, id, title, place (with its parent chain), level, report year,
        sections, chunks, where it came from, when and by whom it was added."""
        return [_record(d) for d in rag.documents()]

    @app.post("/documents", status_code=201, responses={413: {"description": "File too large."},
                                                        422: {"description": "No file could be ingested."}})  # fmt: skip
    async def add_documents(request: Request, files: list[UploadFile]) -> dict:
        """Upload report files (multipart, field `files`): answerable at once from lexical search, with
        vectors computed in the background. Files that cannot be ingested are listed with the reason."""
        (settings.home / "tmp").mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="upload-", dir=settings.home / "tmp"))
        try:
            paths = []
            for upload in files:
                target = folder / _safe_name(upload.filename or "upload.txt")
                with target.open("wb") as out:
                    shutil.copyfileobj(upload.file, out)
                paths.append(target)
            client = request.client.host if request.client else "unknown"
            report = await run_in_threadpool(rag.add, paths, "upload", f"api {client}")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        body = {"added": [_record(d) for d in report.added], "updated": [_record(d) for d in report.updated],
                "unchanged": [getattr(d, "doc", d) for d in report.unchanged],
                "skipped": [{"file": name, "reason": public_message(reason)} for name, reason in report.skipped],
                "notes": [public_message(note) for note in report.notes]}  # fmt: skip
        if not report.added and not report.updated and not report.unchanged:
            return JSONResponse(
                status_code=422,
                content={"error": "; ".join(s["reason"] for s in body["skipped"]) or "no file", **body},
            )
        return body

    @app.delete("/documents/{name}")
    async def delete_document(name: str) -> dict:
        """Remove a document (by its name or id) from the corpus and the index."""
        try:
            record = await run_in_threadpool(rag.remove, name)
        except KeyError as exc:
            raise HTTPException(404, f"no document {name!r} (see GET /documents)") from exc
        return {"removed": _record(record)}

    return app


def _safe_name(name: str) -> str:
    """A client's file name reduced to a plain name (no folders, no control characters)."""
    base = re.sub(r"[\x00-\x1f/\\:]", "_", Path(name.replace("\\", "/")).name).strip(" .") or "upload.txt"
    return base[:120]


def _record(d) -> dict:
    from dataclasses import asdict, is_dataclass

    data = asdict(d) if is_dataclass(d) else dict(d)
    data.pop("path", None)  # where the server keeps the file is not the client's business
    return data


def _sse(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


async def _events(rag, question: str, top_k: int | None):
    try:
        answer: Answer = await run_in_threadpool(rag.ask, question, top_k)
    except Exception:
        reference = uuid.uuid4().hex[:8]
        log.exception("internal error %s in /ask stream", reference)
        yield _sse("error", json.dumps({"error": f"internal error (reference {reference})"}))
        return
    yield _sse("retrieved", json.dumps([r.model_dump() for r in answer.retrieved], ensure_ascii=False))
    yield _sse("answer", answer.model_dump_json())
    yield _sse("done", "{}")
