"""The metric code on hand-made items: no index, no model."""

from pathlib import Path

import pytest

from evals.metrics import (
    METRICS,
    EvalItem,
    EvalSetError,
    ItemScore,
    aggregate,
    answer_score,
    check_thresholds,
    first_hit_rank,
    is_hit,
    load_items,
    load_thresholds,
    normalize,
    percentile,
    summarize,
)


def item(**kw) -> EvalItem:
    base = dict(
        id="t",
        question="q",
        answerable=True,
        must_include=["300亿元"],
        doc="a.txt",
        evidence=["完成固定资产投资300亿元"],
        line=89,
        kind="numeric-target",
    )
    return EvalItem(**{**base, **kw})


def row(**kw) -> ItemScore:
    base = dict(
        id="r",
        kind="k",
        gold_answerable=True,
        refused=False,
        rank=1,
        score=1.0,
        cited_support=True,
        numbers=0,
        grounded=0,
    )
    return ItemScore(**{**base, "latency_ms": 10.0, **kw})


def test_normalize_nfkc_whitespace_fullwidth():
    assert normalize("３００ 亿元\n") == "300亿元"
    assert normalize("Ⅴ　ａ\t%") == "Va%"
    assert normalize("增长９．１％") == "增长9.1%"


def test_eval_item_accepts_the_format_variants():
    assert (
        item(year=2021).year == 2021
        and item(year="2021-2025").year == "2021-2025"
        and item(year=None).year is None
    )
    cross = item(doc=["a.txt", "b.txt"], line=[3, 9])
    assert cross.docs == ["a.txt", "b.txt"] and cross.lines == [3, 9]
    assert item(doc=None, line=None, answerable=False).docs == []


def test_answer_score_all_partial_and_refusals():
    assert answer_score("完成固定资产投资３００ 亿元[1]", True, item()) == 1.0
    assert answer_score("270亿元", True, item()) == 0.0
    both = item(must_include=["2万人", "3.2%"])
    assert answer_score("新增就业2万人", True, both) == 0.0  # all required without partial_ok
    lst = item(must_include=["巡司河", "董家明渠", "罗家港"], partial_ok=True)
    assert answer_score("巡司河、罗家港", True, lst) == pytest.approx(2 / 3)
    assert answer_score("巡司河、董家明渠、罗家港", False, lst) == 0.0  # refused: no credit for its text
    assert answer_score("报告中未找到", False, item()) == 0.0  # false refusal
    unanswerable = item(answerable=False, must_include=[], doc=None, evidence=[])
    assert answer_score("报告中未找到", False, unanswerable) == 1.0
    assert answer_score("300亿元", True, unanswerable) == 0.0


def test_hit_needs_gold_doc_and_normalised_evidence():
    assert is_hit("a.txt", "……完成固定资产投资 ３００亿元。", item())
    assert not is_hit("b.txt", "完成固定资产投资300亿元", item())  # right text, wrong doc
    assert not is_hit("a.txt", "完成固定资产投资270亿元", item())


def test_cross_doc_hit_needs_every_gold_doc():
    cross = item(doc=["a.txt", "b.txt"], evidence=["甲480亿元", "乙686.4亿元"], kind="cross-doc")
    ranked = [
        ("a.txt", "甲480亿元"),
        ("a.txt", "甲480亿元"),
        ("c.txt", "乙686.4亿元"),
        ("b.txt", "乙 686.4亿元"),
    ]
    assert first_hit_rank(ranked, cross) == 4
    assert first_hit_rank(ranked[:3], cross) is None  # only one gold doc covered
    assert first_hit_rank([("b.txt", "乙686.4亿元"), ("a.txt", "甲480亿元")], cross) == 2


def test_mrr_hit_at_k_over_answerable_items():
    rows = [
        row(rank=1),
        row(rank=4),
        row(rank=None),
        row(rank=10),
        row(gold_answerable=False, rank=None, refused=True),
    ]
    m = aggregate(rows)
    assert m["hit@1"] == 0.25 and m["hit@5"] == 0.5
    assert m["mrr@10"] == pytest.approx(round((1 + 1 / 4 + 0 + 1 / 10) / 4, 4))
    assert aggregate([row(rank=11)])["mrr@10"] == 0.0


