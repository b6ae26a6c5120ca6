"""The data carried end to end: a `Chunk` of a report with its provenance and metadata, and the `Place` a
report is about. Every stage (ingest, index, retrieval, answers, API, chat) uses these; nothing here imports
another module of the project."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict

Kind = Literal["plan", "result", "opening", "other"]
Level = Literal["national", "province", "city", "county"]


class Place(BaseModel):
    """An administrative division of China (or the whole country), as the gazetteer knows it."""

    model_config = ConfigDict(frozen=True)

    code: str  # 6-digit division code (GB/T 2260); "000000" for the country
    name: str  # full name: 武昌区, 内蒙古自治区, 全国
    level: Level
    chain: tuple[
        str, ...
    ]  # full names from the province down: (湖北省, 武汉市, 武昌区); (全国,) for the country

    @property
    def path(self) -> str:
        return " > ".join(self.chain)


class Chunk(BaseModel):
    """A passage of one report, with where it came from.

    `text` is the original text of lines `start_line..end_line` (1-based, inclusive) of file `doc` (for a
    piece of one long line: the exact original substring of that line); `clean` is the normalised variant
    used for matching and embedding.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    doc: str  # the document's name in the corpus, e.g. 001_61e2f93ad6a7b961.txt
    title: str
    place: str | None  # full name of the place whose government issued the report, e.g. 武昌区
    place_chain: tuple[str, ...] = ()  # (湖北省, 武汉市, 武昌区)
    level: Level | None = None  # level of that government
    report_year: int | None
    section: str  # section path, " > " joined
    section_year: int | None  # the year the section is about
    period: tuple[int, int] | None = None  # a multi-year span the section is about (a five-year plan)
    kind: Kind  # plan (targets, tasks) | result (achievements) | opening (the address to delegates) | other
    start_line: int
    end_line: int
    text: str
    clean: str

    @staticmethod
    def make_id(doc: str, text: str) -> str:
        return hashlib.sha1(f"{doc}\n{text}".encode()).hexdigest()[:16]
