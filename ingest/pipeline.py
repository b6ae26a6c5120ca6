"""Ingest entry point: files → chunks, kept in a chunk store under RAG_HOME that mirrors the given files.

`ingest_paths(paths, store)` makes the store hold exactly the chunks of the readable files found under
`paths`: an unchanged file keeps its chunks (ids are content hashes), a changed file replaces its chunks,
a file no longer present loses them. Unreadable files are reported and skipped; the rest still ingest.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ingest.chunker import chunk_document
from ingest.readers import SUPPORTED_SUFFIXES, UnreadableDocument, read_lines
from ingest.types import Chunk


@dataclass
class DocumentInfo:
    doc: str
    title: str
    place: str | None  # full name of the place whose government issued the report: 武昌区, 全国
    place_chain: tuple[str, ...]  # (湖北省, 武汉市, 武昌区)
    level: str | None  # national | province | city | county
    report_year: int | None
    chunks: int

    @property
    def place_path(self) -> str:
        return " > ".join(self.place_chain) if self.place_chain else "? place"


@dataclass
class IngestReport:
    documents: list[DocumentInfo] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    added: int = 0  # chunks not in the store before
    removed: int = 0  # chunks dropped from the store

    @property
    def chunks_added(self) -> int:
        return self.added

    def summary(self) -> str:
        sizes = [len(c.clean) for c in self.chunks]
        lines = [
            f"{len(self.documents)} documents, {len(self.chunks)} chunks (+{self.added} new, -{self.removed} removed)"
        ]
        if sizes:
            lines.append(
                f"chunk size (cleaned chars): min {min(sizes)}, median {statistics.median(sizes):.0f}, max {max(sizes)}"
            )
        for d in self.documents:
            lines.append(
                f"  {d.doc}: {d.place_path} ({d.level or '? level'}), {d.report_year or '? year'}, "
                f"{d.chunks} chunks — {d.title[:40]}"
            )
        for _name, reason in self.skipped:
            lines.append(f"  skipped {reason}")
        return "\n".join(lines)


def find_files(paths: list[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Report files under the given files/folders (sorted), and the paths that do not exist."""
    files, missing = [], []
    for path in paths:
        if path.is_dir():
            files += sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
            )
        elif path.exists():
            files.append(path)
        else:
            missing.append((str(path), f"{path}: no such file or folder"))
    return files, missing


def chunk_files(files: list[Path], max_chars: int, progress: bool = False) -> IngestReport:
    report = IngestReport()
    seen: set[str] = set()
    iterator = files
    if progress:
        from tqdm import tqdm

        iterator = tqdm(files, desc="ingest", unit="file")
    for path in iterator:
        if path.name in seen:
            report.skipped.append((path.name, f"{path}: another file named {path.name} was already ingested"))
            continue
        try:
            lines = read_lines(path)
        except UnreadableDocument as exc:
            report.skipped.append((path.name, str(exc)))
            continue
        doc = chunk_document(path.name, lines, max_chars)
        if not doc.chunks:
            report.skipped.append((path.name, f"{path.name}: no report text left after cleaning"))
            continue
        seen.add(path.name)
        report.chunks += doc.chunks
        place = doc.place
        report.documents.append(
            DocumentInfo(
                doc.doc,
                doc.title,
                place.name if place else None,
                place.chain if place else (),
                place.level if place else None,
                doc.report_year,
                len(doc.chunks),
            )
        )
    return report


def load_store(store: Path) -> list[Chunk]:
    if not store.exists():
        return []
    with store.open(encoding="utf-8") as f:
        return [Chunk.model_validate_json(line) for line in f if line.strip()]


def save_store(store: Path, chunks: list[Chunk]) -> None:
    """Write atomically: a crash leaves the previous store in place."""
    store.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=store.parent, prefix=".chunks-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        for chunk in chunks:
            f.write(chunk.model_dump_json() + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, store)


def ingest_paths(
    paths: list[Path], store: Path, max_chars: int = 400, progress: bool = False
) -> IngestReport:
    """Chunk the files under `paths` and make `store` hold exactly their chunks."""
    files, missing = find_files(paths)
    report = chunk_files(files, max_chars, progress)
    report.skipped = missing + report.skipped
    before = {c.id for c in load_store(store)}
    now = {c.id for c in report.chunks}
    report.added, report.removed = len(now - before), len(before - now)
    if before != now or not store.exists():
        save_store(store, report.chunks)
    return report


def document_infos(chunks: list[Chunk]) -> list[DocumentInfo]:
    docs: dict[str, DocumentInfo] = {}
    for c in chunks:
        info = docs.setdefault(
            c.doc, DocumentInfo(c.doc, c.title, c.place, tuple(c.place_chain), c.level, c.report_year, 0)
        )
        info.chunks += 1
    return list(docs.values())


def chunk_json(chunk: Chunk) -> str:
    """One line of `rag chunks --json`."""
    return json.dumps(chunk.model_dump(exclude={"clean"}), ensure_ascii=False)