def test_false_refusal_counts_against_refusal_precision():
    rows = [
        row(id="1", rank=2, numbers=2, grounded=2),
        row(id="2", refused=True, rank=None, score=0.0, cited_support=False),  # false refusal
        row(id="3", kind="u", gold_answerable=False, refused=True, rank=None, cited_support=False),
        row(id="4", kind="u", gold_answerable=False, rank=None, score=0.0, cited_support=False, numbers=1),
    ]
    m = aggregate(rows)
    assert m["refusal_precision"] == 0.5 and m["refusal_recall"] == 0.5 and m["false_refusal_rate"] == 0.5
    assert m["citation_support"] == 1.0  # over answerable items that were answered (only "1")
    assert m["grounded_numbers"] == pytest.approx(
        round(2 / 3, 4)
    )  # answered items, unanswerable "4" included
    assert m["answer_accuracy"] == 0.5
    assert set(m) == {"n", *METRICS}
    assert aggregate([row()])["refusal_precision"] is None  # nothing refused: undefined, not 0


def test_summarize_per_kind():
    scores = summarize([row(kind="list", score=0.5), row(kind="numeric-target"), row(kind="zz")])
    assert list(scores.kinds) == ["numeric-target", "list", "zz"]  # schema order, unknown kinds last
    assert scores.kinds["list"]["answer_accuracy"] == 0.5 and scores.overall["n"] == 3
    assert scores.to_dict()["items"][0]["kind"] == "list"


def test_score_item_counts_grounded_numbers_in_cited_chunks():
    from evals.runner import score_item
    from ingest.types import Chunk
    from rag.types import Answer, Citation

    text = "2019年预期目标:固定资产投资总额完成430亿元,增长５%。"
    chunk = Chunk(id="c", doc="a.txt", title="t", place="江汉区", report_year=2019, section="s", section_year=2019,
                  kind="plan", start_line=67, end_line=67, text=text, clean=text)  # fmt: skip
    cite = Citation.from_chunk(1, chunk, text)
    gold = item(must_include=["430亿元"], evidence=["固定资产投资总额完成430亿元"])
    good = Answer(question="q", answer="江汉区2019年:固定资产投资总额完成430亿元,增长5%[1]。", answerable=True,
                  citations=[cite], latency_ms=12.34)  # fmt: skip
    row = score_item(gold, good, [("b.txt", "noise"), ("a.txt", text)])
    assert (row.numbers, row.grounded, row.rank, row.score, row.cited_support) == (2, 2, 2, 1.0, True)
    assert row.cited == ["a.txt:67-67"] and row.expected_where == ["a.txt:89"] and row.latency_ms == 12.3
    other_doc = Citation.from_chunk(1, chunk.model_copy(update={"doc": "b.txt"}), text)
    assert not score_item(gold, good.model_copy(update={"citations": [other_doc]}), []).cited_support
    bad = good.model_copy(update={"answer": "完成固定资产投资310亿元[1]。"})
    assert (score_item(gold, bad, []).numbers, score_item(gold, bad, []).grounded) == (1, 0)
    refused = good.model_copy(
        update={"answer": "报告中未找到相关内容。", "answerable": False, "citations": []}
    )
    assert score_item(gold, refused, []).numbers == 0  # a refusal claims no number


def test_latency_percentiles():
    assert percentile([10, 20, 30, 40], 50) == 25
    assert percentile([5.0], 95) == 5.0 and percentile([], 50) == 0.0
    m = aggregate([row(latency_ms=v) for v in range(1, 101)])
    assert m["latency_p50_ms"] == 50.5 and m["latency_p95_ms"] == 95.0


