"""The `rag` command as a user runs it (real processes): the managed corpus (`ingest` adds and keeps,
`docs` lists, `ask` answers from the added report without re-reading anything, `remove` takes it out),
exit statuses and clear messages, and `rag chunks | head` on a closed pipe."""

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import DATA, ROOT

QUESTION = "海拉尔区2015年地区生产总值是多少"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("empty-corpus")
    home = tmp_path_factory.mktemp("cli-home")
    return {"RAG_HOME": str(home), "RAG_CORPUS": str(folder), "HF_HUB_OFFLINE": "1",
            "PATH": str(ROOT / ".venv" / "bin") + ":/usr/bin:/bin"}  # fmt: skip


def rag(env, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "ui", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)  # fmt: skip


def test_ingest_adds_a_report_that_stays_and_remove_takes_it_out(env, tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    shutil.copy(DATA / "hailar_2016_excerpt.txt", reports)
    (reports / "empty.txt").write_text("")
    run = rag(env, "ingest", str(reports))
    assert run.returncode == 1, run.stderr  # one file refused
    assert "empty.txt: empty file" in run.stdout and "Traceback" not in run.stderr
    assert "1 documents" in run.stdout
    shutil.rmtree(reports)  # the corpus keeps its own copy

    docs = [json.loads(line) for line in rag(env, "docs", "--json").stdout.splitlines()]
    assert [d["doc"] for d in docs] == ["hailar_2016_excerpt.txt"]
    assert (
        docs[0]["place_chain"] == ["内蒙古自治区", "呼伦贝尔市", "海拉尔区"] and docs[0]["source"] == "added"
    )

    answer = json.loads(rag(env, "ask", QUESTION, "--json").stdout)  # a new process: nothing re-read
    assert answer["answerable"] and "287.9亿元" in answer["answer"]
    assert answer["citations"][0]["doc"] == "hailar_2016_excerpt.txt"

    rows = [json.loads(line) for line in rag(env, "chunks", "--json").stdout.splitlines()]
    assert rows and {"id", "doc", "place", "place_chain", "level", "report_year", "section", "section_year",
                     "period", "kind", "start_line", "end_line", "text"} <= set(rows[0])  # fmt: skip

    removed = rag(env, "remove", docs[0]["id"])
    assert removed.returncode == 0 and "removed hailar_2016_excerpt.txt" in removed.stdout
    assert rag(env, "docs", "--json").stdout.strip() == ""
    gone = json.loads(rag(env, "ask", QUESTION, "--json").stdout)
    assert not gone["answerable"]
    unknown = rag(env, "remove", "nope.txt")
    assert unknown.returncode == 1 and "no document" in unknown.stderr and "Traceback" not in unknown.stderr


def test_chunks_into_a_closed_pipe_exits_cleanly(env):
    shutil.copy(ROOT / "seeds" / "003_e94be4eccf6fb3ec.txt", env["RAG_CORPUS"])
    try:
        pipe = subprocess.run(f"{sys.executable} -m ui chunks | head -1", shell=True, capture_output=True, text=True,
                              env=env, timeout=120, cwd=ROOT)  # fmt: skip
        assert pipe.returncode == 0 and pipe.stdout.strip() and "Error" not in pipe.stderr
    finally:
        (ROOT / env["RAG_CORPUS"] / "003_e94be4eccf6fb3ec.txt").unlink()


def test_bad_settings_and_empty_questions_get_messages(env):
    bad = rag({**env, "RAG_TOP_K": "many"}, "ask", "x")
    assert bad.returncode != 0 and "bad setting" in bad.stderr and "Traceback" not in bad.stderr
    empty = rag(env, "ask", "  ")
    assert empty.returncode == 2 and "empty" in empty.stderr
    missing = rag(env, "eval", "--set", "/nonexistent.jsonl")
    assert missing.returncode == 2 and "no such eval file" in missing.stderr
