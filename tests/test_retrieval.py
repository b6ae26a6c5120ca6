"""Retrieval and extractive answers on the real seeds index (the `seed_rag` fixture of conftest)."""

import pytest

from ingest.text import claimed_numbers, number_grounded
from rag.lists import enumeration_labels


def test_target_question_gets_the_target_not_the_result_or_the_five_year_sum(seed_rag):
    retrieval = seed_rag.retrieve("武昌2021年固定资产投资目标", 5)
    top = retrieval.ranked[0].chunk
    assert top.doc == "001_61e2f93ad6a7b961.txt" and top.start_line <= 89 <= top.end_line
    assert top.kind == "plan" and top.section_year == 2021
    answer = seed_rag.ask("武昌2021年固定资产投资目标")
    assert "300亿元" in answer.answer and "270亿元" not in answer.answer and "1800亿元" not in answer.answer
    assert answer.citations[0].quote in answer.citations[0].text


@pytest.mark.parametrize(
    ("question", "says"),
    [("洪山区2019年固定资产投资目标", "没有洪山区"), ("上海2025年GDP增长目标", "没有上海市"),
     ("What was Hanyang District's GDP in 2018?", "do not include 汉阳区")],
)  # fmt: skip
def test_a_place_the_corpus_does_not_hold_is_refused_naming_what_it_holds(seed_rag, question, says):
    answer = seed_rag.ask(question)
    assert not answer.answerable and answer.citations == []
    assert says in answer.answer and "武昌区" in answer.answer and "江汉区" in answer.answer


def test_year_not_held_is_refused(seed_rag):
    answer = seed_rag.ask("江汉区2030年地区生产总值目标")
    assert not answer.answerable and "2030年" in answer.answer and "江汉区 (2019)" in answer.answer


def test_scope_words_are_required(seed_rag):
    half = seed_rag.ask("2019年上半年武昌区社会消费品零售总额完成多少")
    assert half.answerable and "385.3亿元" in half.answer  # the half-year figure, from the mid-year report
    full = seed_rag.ask("武昌区2019年全年地区生产总值实际增长了多少")
    assert "9%" not in full.answer  # the report gives the first half only


@pytest.mark.parametrize("question", ["江汉2019年地区生产总值目标是多少", "江汉区2019年GDP"])
def test_a_target_set_as_a_growth_rate_answers_a_question_naming_only_the_indicator(seed_rag, question):
    answer = seed_rag.ask(question)  # the report sets "地区生产总值增长8%左右", no amount
    assert answer.answerable and "8%" in answer.answer
    assert answer.citations[0].doc == "000_6ed33a1f63881161.txt"


def test_a_question_asking_for_a_total_is_not_answered_with_a_rate(seed_rag):
    answer = seed_rag.ask("江汉区2019年地区生产总值总量是多少亿元")
    assert "8%" not in answer.answer


def test_each_place_asked_gets_its_own_quote(seed_rag):
    answer = seed_rag.ask("2017年青山区和武昌区的招商引资总额分别是多少")
    assert {c.place for c in answer.citations} >= {"青山区", "武昌区"}
    assert "480亿元" in answer.answer and "686.4亿元" in answer.answer


def test_numbers_in_extractive_answers_are_in_cited_text(seed_rag, dev_items):
    for item in dev_items[:30]:
        answer = seed_rag.ask(item["question"])
        for number in claimed_numbers(answer.answer):
            assert number_grounded(number, [c.text for c in answer.citations]), (item["id"], number)


def test_a_numbered_name_is_answered_with_what_it_counts(seed_rag):
    answer = seed_rag.ask(
        "青山区要构筑的“三城”是哪三个城？"
    )  # the name itself is not in the answer's sentence
    assert all(city in answer.answer for city in ("滨江红城", "北湖绿城", "白玉蓝城"))


def test_a_name_the_reports_coin_is_asked_about_whole_without_quotes(seed_rag):
    answer = seed_rag.ask("三区两翼是指什么")  # not “三区两通道”, which shares two of its characters
    assert "三区两翼" in answer.answer and "三区两通道" not in answer.answer


def test_every_citation_is_referenced_in_the_answer(seed_rag, dev_items):
    for item in dev_items[:30] + [{"id": "list", "question": "“四水共治”是哪四水"}]:
        answer = seed_rag.ask(item["question"])
        for c in answer.citations:
            assert f"[{c.n}]" in answer.answer, (item["id"], c.n)


def test_the_opening_address_does_not_outrank_content(seed_rag):
    retrieval = seed_rag.retrieve("青山区政府工作报告里2018年的主要任务", 5)
    assert retrieval.ranked[0].chunk.kind != "opening"


