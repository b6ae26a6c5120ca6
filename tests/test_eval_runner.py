"""`rag eval` end to end on a tiny corpus written here (two short reports), and the command's exit codes."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from evals.metrics import METRICS, ItemScore, summarize
from ui.cli import eval_command

JIANGHAN = """2019年武汉市江汉区政府工作报告
——2019年1月8日在江汉区第十届人民代表大会第四次会议上
各位代表:
一、2018年工作回顾
过去一年,我们坚持稳中求进工作总基调,经济运行稳中有进。预计全年实现地区生产总值1255亿元,增长8%。
新增就业2.3万人,城镇登记失业率低于3.8%。
二、2019年工作安排
2019年经济社会发展的主要预期目标是:地区生产总值增长7.5%,固定资产投资总额完成430亿元。
新增就业2万人,城镇登记失业率控制在3.2%以内。
"""
WUCHANG = """2021年武汉市武昌区政府工作报告
——2021年1月在武昌区第十六届人民代表大会第六次会议上
一、2020年工作回顾
面对疫情冲击,全区经济企稳回升,全年完成固定资产投资270亿元。
二、2021年工作安排
2021年主要预期目标:地区生产总值增长10%以上,完成固定资产投资300亿元。
"""
ITEMS = [
    {"id": "t-1", "question": "江汉区2019年固定资产投资计划完成多少?", "answerable": True,
     "must_include": ["430亿元"], "doc": "000_jianghan.txt", "evidence": ["固定资产投资总额完成430亿元"],
     "line": 8, "district": "江汉区", "year": 2019, "kind": "numeric-target", "lang": "zh"},
    {"id": "t-2", "question": "江汉区2018年地区生产总值是多少", "answerable": True, "must_include": ["1255亿元"],
     "doc": "000_jianghan.txt", "evidence": ["预计全年实现地区生产总值1255亿元"], "line": 5,
     "district": "江汉区", "year": 2018, "kind": "numeric-result", "lang": "zh"},
    {"id": "t-3", "question": "江汉区2019年和武昌区2021年的固定资产投资目标分别是多少", "answerable": True,
     "must_include": ["430亿元", "300亿元"], "partial_ok": True, "doc": ["000_jianghan.txt", "001_wuchang.txt"],
     "evidence": ["固定资产投资总额完成430亿元", "完成固定资产投资300亿元"], "line": [8, 6],
     "district": ["江汉区", "武昌区"], "year": None, "kind": "cross-doc", "lang": "zh"},
    {"id": "t-4", "question": "武昌区2030年常住人口规划目标是多少", "answerable": False, "must_include": [],
     "doc": None, "evidence": [], "line": None, "district": "武昌区", "year": 2030, "kind": "unanswerable",
     "lang": "zh"},
]  # fmt: skip


@pytest.fixture
def tiny_set(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "000_jianghan.txt").write_text(JIANGHAN, encoding="utf-8")
    (corpus / "001_wuchang.txt").write_text(WUCHANG, encoding="utf-8")
    for item in [i for i in ITEMS if i["answerable"]]:  # the gold lines are right: the fixture stays honest
        docs, lines = (
            (item["doc"], item["line"]) if item["kind"] == "cross-doc" else ([item["doc"]], [item["line"]])
        )
        for doc, line in zip(docs, lines, strict=True):
            text = (corpus / doc).read_text(encoding="utf-8").splitlines()[line - 1]
            assert any(e in text for e in item["evidence"]), (item["id"], doc, line)
    eval_set = tmp_path / "tiny.jsonl"
    eval_set.write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in ITEMS) + "\n", encoding="utf-8")
    return tmp_path, corpus, eval_set


def test_run_eval_end_to_end_against_gold(tiny_set):
    from evals.report import table, write_json, write_report
    from evals.runner import run_eval
    from rag.config import Settings

    tmp_path, corpus, eval_set = tiny_set
    settings = Settings(home=tmp_path / "home")
    result = run_eval(eval_set, settings, baselines=True, corpus=corpus)

    assert list(result.systems) == ["ours", "bm25", "dense", "naive-llama-index"]
    for scores in result.systems.values():
        assert set(scores.overall) == {"n", *METRICS} and scores.overall["n"] == 4
        assert list(scores.kinds) == ["numeric-target", "numeric-result", "cross-doc", "unanswerable"]
        assert scores.overall["latency_p95_ms"] >= scores.overall["latency_p50_ms"] > 0
    ours = {row.id: row for row in result.ours.items}
    # real figures against gold: the target and the result are answered with their gold strings and cited
    assert ours["t-1"].score == 1.0 and "430亿元" in ours["t-1"].answer and ours["t-1"].rank <= 3
    assert ours["t-2"].score == 1.0 and "1255亿元" in ours["t-2"].answer and ours["t-2"].cited_support
    assert ours["t-3"].score > 0 and ours["t-3"].expected_where == ["000_jianghan.txt:8", "001_wuchang.txt:6"]
    assert ours["t-4"].refused and ours["t-4"].score == 1.0  # 2030 is in no report: refused
    assert result.ours.overall["answer_accuracy"] >= 0.75 and result.ours.overall["grounded_numbers"] == 1.0
    assert "overall" in table(result) and "[naive-llama-index]" in table(result)

    write_json([result], tmp_path / "out" / "result.json")
    write_report([result], tmp_path / "out" / "report.md")
    (data,) = json.loads((tmp_path / "out" / "result.json").read_text(encoding="utf-8"))
    assert data["systems"]["ours"]["overall"]["n"] == 4 and len(data["systems"]["ours"]["items"]) == 4
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert (
        "![chart](report-tiny.png)" in report and (tmp_path / "out" / "report-tiny.png").stat().st_size > 1000
    )
    assert "Failed items" in report


def _fake_result(failures):
    from evals.runner import EvalResult

    row = ItemScore(id="x", kind="fact", gold_answerable=True, refused=True, rank=None, score=0.0,
                    cited_support=False, numbers=0, grounded=0, latency_ms=3.0, question="q?", expected=["1"],
                    expected_where=["a.txt:1"], answer="报告中未找到")  # fmt: skip
    return EvalResult("tiny.jsonl", {"ours": summarize([row])}, failures, {"items": 1})


@pytest.mark.parametrize("failures, code", [([], 0), (["overall hit@5 = 0.000 < threshold 0.9"], 1)])
def test_eval_command_exit_codes(monkeypatch, tmp_path, failures, code):
    import evals.runner

    monkeypatch.setattr(evals.runner, "run_sets", lambda *a, **kw: [_fake_result(failures)])
    out = tmp_path / "r.md"
    result = CliRunner().invoke(eval_command, ["--report", str(out), "--json", str(tmp_path / "r.json")])
    assert result.exit_code == code, result.output
    assert "false refusal" in out.read_text(encoding="utf-8") and (tmp_path / "r-tiny.png").exists()
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))[0]["failures"] == failures


def test_eval_command_bad_set_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "q", "answerable": true}\n{"id": "b",\n', encoding="utf-8")
    result = CliRunner().invoke(eval_command, ["--set", str(bad)])
    assert result.exit_code == 2
    assert "bad.jsonl:2" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(eval_command, ["--set", str(tmp_path / "missing.jsonl")])
    assert result.exit_code == 2 and "no such eval file" in result.output


def test_eval_help_is_light():
    code = "import sys, ui.cli; bad = {'evals.runner', 'torch', 'llama_index.core', 'matplotlib'} & set(sys.modules); assert not bad, bad"  # noqa: E501
    subprocess.run([sys.executable, "-c", code], check=True)
