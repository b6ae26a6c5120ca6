"""The managed corpus under RAG_HOME: which documents are served, where their bytes are, and their chunks.

    corpus = Corpus(settings.home, settings.corpus)      # opens what is on disk, repairing it if need be
    corpus.sync_folder()                                  # the folder's new or changed files (re)chunked
    corpus.add([path], source="upload", added_by="chat")  # copied into RAG_HOME/documents/ until removed
    corpus.add_chunked([ChunkedFile(path, sha, chunk_file(path, path.name, ...))])  # chunked elsewhere (Ray)
    corpus.remove("report.txt")                           # by name or id; a folder file gets a tombstone

On disk: `documents.json` (the registry: each document's record with its sha256 and size, the tombstones of
folder files the user removed, the sha256 of the chunk store), `chunks.jsonl` (every chunk, documents by
name) and `documents/` (copies of added files). Both files are replaced atomically, the chunk store first.
Writers hold an exclusive lock on `.corpus.lock` and re-read the registry under it; readers take the lock
only to repair: a chunk store that does not parse or match its checksum is rebuilt from the documents'
files, a registry that does not parse from the folder and documents/ (upload metadata is then lost).

Longer than ~300 lines: the registry, the atomic chunk store, the lock, the staging of added files and the
repairs are one unit; each would need the others' internals if split apart.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from ingest.chunker import DocumentChunks, chunk_document
from ingest.limits import size
from ingest.readers import SUPPORTED_SUFFIXES, ReadLimits, UnreadableDocument, read_lines
from ingest.types import Chunk

log = logging.getLogger(__name__)
DEFAULT_LIMITS = ReadLimits()


@dataclass
class DocumentRecord:
    doc: str  # unique name in the corpus: Chunk.doc, cited in answers
    id: str  # first 12 hex digits of sha256
    title: str
    place: str | None  # full name, e.g. 武昌区
    place_chain: list[str]
    level: str | None
    report_year: int | None
    sections: int  # distinct section paths
    chunks: int
    source: str  # "folder" | "added" | "upload"
    added_at: str  # ISO 8601, UTC
    added_by: str | None  # "cli", "api 127.0.0.1", "chat"…; None for the folder
    path: Path  # where the bytes are: the folder's file or the copy in RAG_HOME/documents
    size: int
    sha256: str


@dataclass
class CorpusReport:
    added: list[DocumentRecord] = field(default_factory=list)
    updated: list[DocumentRecord] = field(default_factory=list)
    removed: list[DocumentRecord] = field(default_factory=list)
    unchanged: list[DocumentRecord] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    notes: list[str] = field(default_factory=list)  # renamed on a name clash, content already there
    documents: int = 0  # in the corpus afterwards
    chunks: int = 0

    def summary(self) -> str:
        counts = ", ".join(
            f"{len(getattr(self, k))} {k}" for k in ("added", "updated", "removed", "unchanged")
        )
        lines = [f"{self.documents} documents, {self.chunks} chunks ({counts}, {len(self.skipped)} skipped)"]
        for verb in ("added", "updated", "removed"):
            lines += [f"  {verb} {r.doc}: {r.place or '? place'}, {r.report_year or '? year'}, {r.chunks} "
                      f"chunks — {r.title[:40]}" for r in getattr(self, verb)]  # fmt: skip
        return "\n".join(
            lines + [f"  skipped {why}" for _, why in self.skipped] + [f"  {n}" for n in self.notes]
        )


@dataclass(frozen=True)
class ChunkedFile:
    """A report file read and chunked elsewhere (a Ray worker, `rag.distributed`): `chunked` is what
    `chunk_file` gave for the bytes whose sha256 is `sha256`, chunked under the file's own name."""

    path: Path
    sha256: str
    chunked: DocumentChunks | str | None  # None: not chunked there (its content was in the corpus)


_RECORDS = TypeAdapter(list[DocumentRecord])


class _Damaged(Exception):
    """What is wrong with the chunk store (as _RegistryDamaged: with the registry), in one line."""


class _RegistryDamaged(_Damaged): ...


