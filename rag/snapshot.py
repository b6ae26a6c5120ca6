"""One searchable state of the corpus: its chunks, their statements, the statement vectors computed so far,
BM25, the dense index and the corpus profile, built together and never changed afterwards (a new document
makes a new snapshot, swapped in whole).

What is embedded is decided here, once, for the local build, the background worker and Ray alike:
`embed_texts(chunk)` gives the text of each statement of a chunk as the model sees it: the statement with
its subject. (Prefixing each with its section's name cost 34% more tokens, and the section's year and kind
are features of their own in `rag.evidence`.)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import ingest.text
from ingest.text import Statement, split_statements
from ingest.types import Chunk
from rag.index import DenseIndex, VectorStore, text_key
from rag.lexical import TOKENIZER_VERSION, BM25Index, tokenize
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


def _tokenizer_fingerprint() -> str:
    """What the cached per-chunk data depends on: the tokenizer, the report terms and the text module (the
    cleaning and statement splitting whose output the vector keys are made from)."""
    terms = (Path(ingest.text.__file__).with_name("data") / "terms.tsv").read_bytes()
    code = Path(ingest.text.__file__).read_bytes()
    return f"{TOKENIZER_VERSION}/{hashlib.sha1(terms + code).hexdigest()[:12]}"


def chunk_tokens(chunks: list[Chunk], cache: Path | None) -> tuple[list[tuple[str, ...]], list[list[str]]]:
    """Per chunk, its BM25 tokens (section path and text) and the vector keys of its statements, read from
    `cache` where it has them (a JSON file keyed by chunk id, written atomically, ignored when damaged or made
    by another tokenizer or text module): cleaning every statement again (OpenCC) took ~2 s of a cold start
    on 2,000 chunks."""
    fingerprint = _tokenizer_fingerprint()
    stored: dict[str, list[str]] = {}
    stored_keys: dict[str, list[str]] = {}
    if cache is not None and cache.exists():
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
            if data.get("tokenizer") == fingerprint:
                stored, stored_keys = data["tokens"], data.get("keys", {})
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            stored, stored_keys = {}, {}
    out, keys, fresh = [], [], 0
    for c in chunks:
        tokens, chunk_keys = stored.get(c.id), stored_keys.get(c.id)
        if not isinstance(tokens, list) or not isinstance(chunk_keys, list):
            tokens = list(tokenize(f"{c.section}\n{c.clean}"))
            chunk_keys = [text_key(t) for t in embed_texts(c)]
            fresh += 1
        out.append(tuple(tokens))
        keys.append(chunk_keys)
    if cache is not None and (fresh or len(stored) != len(chunks)):
        payload = {
            "tokenizer": fingerprint,
            "tokens": {c.id: list(t) for c, t in zip(chunks, out, strict=True)},
            "keys": {c.id: k for c, k in zip(chunks, keys, strict=True)},
        }
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, cache)
    return out, keys


class _Statements(Sequence[tuple[Statement, ...]]):
    """The statements of each chunk, split on first use (`split_statements` caches them)."""

    def __init__(self, chunks: list[Chunk]):
        self._chunks = chunks

    def __len__(self) -> int:
        return len(self._chunks)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [statements(c) for c in self._chunks[i]]
        return statements(self._chunks[i])


def build_snapshot(
    chunks: list[Chunk],
    store: VectorStore | None,
    embed_query=None,
    token_cache: Path | None = None,
    embed_passages=None,
) -> Snapshot:
    """The snapshot of `chunks` with whatever vectors `store` holds now."""
    tokens, texts = chunk_tokens(chunks, token_cache)  # `texts`: the statements' vector keys, per chunk
    bm25 = BM25Index(tokens)
    per_chunk = _Statements(chunks)  # split when a question's head reaches a chunk, not all at open
    keys = [k for ks in texts for k in ks]
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
    retriever = Retriever(chunks, bm25, per_chunk, rows, dense, embed_query, embed_passages)
    return Snapshot(chunks, retriever, CorpusProfile.from_chunks(chunks), embedded, len(keys))
