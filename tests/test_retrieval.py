"""Scope parsing, follow-ups, retrieval and extractive answers on the real seeds index."""

from rag.answer import list_items
from rag.scope import inherit_scope, parse_scope, translate


def test_scope_parsing():
    s = parse_scope("武昌2021年固定资产投资目标")
    assert (s.districts, s.years, s.intent) == (["武昌区"], [2021], "plan")
    s = parse_scope("What was Wuchang District's GDP growth in the first half of 2019?")
    assert s.districts == ["武昌区"] and s.years == [2019] and s.half_year and s.english
    assert parse_scope("武昌区“十四五”期间累计固定资产投资目标是多少").five_year == "十四五"
    assert parse_scope("2017年青山区和武昌区的招商引资总额分别是多少").districts == ["青山区", "武昌区"]
    assert parse_scope("武昌区2019年全年地区生产总值实际增长了多少").intent == "result"
    assert "固定资产投资" in translate("武昌固投目标") and "社会消费品零售总额" in translate("社零")


def test_follow_up_inherits_scope():
    assert inherit_scope("那江汉呢?", "武昌2021年固定资产投资目标") == "江汉区2021年固定资产投资目标"
    assert inherit_scope("2019年呢", "武昌2021年固定资产投资目标") == "武昌2019年固定资产投资目标"
    assert inherit_scope("社零目标呢", "武昌2021年固定资产投资目标").startswith("武昌区2021年")
    assert (
        inherit_scope("江汉区2018年地区生产总值", "武昌2021年固定资产投资目标") == "江汉区2018年地区生产总值"
    )


def test_mission_question_prefers_the_2021_plan(seed_rag):
    top = seed_rag.retrieve("武昌2021年固定资产投资目标", 5)
    assert (
        top[0].chunk.doc == "001_61e2f93ad6a7b961.txt"
        and top[0].chunk.start_line <= 89 <= top[0].chunk.end_line
    )
    assert top[0].chunk.kind == "plan" and top[0].chunk.section_year == 2021
    answer = seed_rag.ask("武昌2021年固定资产投资目标")
    assert "300亿元" in answer.answer and "270亿元" not in answer.answer and "1800亿元" not in answer.answer
    assert answer.citations[0].quote in answer.citations[0].text


def test_uncovered_scope_has_nothing_in_scope_and_is_refused(seed_rag):
    for question in ["洪山区2019年固定资产投资目标", "武昌2022年固定资产投资目标"]:
        assert not any(s.in_scope for s in seed_rag.retrieve(question, 10))
        answer = seed_rag.ask(question)
        assert not answer.answerable and answer.citations == [] and "未找到" in answer.answer
    closest = seed_rag.ask("武昌2022年固定资产投资目标")
    assert "2021年" in closest.answer  # names the closest thing that exists


def test_cross_district_answer_cites_each_part(seed_rag):
    answer = seed_rag.ask("2017年青山区和武昌区的招商引资总额分别是多少")
    assert "480亿元" in answer.answer and "686.4亿元" in answer.answer
    assert {c.place for c in answer.citations} >= {"青山区", "武昌区"}


def test_numbers_in_extractive_answers_are_in_cited_text(seed_rag, dev_items):
    from ingest.text import claimed_numbers, number_grounded

    for item in dev_items[:30]:
        answer = seed_rag.ask(item["question"])
        for number in claimed_numbers(answer.answer):
            assert number_grounded(number, [c.text for c in answer.citations]), (item["id"], number)


def test_list_items():
    assert list_items("“四水共治”全面推进。防洪水:甲;排涝水:乙;治污水:丙;保供水:丁") == [
        "防洪水",
        "排涝水",
        "治污水",
        "保供水",
    ]
    assert list_items("1. 关爱老年人。为…\n2. 帮扶残疾人。提高…\n3. 关注妇幼健康。全面…") == [
        "关爱老年人",
        "帮扶残疾人",
        "关注妇幼健康",
    ]
    assert list_items("只有一句话。") == []


def test_follow_up_of_an_english_question():
    q = inherit_scope("那青山呢?", "What was Wuchang District's GDP growth in the first half of 2019?")
    assert q == "What was Qingshan District's GDP growth in the first half of 2019?"
