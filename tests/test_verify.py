"""Citation parsing and answer verification (rag.verify), on their own."""

from __future__ import annotations

import pytest

from ingest.text import claimed_numbers, number_grounded
from ingest.types import Chunk
from rag.verify import (
    parse_citations,
    split_sentences,
    verify_answer,
)


def chunk(text: str, section: str = "工作安排") -> Chunk:
    return Chunk(
        id=Chunk.make_id("r.txt", text),
        doc="r.txt",
        title="2021年武昌区政府工作报告",
        place="武昌区",
        report_year=2021,
        section=section,
        section_year=2021,
        kind="plan",
        start_line=1,
        end_line=1,
        text=text,
        clean=text,
    )


PLAN = chunk("2021年主要预期目标是:地区生产总值增长7%左右;完成固定资产投资300亿元;新增就业1.2万个。")
RESULT = chunk("2020年全区新增市场主体2万余家,招商引资到位资金916,564万元,空气质量优良天数96天。", "工作回顾")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("增长7%左右[1]。", [1]),
        ("见[1][2]。", [1, 2]),
        ("见[1,2]和[3, 4]", [1, 2, 3, 4]),
        ("见[1、2]", [1, 2]),
        ("见［1］和［２，３］", [1, 2, 3]),
        ("见【4】", [4]),
        ("见[2-4]", [2, 3, 4]),
        ("先[2]后[1]再[2]", [2, 1]),
        ("没有引用,7%。", []),
    ],
)
def test_parse_citations(text: str, expected: list[int]) -> None:
    assert parse_citations(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("完成固定资产投资300亿元", ["300亿元"]),
        ("增长8%", ["8%"]),
        ("增长7.8%左右", ["7.8%"]),
        ("新增1.2万个", ["1.2万个"]),
        ("到位资金916,564万元", ["916,564万元"]),
        ("市场主体2万余家", ["2万余家"]),
        ("占比62.6%", ["62.6%"]),
        ("排名第27名", ["第27名"]),
        ("引进12541人", ["12541人"]),
        ("腾退351.8亩", ["351.8亩"]),
        ("优良天数达到96", ["96"]),
        ("增长８％,投资３００亿元", ["8%", "300亿元"]),
        ("2021年增长7%[1]", ["7%"]),  # the year and the citation marker are not claims
        ("2021—2025年目标[2][3]", []),
        ("增长8%,完成300 亿元", ["8%", "300亿元"]),
        ("提高1.5个百分点", ["1.5个百分点"]),
    ],
)
def test_claimed_numbers(text: str, expected: list[str]) -> None:
    assert claimed_numbers(text) == expected


@pytest.mark.parametrize(
    ("number", "texts", "grounded"),
    [
        ("916564万元", ["招商引资到位资金916,564万元"], True),
        ("916,564万元", ["到位资金916564万元"], True),
        ("300亿元", ["完成固定资产投资３００亿元"], True),
        ("300亿元", ["完成固定资产投资 300 亿元"], True),
        ("7.8%", ["增长7.8%左右"], True),
        ("7.80%", ["增长7.8%"], True),
        ("300亿", ["300亿元"], True),  # a unit left off
        ("96", ["优良天数96天"], True),
        ("2万家", ["2万余家"], True),
        ("14", ["13.“三大工程”建设。\n14.2025年10件民生实事"], True),  # item 14, then a year
        ("310亿元", ["完成固定资产投资300亿元"], False),
        ("30亿元", ["完成固定资产投资330亿元"], False),
        ("300万元", ["300亿元"], False),  # magnitude differs
        ("300亿元", ["300亿美元"], False),  # unit differs
        ("7%", ["增长7.8%"], False),
        ("96", ["960"], False),
        ("300亿元", [], False),
        ("no number", ["300亿元"], False),
    ],
)
def test_number_grounded(number: str, texts: list[str], grounded: bool) -> None:
    assert number_grounded(number, texts) is grounded


def test_split_sentences_keeps_trailing_citations_with_their_sentence() -> None:
    assert split_sentences("增长7%左右。[1]投资300亿元[2];其他。\nIt grew. [3] Done.") == [
        "增长7%左右。[1]",
        "投资300亿元[2];",
        "其他。",
        "It grew.[3]",
        "Done.",
    ]
    assert split_sentences("增长7%左右。［1］投资300亿元。【2】") == [
        "增长7%左右。［1］",
        "投资300亿元。【2】",
    ]


def test_verify_accepts_grounded_cited_answer() -> None:
    result = verify_answer("2021年地区生产总值预期增长7%左右,固定资产投资目标300亿元[1]。", [PLAN, RESULT])
    assert result.ok and result.problems == [] and result.cited == [1]


def test_verify_accepts_numbers_with_separators_and_full_width() -> None:
    answer = "招商引资到位资金916564万元［2］;新增市场主体２万余家[2]。"
    assert verify_answer(answer, [PLAN, RESULT]).ok


def test_verify_fails_without_citation() -> None:
    result = verify_answer("固定资产投资目标300亿元。", [PLAN])
    assert not result.ok and result.cited == []
    assert "cites no passage" in result.problems[0]


def test_verify_fails_on_citation_out_of_range() -> None:
    result = verify_answer("固定资产投资目标300亿元[1][7]。", [PLAN, RESULT])
    assert not result.ok and result.cited == [1, 7]
    assert any("[7]" in p and "not given" in p for p in result.problems)
    assert not verify_answer("目标300亿元[0]。", [PLAN]).ok


def test_verify_fails_on_number_missing_from_cited_passage() -> None:
    result = verify_answer("固定资产投资目标310亿元[1]。", [PLAN])
    assert not result.ok
    assert result.problems == ["number 310亿元 not found in cited passage [1]"]


def test_verify_checks_each_sentence_against_its_own_citations() -> None:
    # 300亿元 is in [1], not in [2]: citing the wrong passage for a sentence fails
    assert not verify_answer("新增市场主体2万余家[2];固定资产投资300亿元[2]。", [PLAN, RESULT]).ok
    assert verify_answer("新增市场主体2万余家[2];固定资产投资300亿元[1]。", [PLAN, RESULT]).ok


def test_verify_uses_all_cited_passages_when_citations_come_only_at_the_end() -> None:
    answer = "2020年新增市场主体2万余家。\n2021年固定资产投资目标300亿元。\n[1][2]"
    assert verify_answer(answer, [PLAN, RESULT]).ok
    assert not verify_answer("2020年新增市场主体3万余家。\n[1][2]", [PLAN, RESULT]).ok


def test_verify_ignores_years_but_grounds_english_numbers() -> None:
    assert verify_answer("In 2021 the target for fixed-asset investment was 300亿元 [1].", [PLAN]).ok
    assert not verify_answer("In 2021 the target was 30 billion yuan [1].", [PLAN]).ok
