"""Document and section metadata: district, report year, the year a section is about, plan vs. result."""

from __future__ import annotations

import re
from collections import Counter

# Districts of Wuhan, short name → full name; English (pinyin) names map to the same.
DISTRICTS = {
    "江岸": "江岸区", "江汉": "江汉区", "硚口": "硚口区", "汉阳": "汉阳区", "武昌": "武昌区",
    "青山": "青山区", "洪山": "洪山区", "东西湖": "东西湖区", "汉南": "汉南区", "蔡甸": "蔡甸区",
    "江夏": "江夏区", "黄陂": "黄陂区", "新洲": "新洲区", "东湖高新": "东湖高新区",
}  # fmt: skip
DISTRICTS_EN = {
    "jiang'an": "江岸区", "jiangan": "江岸区", "jianghan": "江汉区", "qiaokou": "硚口区", "hanyang": "汉阳区",
    "wuchang": "武昌区", "qingshan": "青山区", "hongshan": "洪山区", "dongxihu": "东西湖区", "hannan": "汉南区",
    "caidian": "蔡甸区", "jiangxia": "江夏区", "huangpi": "黄陂区", "xinzhou": "新洲区",
}  # fmt: skip
DISTRICT_RE = re.compile("|".join(sorted(DISTRICTS, key=len, reverse=True)))

YEAR_RE = re.compile(r"(20\d{2})\s*年")
DATE_RE = re.compile(r"(20\d{2})[-/.年]\s*\d{1,2}[-/.月]")
FIVE_YEAR_PLANS = {"十三五": (2016, 2020), "十四五": (2021, 2025), "十五五": (2026, 2030)}

PLAN_HEADING = re.compile(r"主要工作|工作安排|主要任务|目标任务|预期目标|计划|规划|打算|实事|展望|总体要求")
RESULT_HEADING = re.compile(r"回顾|完成情况|成绩|工作情况|成效|进展|总结")
PLAN_WORDS = re.compile(r"目标|计划|预期|力争|确保|将要|我们将|拟|争取")
RESULT_WORDS = re.compile(r"完成情况|已完成|预计全年|同比增长|实现了|完成了|累计完成|上半年完成|已经")


def find_district(title: str, body: list[str]) -> str | None:
    """District named in the title, else the one named most often in the body (boilerplate already removed)."""
    m = DISTRICT_RE.search(title)
    if m:
        return DISTRICTS[m.group(0)]
    counts = Counter(DISTRICTS[m.group(0)] for line in body for m in DISTRICT_RE.finditer(line))
    if not counts:
        return None
    (best, n), *rest = counts.most_common(2) + [(None, 0)]
    return best if n >= 2 and n > rest[0][1] else None


def find_report_year(title: str, header_lines: list[str], heading_years: list[int]) -> int | None:
    """Year of the report: in its title, else its publication date, else the latest year its headings name."""
    m = YEAR_RE.search(title)
    if m:
        return int(m.group(1))
    for line in header_lines:
        m = DATE_RE.search(line)
        if m:
            return int(m.group(1))
    return max(heading_years) if heading_years else None


def dominant_year(lines: list[str]) -> int | None:
    counts = Counter(int(y) for line in lines for y in YEAR_RE.findall(line))
    return counts.most_common(1)[0][0] if counts else None


def heading_year(path: tuple[str, ...]) -> int | None:
    """The year named by the deepest heading of a section path that names one."""
    for label in reversed(path):
        m = YEAR_RE.search(label)
        if m:
            return int(m.group(1))
    return None


def five_year_plan(path: tuple[str, ...]) -> str | None:
    for label in reversed(path):
        for name in FIVE_YEAR_PLANS:
            if name in label:
                return name
    return None


def section_kind(path: tuple[str, ...], text: str, title: str) -> str:
    """plan (targets, tasks), result (achievements) or other: the deepest heading with a cue decides,
    else the balance of cue words in the text, else the title."""
    for label in reversed(path):
        plan, result = PLAN_HEADING.search(label), RESULT_HEADING.search(label)
        if plan and not result:
            return "plan"
        if result and not plan:
            return "result"
    plan_n, result_n = len(PLAN_WORDS.findall(text)), len(RESULT_WORDS.findall(text))
    if plan_n > result_n:
        return "plan"
    if result_n > plan_n:
        return "result"
    if RESULT_HEADING.search(title):
        return "result"
    return "other"
