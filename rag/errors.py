"""Failures a user can act on; the CLI prints their message instead of a traceback. Kept free of heavy
imports so that the CLI can catch them without loading models."""


class EmbeddingModelError(Exception):
    """The configured embedding model cannot be loaded; the message says what to do."""


class IndexModelMismatch(Exception):
    """The index on disk was built with another embedding model than the one configured."""
