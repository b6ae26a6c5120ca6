"""RAG: the loaded pipeline shared by the CLI, `/ask`, the chat and `rag eval`.

    rag = RAG.open(settings)                 # sync the corpus, embed what is missing, load the snapshot
    rag.ask(question, top_k) -> Answer       # retrieval + answer (LLM when configured, else extractive)
    rag.add(paths, source, added_by)         # documents into the managed corpus; answerable at once (BM25)
    rag.remove(name) / rag.documents() / rag.health()

The corpus (`rag.corpus.Corpus`) lives under RAG_HOME: the configured folder's reports plus the documents
added to it. Statement vectors live in a `rag.index.VectorStore` beside it. `open(background=False)` (CLI,
eval) embeds what is missing before answering, with all cores; `open(background=True)` (the server) answers at
once from BM25 and computes the vectors in another process, swapping in a hybrid snapshot as they land.
Every method is safe to call from several threads: questions read an immutable snapshot; writers hold a lock.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from rag.answer import compose
from rag.config import Settings
from rag.corpus import Corpus
from rag.query import parse_query
from rag.snapshot import Snapshot, all_embed_texts, build_snapshot
from rag.types import Answer

log = logging.getLogger(__name__)
ANSWER_CONTEXT = 10  # ranked chunks kept with an answer (the response lists top_k of them)
SWAP_EVERY_S = 3.0  # while vectors land in the background, a hybrid snapshot is swapped in this often


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _rival_documents(citations) -> str:
    """A warning when the answer cites two documents that claim the same place and year and one of them was
    added by a user: which one, by whom, when (uploads are trust decisions; neither silently wins)."""
    groups: dict = {}
    for c in citations:
        groups.setdefault((c.place, c.report_year), {})[c.doc] = c
    notes = []
    for (place, year), docs in groups.items():
        added = [c for c in docs.values() if c.source in ("added", "upload")]
        if len(docs) > 1 and added:
            who = "; ".join(f"{c.doc} (added by {c.added_by or 'unknown'} at {c.added_at})" for c in added)
            notes.append(
                f"注意:{len(docs)}份文件都自称是{place or ''}{year or ''}年的报告,其中用户添加的是 {who},"
                f"请核对。Two documents claim to be the {place or ''} {year or ''} report; added by a user: {who}."
            )
    return " ".join(notes)


class RAG:
    def __init__(self, settings: Settings, embed_model, corpus: Corpus, store, background: bool):
        self.settings = settings
        self.embed_model = embed_model
        self.corpus = corpus
        self.store = store
        self.background = background
        self._write_lock = threading.Lock()
        self._embedder = None
        self._last_swap = 0.0
        self._passages: dict = {}
        self._snapshot: Snapshot = self._build()

    @classmethod
    def open(cls, settings: Settings, progress: bool = False, background: bool = False) -> RAG:
        from ingest.readers import ReadLimits
        from rag.embed import embed_model_id, get_embed_model
        from rag.index import VectorStore

        embed_model = get_embed_model(settings.embed_model, settings.embed_threads)
        corpus = Corpus(
            settings.home,
            settings.corpus,
            settings.chunk_max_chars,
            ReadLimits(max_file_bytes=settings.max_upload_bytes),
            settings.max_chunks_per_document,
            settings.max_chunks_per_upload,
        )
        report = corpus.sync_folder(progress=progress)
        if progress and (report.added or report.updated or report.removed or report.skipped):
            print(report.summary(), flush=True)
        store = VectorStore(settings.vectors_dir, embed_model_id(embed_model))
        rag = cls(settings, embed_model, corpus, store, background)
        rag.embed(progress=progress)
        return rag

    def with_settings(self, settings: Settings) -> RAG:
        """The same corpus, index and snapshot answered with other settings (e.g. an LLM configured)."""
        other = object.__new__(RAG)
        other.__dict__.update(self.__dict__)
        other.settings = settings
        return other

    # ------------------------------------------------------------------ state
    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def chunks(self):
        return self._snapshot.chunks

    def _build(self) -> Snapshot:
        return build_snapshot(
            self.corpus.chunks(),
            self.store,
            self._embed_query,
            self.settings.home / "tokens.json",
            self._passage_vectors,
        )

    def _embed_query(self, text: str):
        return self.embed_model.get_query_embedding(text)

    def _passage_vectors(self, texts: list[str]):
        """Vectors of statements of passages outside the index (a peer's chunks): from the store where it has
        them (the same sentences are often there), else embedded here and remembered."""
        import numpy as np

        from rag.index import text_key

        vectors, found = self.store.get([text_key(t) for t in texts])
        for i in np.flatnonzero(~found):
            if texts[i] not in self._passages:
                self._passages[texts[i]] = np.asarray(
                    self.embed_model.get_text_embedding(texts[i]), dtype=np.float32
                )
            vectors[i] = self._passages[texts[i]]
        return vectors

    def embed(self, progress: bool = False) -> None:
        """Compute missing statement vectors: here with every core (CLI), or in a worker process (server)."""
        from rag.embed_worker import embed_missing
        from rag.index import text_key

        if self._snapshot.hybrid:  # every statement's vector is in the store (no statement cleaned again)
            return
        texts = all_embed_texts(self._snapshot.chunks)
        if not self.store.missing([text_key(t) for t in texts]):
            return
        if self.background:
            self._start_background(texts)
            return
        from rag.embed import get_embed_model

        builder = get_embed_model(self.settings.embed_model, self.settings.build_threads or _cores())
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(desc="embedding", unit="stmt")

        def report(done: int, total: int) -> None:
            if bar is not None:
                bar.total = total
                bar.n = done
                bar.refresh()

        embed_missing(texts, self.store, builder, progress=report)
        if bar is not None:
            bar.close()
        with self._write_lock:
            self._snapshot = self._build()

    def _start_background(self, texts: list[str]) -> None:
        from rag.embed_worker import BackgroundEmbedder

        if self._embedder is None:
            self._embedder = BackgroundEmbedder(
                self.store,
                self.settings.embed_model,
                self.settings.build_threads or _cores(),
                on_progress=self._vectors_landed,
            )
        self._embedder.start(texts)

    def _vectors_landed(self, done: int, total: int) -> None:
        """Called by the embedder as batches land: swap in a snapshot that uses them, at most every few
        seconds (a rebuild re-reads the store and rebuilds the dense index) and always at the end."""
        now = time.monotonic()
        if done < total and now - self._last_swap < SWAP_EVERY_S:
            return
        self._last_swap = now
        self.store.refresh()
        with self._write_lock:
            self._snapshot = self._build()

    # ------------------------------------------------------------------ asking
    def retrieve(self, question: str, top_k: int | None = None, mode: str = "hybrid"):
        snap = self._snapshot
        query = parse_query(question, snap.profile, snap.retriever.bm25)
        return snap.retriever.retrieve(query, top_k or self.settings.top_k, mode)

    def ask(self, question: str, top_k: int | None = None) -> Answer:
        started = time.perf_counter()
        top_k = top_k or self.settings.top_k
        snap = self._snapshot
        retrieval = self.retrieve(question, max(top_k, ANSWER_CONTEXT))
        answer = compose(retrieval, snap.profile, started)
        if self.settings.llm_enabled and answer.answerable:
            from rag.llm import llm_answer

            answer = llm_answer(question, retrieval.ranked, self.settings, answer)
        records = {d.doc: d for d in self.corpus.documents()} if answer.citations else {}
        for c in answer.citations:  # which document each claim rests on, and how it entered the corpus
            if (record := records.get(c.doc)) is not None:
                c.source, c.added_at, c.added_by = record.source, record.added_at, record.added_by
        rivals = _rival_documents(answer.citations)
        if rivals:
            answer.note = " ".join(filter(None, [answer.note, rivals]))
        cited = {(c.doc, c.start_line) for c in answer.citations}
        answer.retrieved = answer.retrieved[:top_k] + [
            r for r in answer.retrieved[top_k:] if (r.doc, r.start_line) in cited
        ]
        answer.latency_ms = round((time.perf_counter() - started) * 1000, 1)
        return answer

    # ------------------------------------------------------------------ corpus
    def add(
        self, paths: list[Path], source: str = "added", added_by: str | None = None, progress: bool = False
    ):
        """Add report files to the corpus; they are answerable (lexically) as soon as this returns."""
        with self._write_lock:
            report = self.corpus.add(paths, source=source, added_by=added_by, progress=progress)
            self._snapshot = self._build()
        self.embed(progress=progress)
        return report

    def remove(self, name: str):
        with self._write_lock:
            record = self.corpus.remove(name)
            self._snapshot = self._build()
        return record

    def documents(self):
        return self.corpus.documents()

    def health(self) -> dict:
        from rag.embed import embed_model_id

        snap = self._snapshot
        indexing = self._embedder.progress() if self._embedder is not None else None
        return {
            "status": "ok",
            "documents": len(self.corpus.documents()),
            "chunks": len(snap.chunks),
            "statements": snap.statements,
            "embedded": snap.embedded,
            "search": "hybrid" if snap.hybrid else "lexical (vectors being computed)",
            "indexing": indexing,
            "embed_model": embed_model_id(self.embed_model),
            "llm": self.settings.llm_model if self.settings.llm_enabled else None,
        }
