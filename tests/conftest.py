import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DEV_SET = ROOT / "evals" / "dev.jsonl"

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def dev_items() -> list[dict]:
    return [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def seed_report():
    from ingest.pipeline import chunk_files, find_files

    files, _ = find_files([SEEDS])
    return chunk_files(files, max_chars=400)


@pytest.fixture(scope="session")
def seed_rag(tmp_path_factory):
    """The real pipeline over the seeds, index built once per test session (about 45 s on 2 cores)."""
    from rag.config import Settings
    from rag.service import RAG

    home = tmp_path_factory.mktemp("rag-home")
    return RAG.open(Settings(home=home, corpus=SEEDS))
