"""The data carried end to end: a Chunk with its provenance, a ScoredChunk, a Citation, an Answer."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["plan", "result", "other"]


class Chunk(BaseModel):
    """A passage of one report, with where it came from.

    `text` is the original text of lines `start_line..end_line` (1-based, inclusive) of file `doc`;
    `clean` is the cleaned variant used for matching and embedding.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    doc: str  # file name, e.g. 001_61e2f93ad6a7b961.txt
    title: str
    district: str | None
    report_year: int | None
    section: str  # section path, " > " joined
    section_year: int | None  # the year the section is about
    kind: Kind  # plan (targets) | result (achievements) | other
    start_line: int
    end_line: int
    text: str
    clean: str

    @staticmethod
    def make_id(doc: str, text: str) -> str:
        return hashlib.sha1(f"{doc}\n{text}".encode()).hexdigest()[:16]


class ScoredChunk(BaseModel):
    chunk: Chunk
    score: float
    in_scope: bool = True  # False when the chunk's district/year contradicts the question's scope
    signals: dict[str, float] = Field(default_factory=dict)  # per-signal scores, for explanation


class Citation(BaseModel):
    n: int
    doc: str
    title: str
    district: str | None
    section: str
    start_line: int
    end_line: int
    text: str  # the cited chunk's original text
    quote: str  # the span inside `text` supporting the claim

    @classmethod
    def from_chunk(cls, n: int, chunk: Chunk, quote: str) -> Citation:
        return cls(
            n=n,
            doc=chunk.doc,
            title=chunk.title,
            district=chunk.district,
            section=chunk.section,
            start_line=chunk.start_line,
            end_line=chunk.end_line,
            text=chunk.text,
            quote=quote,
        )


class RetrievedChunk(BaseModel):
    """A retrieved chunk as shown in an answer: rank order, score, provenance."""

    rank: int
    score: float
    in_scope: bool
    id: str
    doc: str
    title: str
    district: str | None
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