@dataclass
class _State:
    records: dict[str, DocumentRecord]  # by doc name
    tombstones: set[str]  # sha256 of folder files the user removed
    chunks: dict[str, list[Chunk]]  # by doc name, in document order

    def copy(self) -> _State:
        return _State(dict(self.records), set(self.tombstones), dict(self.chunks))

    def drop(self, name: str) -> None:
        self.records.pop(name, None)
        self.chunks.pop(name, None)

    def with_sha(self, sha: str) -> DocumentRecord | None:
        return next((r for r in self.records.values() if r.sha256 == sha), None)

    def free_name(self, name: str, sha: str) -> str:
        """`name`, or `<stem>-<sha8><suffix>` when another document has it."""
        stem, suffix, n = Path(name).stem, Path(name).suffix, 1
        while name in self.records:
            name, n = f"{stem}-{sha[:8]}{'' if n == 1 else f'-{n}'}{suffix}", n + 1
        return name


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _iso(timestamp: float | None = None) -> str:
    return (datetime.fromtimestamp(timestamp, UTC) if timestamp else datetime.now(UTC)).isoformat(
        "T", "seconds"
    )


def _write_atomic(path: Path, data: bytes) -> None:
    """Temp file, fsync, rename: a reader sees the old file or the new one. A crash leaves the temp file
    to the next writer (`Corpus._writing`)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _report_files(paths: list[Path], report: CorpusReport | None = None) -> list[Path]:
    """The files given and the report files in the folders given (sorted); a missing path is reported."""
    files = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
            )
        elif path.is_file():
            files.append(path)
        elif report is not None:
            report.skipped.append((path.name, f"{path}: no such file or folder"))
    return files


def _cannot_read(name: str, exc: OSError) -> tuple[str, str]:
    return name, f"{name}: cannot read ({exc.strerror or exc})"


def chunk_file(
    path: Path, name: str, max_chars: int = 400, limits: ReadLimits = DEFAULT_LIMITS, max_chunks: int = 3000
) -> DocumentChunks | str:
    """The chunks of the report file at `path` as document `name`, or why it is refused (one line naming the
    file). The corpus's one rule for reading and chunking a file, also run on Ray workers."""
    cap = f"{max_chunks:,} chunks per document (RAG_MAX_CHUNKS_PER_DOCUMENT)"
    try:
        lines = read_lines(path, limits)
        # a chunk holds at most max_chars characters: refuse a huge text before chunking it (minutes)
        estimate = sum(len("".join(line.split())) for line in set(lines)) // max_chars
        if estimate > max_chunks:
            raise UnreadableDocument(f"{path.name}: about {estimate:,} chunks, over the limit of {cap}")
        doc = chunk_document(name, lines, max_chars)
        if not doc.chunks:
            raise UnreadableDocument(f"{path.name}: no report text left after cleaning")
        if (n := len(doc.chunks)) > max_chunks:
            raise UnreadableDocument(f"{path.name}: {n:,} chunks, over the limit of {cap}")
    except UnreadableDocument as exc:
        return str(exc)
    except Exception as exc:  # a chunker bug on one odd file must not stop the others
        log.exception("chunking %s failed", path)
        return f"{path.name}: could not be chunked ({type(exc).__name__})"
    return doc


def _by_sha256(files: Sequence[ChunkedFile]) -> dict[str, DocumentChunks | str]:
    return {c.sha256: c.chunked for c in files if c.chunked is not None}


def _progress(files: list[Path], progress: bool, desc: str):
    from tqdm import tqdm

    return tqdm(files, desc=desc, unit="file") if progress else files


