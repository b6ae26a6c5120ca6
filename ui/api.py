"""The HTTP API: `POST /ask`, `GET /health`; OpenAPI docs at `/docs`.

Errors are JSON `{"error": "..."}`: 422 for a bad request body (empty question, question too long, wrong
types, `top_k` out of range), 401 for a missing or wrong token when `RAG_API_TOKEN` is set (checked for every
route by `ui.auth.TokenGate`, see there). Cross-origin requests are refused unless `RAG_CORS_ORIGINS` lists
the origin.
"""

# No `from __future__ import annotations` here: FastAPI must see the local AskRequest class itself.
import json
import logging

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, StrictBool, StrictInt, StrictStr, field_validator

from rag.config import Settings
from rag.types import Answer
from ui.auth import TokenGate

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
    app.add_middleware(TokenGate, token=settings.api_token)
    # A CORSMiddleware of ours also switches off Gradio's own, which echoes any localhost origin.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Authorization", "Content-Type"],
    )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{_where(e['loc'])}: {e['msg']}" for e in exc.errors()]
        return JSONResponse(status_code=422, content={"error": "; ".join(problems)})

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"error": exc.detail}, headers=exc.headers)

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
        try:
            return await run_in_threadpool(rag.ask, body.question, body.top_k)
        except Exception as exc:
            log.exception("ask failed")
            return JSONResponse(status_code=500, content={"error": f"internal error: {exc}"})

    @app.get("/health")
    async def health() -> dict:
        """Status and corpus counts (documents, chunks), the embedding model and the LLM if any."""
        return rag.health()

    return app


def _where(loc: tuple) -> str:
    """('body', 'top_k') → 'top_k'; ('body',) → 'body'; ('query', 'x') → 'query.x'."""
    parts = [str(p) for p in (loc[1:] if loc and loc[0] == "body" else loc)]
    return ".".join(parts) or "body"


def _sse(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


async def _events(rag, question: str, top_k: int | None):
    try:
        answer: Answer = await run_in_threadpool(rag.ask, question, top_k)
    except Exception as exc:
        log.exception("ask failed")
        yield _sse("error", json.dumps({"error": f"internal error: {exc}"}, ensure_ascii=False))
        return
    yield _sse("retrieved", json.dumps([r.model_dump() for r in answer.retrieved], ensure_ascii=False))
    yield _sse("answer", answer.model_dump_json())
    yield _sse("done", "{}")
