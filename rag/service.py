"""RAG: the loaded pipeline (chunks + vector index + retriever + answerer) shared by the CLI, `/ask` and
`rag eval`.

    rag = RAG.open(settings, progress=True)   # ingest the corpus, build or load the persisted index
    rag.retrieve(question, top_k, mode="hybrid"|"bm25"|"dense") -> list[ScoredChunk]
    rag.ask(question, top_k) -> Answer          # retrieval + answer (LLM when configured, else extractive)
    rag.add_files(paths) -> IngestReport        # copy files into RAG_HOME/uploads and ingest them
    rag.health() -> dict

The corpus is `settings.corpus` plus the files uploaded into `RAG_HOME/uploads`. Every method is safe to
call from several threads: reads use an immutable snapshot; `add_files` swaps in a new one under a lock.
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.pipeline import IngestReport, ingest_paths
from rag.answer import compose
from rag.config import Settings
from rag.retrieve import Retriever
from rag.types import Answer, ScoredChunk

ANSWER_CONTEXT = 10  # chunks the answerer may quote from (the response lists top_k of them)


@dataclass(frozen=True)
class _Snapshot:
    retriever: Retriever
    report: IngestReport


class RAG:
    def __init__(self, settings: Settings, embed_model, snapshot: _Snapshot):
        self.settings = settings
        self.embed_model = embed_model
        self._snapshot = snapshot
        self._write_lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings, progress: bool = False) -> RAG:
        from rag.embed import get_embed_model

        embed_model = get_embed_model(settings.embed_model, settings.embed_threads)
        return cls(settings, embed_model, cls._build(settings, embed_model, progress))

    @property
    def uploads_dir(self) -> Path:
        return self.settings.uploads_dir

    @property
    def chunks(self):
        return self._snapshot.retriever.chunks

    @property
    def report(self) -> IngestReport:
        return self._snapshot.report

    @staticmethod
    def _build(settings: Settings, embed_model, progress: bool) -> _Snapshot:
        from rag.index import build_or_update

        report = ingest_paths(settings.corpus_paths, settings.chunk_store, settings.chunk_max_chars, progress)
        index = build_or_update(report.chunks, embed_model, settings.index_dir, progress=progress)
        matrix = np.stack([index.vector(c.id) for c in report.chunks]) if report.chunks else np.zeros((0, 1))

        def dense_scores(query: str) -> np.ndarray:
            return matrix @ np.asarray(embed_model.get_query_embedding(query), dtype=np.float32)

        cross_encoder = None
        if settings.cross_encoder:
            from sentence_transformers import CrossEncoder

            cross_encoder = CrossEncoder(settings.cross_encoder)
        return _Snapshot(Retriever(report.chunks, dense_scores, cross_encoder), report)

    def retrieve(self, question: str, top_k: int | None = None, mode: str = "hybrid") -> list[ScoredChunk]:
        return self._snapshot.retriever.retrieve(question, top_k or self.settings.top_k, mode)

    def ask(self, question: str, top_k: int | None = None) -> Answer:
        started = time.perf_counter()
        top_k = top_k or self.settings.top_k
        retrieved = self.retrieve(question, max(top_k, ANSWER_CONTEXT))
        answer = compose(question, retrieved, started)
        if self.settings.llm_enabled:
            from rag.llm import llm_answer

            answer = llm_answer(question, retrieved, self.settings, answer)
        # the top_k sources, plus any cited chunk ranked below them
        cited = [
            r
            for r in answer.retrieved[top_k:]
            if any(c.doc == r.doc and c.start_line == r.start_line for c in answer.citations)
        ]
        answer.retrieved = answer.retrieved[:top_k] + cited
        answer.latency_ms = round((time.perf_counter() - started) * 1000, 1)
        return answer

    def add_files(self, paths: list[Path], progress: bool = False) -> IngestReport:
        """Copy report files into the uploads folder and re-index; unreadable files are reported, and
        removed again, so the index stays as it was for them."""
        with self._write_lock:
            self.uploads_dir.mkdir(parents=True, exist_ok=True)
            copied = []
            for path in paths:
                target = self.uploads_dir / Path(path).name
                shutil.copyfile(path, target)
                copied.append(target)
            snapshot = self._build(self.settings, self.embed_model, progress)
            bad = {name for name, _ in snapshot.report.skipped}
            for target in copied:
                if target.name in bad:
                    target.unlink(missing_ok=True)
            self._snapshot = snapshot
            return snapshot.report

    def health(self) -> dict:
        from rag.embed import embed_model_id

        report = self._snapshot.report
        return {
            "status": "ok",
            "documents": len(report.documents),
            "chunks": len(report.chunks),
            "embed_model": embed_model_id(self.embed_model),
            "llm": self.settings.llm_model if self.settings.llm_enabled else None,
        }
