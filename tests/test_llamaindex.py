"""rag.llamaindex: the pipeline's retrieval as a llama-index retriever, on the seeds, and the example of
docs/llamaindex.md run as written: RetrieverQueryEngine + OpenAILike against a local OpenAI-compatible server."""

import re

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import MetadataMode, NodeWithScore, TextNode

from rag.llamaindex import ReportRetriever
from tests.conftest import ROOT, SEEDS
from tests.openai_stub_server import OpenAIStubServer

QUESTION = "武昌2021年固定资产投资目标"
MIXED = "江汉区2018年地区生产总值增长多少"  # 18 chunks in scope: with top 40, out-of-scope ones follow
DOC_EXAMPLE = ROOT / "docs" / "llamaindex.md"
STUB_REPLY = "武昌区2021年计划完成固定资产投资300亿元。"


def _source_lines(doc: str, start: int, end: int) -> str:
    return "\n".join((SEEDS / doc).read_text(encoding="utf-8").splitlines()[start - 1 : end])


def test_nodes_are_the_ranked_chunks_with_their_provenance(seed_rag):
    retriever = ReportRetriever(seed_rag, similarity_top_k=5)
    assert isinstance(retriever, BaseRetriever)
    results = retriever.retrieve(QUESTION)
    ranked = seed_rag.retrieve(QUESTION, 5).ranked
    assert [r.node.node_id for r in results] == [sc.chunk.id for sc in ranked]
    assert [r.score for r in results] == [sc.score for sc in ranked]
    for result, sc in zip(results, ranked, strict=True):
        node, chunk = result.node, sc.chunk
        assert isinstance(result, NodeWithScore) and isinstance(node, TextNode)
        assert node.text == chunk.text and node.ref_doc_id == chunk.doc
        assert node.metadata == {
            "doc": chunk.doc,
            "title": chunk.title,
            "place": chunk.place,
            "place_chain": list(chunk.place_chain),
            "level": chunk.level,
            "report_year": chunk.report_year,
            "section": chunk.section,
            "section_year": chunk.section_year,
            "kind": chunk.kind,
            "start_line": chunk.start_line,
            "end_line": chunk.end_line,
            "in_scope": True,
        }
        assert node.text in _source_lines(chunk.doc, chunk.start_line, chunk.end_line)
    top = results[0].node
    assert top.metadata["place"] == "武昌区" and top.metadata["report_year"] == 2021
    assert "300亿元" in top.text
    shown = top.get_content(MetadataMode.LLM)  # what a response synthesizer puts in the prompt
    assert (
        "section: 2021年主要工作" in shown and "start_line" not in shown and top.metadata["doc"] not in shown
    )


def test_scope_option(seed_rag):
    ranked = seed_rag.retrieve(MIXED, 40).ranked
    in_scope = [sc.chunk.id for sc in ranked if sc.in_scope]
    assert 0 < len(in_scope) < 40, "the question should have in-scope and out-of-scope chunks in its top 40"

    everything = ReportRetriever(seed_rag, similarity_top_k=40).retrieve(MIXED)
    assert [r.node.node_id for r in everything] == [sc.chunk.id for sc in ranked]
    flags = [r.node.metadata["in_scope"] for r in everything]
    assert flags == sorted(flags, reverse=True) and flags[-1] is False  # in scope first, then the others

    only = ReportRetriever(seed_rag, similarity_top_k=40, in_scope_only=True).retrieve(MIXED)
    assert [r.node.node_id for r in only] == in_scope
    assert all(r.node.metadata["place"] == "江汉区" for r in only)

    default = ReportRetriever(seed_rag).retrieve(MIXED)
    assert len(default) == seed_rag.settings.top_k


def test_documented_query_engine_example_runs_against_an_openai_compatible_server(
    seed_rag, monkeypatch, capsys
):
    example = re.search(r"```python\n(.*?)```", DOC_EXAMPLE.read_text(encoding="utf-8"), re.S).group(1)
    with OpenAIStubServer() as server:
        server.reply(STUB_REPLY)
        monkeypatch.setenv("RAG_HOME", str(seed_rag.settings.home))  # the seeds' index, already built
        monkeypatch.setenv("RAG_CORPUS", str(SEEDS))
        monkeypatch.setenv("RAG_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("RAG_LLM_MODEL", "stub-model")
        monkeypatch.delenv("RAG_LLM_API_KEY", raising=False)
        scope: dict = {}
        exec(compile(example, str(DOC_EXAMPLE), "exec"), scope)

    response = scope["response"]
    assert response.response == STUB_REPLY
    assert len(server.requests) == 1
    sent = server.requests[0]["json"]
    prompt = "\n".join(str(m["content"]) for m in sent["messages"])
    assert sent["model"] == "stub-model" and QUESTION in prompt

    expected = seed_rag.retrieve(QUESTION, 5).ranked
    sources = response.source_nodes
    assert [s.node.node_id for s in sources] == [sc.chunk.id for sc in expected if sc.in_scope]
    for source in sources:
        m = source.node.metadata
        chunk = next(c for c in seed_rag.chunks if c.id == source.node.node_id)
        assert (m["doc"], m["start_line"], m["end_line"], m["section"]) == (
            chunk.doc, chunk.start_line, chunk.end_line, chunk.section
        )  # fmt: skip
        assert m["in_scope"] and m["place"] == "武昌区"
        assert source.node.text == chunk.text and chunk.text[:40] in prompt  # the LLM was given our chunks
    assert "300亿元" in sources[0].node.text

    printed = capsys.readouterr().out
    top = sources[0].node.metadata
    assert STUB_REPLY in printed and f"{top['doc']}:{top['start_line']}-{top['end_line']}" in printed
