"""One searchable state of the corpus: its chunks, their statements, the statement vectors computed so far,
BM25, the dense index and the corpus profile, built together and never changed afterwards (a new document
makes a new snapshot, swapped in whole).

What is embedded is decided here, once, for the local build, the background worker and Ray alike:
`embed_texts(chunk)` gives the text of each statement of a chunk as the model sees it: the statement with
its subject. (Prefixing each with its section's name cost 34% more tokens, and the section's year and kind
are features of their own in `rag.evidence`.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.text import Statement, split_statements
from ingest.types import Chunk
from rag.index import DenseIndex, VectorStore, text_key
from rag.lexical import BM25Index, add_words, coined_terms, tokenize
from rag.retrieve import Retriever
from rag.scope import CorpusProfile


def statements(chunk: Chunk) -> tuple[Statement, ...]:
    return split_statements(chunk.text)


def embed_texts(chunk: Chunk) -> list[str]:
    """The text embedded for each statement of `chunk`, in order."""
    return [s.with_subject for s in statements(chunk)]


def all_embed_texts(chunks: list[Chunk]) -> list[str]:
    return [t for c in chunks for t in embed_texts(c)]


@dataclass(frozen=True)
class Snapshot:
    chunks: list[Chunk]
    retriever: Retriever
    profile: CorpusProfile
    embedded: int  # statements with a vector
    statements: int  # statements in all

    @property
    def hybrid(self) -> bool:
        return self.embedded == self.statements


def build_snapshot(chunks: list[Chunk], store: VectorStore | None, embed_query=None) -> Snapshot:
    """The snapshot of `chunks` with whatever vectors `store` holds now."""
    add_words(coined_terms(c.clean for c in chunks))
    bm25 = BM25Index([tokenize(f"{c.section}\n{c.clean}") for c in chunks])
    per_chunk = [statements(c) for c in chunks]
    texts = [embed_texts(c) for c in chunks]
    keys = [text_key(t) for ts in texts for t in ts]
    rows: list[list[int]] = []
    dense = None
    embedded = 0
    if store is not None and keys:
        vectors, found = store.get(keys)
        embedded = int(found.sum())
        matrix_rows = np.cumsum(found) - 1
        if embedded:
            dense = DenseIndex(np.ascontiguousarray(vectors[found]))
        flat = 0
        for ts in texts:
            rows.append([int(matrix_rows[flat + j]) if found[flat + j] else -1 for j in range(len(ts))])
            flat += len(ts)
    else:
        rows = [[-1] * len(ts) for ts in texts]
    retriever = Retriever(chunks, bm25, per_chunk, rows, dense, embed_query)
    return Snapshot(chunks, retriever, CorpusProfile.from_chunks(chunks), embedded, len(keys))
