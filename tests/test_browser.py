"""End to end: the real server (`rag serve`) on a fresh RAG_HOME, driven in headless Chromium: the first
answers come while the vectors are still being computed, a citation links to its source card, a follow-up
inherits the scope, a report uploaded through the page is answered from at once.

The screenshot goes to a temporary folder; `make screenshot` writes docs/screenshot.png instead
(SCREENSHOT_TO)."""

import os
import shutil
from pathlib import Path

import httpx
import pytest

from tests.conftest import DATA, ROOT, running_server

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (install it: make browser)"
)
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
QUESTION = "武昌2021年固定资产投资目标"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("serve-home")
    with running_server(home, ROOT / "seeds") as url:
        yield url


def test_chat_answers_cites_follows_up_and_takes_an_upload(server, tmp_path):
    from playwright.sync_api import sync_playwright

    shot = Path(os.environ.get("SCREENSHOT_TO") or tmp_path / "screenshot.png")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(server, wait_until="domcontentloaded")
        page.wait_for_selector("#question textarea", timeout=60_000)
        coverage = page.locator("body").inner_text()
        page.locator("#question textarea").fill(QUESTION)
        page.locator("#ask").click()
        page.wait_for_selector("#sources .src-card", timeout=60_000)
        chat = page.locator("#chat").inner_text()
        sources = page.locator("#sources").inner_text()
        marked = page.locator("#sources .src-card mark").first.inner_text()
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)

        page.locator("#chat a.cite").first.click()  # [1] jumps to its source card
        assert page.evaluate("location.hash") == "#src-1"

        page.locator("#question textarea").fill(
            "那江汉呢?"
        )  # a follow-up: takes 2021 from the first question
        page.locator("#ask").click()
        page.wait_for_selector("#sources .notfound", timeout=60_000)
        follow_up = page.locator("#chat").inner_text()

        report = tmp_path / "hailar_2016_excerpt.txt"
        shutil.copy(DATA / "hailar_2016_excerpt.txt", report)
        page.locator("#upload-accordion").click()
        page.locator("#upload input[type=file]").set_input_files(str(report))
        page.wait_for_timeout(1500)
        page.locator("#ingest").click()
        page.wait_for_function(
            "document.querySelector('#upload-status textarea').value.includes('hailar_2016_excerpt.txt')",
            timeout=60_000,
        )
        status = page.locator("#upload-status textarea").input_value()
        page.locator("#question textarea").fill("海拉尔区2015年地区生产总值是多少")
        page.locator("#ask").click()
        page.wait_for_function("document.querySelector('#chat').innerText.includes('287.9')", timeout=60_000)
        uploaded = page.locator("#sources").inner_text()
        browser.close()
    assert "武昌区" in coverage and "江汉区" in coverage  # what the corpus covers is shown
    assert "300亿元" in chat and "[1]" in chat
    assert "001_61e2f93ad6a7b961.txt" in sources and "2021年主要工作" in sources and "武昌区" in sources
    assert "300亿元" in marked
    assert "江汉区2021年固定资产投资目标" in follow_up and "Not found" in follow_up
    assert "✔ hailar_2016_excerpt.txt" in status and "海拉尔区" in status
    assert "hailar_2016_excerpt.txt" in uploaded and "added by chat" in uploaded
    assert shot.stat().st_size > 10_000
    assert not dialogs
    health = httpx.get(f"{server}/health", timeout=10).json()
    assert health["documents"] == 6
