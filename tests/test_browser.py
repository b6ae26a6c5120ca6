"""End to end: the real server (`rag serve`) driven in headless Chromium."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make browser)")
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic"]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    env = {**os.environ, "RAG_HOME": str(tmp_path_factory.mktemp("serve-home")), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "rag", "serve", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(1)
        assert proc.poll() is None, proc.stdout.read()
    else:
        proc.kill()
        pytest.fail("server did not come up in 300 s")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def test_chat_answers_the_example_with_a_citation(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.goto(server, wait_until="domcontentloaded")
        page.wait_for_selector("#question textarea", timeout=60_000)
        page.locator("#question textarea").fill("武昌2021年固定资产投资目标")
        page.locator("#ask").click()
        page.wait_for_selector("#sources .src-card", timeout=60_000)
        chat = page.locator("#chat").inner_text()
        sources = page.locator("#sources").inner_text()
        (ROOT / "docs").mkdir(exist_ok=True)
        page.screenshot(path=str(ROOT / "docs" / "screenshot.png"), full_page=True)
        browser.close()
    assert "300亿元" in chat
    assert "[1]" in chat
    assert "001_61e2f93ad6a7b961.txt" in sources
    assert "2021年主要工作" in sources
