"""What retrieval and answering produce: a ScoredChunk, a Citation, an Answer (the Chunk itself is
`ingest.types.Chunk`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ingest.types import Chunk


class ScoredChunk(BaseModel):
    chunk: Chunk
    score: float
    in_scope: bool = True  # False when the chunk's district/year contradicts the question's scope
    signals: dict[str, float] = Field(default_factory=dict)  # per-signal scores, for explanation


class Citation(BaseModel):
    n: int
    doc: str
    title: str
    place: str | None
    section: str
    start_line: int
    end_line: int
    text: str  # the cited chunk's original text
    quote: str  # the span inside `text` supporting the claim
    place_chain: list[str] = Field(default_factory=list)
    report_year: int | None = None
    source: str | None = None  # where the document came from: folder | added | upload
    added_at: str | None = None
    added_by: str | None = None

    @classmethod
    def from_chunk(cls, n: int, chunk: Chunk, quote: str) -> Citation:
        return cls(
            n=n,
            doc=chunk.doc,
            title=chunk.title,
            place=chunk.place,
            section=chunk.section,
            start_line=chunk.start_line,
            end_line=chunk.end_line,
            text=chunk.text,
            quote=quote,
            place_chain=list(chunk.place_chain),
            report_year=chunk.report_year,
        )


class RetrievedChunk(BaseModel):
    """A retrieved chunk as shown in an answer: rank order, score, provenance."""

    rank: int
    score: float
    in_scope: bool
    id: str
    doc: str
    title: str
    place: str | None
    section: str
    start_line: int
    end_line: int
    text: str


class Answer(BaseModel):
    question: str
    answer: str
    answerable: bool
    citations: list[Citation] = Field(default_factory=list)
    retrieved: list[RetrievedChunk] = Field(default_factory=list)
    latency_ms: float = 0.0
    mode: Literal["extractive", "llm"] = "extractive"
    note: str | None = None  # e.g. why an LLM answer was replaced by the extractive one
