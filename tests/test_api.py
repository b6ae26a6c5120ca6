"""`/ask` and `/health` in-process (FastAPI TestClient) over the real pipeline on the seeds."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from rag.config import Settings
from ui.api import create_app
from ui.chat import answer_html, highlight, sources_html

QUESTION = "武昌2021年固定资产投资目标"


@pytest.fixture(scope="module")
def client(seed_rag):
    return TestClient(create_app(seed_rag, Settings(home=seed_rag.settings.home)))


def test_ask_contract(client):
    r = client.post("/ask", json={"question": QUESTION})
    assert r.status_code == 200
    body = r.json()
    assert body["answerable"] is True and "300亿元" in body["answer"]
    c = body["citations"][0]
    assert set(c) >= {
        "n",
        "doc",
        "title",
        "place",
        "place_chain",
        "section",
        "start_line",
        "end_line",
        "text",
        "quote",
    }
    assert (
        c["doc"] == "001_61e2f93ad6a7b961.txt"
        and c["quote"] in c["text"]
        and c["start_line"] <= 89 <= c["end_line"]
    )
    ranks = [x["rank"] for x in body["retrieved"][:5]]
    assert ranks == sorted(ranks) and len(body["retrieved"]) >= 5
    assert body["latency_ms"] > 0


def test_top_k_and_refusal(client):
    body = client.post("/ask", json={"question": "洪山区2019年固定资产投资目标", "top_k": 3}).json()
    assert body["answerable"] is False and "洪山区" in body["answer"] and body["citations"] == []
    assert len(body["retrieved"]) == 3


@pytest.mark.parametrize(
    "payload",
    [{"question": ""}, {"question": "   "}, {"question": 5}, {}, {"question": QUESTION, "top_k": 0},
     {"question": QUESTION, "top_k": 999}, {"question": QUESTION, "top_k": "3"}, {"question": QUESTION, "stream": "yes"}],
)  # fmt: skip
def test_validation_errors_are_json_4xx(client, payload):
    r = client.post("/ask", json=payload)
    assert r.status_code == 422 and "error" in r.json()


def test_too_long_question(client):
    r = client.post("/ask", json={"question": "武" * 501})
    assert r.status_code == 422 and "500 characters" in r.json()["error"]
    schema = client.get("/openapi.json").json()["components"]["schemas"]["AskRequest"]
    assert schema["properties"]["question"]["maxLength"] == 500  # the documented limit


def test_errors_name_the_problem(client):
    assert "question is empty" in client.post("/ask", json={"question": " \n"}).json()["error"]
    assert "top_k" in client.post("/ask", json={"question": QUESTION, "top_k": 0}).json()["error"]
    r = client.post("/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["error"]


def test_bearer_token(seed_rag):
    app = create_app(seed_rag, Settings(home=seed_rag.settings.home, api_token="s3cret"))
    c = TestClient(app)
    denied = c.post("/ask", json={"question": QUESTION})
    assert denied.status_code == 401 and "wrong token" in denied.json()["error"]
    assert denied.headers["www-authenticate"] == "Bearer"
    assert (
        c.post("/ask", json={"question": QUESTION}, headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )
    assert (
        c.post("/ask", json={"question": QUESTION}, headers={"Authorization": "Bearer s3cret"}).status_code
        == 200
    )
    assert c.get("/health").status_code == 200


def test_streaming_sse(client):
    with client.stream("POST", "/ask", json={"question": QUESTION, "stream": True}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    events = {}
    for block in text.strip().split("\n\n"):
        name = block.split("\n")[0].removeprefix("event: ")
        events[name] = json.loads(block.split("\n", 1)[1].removeprefix("data: "))
    assert list(events) == ["retrieved", "answer", "done"]
    assert "300亿元" in events["answer"]["answer"]


def test_health_and_docs(client):
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["documents"] == 5 and h["chunks"] > 100
    assert client.get("/docs").status_code == 200
    assert "/ask" in client.get("/openapi.json").json()["paths"]


def test_twenty_concurrent_clients(client):
    questions = [
        QUESTION,
        "江汉区2018年地区生产总值是多少",
        "青山区2017年新增就业多少人",
        "武昌2022年固定资产投资目标",
    ] * 5
    expected = ["300亿元", "1255亿元", "11200人", None]
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda q: client.post("/ask", json={"question": q}), questions))
    for i, r in enumerate(results):
        assert r.status_code == 200
        want = expected[i % 4]
        body = r.json()
        assert (want in body["answer"]) if want else not body["answerable"]


def test_documents_upload_list_and_delete(client, seed_rag, tmp_path):
    report = tmp_path / "evil_report.txt"
    report.write_text(
        "2019年武汉市汉阳区政府工作报告\n\n一、2018年工作回顾\n\n汉阳区2018年完成固定资产投资<script>alert(1)</script>520亿元,增长9%。\n",
        encoding="utf-8",
    )
    with report.open("rb") as fh:
        r = client.post("/documents", files={"files": ("evil_report.txt", fh, "text/plain")})
    assert r.status_code == 201, r.text
    (added,) = r.json()["added"]
    assert added["place"] == "汉阳区" and added["source"] == "upload" and "path" not in added
    try:
        names = [d["doc"] for d in client.get("/documents").json()]
        assert "evil_report.txt" in names and len(names) == 6
        answer = seed_rag.ask("汉阳区2018年固定资产投资完成多少")  # answerable at once, from BM25
        assert answer.answerable and "520亿元" in answer.answer
        assert answer.citations[0].source == "upload" and answer.citations[0].added_by.startswith("api ")
        page = sources_html(answer) + answer_html(answer)
        assert "<script>" not in page and "&lt;script&gt;" in page and "added by" in page
    finally:
        assert client.delete(f"/documents/{added['id']}").status_code == 200
    assert len(client.get("/documents").json()) == 5
    assert client.delete("/documents/nope").json() == {"error": "no document 'nope' (see GET /documents)"}


def test_bad_upload_is_refused_and_leaves_nothing(client, seed_rag, tmp_path):
    r = client.post("/documents", files={"files": ("broken.pdf", b"%PDF-1.4 not really", "application/pdf")})
    assert r.status_code == 422 and "broken.pdf" in r.json()["error"]
    assert len(client.get("/documents").json()) == 5
    assert "300亿元" in seed_rag.ask(QUESTION).answer


def test_one_error_shape_everywhere(client):
    assert client.get("/nowhere").json().keys() == {"error"}
    assert client.get("/ask").status_code == 405 and "error" in client.get("/ask").json()
    big = client.post("/ask", content=b"x" * 100_000, headers={"content-type": "application/json"})
    assert big.status_code == 413 and "too large" in big.json()["error"]


def test_answer_html_links_markers_to_source_cards(client):
    from rag.types import Answer

    answer = Answer.model_validate(client.post("/ask", json={"question": QUESTION}).json())
    chat, cards = answer_html(answer), sources_html(answer)
    assert '<a class="cite" href="#src-1">[1]</a>' in chat and 'id="src-1"' in cards
    assert "<mark>" in cards and "001_61e2f93ad6a7b961.txt" in cards and "2021年主要工作" in cards


def test_not_found_shows_closest_passages(client):
    from rag.types import Answer

    answer = Answer.model_validate(
        client.post("/ask", json={"question": "洪山区2019年固定资产投资目标"}).json()
    )
    assert "Not found" in answer_html(answer)
    assert "Closest passages" in sources_html(answer) and sources_html(answer).count('class="src-card"') == 3


def test_follow_up_inherits_scope(seed_rag):
    from rag.follow_up import follow_up

    profile = seed_rag.snapshot.profile
    assert follow_up("那江汉呢?", QUESTION, profile) == "江汉区2021年固定资产投资目标"
    answer = seed_rag.ask(follow_up("那青山呢?", "江汉区2018年地区生产总值是多少", profile))
    assert all(c.place == "青山区" for c in answer.citations)


def test_highlight_escapes_and_marks_the_quote():
    text = "完成投资<b>300亿元</b>,\n增长 10%。"
    assert (
        highlight(text, "300亿元</b>,增长10%")
        == "完成投资&lt;b&gt;<mark>300亿元&lt;/b&gt;,\n增长 10%</mark>。"
    )
    assert highlight(text, "不在文中") == "完成投资&lt;b&gt;300亿元&lt;/b&gt;,\n增长 10%。"


def test_errors_of_the_app_mounted_at_root_get_the_one_shape(tmp_path):
    """What falls through to the app mounted at `/` (Gradio in `rag serve`) answers in the API's shape too:
    its `{"detail": …}` bodies, validation lists, plain-text 500s; a wrong method on an API path is a 405."""
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import PlainTextResponse

    mounted = FastAPI()

    @mounted.get("/teapot")
    async def teapot():
        raise HTTPException(418, "short and stout, see /srv/app/secret/config.yaml")

    @mounted.get("/page")
    async def page(n: int):
        return {"n": n}

    @mounted.get("/crash")
    async def crash():
        return PlainTextResponse("Traceback: /srv/app/x.py line 3", status_code=500)

    app = create_app(object(), Settings(home=tmp_path))
    app.mount("/", mounted)
    c = TestClient(app)
    assert c.get("/nowhere").json() == {"error": "Not Found"}
    assert c.get("/teapot").status_code == 418
    assert c.get("/teapot").json() == {"error": "short and stout, see <path>"}
    assert c.get("/page", params={"n": "x"}).json()["error"].startswith("query.n: ")
    failed = c.get("/crash")
    assert failed.status_code == 500 and failed.json()["error"].startswith("internal error (reference ")
    wrong = c.get("/ask")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST" and "POST" in wrong.json()["error"]
    assert c.get("/page", params={"n": 3}).json() == {"n": 3}
