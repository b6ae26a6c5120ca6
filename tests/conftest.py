import json
import os
from contextlib import contextmanager
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


DATA = ROOT / "tests" / "data"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(home: Path, corpus: Path, env: dict | None = None, timeout: float = 280):
    """`rag serve` as a real process on a free loopback port, RAG_HOME=`home`, RAG_CORPUS=`corpus`;
    yields its base URL and stops it at the end."""
    import subprocess
    import sys
    import time

    import httpx

    log = home / "serve.log"
    port = free_port()
    full_env = {**os.environ, "RAG_HOME": str(home), "RAG_CORPUS": str(corpus), "HF_HUB_OFFLINE": "1"}
    full_env.pop("RAG_API_TOKEN", None)
    full_env.update(env or {})
    home.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ui", "serve", "--port", str(port)],
            env=full_env,
            cwd=ROOT,
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    try:
        while True:
            assert proc.poll() is None, f"rag serve exited:\n{log.read_text()}"
            assert time.time() < deadline, f"rag serve not up in {timeout} s:\n{log.read_text()}"
            if "ready: " in log.read_text():
                break
            time.sleep(0.5)
        assert httpx.get(f"{url}/health", timeout=10).json()["status"] == "ok"
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
