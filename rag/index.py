"""The persisted vector index: chunk ids and L2-normalised vectors in a FAISS `IndexFlatIP` (exact cosine;
the corpus is about a thousand chunks).

FAISS directly, not llama-index's FaissVectorStore: chunks, ids and metadata live in our own chunk store, and
the vector store would add a second id mapping and a docstore to keep in sync, for the same IndexFlatIP search.
What we need on top of FAISS (an embedding cache, atomic swaps, a model check) it does not give.

Layout of `index_dir`:
    ids.json        {"chunk_ids": [...], "clean_sha1": [...]}   row i of the vectors is chunk_ids[i]
    vectors.npy     float32 (count, dim), the embedding cache
    faiss.index     IndexFlatIP over the same vectors
    manifest.json   {"format", "embed_model", "dim", "count", "created"}: written last; no manifest, no index

A build writes a fresh sibling folder (`.index.building-*`), fsyncs it, then swaps it in (old folder renamed
to `.index.old`, new one renamed in, old deleted): a crash leaves the previous index loadable, and a half-written
folder is never loaded. Vectors are cached by a hash of the text embedded (`Chunk.clean`), so an update
embeds only new or changed texts; builds are serialised by a lock file (`.index.lock`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

from ingest.types import Chunk
from rag.embed import embed_model_id
from rag.errors import IndexModelMismatch  # noqa: F401  (re-exported)

try:
    import fcntl
except ImportError:  # Windows: builds in two processes at once are not serialised
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "manifest.json"


class VectorIndex:
    def __init__(self, chunk_ids: list[str], vectors: np.ndarray, embed_model_id: str, clean_sha1: list[str]):
        self.chunk_ids = chunk_ids
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.embed_model_id = embed_model_id
        self.clean_sha1 = clean_sha1
        self.dim = int(self.vectors.shape[1])
        self.faiss = faiss.IndexFlatIP(self.dim)
        self.faiss.add(self.vectors)
        self._row = {cid: i for i, cid in enumerate(chunk_ids)}

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def vector(self, chunk_id: str) -> np.ndarray:
        return self.vectors[self._row[chunk_id]]

    def search(self, query_vec: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The k nearest chunks as (chunk id, cosine), best first."""
        if k <= 0 or not self.chunk_ids:
            return []
        q = np.asarray(query_vec, dtype=np.float32).reshape(1, -1)
        if q.shape[1] != self.dim:
            raise ValueError(f"query vector has {q.shape[1]} dimensions, the index {self.dim}")
        scores, rows = self.faiss.search(_normalise(q), min(k, len(self.chunk_ids)))
        return [(self.chunk_ids[r], float(s)) for s, r in zip(scores[0], rows[0], strict=True) if r >= 0]


def load(index_dir: Path, embed_model_id: str) -> VectorIndex | None:
    """The complete index at `index_dir`, or None when there is none (or it is damaged: it will be rebuilt)."""
    folder = _complete_folder(Path(index_dir))
    if folder is None:
        return None
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        built_with = manifest["embed_model"]
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring the index at %s: unreadable manifest (%s)", folder, exc)
        return None
    if built_with != embed_model_id:
        raise IndexModelMismatch(
            f"the index at {index_dir} was built with model {built_with!r}, but RAG_EMBED_MODEL gives "
            f"{embed_model_id!r}; run `rag ingest` to re-embed every chunk with the new model (a build never mixes "
            "models), or set RAG_EMBED_MODEL back to the old one"
        )
    try:
        ids = json.loads((folder / "ids.json").read_text())
        vectors = np.load(folder / "vectors.npy")
        stored = faiss.read_index(str(folder / "faiss.index"))
        count, dim = manifest["count"], manifest["dim"]
        consistent = (
            manifest.get("format") == FORMAT
            and len(ids["chunk_ids"]) == len(ids["clean_sha1"]) == count == stored.ntotal
            and vectors.shape == (count, dim)
            and stored.d == dim
        )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        consistent, ids, vectors = False, {}, None
        log.debug("reading %s: %s", folder, exc)
    if not consistent:
        log.warning("ignoring the index at %s: its files are missing or inconsistent", folder)
        return None
    return VectorIndex(ids["chunk_ids"], vectors, built_with, ids["clean_sha1"])


