"""The LLM mode through the whole pipeline (RAG.ask and POST /ask) against a local OpenAI-compatible server."""

from fastapi.testclient import TestClient

from tests.openai_stub_server import OpenAIStubServer
from ui.api import create_app

QUESTION = "武昌2021年固定资产投资目标"


def _llm_rag(seed_rag, server: OpenAIStubServer):
    settings = seed_rag.settings.model_copy(
        update={"llm_base_url": server.base_url, "llm_model": "stub-model", "llm_timeout": 5}
    )
    return seed_rag.with_settings(settings)


def test_llm_answer_verified_and_fallback_through_ask(seed_rag):
    with OpenAIStubServer() as server:
        rag = _llm_rag(seed_rag, server)
        server.reply("武昌区2021年预期完成固定资产投资300亿元[1]。")
        answer = rag.ask(QUESTION)
        assert answer.mode == "llm" and answer.answerable and "300亿元" in answer.answer
        assert (
            answer.citations[0].doc == "001_61e2f93ad6a7b961.txt"
            and answer.citations[0].quote in answer.citations[0].text
        )
        sent = server.requests[-1]["json"]
        assert sent["model"] == "stub-model" and QUESTION in str(sent["messages"])

        server.reply("武昌区2021年预期完成固定资产投资310亿元[1]。")  # a number no passage holds
        body = TestClient(create_app(rag, rag.settings)).post("/ask", json={"question": QUESTION}).json()
        assert body["mode"] == "extractive" and "300亿元" in body["answer"] and "310" in body["note"]
