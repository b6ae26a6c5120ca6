"""Peers for `rag eval --baselines`, on equal terms with ours: the same cleaned text, the same embedding
model, the same number of chunks handed to the same extractive answerer, and none of our question
understanding beyond what that answerer itself does (no scope filter, no scope refusal, no rerank).

- bm25: BM25 on jieba tokens alone.
- dense: the best statement cosine alone.
- naive-llama-index: llama-index's default `SentenceSplitter` and an in-memory `VectorStoreIndex` over the
  cleaned text of each document, with the same embedder; its top nodes become chunks for the answerer.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ingest.types import Chunk
from rag.answer import compose
from rag.embed import llama_index_embedding
from rag.query import parse_query
from rag.types import Answer, ScoredChunk

System = Callable[[str], tuple[Answer, list[tuple[str, str]]]]


class Baselines:
    def __init__(self, rag, context: int):
        self.rag = rag
        self.context = context
        self._naive = None

    def systems(self) -> dict[str, System]:
        return {"bm25": self._plain("bm25"), "dense": self._plain("dense"), "naive-llama-index": self._llama}

    def _plain(self, mode: str) -> System:
        def run(question: str) -> tuple[Answer, list[tuple[str, str]]]:
            started = time.perf_counter()
            retrieval = self.rag.retrieve(question, self.context, mode=mode)
            answer = compose(retrieval, self.rag.snapshot.profile, started, scope=False)
            return answer, [(s.chunk.doc, s.chunk.text) for s in retrieval.ranked]

        return run

    def _build_naive(self):
        from llama_index.core import Document, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter

        texts: dict[str, list[str]] = {}
        for chunk in self.rag.chunks:
            texts.setdefault(chunk.doc, []).append(chunk.clean)
        documents = [
            Document(text="\n".join(parts), metadata={"doc": doc}, id_=doc) for doc, parts in texts.items()
        ]
        nodes = SentenceSplitter().get_nodes_from_documents(documents)
        return VectorStoreIndex(
            nodes, embed_model=llama_index_embedding(self.rag.embed_model), show_progress=True
        )

    def _llama(self, question: str) -> tuple[Answer, list[tuple[str, str]]]:
        if self._naive is None:
            self._naive = self._build_naive()
        started = time.perf_counter()
        ranked = []
        for hit in self._naive.as_retriever(similarity_top_k=self.context).retrieve(question):
            doc, text = hit.node.metadata["doc"], hit.node.get_content()
            chunk = Chunk(id=Chunk.make_id(doc, text), doc=doc, title=doc, place=None, report_year=None, section="",
                          section_year=None, kind="other", start_line=1, end_line=1, text=text, clean=text)  # fmt: skip
            ranked.append(ScoredChunk(chunk=chunk, score=float(hit.score or 0.0)))
        snapshot = self.rag.snapshot
        query = parse_query(question, snapshot.profile, snapshot.retriever.bm25)
        retrieval = snapshot.retriever.answer_context(query, ranked)
        answer = compose(retrieval, self.rag.snapshot.profile, started, scope=False)
        return answer, [(s.chunk.doc, s.chunk.text) for s in ranked]
