"""The naive llama-index baseline: default `SentenceSplitter`, the same embedder, an in-memory
`VectorStoreIndex`, top-k nodes as the answer context (converted to Chunks for the same answerer)."""

from __future__ import annotations

from pathlib import Path

from ingest.pipeline import find_files
from ingest.readers import UnreadableDocument, read_lines
from ingest.types import Chunk
from rag.types import ScoredChunk


class NaiveLlamaIndex:
    def __init__(self, corpus: Path, embed_model):
        from llama_index.core import Document, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter

        documents, self._texts = [], {}
        for path in find_files([corpus])[0]:
            try:
                text = "\n".join(read_lines(path))
            except UnreadableDocument:
                continue
            self._texts[path.name] = text
            documents.append(Document(text=text, metadata={"doc": path.name}, id_=path.name))
        nodes = SentenceSplitter().get_nodes_from_documents(documents)
        self._index = VectorStoreIndex(nodes, embed_model=embed_model, show_progress=True)

    def retrieve(self, question: str, top_k: int) -> list[ScoredChunk]:
        out = []
        for hit in self._index.as_retriever(similarity_top_k=top_k).retrieve(question):
            node, doc = hit.node, hit.node.metadata["doc"]
            text = node.get_content()
            full = self._texts[doc]
            start = node.start_char_idx if node.start_char_idx is not None else max(full.find(text), 0)
            first = full.count("\n", 0, start) + 1
            chunk = Chunk(id=Chunk.make_id(doc, text), doc=doc, title=doc, place=None, report_year=None, section="",
                          section_year=None, kind="other", start_line=first, end_line=first + text.count("\n"),
                          text=text, clean=text)  # fmt: skip
            out.append(ScoredChunk(chunk=chunk, score=float(hit.score or 0.0)))
        return out