def build_or_update(chunks: list[Chunk], embed_model, index_dir: Path, progress: bool = False) -> VectorIndex:
    """The index of exactly `chunks` (in their order), embedding only texts the stored index lacks; written
    atomically. A stored index built with another model is rebuilt from scratch, never mixed."""
    index_dir = Path(index_dir)
    model_id = embed_model_id(embed_model)
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(index_dir):
        _recover(index_dir)
        try:
            previous = load(index_dir, model_id)
        except IndexModelMismatch as exc:
            log.warning("%s. Rebuilding: every chunk is embedded again with %s", exc, model_id)
            previous = None
        ids = [c.id for c in chunks]
        hashes = [hashlib.sha1(c.clean.encode()).hexdigest() for c in chunks]
        if previous is not None and previous.chunk_ids == ids and previous.clean_sha1 == hashes:
            return previous
        tmp = Path(tempfile.mkdtemp(prefix=f".{index_dir.name}.building-", dir=index_dir.parent))
        try:
            vectors = _embed(chunks, hashes, embed_model, previous, progress)
            index = VectorIndex(ids, vectors, model_id, hashes)
            _write(tmp, index)
            _swap(tmp, index_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return index


def _embed(chunks: list[Chunk], hashes: list[str], embed_model, previous, progress: bool) -> np.ndarray:
    cache: dict[str, np.ndarray] = (
        dict(zip(previous.clean_sha1, previous.vectors, strict=True)) if previous else {}
    )
    todo: dict[str, str] = {}  # text hash -> text, each distinct text once
    for chunk, h in zip(chunks, hashes, strict=True):
        if h not in cache:
            todo.setdefault(h, chunk.clean)
    log.info("embedding %d of %d chunks (%d cached)", len(todo), len(chunks), len(chunks) - len(todo))
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="embedding", unit="chunk")
    batch_size = max(1, int(embed_model.embed_batch_size))
    pending = list(todo.items())
    for start in range(0, len(pending), batch_size):
        batch = pending[start : start + batch_size]
        embedded = embed_model.get_text_embedding_batch([text for _, text in batch])
        for (h, _), vec in zip(batch, embedded, strict=True):
            cache[h] = _normalise(np.asarray(vec, dtype=np.float32))
        if bar is not None:
            bar.update(len(batch))
    if bar is not None:
        bar.close()
    if not chunks:
        return np.zeros((0, previous.dim if previous else 0), dtype=np.float32)
    return np.stack([cache[h] for h in hashes])


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def _write(folder: Path, index: VectorIndex) -> None:
    ids = {"chunk_ids": index.chunk_ids, "clean_sha1": index.clean_sha1}
    _write_file(folder / "ids.json", json.dumps(ids).encode())
    buffer = io.BytesIO()
    np.save(buffer, index.vectors)
    _write_file(folder / "vectors.npy", buffer.getvalue())
    _write_file(folder / "faiss.index", faiss.serialize_index(index.faiss).tobytes())
    manifest = {
        "format": FORMAT,
        "embed_model": index.embed_model_id,
        "dim": index.dim,
        "count": len(index),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    _write_file(folder / MANIFEST, json.dumps(manifest, indent=1).encode())  # last: marks the folder complete
    _fsync_dir(folder)


def _swap(new: Path, index_dir: Path) -> None:
    old = _old(index_dir)
    _discard(old)
    if index_dir.exists():
        os.replace(index_dir, old)
    os.replace(new, index_dir)
    _fsync_dir(index_dir.parent)
    _discard(old)


def _recover(index_dir: Path) -> None:
    """Under the build lock: restore the previous index if a crash hit between the two renames of a swap,
    and delete what crashed builds left behind."""
    old = _old(index_dir)
    if not (index_dir / MANIFEST).exists() and (old / MANIFEST).exists():
        log.warning("restoring the index at %s left aside by an interrupted build", index_dir)
        _discard(index_dir)
        os.replace(old, index_dir)
    _discard(old)
    for leftover in index_dir.parent.glob(f".{index_dir.name}.building-*"):
        log.info("removing %s, left by an interrupted build", leftover)
        shutil.rmtree(leftover, ignore_errors=True)


def _complete_folder(index_dir: Path) -> Path | None:
    for folder in (index_dir, _old(index_dir)):  # the old one only exists mid-swap, or after a crash there
        if (folder / MANIFEST).is_file():
            return folder
    return None


def _old(index_dir: Path) -> Path:
    return index_dir.with_name(f".{index_dir.name}.old")


def _discard(folder: Path) -> None:
    """Delete a folder, its manifest first, so that a half-deleted folder never looks complete."""
    (folder / MANIFEST).unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not possible on every platform (Windows)
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _build_lock(index_dir: Path) -> Iterator[None]:
    with open(index_dir.parent / f".{index_dir.name}.lock", "a") as fh:
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        yield
