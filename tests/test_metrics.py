"""The metric code on hand-made items: no index, no model."""

import pytest

from evals.metrics import (
    EvalItem,
    EvalSetError,
    aggregate,
    answer_score,
    check_thresholds,
    first_hit_rank,
    grounded,
    load_items,
    normalize,
    numbers_in,
)


def item(**kw) -> EvalItem:
    base = dict(id="t", question="q", answerable=True, must_include=["300亿元"], doc="a.txt", evidence=["完成固定资产投资300亿元"], kind="numeric-target")
    return EvalItem(**{**base, **kw})


def test_normalize_nfkc_whitespace_fullwidth():
    assert normalize("３００ 亿元\n") == "300亿元"
    assert normalize("Ⅴ　ａ") == "Va"


def test_answer_score_all_partial_and_refusals():
    assert answer_score("完成固定资产投资３００亿元[1]", True, item()) == 1.0
    assert answer_score("270亿元", True, item()) == 0.0
    lst = item(must_include=["巡司河", "董家明渠", "罗家港"], partial_ok=True)
    assert answer_score("巡司河、罗家港", True, lst) == pytest.approx(2 / 3)
    assert answer_score("报告中未找到", False, item()) == 0.0  # false refusal
    assert answer_score("报告中未找到", False, item(answerable=False, must_include=[])) == 1.0
    assert answer_score("300亿元", True, item(answerable=False, must_include=[])) == 0.0


def test_cross_doc_hit_needs_every_gold_doc():
    cross = item(doc=["a.txt", "b.txt"], evidence=["甲480亿元", "乙686.4亿元"])
    ranked = [("a.txt", "甲480亿元"), ("c.txt", "noise"), ("b.txt", "乙 686.4亿元")]
    assert first_hit_rank(ranked, cross) == 3
    assert first_hit_rank(ranked[:2], cross) is None
    assert first_hit_rank([("b.txt", "完成固定资产投资300亿元")], item()) is None  # right text, wrong doc


def test_aggregate_refusal_precision_recall_and_mrr():
    rows = [
        dict(id="1", kind="k", gold_answerable=True, refused=False, rank=2, score=1.0, cited_support=True, numbers=2, grounded=2, latency_ms=10),
        dict(id="2", kind="k", gold_answerable=True, refused=True, rank=None, score=0.0, cited_support=False, numbers=0, grounded=0, latency_ms=20),
        dict(id="3", kind="u", gold_answerable=False, refused=True, rank=None, score=1.0, cited_support=False, numbers=0, grounded=0, latency_ms=30),
        dict(id="4", kind="u", gold_answerable=False, refused=False, rank=None, score=0.0, cited_support=False, numbers=1, grounded=0, latency_ms=40),
    ]
    m = aggregate(rows)
    assert m["hit@1"] == 0.0 and m["hit@5"] == 0.5 and m["mrr@10"] == 0.25
    assert m["refusal_precision"] == 0.5 and m["refusal_recall"] == 0.5 and m["false_refusal_rate"] == 0.5
    assert m["citation_support"] == 1.0 and m["grounded_numbers"] == pytest.approx(2 / 3)
    assert m["answer_accuracy"] == 0.5


def test_numbers_and_grounding():
    assert numbers_in("完成916,564万元[1],增长９.１%,2019年") == ["916564万元", "9.1%"]
    assert grounded(["916564万元", "9.1%"], ["上半年完成916,564万元,同比增长9.1%"]) == 2
    assert grounded(["310亿元"], ["完成固定资产投资300亿元"]) == 0


def test_thresholds():
    overall = {"hit@5": 0.9, "false_refusal_rate": 0.2}
    fails = check_thresholds(overall, {"list": {"hit@5": 0.5}}, {"overall": {"hit@5": 0.95, "max_false_refusal_rate": 0.1}, "kind": {"list": {"hit@5": 0.4}}})
    assert len(fails) == 2 and "hit@5" in fails[0]


def test_malformed_set_names_the_line(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"id": "a", "question": "q", "answerable": true}\n{not json\n', encoding="utf-8")
    with pytest.raises(EvalSetError, match="bad.jsonl:2"):
        load_items(f)
