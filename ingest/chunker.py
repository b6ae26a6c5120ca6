"""Turn a document's lines into section-aware Chunks with provenance and metadata.

Size bound: a chunk's cleaned text (`Chunk.clean`: its pieces joined by line breaks, the lead sentence put
before the later pieces of a split paragraph included) is at most `max_chars` characters (Chinese characters
count one each; tiktoken is not used here because a character bound is what a reader of Chinese text
expects). Hard-wrapped lines are first reflowed into paragraphs (`ingest.sections.reflow`). Paragraphs are
packed together within one top-level section; a paragraph longer than the bound is split at sentence ends,
then at commas, then anywhere. A chunk's `text` is the exact original text from its first to its last
piece: whole lines `start_line..end_line`, or the exact original substring where a piece is part of a line.
The title, header and address to the delegates make a chunk of their own (kind "opening").
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from ingest.clean import is_boilerplate, spam_phrases
from ingest.metadata import (
    document_place,
    dominant_year,
    heading_year,
    report_year,
    section_kind,
    section_period,
)
from ingest.sections import Block, Paragraph, group_sections, heading_rank, reflow
from ingest.text import clean_text, normalize
from ingest.types import Chunk, Kind, Place

MIN_CHARS = 120  # a chunk smaller than this takes in its neighbours (same top-level section)
SENTENCE = re.compile(r".+?(?:[。;\uff1b!?\uff01\uff1f]+[”」’)]?|$)", re.S)
CLAUSE = re.compile(r".+?(?:[,\uff0c、]|$)", re.S)
LEAD_CHARS = 20  # a paragraph's lead sentence up to this length is put before its later pieces


@dataclass
class DocumentChunks:
    doc: str
    title: str
    place: Place | None
    report_year: int | None
    chunks: list[Chunk]


@dataclass
class _Piece:
    start: int  # span in the document's text (its lines joined by "\n")
    end: int
    clean: str
    path: tuple[str, ...]
    heading: bool


def _size(group: list[_Piece]) -> int:
    return sum(len(p.clean) for p in group) + len(group) - 1  # the line breaks between pieces count too


def _spans(text: str, pattern: re.Pattern[str], a: int, b: int) -> list[tuple[int, int]]:
    return [(a + m.start(), a + m.end()) for m in pattern.finditer(text[a:b]) if m.end() > m.start()]


def _units(text: str, budget: int, spam: list[str]) -> list[tuple[int, int]]:
    """Spans of `text` covering it in order, each cleaned to at most `budget` characters: sentences, the
    clauses of a longer sentence, and plain cuts of a longer clause."""
    units = []
    for a, b in _spans(text, SENTENCE, 0, len(text)):
        for ca, cb in [(a, b)] if len(clean_text(text[a:b], spam)) <= budget else _spans(text, CLAUSE, a, b):
            while len(clean_text(text[ca:cb], spam)) > budget:
                cut = min(cb, ca + budget)
                while cut > ca + 1 and len(clean_text(text[ca:cut], spam)) > budget:
                    cut -= 1
                units.append((ca, cut))
                ca = cut
            units.append((ca, cb))
    return units


def _split_long(
    p: Paragraph, offset: int, path: tuple[str, ...], max_chars: int, spam: list[str]
) -> list[_Piece]:
    """A paragraph as pieces whose cleaned text, lead included, is at most max_chars characters."""
    if len(p.clean) <= max_chars:
        return [_Piece(offset, offset + len(p.text), p.clean, path, p.heading)]
    first = SENTENCE.match(p.text)
    lead = clean_text(first.group(0), spam) if first else ""
    lead = lead if len(lead) <= LEAD_CHARS else ""  # a short lead ("“四水共治”全面推进。") names the topic
    budget = max_chars - (len(lead) + 1 if lead else 0)
    spans: list[tuple[int, int]] = []
    for a, b in _units(p.text, budget, spam):
        if spans and len(clean_text(p.text[spans[-1][0] : b], spam)) <= (
            budget if len(spans) > 1 else max_chars
        ):
            spans[-1] = (spans[-1][0], b)
        else:
            spans.append((a, b))
    pieces = []
    for i, (a, b) in enumerate(spans):
        clean = clean_text(p.text[a:b], spam)
        if re.search(r"\w", clean):  # not a bare "。" left over from the last clause
            pieces.append(
                _Piece(offset + a, offset + b, f"{lead} {clean}" if lead and i else clean, path, False)
            )
    return pieces


def _common_prefix(paths: list[tuple[str, ...]]) -> tuple[str, ...]:
    prefix = paths[0]
    for path in paths[1:]:
        n = 0
        while n < min(len(prefix), len(path)) and prefix[n] == path[n]:
            n += 1
        prefix = prefix[:n]
    return prefix


def _pack(pieces: list[_Piece], max_chars: int) -> list[list[_Piece]]:
    """Greedy packing within one top-level section, never over max_chars; a new leaf section starts a new
    chunk once the current one is big enough; a chunk never ends on a bare heading (a heading that fits
    with neither its neighbours is left out: its label is in the section path)."""
    groups: list[list[_Piece]] = []
    cur: list[_Piece] = []
    for piece in pieces:
        if cur:
            new_section = piece.path != cur[-1].path and not cur[-1].heading
            if _size(cur) + 1 + len(piece.clean) > max_chars or (new_section and _size(cur) >= MIN_CHARS):
                tail: list[_Piece] = []
                while cur and cur[-1].heading:
                    tail.insert(0, cur.pop())
                if cur:
                    groups.append(cur)
                cur = tail if tail and _size(tail) + 1 + len(piece.clean) <= max_chars else []
        cur.append(piece)
    if cur:
        small = all(p.heading for p in cur) or _size(cur) < MIN_CHARS // 3
        if groups and small and _size(groups[-1]) + 1 + _size(cur) <= max_chars:
            groups[-1].extend(cur)
        elif not groups or not all(p.heading for p in cur):
            groups.append(cur)
    return groups


def _top_level_runs(blocks: list[Block]) -> list[list[Block]]:
    runs: list[list[Block]] = []
    for block in blocks:
        key = (block.path[:1], block.opening)
        if runs and (runs[-1][-1].path[:1], runs[-1][-1].opening) == key:
            runs[-1].append(block)
        else:
            runs.append([block])
    return runs


def _paragraphs(lines: list[str], spam: list[str]) -> list[Paragraph]:
    kept = [(i, line) for i, line in enumerate(lines, start=1) if not is_boilerplate(line, spam)]
    out: list[Paragraph] = []
    seen: set[str] = set()
    for p in reflow(kept, spam):
        key = normalize(p.clean)
        if not key or (len(key) >= 8 and key in seen):  # exact duplicate paragraph (a body pasted twice)
            continue
        seen.add(key)
        out.append(p)
    return out


def chunk_document(doc: str, lines: list[str], max_chars: int = 400) -> DocumentChunks:
    spam = spam_phrases(lines)
    paragraphs = _paragraphs(lines, spam)
    if not paragraphs:
        return DocumentChunks(doc, doc, None, None, [])
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    full = "\n".join(lines)

    title = paragraphs[0].clean
    blocks = group_sections(paragraphs[1:])
    body = [p.clean for p in paragraphs]
    place = document_place(title, body)
    year = report_year(title, body[1:])
    doc_year = dominant_year(body)

    title_pieces = _split_long(paragraphs[0], starts[paragraphs[0].line - 1], (), max_chars, spam)
    if len(title_pieces) == 1:
        title_pieces[0].heading = True  # a title line; a first line too long to be one stays content
    chunks: list[Chunk] = []
    seen_chunks: set[str] = set()
    after: Kind | None = None
    for run_index, run in enumerate(_top_level_runs(blocks)):
        run_pieces = [
            piece
            for b in run
            for p in b.paragraphs
            for piece in _split_long(p, starts[p.line - 1], b.path, max_chars, spam)
        ]
        if run_index == 0:
            run_pieces[:0] = title_pieces  # the title joins the opening (or the first section)
        # a section whose headings name no year is about the year its text names most
        run_year = dominant_year([p.clean for p in run_pieces], year) or doc_year
        top = run[0].path[:1]
        numbered = bool(top) and heading_rank(top[0], generic=False) == 1
        for group in _pack(run_pieces, max_chars):
            text = full[group[0].start : group[-1].end]
            clean = "\n".join(p.clean for p in group)
            key = normalize(clean)
            if key in seen_chunks:
                continue
            seen_chunks.add(key)
            path = _common_prefix([p.path for p in group if not p.heading] or [group[-1].path])
            period = section_period(path, year)
            section_year = heading_year(path) or (None if period else run_year)
            kind = section_kind(
                path, clean, title, report_year=year, after=after if numbered else None, year=section_year
            )
            chunks.append(
                Chunk(
                    id=Chunk.make_id(doc, text),
                    doc=doc,
                    title=title,
                    place=place.name if place else None,
                    place_chain=place.chain if place else (),
                    level=place.level if place else None,
                    report_year=year,
                    section=" > ".join(path) if path else "前言",
                    section_year=year if kind == "opening" else section_year,
                    period=period,
                    kind=kind,
                    start_line=bisect_right(starts, group[0].start),
                    end_line=bisect_right(starts, group[-1].end - 1),
                    text=text,
                    clean=clean,
                )
            )
        if numbered and section_kind(top, "", title, report_year=year) == "plan":
            after = "plan"
    return DocumentChunks(doc, title, place, year, chunks)