def test_thresholds_check():
    scores = summarize([row(kind="list", rank=2), row(kind="list", refused=True, rank=None, score=0.0)])
    thresholds = {
        "overall": {"hit@1": 0.5, "hit@5": 0.4, "max_false_refusal_rate": 0.1, "refusal_precision": 0.9},
        "kind": {"list": {"answer_accuracy": 0.9}, "absent": {"hit@5": 1.0}},
    }
    failures = check_thresholds(scores, thresholds)
    assert len(failures) == 4
    assert failures[0] == "overall hit@1 = 0.000 < threshold 0.5"
    assert "false_refusal_rate = 0.500 > threshold 0.1" in failures[1]
    assert "refusal_precision" in failures[2] and failures[3].startswith("list answer_accuracy")
    assert check_thresholds(scores, {}) == []


def test_thresholds_file_is_checked(tmp_path):
    good = tmp_path / "t.toml"
    good.write_text(
        '[dev.overall]\n"hit@5" = 0.9\nmax_latency_p95_ms = 500\n[dev.kind.list]\nanswer_accuracy = 0.5\n'
        "[holdout.group.english]\nanswer_accuracy = 0.6\n"
    )
    loaded = load_thresholds(good)
    assert loaded["dev"]["kind"]["list"]["answer_accuracy"] == 0.5
    assert loaded["holdout"]["group"]["english"]["answer_accuracy"] == 0.6
    bad = tmp_path / "bad.toml"
    bad.write_text('[dev.overall]\n"hit@50" = 0.9\n')
    with pytest.raises(EvalSetError, match="hit@50"):
        load_thresholds(bad)


def test_project_thresholds_file_is_valid():
    from evals.runner import THRESHOLDS

    thresholds = load_thresholds(THRESHOLDS)
    assert {"dev", "tuning", "holdout"} <= set(thresholds) and thresholds["holdout"]["overall"]


def test_malformed_set_names_file_and_line(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"id": "a", "question": "q", "answerable": true}\n\n{not json\n', encoding="utf-8")
    with pytest.raises(EvalSetError, match=r"bad\.jsonl:3: not valid JSON"):
        load_items(f)
    f.write_text('{"id": "a", "question": "q", "answerable": "maybe"}\n', encoding="utf-8")
    with pytest.raises(EvalSetError, match=r"bad\.jsonl:1: .*answerable"):
        load_items(f)
    f.write_text('{"id": "a", "question": "q", "answerable": true}\n' * 2, encoding="utf-8")
    with pytest.raises(EvalSetError, match=r"bad\.jsonl:2: duplicate id"):
        load_items(f)
    with pytest.raises(EvalSetError, match="no such eval file"):
        load_items(tmp_path / "missing.jsonl")


def test_dev_set_loads():
    items = load_items(Path(__file__).resolve().parent.parent / "evals" / "dev.jsonl")
    assert len(items) >= 60 and {i.kind for i in items} >= {"cross-doc", "unanswerable", "english"}
    assert all(len(i.docs) == len(i.lines) for i in items)


@pytest.mark.parametrize("name", ["dev.jsonl", "tuning.jsonl", "holdout.jsonl"])
def test_every_gold_evidence_is_verbatim_in_its_document_at_its_line(name):
    """Each evidence string of an answerable item lies in one of its gold documents as the reader reads them,
    and the item's line (per document) holds one of its evidence strings."""
    from functools import cache

    from evals.runner import CORPORA
    from ingest.readers import read_lines

    lines_of = cache(lambda corpus, doc: read_lines(CORPORA[corpus] / doc))
    ids = set()
    for item in load_items(Path(__file__).resolve().parent.parent / "evals" / name):
        assert item.id not in ids
        ids.add(item.id)
        if not item.answerable:
            assert not item.must_include, item.id
            continue
        texts = [normalize("".join(lines_of(item.corpus, doc))) for doc in item.docs]
        for evidence in item.evidence:
            assert any(normalize(evidence) in t for t in texts), (item.id, evidence)
        for doc, line in zip(item.docs, item.lines, strict=True):
            held = normalize(lines_of(item.corpus, doc)[line - 1])
            assert any(normalize(e) in held for e in item.evidence), (item.id, doc, line)
