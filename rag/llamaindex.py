"""The pipeline's retrieval as a llama-index `BaseRetriever`, to plug into llama-index query engines.

    from llama_index.core.query_engine import RetrieverQueryEngine
    retriever = ReportRetriever(rag, similarity_top_k=5)           # rag: a loaded `rag.service.RAG`
    engine = RetrieverQueryEngine.from_args(retriever, llm=llm)    # any llama-index LLM, e.g. OpenAILike

A thin wrapper over `RAG.retrieve`: the same ranking (hybrid, chunks in the question's district/year scope
before all others), each `ScoredChunk` returned as a `NodeWithScore` whose `TextNode` is the chunk: its id as
node id, its original text as text, its provenance as metadata (`chunk_node`). docs/llamaindex.md has the
whole example.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeRelationship, NodeWithScore, QueryBundle, RelatedNodeInfo, TextNode

from ingest.types import Chunk

if TYPE_CHECKING:
    from rag.service import RAG

# provenance kept on every node but not shown to an LLM (the section path, place and years are)
NOT_FOR_LLM = ["doc", "place_chain", "level", "start_line", "end_line"]


def chunk_node(chunk: Chunk, in_scope: bool = True) -> TextNode:
    """`chunk` as a llama-index node: id, original text and provenance; `in_scope` as retrieval judged it."""
    return TextNode(
        id_=chunk.id,
        text=chunk.text,
        metadata={
            "doc": chunk.doc,
            "title": chunk.title,
            "place": chunk.place,
            "place_chain": list(chunk.place_chain),
            "level": chunk.level,
            "report_year": chunk.report_year,
            "section": chunk.section,
            "section_year": chunk.section_year,
            "kind": chunk.kind,
            "start_line": chunk.start_line,
            "end_line": chunk.end_line,
            "in_scope": in_scope,
        },
        excluded_llm_metadata_keys=NOT_FOR_LLM,
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=chunk.doc)},
    )


class ReportRetriever(BaseRetriever):
    """`RAG.retrieve` as a llama-index retriever.

    similarity_top_k: chunks returned (default: the settings' `top_k`).
    in_scope_only: return only the chunks in the question's scope (its districts and years); by default
        out-of-scope chunks follow the in-scope ones, as in the pipeline's own ranking, marked
        `metadata["in_scope"] = False`.
    """

    def __init__(
        self, rag: RAG, similarity_top_k: int | None = None, in_scope_only: bool = False, **kwargs
    ) -> None:
        super().__init__(**kwargs)  # callback_manager, verbose… as any BaseRetriever
        self.rag = rag
        self.similarity_top_k = similarity_top_k or rag.settings.top_k
        self.in_scope_only = in_scope_only

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        retrieval = self.rag.retrieve(query_bundle.query_str, self.similarity_top_k)
        return [
            NodeWithScore(node=chunk_node(sc.chunk, sc.in_scope), score=sc.score)
            for sc in retrieval.ranked
            if sc.in_scope or not self.in_scope_only
        ]
