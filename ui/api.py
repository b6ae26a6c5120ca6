"""The HTTP API: `POST /ask`, `GET /health`; OpenAPI docs at `/docs`."""

from __future__ import annotations

import json

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, StrictBool, StrictInt, StrictStr, field_validator

from rag.config import Settings
from rag.types import Answer

MAX_TOP_K = 20


class AskRequest(BaseModel):
    question: StrictStr = Field(description="The question, in Chinese or English.")
    top_k: StrictInt | None = Field(default=None, ge=1, le=MAX_TOP_K, description="Sources to return (1-20).")
    stream: StrictBool = Field(default=False, description="Stream server-sent events: `retrieved`, then `answer`.")

    @field_validator("question")
    @classmethod
    def not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("question is empty")
        return v.strip()


def create_app(rag, settings: Settings) -> FastAPI:
    app = FastAPI(
        title="Government work report QA",
        description="Answers questions about Chinese government work reports, citing source paragraphs.",
        version="0.1.0",
    )
    bearer = HTTPBearer(auto_error=False)

    def check_token(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if settings.api_token and (credentials is None or credentials.credentials != settings.api_token):
            raise HTTPException(status_code=401, detail="missing or wrong bearer token")

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()]
        return JSONResponse(status_code=422, content={"error": "; ".join(problems)})

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"error": exc.detail}, headers=exc.headers)

    @app.post("/ask", response_model=Answer, dependencies=[Depends(check_token)])
    async def ask(body: AskRequest):
        if len(body.question) > settings.max_question_chars:
            raise HTTPException(status_code=413, detail=f"question longer than {settings.max_question_chars} characters")
        if body.stream:
            return StreamingResponse(_events(rag, body), media_type="text/event-stream")
        return await run_in_threadpool(rag.ask, body.question, body.top_k)

    @app.get("/health")
    async def health() -> dict:
        return rag.health()

    return app


async def _events(rag, body: AskRequest):
    answer = await run_in_threadpool(rag.ask, body.question, body.top_k)
    yield f"event: retrieved\ndata: {json.dumps([r.model_dump() for r in answer.retrieved], ensure_ascii=False)}\n\n"
    yield f"event: answer\ndata: {answer.model_dump_json()}\n\n"
    yield "event: done\ndata: {}\n\n"
