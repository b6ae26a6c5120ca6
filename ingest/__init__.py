"""Ingest stage: read report files, clean them, split them by section into provenance-carrying chunks."""
