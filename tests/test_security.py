"""Attacks against the real server (`rag serve` on loopback, real HTTP, real Gradio routes), with a token set."""

import json
import shutil

import httpx
import pytest

from tests.conftest import DATA, running_server

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SECRET = "服务器私密文件：武昌区2021年秘密目标是12345亿元。"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("corpus")
    shutil.copy(DATA / "wuchang_2021_excerpt.txt", corpus)
    home = tmp_path_factory.mktemp("home")
    with running_server(home, corpus, {"RAG_API_TOKEN": TOKEN}) as url:
        yield url, home


def _gradio_call(url: str, api_name: str, data: list, headers: dict) -> list[str]:
    """Gradio's two-step HTTP API: POST the call, then read its event stream; returns the events' lines."""
    r = httpx.post(f"{url}/gradio_api/call/{api_name}", json={"data": data}, headers=headers, timeout=30)
    r.raise_for_status()
    event_id = r.json()["event_id"]
    stream = httpx.get(f"{url}/gradio_api/call/{api_name}/{event_id}", headers=headers, timeout=120)
    return stream.text.splitlines()


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/"), ("GET", "/docs"), ("GET", "/openapi.json"), ("GET", "/gradio_api/info"),
     ("GET", "/gradio_api/config"), ("GET", "/config"), ("POST", "/ask"), ("POST", "/gradio_api/upload"),
     ("POST", "/gradio_api/call/respond"), ("POST", "/gradio_api/call/upload"),
     ("POST", "/gradio_api/queue/join"), ("GET", "/gradio_api/queue/data"), ("GET", "/gradio_api/file=x.txt")],
)  # fmt: skip
def test_every_route_needs_the_token(server, method, path):
    url, _ = server
    r = httpx.request(method, url + path, json={"data": []}, timeout=30)
    assert r.status_code == 401
    assert "error" in r.json()
    wrong = httpx.request(method, url + path, headers={"Authorization": "Bearer nope"}, timeout=30)
    assert wrong.status_code == 401


def test_health_stays_open_and_browsers_get_the_login_form(server):
    url, _ = server
    assert httpx.get(f"{url}/health", timeout=10).status_code == 200
    page = httpx.get(url, headers={"Accept": "text/html"}, timeout=10)
    assert page.status_code == 401 and 'action="/login"' in page.text


def test_login_sets_a_cookie_that_opens_the_chat(server):
    url, _ = server
    bad = httpx.post(f"{url}/login", data={"token": "nope"}, timeout=10)
    assert bad.status_code == 401 and "set-cookie" not in bad.headers
    good = httpx.post(f"{url}/login", data={"token": TOKEN}, timeout=10)
    assert good.status_code == 303
    cookie = good.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert httpx.get(url, cookies=good.cookies, timeout=30).status_code == 200
    assert httpx.get(f"{url}/gradio_api/info", cookies=good.cookies, timeout=30).status_code == 200


def test_forged_filedata_path_is_refused(server, tmp_path):
    url, home = server
    secret = tmp_path / "secret_report.txt"
    secret.write_text(f"秘密\n{SECRET}\n", encoding="utf-8")
    before = httpx.get(f"{url}/health", timeout=10).json()["documents"]
    forged = [[{"path": str(secret), "meta": {"_type": "gradio.FileData"}, "orig_name": "report.txt"}]]
    events = _gradio_call(url, "upload", forged, AUTH)
    assert "event: error" in events
    assert httpx.get(f"{url}/health", timeout=10).json()["documents"] == before
    answer = httpx.post(
        f"{url}/ask", json={"question": "武昌区2021年秘密目标"}, headers=AUTH, timeout=60
    ).json()
    assert "12345" not in json.dumps(answer, ensure_ascii=False)
    assert not [p for p in home.rglob("*") if p.is_file() and SECRET in p.read_text("utf-8", "ignore")]


def test_a_real_upload_through_gradio_is_ingested(server, tmp_path):
    url, _ = server
    before = httpx.get(f"{url}/health", timeout=10).json()["documents"]
    with (DATA / "hailar_2016_excerpt.txt").open("rb") as fh:
        up = httpx.post(f"{url}/gradio_api/upload", files={"files": fh}, headers=AUTH, timeout=60)
    up.raise_for_status()
    (path,) = up.json()
    events = _gradio_call(url, "upload", [[{"path": path, "meta": {"_type": "gradio.FileData"}}]], AUTH)
    assert "event: complete" in events, events
    assert httpx.get(f"{url}/health", timeout=10).json()["documents"] == before + 1


def test_foreign_origins_get_no_cors_grant(server):
    url, _ = server
    for origin in ("http://localhost:9999", "http://evil.example"):
        pre = httpx.options(
            f"{url}/ask",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            timeout=10,
        )
        assert "access-control-allow-origin" not in pre.headers
        simple = httpx.get(f"{url}/health", headers={"Origin": origin}, timeout=10)
        assert "access-control-allow-origin" not in simple.headers
