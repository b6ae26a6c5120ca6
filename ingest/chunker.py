"""Turn a document's lines into section-aware Chunks with provenance.

Size bound: a chunk's cleaned text is at most `max_chars` characters (Chinese characters count one each;
tiktoken is not used here because a character bound is what a reader of Chinese text expects). Paragraphs
are packed together within one top-level section; a paragraph longer than the bound is split at sentence
ends (then at commas). A chunk's `text` is the exact original text of lines `start_line..end_line`
(for a piece of one long line: the exact original substring of that line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.clean import is_boilerplate, spam_phrases
from ingest.metadata import (
    dominant_year,
    find_district,
    find_report_year,
    five_year_plan,
    heading_year,
    section_kind,
)
from ingest.sections import Block, Paragraph, group_sections
from ingest.text import clean_text, normalize
from ingest.types import Chunk

MIN_CHARS = 120  # a chunk smaller than this takes in its neighbours (same top-level section)
SENTENCE = re.compile(r".+?(?:[。;\uff1b!?\uff01\uff1f]+[”」’)]?|$)", re.S)
CLAUSE = re.compile(r".+?(?:[,\uff0c、]|$)", re.S)
HEADER_LINES = 6
LEAD_CHARS = 20  # lines at the top where a publication date is looked for


@dataclass
class DocumentChunks:
    doc: str
    title: str
    place: str | None
    report_year: int | None
    chunks: list[Chunk]


@dataclass
class _Piece:
    start: int
    end: int
    text: str  # original text (whole lines joined, or a substring of one line)
    clean: str
    path: tuple[str, ...]
    heading: bool


def _split_long(p: Paragraph, path: tuple[str, ...], max_chars: int, spam: list[str]) -> list[_Piece]:
    """A paragraph as pieces no longer than max_chars (cleaned), cut at sentence ends, then clauses."""
    if len(p.clean) <= max_chars:
        return [_Piece(p.line, p.line, p.text, p.clean, path, p.heading)]
    units: list[str] = []
    for sentence in SENTENCE.findall(p.text):
        if len(clean_text(sentence, spam)) > max_chars:
            units.extend(CLAUSE.findall(sentence))
        elif sentence:
            units.append(sentence)
    pieces: list[_Piece] = []
    buf = ""
    for unit in units:
        if buf and len(clean_text(buf + unit, spam)) > max_chars:
            pieces.append(_Piece(p.line, p.line, buf, clean_text(buf, spam), path, False))
            buf = ""
        buf += unit
    if buf.strip():
        pieces.append(_Piece(p.line, p.line, buf, clean_text(buf, spam), path, False))
    # a paragraph's short lead sentence ("“四水共治”全面推进。") names what the later pieces are about
    lead = clean_text(units[0], spam) if units else ""
    if len(lead) <= LEAD_CHARS:
        for piece in pieces[1:]:
            piece.clean = f"{lead} {piece.clean}"
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
    """Greedy packing within one top-level section; a new leaf section starts a new chunk once the
    current one is big enough; a chunk never ends on a bare heading."""
    groups: list[list[_Piece]] = []
    cur: list[_Piece] = []
    size = 0
    for piece in pieces:
        n = len(piece.clean)
        new_section = bool(cur) and piece.path != cur[-1].path and not cur[-1].heading
        if cur and (size + n > max_chars or (new_section and size >= MIN_CHARS)) and not cur[-1].heading:
            groups.append(cur)
            cur, size = [], 0
        cur.append(piece)
        size += n
    if cur:
        if groups and (all(p.heading for p in cur) or size < MIN_CHARS // 3):
            groups[-1].extend(cur)
        else:
            groups.append(cur)
    return groups


def _original_text(group: list[_Piece], lines: list[str]) -> str:
    """The original text of the group's line range; a line only partly in the group gives its part."""
    parts: dict[int, str] = {}
    for piece in group:
        parts[piece.start] = parts.get(piece.start, "") + piece.text  # pieces are (parts of) one line
    start, end = group[0].start, group[-1].end
    return "\n".join(parts.get(i, lines[i - 1]) for i in range(start, end + 1))


def _top_level_runs(blocks: list[Block]) -> list[list[Block]]:
    runs: list[list[Block]] = []
    for block in blocks:
        top = block.path[:1]
        if runs and runs[-1][-1].path[:1] == top:
            runs[-1].append(block)
        else:
            runs.append([block])
    return runs


def chunk_document(doc: str, lines: list[str], max_chars: int = 400) -> DocumentChunks:
    spam = spam_phrases(lines)
    paragraphs: list[Paragraph] = []
    seen: set[str] = set()
    for i, line in enumerate(lines, start=1):
        if is_boilerplate(line, spam):
            continue
        clean = clean_text(line, spam)
        key = normalize(clean)
        if not key or (len(key) >= 8 and key in seen):  # exact duplicate paragraph (a body pasted twice)
            continue
        seen.add(key)
        paragraphs.append(Paragraph(i, line, clean))
    if not paragraphs:
        return DocumentChunks(doc, doc, None, None, [])

    title = paragraphs[0].clean
    blocks = group_sections(paragraphs[1:])
    body = [p.clean for p in paragraphs]
    district = find_district(title, body)
    heading_years = [y for b in blocks if (y := heading_year(b.path))]
    report_year = find_report_year(title, [clean_text(x) for x in lines[:HEADER_LINES]], heading_years)
    doc_year = dominant_year(body)

    title_piece = _Piece(paragraphs[0].line, paragraphs[0].line, paragraphs[0].text, title, (), True)
    chunks: list[Chunk] = []
    seen_chunks: set[str] = set()
    for run_index, run in enumerate(_top_level_runs(blocks)):
        run_pieces = [
            piece for b in run for p in b.paragraphs for piece in _split_long(p, b.path, max_chars, spam)
        ]
        if run_index == 0:
            run_pieces.insert(0, title_piece)  # the title joins the preamble (or the first section)
        # a section whose headings name no year is about the year its text names most
        run_year = dominant_year([p.clean for p in run_pieces]) or doc_year
        for group in _pack(run_pieces, max_chars):
            start, end = group[0].start, group[-1].end
            text = _original_text(group, lines)
            clean = "\n".join(p.clean for p in group)
            key = normalize(clean)
            if key in seen_chunks:
                continue
            seen_chunks.add(key)
            path = _common_prefix([p.path for p in group if not p.heading] or [group[-1].path])
            plan = five_year_plan(path)
            chunks.append(
                Chunk(
                    id=Chunk.make_id(doc, text),
                    doc=doc,
                    title=title,
                    place=district,
                    report_year=report_year,
                    section=" > ".join(path) if path else "前言",
                    section_year=heading_year(path) or (None if plan else run_year),
                    kind=section_kind(path, clean, title),  # type: ignore[arg-type]
                    start_line=start,
                    end_line=end,
                    text=text,
                    clean=clean,
                )
            )
    return DocumentChunks(doc, title, district, report_year, chunks)