class Corpus:
    def __init__(
        self,
        home: Path,
        folder: Path | None,
        max_chars: int = 400,
        limits: ReadLimits = DEFAULT_LIMITS,
        max_chunks_per_document: int = 3000,
        max_chunks_per_add: int = 10000,
    ):
        self.home, self.folder = Path(home).resolve(), (Path(folder).resolve() if folder else None)
        self.max_chars, self.limits = max_chars, limits
        self.max_chunks_per_document, self.max_chunks_per_add = max_chunks_per_document, max_chunks_per_add
        self.documents_dir = self.home / "documents"
        self.registry_path, self.store_path = self.home / "documents.json", self.home / "chunks.jsonl"
        self.home.mkdir(parents=True, exist_ok=True)
        self._state = _State({}, set(), {})
        self.reload()

    def documents(self) -> list[DocumentRecord]:
        records = self._state.records  # one state throughout, even if a writer thread swaps in another
        return [records[name] for name in sorted(records)]

    def chunks(self) -> list[Chunk]:
        chunks = self._state.chunks
        return [c for name in sorted(chunks) for c in chunks[name]]

    @property
    def chunk_count(self) -> int:
        return sum(map(len, self._state.chunks.values()))

    def reload(self) -> None:
        """Read what is on disk (another process may have changed it); repair it under the lock if damaged."""
        try:
            self._state = self._read_chunks(*self._read_registry())
        except _Damaged:
            with self._writing():
                pass

    def sync_folder(self, progress: bool = False, chunked: Sequence[ChunkedFile] = ()) -> CorpusReport:
        """The folder's new and changed files (re)chunked, those gone from it dropped; added ones stay.
        `chunked`: files of the folder already chunked elsewhere (see `add_chunked`)."""
        report = CorpusReport()
        with self._writing() as state:
            self._sync(state, report, progress, _by_sha256(chunked))
            if report.added or report.updated or report.removed:
                self._save(state)
        return self._finish(report)

    def add(self, paths, source: str = "added", added_by: str | None = None, progress=False) -> CorpusReport:
        """Copy report files (or those in folders) into the corpus. Each is read and chunked in a staging
        folder first; only those that succeed within the caps are stored and registered."""
        return self._add([Path(p) for p in paths], {}, source, added_by, progress)

    def add_chunked(
        self, files: Sequence[ChunkedFile], source: str = "added", added_by: str | None = None, progress=False
    ) -> CorpusReport:
        """`add` for files already read and chunked elsewhere (by `rag.distributed`, on a Ray cluster), with
        the same naming, caps and locking. A file whose bytes changed since, or that is given another name
        here (a name clash), is chunked again here."""
        return self._add([c.path for c in files], _by_sha256(files), source, added_by, progress)

    def _add(self, paths: list[Path], chunked, source, added_by, progress) -> CorpusReport:
        if source not in ("added", "upload"):
            raise ValueError(f"source must be 'added' or 'upload', not {source!r}")
        report = CorpusReport()
        files = _report_files(paths, report)
        with self._writing() as state:
            staging = Path(tempfile.mkdtemp(dir=self.home, prefix=".staging-"))
            try:
                admitted = self._stage(files, staging, state, (source, added_by, chunked), report, progress)
                total = sum(r.chunks for _, r in admitted)
                if total > self.max_chunks_per_add:
                    cap = f"{self.max_chunks_per_add:,} chunks per upload (RAG_MAX_CHUNKS_PER_UPLOAD)"
                    why = f"{total:,} chunks in this upload, over the limit of {cap}"
                    report.skipped += [(s.name, f"{s.name}: not added, {why}") for s, _ in admitted]
                    report.notes = [note for note in report.notes if "stored as" not in note]
                elif admitted:
                    self.documents_dir.mkdir(exist_ok=True)
                    for staged, record in admitted:
                        os.replace(staged, record.path)
                        report.added.append(record)
                    self._save(state)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        return self._finish(report)

    def remove(self, name_or_id: str) -> DocumentRecord:
        """Drop a document; one from the folder gets a tombstone so that a re-scan does not bring it back."""
        with self._writing() as state:
            by_id = (r for r in state.records.values() if r.id == name_or_id)
            record = state.records.get(name_or_id) or next(by_id, None)
            if record is None:
                raise KeyError(f"no document named {name_or_id!r} or with that id in the corpus")
            state.drop(record.doc)
            if record.source == "folder":
                state.tombstones.add(record.sha256)
            self._save(state)
            if record.source != "folder":
                record.path.unlink(missing_ok=True)
        return record

    @contextmanager
    def _writing(self) -> Iterator[_State]:
        """Under the lock: the state on disk (repaired if need be), to change and `_save`. What a crashed
        writer left (staging folders, temp files, stored files never registered) is removed first."""
        with open(self.home / ".corpus.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
            self._state = self._read_or_repair()
            kept = {r.path for r in self._state.records.values()}
            leftovers = [*self.home.glob(".staging-*"), *self.home.glob(".chunks.jsonl-*.tmp"),
                         *self.home.glob(".documents.json-*.tmp"), *self.documents_dir.glob("*")]  # fmt: skip
            for leftover in leftovers:
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                elif leftover not in kept:
                    leftover.unlink()
            yield self._state.copy()

    def _stage(self, files, staging, state, how, report, progress) -> list[tuple[Path, DocumentRecord]]:
        """Each file copied into `staging` and chunked into `state`, unless its content is already there;
        how: (source, added_by, chunked elsewhere by sha256)."""
        (source, added_by, chunked), admitted = how, []
        for i, path in enumerate(_progress(files, progress, "add")):
            staged = staging / str(i) / path.name
            try:
                if (n := path.stat().st_size) > self.limits.max_file_bytes:  # not even copied
                    why = f"file is {size(n)}, over the {size(self.limits.max_file_bytes)} limit for a file"
                    report.skipped.append((path.name, f"{path.name}: {why}"))
                    continue
                staged.parent.mkdir()
                data = shutil.copyfile(path, staged).read_bytes()
            except OSError as exc:
                report.skipped.append(_cannot_read(path.name, exc))
                continue
            sha = _sha256(data)
            if twin := state.with_sha(sha):
                report.unchanged.append(twin)
                report.notes.append(f"{path.name}: same content as {twin.doc}, not added again")
                continue
            name = state.free_name(path.name, sha)
            if record := self._admit(
                state, staged, name, data, (source, _iso(), added_by), report, self.documents_dir, chunked
            ):
                state.tombstones.discard(sha)
                admitted.append((staged, record))
                if name != path.name:
                    report.notes.append(f"{path.name}: another document has that name, stored as {name}")
        return admitted

    def _sync(self, state: _State, report: CorpusReport, progress: bool = False, chunked=None) -> None:
        known = {r.path: r for r in state.records.values() if r.source == "folder"}
        if self.folder is not None and not self.folder.is_dir():
            report.skipped.append((self.folder.name, f"{self.folder}: no such folder"))
        for path in _progress(_report_files([self.folder] if self.folder else []), progress, "sync"):
            try:
                data = path.read_bytes()
            except OSError as exc:
                report.skipped.append(_cannot_read(path.name, exc))
                continue
            old, sha = known.pop(path, None), _sha256(data)
            if old and old.sha256 == sha:
                report.unchanged.append(old)
                continue
            if old:
                state.drop(old.doc)
            name, record = old.doc if old else state.free_name(path.name, sha), None
            if twin := state.with_sha(sha):
                report.notes.append(f"{path.name}: same content as {twin.doc}, already in the corpus")
            elif sha not in state.tombstones:
                record = self._admit(state, path, name, data, ("folder", _iso(), None), report, None, chunked)
            if record:
                (report.updated if old else report.added).append(record)
                if name != path.name:
                    report.notes.append(f"{path.name}: another document has that name, named {name}")
            elif old:
                report.removed.append(old)
        for old in known.values():  # gone from the folder, or unreadable now
            state.drop(old.doc)
            report.removed.append(old)

    def _admit(
        self, state, path, name, data, origin, report, stored_in=None, chunked=None
    ) -> DocumentRecord | None:
        """Read and chunk `path` as document `name` into `state` (or take what `chunked`, by sha256, holds
        for its bytes under that name); origin: (source, added_at, added_by). Its record, or None with the
        reason in `report`."""
        sha = _sha256(data)
        doc = (chunked or {}).get(sha)
        if doc is None or (isinstance(doc, DocumentChunks) and doc.doc != name):
            doc = chunk_file(path, name, self.max_chars, self.limits, self.max_chunks_per_document)
        if isinstance(doc, str):
            report.skipped.append((path.name, doc))
            return None
        place, first = doc.place, doc.chunks[0]  # place: a Place (once a str)
        chain, level = getattr(place, "chain", first.place_chain), getattr(place, "level", first.level)
        record = DocumentRecord(
            doc=name, id=sha[:12], title=doc.title, place=getattr(place, "name", place),
            place_chain=list(chain), level=level, report_year=doc.report_year,
            sections=len({c.section for c in doc.chunks}), chunks=len(doc.chunks), source=origin[0],
            added_at=origin[1], added_by=origin[2], path=stored_in / name if stored_in else path,
            size=len(data), sha256=sha,
        )  # fmt: skip
        state.records[name], state.chunks[name] = record, doc.chunks
        return record

    def _save(self, state: _State) -> None:
        """Chunk store first, then the registry with its checksum: a crash in between reads as a mismatch."""
        data = "".join(
            c.model_dump_json() + "\n" for name in sorted(state.chunks) for c in state.chunks[name]
        )
        _write_atomic(self.store_path, data.encode("utf-8"))
        relative = lambda p: str(p.relative_to(self.home) if p.is_relative_to(self.home) else p)  # noqa: E731
        documents = [{**asdict(r), "path": relative(r.path)} for _, r in sorted(state.records.items())]
        registry = {"chunks_sha256": _sha256(data.encode("utf-8")), "tombstones": sorted(state.tombstones)}
        registry_json = json.dumps({**registry, "documents": documents}, ensure_ascii=False, indent=1)
        _write_atomic(self.registry_path, registry_json.encode("utf-8"))
        self._state = state.copy()

    def _finish(self, report: CorpusReport) -> CorpusReport:
        report.documents, report.chunks = len(self._state.records), self.chunk_count
        return report

    def _read_registry(self) -> tuple[dict[str, DocumentRecord], set[str], str]:
        if not self.registry_path.exists():
            return {}, set(), _sha256(b"")
        try:  # pydantic's ValidationError is a ValueError
            registry = json.loads(self.registry_path.read_text(encoding="utf-8"))
            records = _RECORDS.validate_python(registry["documents"])
            tombstones, checksum = set(registry["tombstones"]), str(registry["chunks_sha256"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            why = f"{type(exc).__name__}: {' '.join(str(exc).splitlines()[:2])}"
            raise _RegistryDamaged(f"documents.json is not a valid registry ({why})") from exc
        return {r.doc: replace(r, path=self.home / r.path) for r in records}, tombstones, checksum

    def _read_chunks(self, records: dict[str, DocumentRecord], tombstones: set[str], checksum: str) -> _State:
        data = self.store_path.read_bytes() if records and self.store_path.exists() else b""
        chunks: dict[str, list[Chunk]] = {name: [] for name in records}
        lines = data.decode("utf-8", "replace").split("\n")[:-1]  # not splitlines(): U+2028 may be in a chunk
        if data and not data.endswith(b"\n"):
            raise _Damaged(f"chunks.jsonl line {len(lines) + 1} is cut off (no line end)")
        for n, line in enumerate(lines, start=1):
            try:
                chunk = Chunk.model_validate_json(line)
            except ValidationError as exc:
                what = "not valid JSON" if exc.errors()[0]["type"] == "json_invalid" else "not a chunk"
                raise _Damaged(f"chunks.jsonl line {n} is {what}") from exc
            if chunk.doc not in chunks:
                raise _Damaged(f"chunks.jsonl line {n} is a chunk of {chunk.doc}, not in documents.json")
            chunks[chunk.doc].append(chunk)
        expected = sum(r.chunks for r in records.values())
        if _sha256(data) != checksum or len(lines) != expected:
            raise _Damaged(
                f"chunks.jsonl ({len(lines)} chunks, {expected} expected) does not match its checksum"
            )
        return _State(records, tombstones, chunks)

    def _read_or_repair(self) -> _State:
        """Under the lock: the state on disk or, when it is damaged, the state rebuilt and saved."""
        report, state, registry_lost = CorpusReport(), _State({}, set(), {}), False
        try:
            records, state.tombstones, checksum = self._read_registry()
            return self._read_chunks(records, state.tombstones, checksum)
        except _RegistryDamaged as exc:
            lost = "who added each document and when is lost, and folder files the user removed come back"
            log.warning("%s; rebuilding it from %s and %s: %s", exc, self.folder, self.documents_dir, lost)
            files = _report_files([self.documents_dir])
            entries = [(p, p.name, ("added", _iso(p.stat().st_mtime), None)) for p in files]
            registry_lost = True
        except _Damaged as exc:
            log.warning("%s; rebuilding the chunk store from the documents' files", exc)
            entries = [(r.path, r.doc, (r.source, r.added_at, r.added_by)) for r in records.values()]
        for path, name, origin in entries:
            try:
                self._admit(state, path, name, path.read_bytes(), origin, report)
            except OSError as exc:
                report.skipped.append(_cannot_read(f"{name} ({path})", exc))
        if registry_lost:
            self._sync(state, report)
        for _, why in report.skipped:
            log.warning("dropped from the corpus: %s", why)
        self._save(state)
        return self._state
