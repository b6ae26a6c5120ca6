"""The persisted vector index: chunk ids + normalised vectors in FAISS (`IndexFlatIP`, exact cosine).

FAISS directly rather than llama-index's FaissVectorStore: our chunks, ids and metadata live in our own
chunk store, and the vector store would only add a second id mapping and docstore to keep in sync.

Layout under `index_dir`: vectors.npy, ids.json, meta.json (embed model id, dim, count), faiss.index and
a COMPLETE marker written last. A build writes a fresh sibling folder and swaps it in, so a crash mid-build
leaves the previous index served, and a folder without COMPLETE is never loaded. Vectors are cached by chunk
id (a content hash): an update embeds only new chunks.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from rag.embed import embed_model_id
from rag.types import Chunk

BATCH = 16


class IndexModelMismatch(Exception):
    pass


class VectorIndex:
    def __init__(self, ids: list[str], vectors: np.ndarray, model_id: str):
        import faiss

        self.chunk_ids = ids
        self.vectors = vectors.astype(np.float32)
        self.embed_model_id = model_id
        self._row = {cid: i for i, cid in enumerate(ids)}
        self.faiss = faiss.IndexFlatIP(vectors.shape[1] if len(vectors) else 1)
        if len(vectors):
            self.faiss.add(self.vectors)

    def vector(self, chunk_id: str) -> np.ndarray:
        return self.vectors[self._row[chunk_id]]

    def search(self, query_vec: np.ndarray, k: int) -> list[tuple[str, float]]:
        scores, rows = self.faiss.search(np.asarray(query_vec, dtype=np.float32).reshape(1, -1), k)
        return [(self.chunk_ids[r], float(s)) for s, r in zip(scores[0], rows[0], strict=True) if r >= 0]


def load(index_dir: Path, model_id: str) -> VectorIndex | None:
    if not (index_dir / "COMPLETE").exists():
        return None
    meta = json.loads((index_dir / "meta.json").read_text())
    if meta["embed_model"] != model_id:
        raise IndexModelMismatch(
            f"the index at {index_dir} was built with {meta['embed_model']}, but RAG_EMBED_MODEL gives {model_id}; "
            "run `rag ingest` to rebuild it with the new model"
        )
    ids = json.loads((index_dir / "ids.json").read_text())
    return VectorIndex(ids, np.load(index_dir / "vectors.npy"), model_id)


def _write(index_dir: Path, index: VectorIndex) -> None:
    import faiss

    index_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=index_dir.parent, prefix=f".{index_dir.name}-building-"))
    np.save(tmp / "vectors.npy", index.vectors)
    (tmp / "ids.json").write_text(json.dumps(index.chunk_ids))
    meta = {"embed_model": index.embed_model_id, "dim": int(index.vectors.shape[1]) if len(index.vectors) else 0,
            "count": len(index.chunk_ids), "created": time.strftime("%Y-%m-%dT%H:%M:%S")}  # fmt: skip
    (tmp / "meta.json").write_text(json.dumps(meta))
    faiss.write_index(index.faiss, str(tmp / "faiss.index"))
    for f in tmp.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    (tmp / "COMPLETE").write_text("ok")
    old = index_dir.with_name(f".{index_dir.name}-old")
    shutil.rmtree(old, ignore_errors=True)
    if index_dir.exists():
        os.replace(index_dir, old)
    os.replace(tmp, index_dir)
    shutil.rmtree(old, ignore_errors=True)


def build_or_update(chunks: list[Chunk], embed_model, index_dir: Path, progress: bool = False) -> VectorIndex:
    """The index for exactly `chunks`, embedding only chunks the stored index lacks."""
    model_id = embed_model_id(embed_model)
    for leftover in index_dir.parent.glob(f".{index_dir.name}-building-*"):
        shutil.rmtree(leftover, ignore_errors=True)  # a crashed build
    try:
        previous = load(index_dir, model_id)
    except IndexModelMismatch as exc:
        print(f"{exc} — rebuilding")
        previous = None
    ids = [c.id for c in chunks]
    if previous is not None and previous.chunk_ids == ids:
        return previous
    known = {cid: previous.vector(cid) for cid in ids if previous is not None and cid in previous._row}
    todo = [c for c in chunks if c.id not in known]
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="embed", unit="chunk")
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        for c, v in zip(batch, embed_model.get_text_embedding_batch([c.clean for c in batch]), strict=True):
            known[c.id] = np.asarray(v, dtype=np.float32)
        if bar:
            bar.update(len(batch))
    if bar:
        bar.close()
    dim = len(next(iter(known.values()))) if known else 1
    vectors = np.stack([known[i] for i in ids]) if ids else np.zeros((0, dim), dtype=np.float32)
    index = VectorIndex(ids, vectors, model_id)
    _write(index_dir, index)
    return index
