"""Hybrid retrieval: dense (multilingual embeddings in FAISS) + lexical (BM25 on jieba tokens), fused with
the question's scope (district, year, plan vs. result).

Scoring, per chunk (every signal in 0..1, kept in `ScoredChunk.signals` for explanation):
    fused = W_LEXICAL * bm25 / max(bm25) + W_DENSE * (cos - median) / (max - median)
          + W_INTENT * [chunk kind matches the question's plan/result intent]
          + W_HEADING * share of query terms found in the section path
then the top RERANK_DEPTH get W_SENTENCE * the score of their best sentence (rag.answer's sentence scoring).
Chunks in the question's scope (district and year/plan period, see `rag.scope.chunk_in_scope`) rank before
all others; out-of-scope chunks are returned only to name the closest existing passages.
An optional cross-encoder (RAG_CROSS_ENCODER) re-orders the in-scope head.
"""

from __future__ import annotations

from itertools import zip_longest

import numpy as np

from ingest.types import Chunk
from rag.lexical import BM25Index, tokenize
from rag.scope import Scope, chunk_in_scope, parse_scope, translate
from rag.types import ScoredChunk

W_LEXICAL = 0.55
W_DENSE = 0.45
W_INTENT = 0.12
W_HEADING = 0.10
RERANK_DEPTH = 30
W_SENTENCE = 0.5
DOC_PENALTY = 0.08


def _minmax_from_median(x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return x
    mid, top = float(np.median(x)), float(x.max())
    if top <= mid:
        return np.zeros_like(x)
    return np.clip((x - mid) / (top - mid), 0.0, 1.0)


class Retriever:
    def __init__(self, chunks: list[Chunk], dense_scores, cross_encoder=None):
        """`dense_scores(query) -> np.ndarray` gives the cosine of the query with every chunk, in order."""
        self.chunks = chunks
        self._dense_scores = dense_scores
        self._bm25 = BM25Index([f"{c.section}\n{c.clean}" for c in chunks])
        self._cross_encoder = cross_encoder

    def retrieve(self, question: str, top_k: int = 5, mode: str = "hybrid") -> list[ScoredChunk]:
        if not self.chunks:
            return []
        scope = parse_scope(question)
        query = translate(question)
        lexical = self._bm25.scores(query)
        lexical = lexical / lexical.max() if lexical.max() > 0 else lexical
        dense = (
            _minmax_from_median(self._dense_scores(query)) if mode != "bm25" else np.zeros(len(self.chunks))
        )
        if mode == "bm25":
            fused = lexical
        elif mode == "dense":
            fused = dense
        else:
            fused = W_LEXICAL * lexical + W_DENSE * dense
        in_scope = np.array([chunk_in_scope(c, scope) for c in self.chunks])
        extra = np.zeros(len(self.chunks))
        if mode == "hybrid":
            extra = self._scope_signals(scope, query)
            fused = fused + extra
        order = sorted(range(len(self.chunks)), key=lambda i: (not in_scope[i], -fused[i]))
        if mode == "hybrid":
            fused, order = self._sentence_rerank(question, scope, fused, order, in_scope)
            order = self._diversify(order, scope, fused, in_scope)
            if self._cross_encoder is not None:
                order = self._rerank(query, order, in_scope)
        return [
            ScoredChunk(
                chunk=self.chunks[i],
                score=round(float(fused[i]), 4),
                in_scope=bool(in_scope[i]),
                signals={
                    "bm25": round(float(lexical[i]), 4),
                    "dense": round(float(dense[i]), 4),
                    "scope": round(float(extra[i]), 4),
                },
            )
            for i in order[:top_k]
        ]

    def _scope_signals(self, scope: Scope, query: str) -> np.ndarray:
        terms = [t for t in set(tokenize(query)) if len(t) >= 2 and not t.isdigit()]
        out = np.zeros(len(self.chunks))
        for i, c in enumerate(self.chunks):
            if scope.intent and c.kind == scope.intent:
                out[i] += W_INTENT
            if terms:
                out[i] += W_HEADING * sum(t in c.section for t in terms) / len(terms)
        return out

    def _sentence_rerank(
        self, question: str, scope: Scope, fused: np.ndarray, order: list[int], in_scope: np.ndarray
    ):
        """Re-score the head by its best sentence, as the answerer would judge it (key-term coverage,
        a number with the asked unit, plan/result cues): a chunk is worth what its best evidence is worth."""
        from rag.answer import best_sentence_score, key_terms

        terms = key_terms(question, scope)
        fused = fused.copy()
        head = order[:RERANK_DEPTH]
        for i in head:
            fused[i] += W_SENTENCE * best_sentence_score(question, scope, self.chunks[i], terms)
        head.sort(key=lambda i: (not in_scope[i], -fused[i]))
        return fused, head + order[RERANK_DEPTH:]

    def _diversify(
        self, order: list[int], scope: Scope, fused: np.ndarray, in_scope: np.ndarray
    ) -> list[int]:
        """A question about several districts (or years) gets the best chunks of each, interleaved;
        otherwise a document's third and later chunks step back (DOC_PENALTY) so that other reports
        mentioning the same thing surface too."""
        head = [i for i in order if in_scope[i]]
        if len(scope.districts) > 1 or len(scope.years) > 1:
            key = (lambda c: c.place) if len(scope.districts) > 1 else (lambda c: c.section_year)
            groups: dict = {}
            for i in head:
                groups.setdefault(key(self.chunks[i]), []).append(i)
            head = [i for rank in zip_longest(*groups.values()) for i in rank if i is not None]
        else:
            seen: dict[str, int] = {}
            adjusted = {}
            for i in head:
                n = seen.get(self.chunks[i].doc, 0)
                seen[self.chunks[i].doc] = n + 1
                adjusted[i] = fused[i] - DOC_PENALTY * min(n, 2)
            head.sort(key=lambda i: -adjusted[i])
        return head + [i for i in order if not in_scope[i]]

    def _rerank(self, query: str, order: list[int], in_scope: np.ndarray) -> list[int]:
        head = [i for i in order[:RERANK_DEPTH] if in_scope[i]] or order[:RERANK_DEPTH]
        scores = self._cross_encoder.predict([(query, self.chunks[i].clean) for i in head])
        reranked = [head[j] for j in np.argsort(-np.asarray(scores))]
        return reranked + [i for i in order if i not in set(head)]
