"""End to end: the real server (`rag serve`) driven in headless Chromium; saves docs/screenshot.png."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (install it: make browser)"
)
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
QUESTION = "武昌2021年固定资产投资目标"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`rag serve` on a free port with RAG_HOME in a tmp dir (so the first start builds the index)."""
    home = tmp_path_factory.mktemp("serve-home")
    log = home / "serve.log"
    port = _free_port()
    env = {**os.environ, "RAG_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    env.pop("RAG_API_TOKEN", None)
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ui", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 280
    try:
        while True:
            assert proc.poll() is None, f"rag serve exited:\n{log.read_text()}"
            assert time.time() < deadline, f"rag serve not up in 280 s:\n{log.read_text()}"
            if "ready: " in log.read_text():
                break
            time.sleep(1)
        assert httpx.get(f"{url}/health", timeout=10).json()["status"] == "ok"
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_chat_answers_the_example_with_a_citation(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(server, wait_until="domcontentloaded")
        page.wait_for_selector("#question textarea", timeout=60_000)
        page.locator("#question textarea").fill(QUESTION)
        page.locator("#ask").click()
        page.wait_for_selector("#sources .src-card", timeout=60_000)
        chat = page.locator("#chat").inner_text()
        sources = page.locator("#sources").inner_text()
        marked = page.locator("#sources .src-card mark").first.inner_text()
        (ROOT / "docs").mkdir(exist_ok=True)
        page.screenshot(path=str(ROOT / "docs" / "screenshot.png"), full_page=True)

        page.locator("#chat a.cite").first.click()  # [1] jumps to its source card
        assert page.evaluate("location.hash") == "#src-1"

        page.locator("#question textarea").fill(
            "那江汉呢?"
        )  # a follow-up: takes 2021 from the first question
        page.locator("#ask").click()
        page.wait_for_selector("#sources .notfound", timeout=60_000)
        follow_up = page.locator("#chat").inner_text()
        browser.close()
    assert "300亿元" in chat and "[1]" in chat
    assert "001_61e2f93ad6a7b961.txt" in sources and "2021年主要工作" in sources and "武昌区" in sources
    assert "300亿元" in marked
    assert "江汉区2021年固定资产投资目标" in follow_up and "Not found" in follow_up
    assert not dialogs