def test_enumeration_labels():
    labels, end = enumeration_labels("“四水共治”全面推进。防洪水:甲。排涝水:乙。治污水:丙。保供水:丁。其他。")
    assert labels == ["防洪水", "排涝水", "治污水", "保供水"] and end > 0
    assert enumeration_labels("1. 关爱老年人。为…\n2. 帮扶残疾人。提高…\n3. 关注妇幼健康。全面…")[0] == [
        "关爱老年人",
        "帮扶残疾人",
        "关注妇幼健康",
    ]
    assert enumeration_labels("只有一句话。") == ([], 0)


def test_list_question_lists_the_items(seed_rag):
    answer = seed_rag.ask("青山区“四水共治”包括哪几个方面")
    assert answer.answerable and all(x in answer.answer for x in ("防洪水", "排涝水", "治污水"))


def test_vectorised_scope_equals_the_reference(seed_rag, dev_items):
    import numpy as np

    from rag.query import parse_query
    from rag.scope import chunk_in_scope

    snap = seed_rag.snapshot
    for item in dev_items:
        q = parse_query(item["question"], snap.profile, snap.retriever.bm25)
        reference = np.array(
            [chunk_in_scope(c, q.places, q.years, q.period, q.report_years) for c in snap.chunks]
        )
        assert (snap.retriever.in_scope(q) == reference).all(), item["id"]


def _chunk(text: str, line: int, section: str = "一、2024年工作回顾"):
    from ingest.types import Chunk

    return Chunk(id=f"c{line}", doc="report.txt", title="政府工作报告", place="甲省", report_year=2025,
                 section=section, section_year=2024, kind="result", start_line=line, end_line=line, text=text,
                 clean=text)  # fmt: skip


def test_an_introduction_lists_the_numbered_paragraphs_that_follow_it():
    from ingest.text import split_statements
    from rag.lists import numbered_paragraphs

    intro = _chunk("一年来，以打好“三场战役”为牵引，着重抓了以下工作。", 1)
    chunks = [
        intro,
        _chunk("一是聚力打好稳增长阵地战，经济运行持续向好。全年增长5.8%。", 2),
        _chunk("消费市场回暖向好。开展促消费活动。", 3),  # a body paragraph of item 1, its own chunk
        _chunk(
            "二是聚力打好促改革攻坚战，发展活力加速释放。\n三是聚力打好防风险保卫战，平安建设扎实推进。", 4
        ),
        _chunk(
            "一是聚焦扩大内需，着力提消费促投资", 5, "三、2025年重点工作"
        ),  # another section: another list
    ]
    following = dict(zip(chunks, chunks[1:], strict=False))
    stmt = split_statements(intro.text)[-1]
    items = numbered_paragraphs(intro, stmt, following.get)
    assert [label for _, label, _ in items] == [
        "聚力打好稳增长阵地战",
        "聚力打好促改革攻坚战",
        "聚力打好防风险保卫战",
    ]
    assert all(quote in chunk.text for chunk, _, quote in items)  # each item is cited to its own chunk
    assert [chunk.start_line for chunk, _, _ in items] == [2, 4, 4]
    # an introduction followed by body text, not by item 1, lists nothing
    assert numbered_paragraphs(intro, stmt, {intro: chunks[2]}.get) == []


def test_the_items_of_a_numbered_name_given_as_run_in_headings():
    from ingest.text import split_statements
    from rag.lists import run_in_headings

    first = _chunk("加快推进“三个中心”建设。增强国际经济中心核心功能。健全体制机制，培育龙头企业。", 1)
    second = _chunk("提升国际金融中心服务能级。完善金融服务体系。推动国际贸易中心提质升级。办好进博会。", 2)
    stmt = split_statements(first.text)[0]
    items = run_in_headings(first, stmt, {first: second}.get, 3, "中心")
    assert [label for _, label, _ in items] == [
        "增强国际经济中心核心功能",
        "提升国际金融中心服务能级",
        "推动国际贸易中心提质升级",
    ]
    assert [chunk.start_line for chunk, _, _ in items] == [1, 2, 2]
    assert run_in_headings(first, stmt, {}.get, 3, "中心") == []  # all three, or none


def test_a_year_inside_a_five_year_plan_is_not_answered_with_the_plan_total(seed_rag):
    answer = seed_rag.ask(
        "武昌2022年固定资产投资目标"
    )  # the 2021 report gives 2021's and 2021–2025's, not 2022's
    assert not answer.answerable and "1800亿元" not in answer.answer
