"""Document and section metadata: the place that issued a report, the report year, the years and five-year
plan periods a text names, and what a section is (plan, result, the opening address, other).

- `document_place`: the issuer named by the header ("2025年1月20日在安徽省第十四届人民代表大会…", "海拉尔区
  人民政府区长", "我代表国务院"), then by the title, then the place the body names most; the full chain comes
  from the gazetteer (`ingest.places`), so a report that names only 海拉尔区 is still under 呼伦贝尔市.
- `report_year`: the year the report plans for: the title's year, else the delivery date of the header
  (a report delivered in November or December plans for the next year), else the year of the plan
  headings ("2018年主要任务"), else the year after the reviewed one ("2017年工作回顾").
- `five_year_plan`: the N-th five-year plan (十一五 … 十五五, 第十四个五年规划) by one rule: it starts in 1953
  for N = 1, 1958 for N = 2 and 1951 + 5N from the third on (1963–1965 were years of readjustment between
  the second and third), so 十一五 is 2006–2010, 十四五 2021–2025, 十五五 2026–2030.
"""

from __future__ import annotations

import re
from collections import Counter

from ingest.places import NATIONAL, find_places, gazetteer
from ingest.sections import OPENING, heading_rank
from ingest.text import clean_text
from ingest.types import Kind, Place

CN_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")
YEAR = re.compile(
    r"(?<![\d.])((?:19|20)\d{2})(?:\s*[-–—~至到]\s*((?:19|20)\d{2}))?(?![\d.%])(\s*年|(?!\s*[\u4e00-\u9fff]))"
)
CN_YEAR = re.compile(r"([〇零一二三四五六七八九]{4})\s*年")
CN_PLAN = re.compile(
    r"(?<![一二三四五六七八九十])十([一二三四五六七八九])五[”\"]?(末)?|“十五”|十五(?=计划|时期|期间)"
)
NTH_PLAN = re.compile(r"第([一二三四五六七八九十]+|\d+)个五年(?:规划|计划)")
BY_YEAR = re.compile(r"到\s*((?:19|20)\d{2})\s*年")
DATE = re.compile(r"((?:19|20)\d{2})\s*年?\s*(\d{1,2})\s*月?\s*(\d{1,2})\s*日")
CN_DATE = re.compile(r"([〇零一二三四五六七八九]{4})年([一二三四五六七八九十]{1,3})月")
PUBLISHED = re.compile(r"((?:19|20)\d{2})[-/.](\d{1,2})[-/.]\d{1,2}")

NATIONAL_CUE = re.compile(r"全国人民代表大会|国务院总理|代表国务院")
ISSUER_CUES = [  # the captured text names the issuer
    re.compile(r"(?:在|^)([^在，,。:：]{2,40}?)第[一二三四五六七八九十百\d]+届\s*人民代表大会"),
    re.compile(r"([^\s，,。:：]{2,30}?)(?:人民政府)?(?:代理|代)?(?:省长|市长|区长|县长|旗长|州长|盟长|主席)"),
    re.compile(r"我代表([^，,。]{2,30}?)人民政府"),
]
HEADER_LINES = 8

RESULT_HEADING = re.compile(r"回顾|完成情况|成绩|成效|进展|总结|过去|以来")
PLAN_HEADING = re.compile(
    r"工作任务|重点工作|重点任务|主要工作|工作安排|主要任务|目标任务|预期目标|主要目标|总体要求|总体部署|工作思路"
    r"|政策取向|工作建议|计划|规划|打算|实事|展望|今后|今年|明年"
)
NOTE_HEADING = re.compile(r"名词(解释|注释)|附件$")
PLAN_WORDS = re.compile(r"目标|计划|预期|力争|确保|将要|我们将|拟|争取")
RESULT_WORDS = re.compile(r"完成情况|已完成|预计全年|同比增长|实现了|完成了|累计完成|上半年完成|已经")


def _cn_number(text: str) -> int:
    """一 … 九十九: 十二 → 12, 二十九 → 29; digit strings as they are."""
    if text.isdigit():
        return int(text)
    tens, _, units = text.rpartition("十")
    value = int(units.translate(CN_DIGITS) or 0)
    return value + 10 * (int(tens.translate(CN_DIGITS) or 1) if "十" in text else 0)


def years_in(text: str) -> list[int]:
    """Years a text names, in order, once each: 2021年, 2021—2025年 (both ends), a 4-digit year on its own
    ("2021 GDP"), 二〇二〇年, and the end year of a plan named with 末 (十四五末 → 2025). Numbers with a unit
    (2021亿元) are not years."""
    found: list[tuple[int, int]] = []
    for m in YEAR.finditer(text):
        found += [(m.start(), int(m.group(1)))] + ([(m.start(2), int(m.group(2)))] if m.group(2) else [])
    found += [(m.start(), int(m.group(1).translate(CN_DIGITS))) for m in CN_YEAR.finditer(text)]
    for m in CN_PLAN.finditer(text):
        if m.group(2) and (plan := five_year_plan(m.group(0))):
            found.append((m.start(), plan[2]))
    return list(dict.fromkeys(year for _, year in sorted(found)))


def plan_span(n: int) -> tuple[int, int]:
    start = 1953 + 5 * (n - 1) if n <= 2 else 1951 + 5 * n
    return start, start + 4


def _plan_name(n: int) -> str:
    return "十五" if n == 10 else f"十{'一二三四五六七八九'[n - 11]}五" if 11 <= n <= 19 else f"第{n}个五年"


EN_PLAN = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\s+five[- ]year\s+plan", re.I)


def five_year_plan(text: str) -> tuple[str, int, int] | None:
    """The five-year plan a text names first (十四五, “十五”, 第十四个五年规划), or the one ending in the year
    a five-year text aims at ("今后五年…到2025年"): (name, start year, end year)."""
    m = CN_PLAN.search(text)
    n = (10 + int(m.group(1).translate(CN_DIGITS)) if m.group(1) else 10) if m else None
    if n is None and (m := NTH_PLAN.search(text)):
        n = _cn_number(m.group(1))
    if n is None and (m := EN_PLAN.search(text)):  # "the 13th Five-Year Plan (period)"
        n = int(m.group(1))
    if n is None and "五年" in text and (m := BY_YEAR.search(text)):
        n = (int(m.group(1)) - 1955) // 5 if (int(m.group(1)) - 1955) % 5 == 0 else None
    return (_plan_name(n), *plan_span(n)) if n and n >= 3 else None


def heading_year(path: tuple[str, ...]) -> int | None:
    """The year named by the deepest heading of a section path that names one (not a span: 2021—2025年)."""
    for label in reversed(path):
        m = YEAR.search(label) or CN_YEAR.search(label)
        if m and not (m.re is YEAR and m.group(2)):
            return int(m.group(1).translate(CN_DIGITS))
    return None


def section_period(path: tuple[str, ...], report_year: int | None) -> tuple[int, int] | None:
    """The five-year span a section is about: a plan its headings name (“十四五”目标任务), a span of years
    (2021—2025年), or the government's term (过去五年, 今后五年) counted from the report year."""
    for label in reversed(path):
        if plan := five_year_plan(label):
            return plan[1], plan[2]
        if (m := YEAR.search(label)) and m.group(2):
            return int(m.group(1)), int(m.group(2))
        if report_year and re.search("过去五年|五年来", label):
            return report_year - 5, report_year - 1
        if report_year and re.search("今后五年|未来五年", label):
            return report_year, report_year + 4
    return None


def dominant_year(lines: list[str], report_year: int | None = None) -> int | None:
    """The year the lines name most; with the report's year, the reviewed or the planned year if they name
    either (a section of a spring report is about one of them, whatever past years it recalls)."""
    counts = Counter(year for line in lines for year in years_in(line))
    if report_year and (
        near := Counter({y: n for y, n in counts.items() if report_year - 1 <= y <= report_year})
    ):
        counts = near
    return counts.most_common(1)[0][0] if counts else None


def _header(title: str, lines: list[str]) -> list[str]:
    """The title and the lines before the address to the delegates ends."""
    header = [title]
    for line in (clean_text(x) for x in lines):
        if not line or line == title:
            continue
        header.append(line)
        if OPENING.search(line) or len(header) > HEADER_LINES:
            break
    return header


def document_place(title: str, lines: list[str]) -> Place | None:
    """The place whose government issued the report (全国 for the State Council's), or None if unknown."""
    header = _header(clean_text(title), lines)
    if any(NATIONAL_CUE.search(line) for line in header):
        return NATIONAL
    body = find_places("\n".join(clean_text(x) for x in lines))
    named = tuple(dict.fromkeys(m.candidates[0] for m in body if len(m.candidates) == 1))
    for cue in ISSUER_CUES:
        for line in header:
            for m in cue.finditer(line):
                if mentions := find_places(m.group(1), named):
                    return mentions[-1].candidates[0]
    in_title = [m.candidates[0] for m in find_places(header[0], named) if m.candidates[0] != NATIONAL]
    if in_title:
        return max(in_title, key=lambda p: len(p.chain))
    counts = Counter(m.candidates[0] for m in body if m.candidates[0] != NATIONAL)
    (best, n), (_, runner_up) = (counts.most_common(2) + [(None, 0), (None, 0)])[:2]
    return best if n >= 2 and n > runner_up else None


def report_year(title: str, lines: list[str]) -> int | None:
    """The year the report plans for (see the module docstring)."""
    title = clean_text(title)
    if years := years_in(title):
        return years[0]
    header = _header(title, lines)
    for line in header:
        if m := DATE.search(line):
            return int(m.group(1)) + (int(m.group(2)) >= 11)
        if m := CN_DATE.search(line):
            return int(m.group(1).translate(CN_DIGITS)) + (_cn_number(m.group(2)) >= 11)
    plans, reviews = [], []
    for line in (clean_text(x) for x in lines):
        if (
            len(line) <= 40
            and heading_rank(line, generic=False) is not None
            and (year := heading_year((line,)))
        ):
            if RESULT_HEADING.search(line):
                reviews.append(year + 1)
            elif PLAN_HEADING.search(line):
                plans.append(year)
    if plans or reviews:
        return max(plans or reviews)
    for line in header:
        if m := PUBLISHED.search(line):
            return int(m.group(1)) + (int(m.group(2)) >= 11)
    return None


def section_kind(
    path: tuple[str, ...],
    text: str,
    title: str,
    *,
    report_year: int | None = None,
    after: Kind | None = None,
    year: int | None = None,
) -> Kind:
    """opening (the address to the delegates before the first heading), plan (targets, tasks), result
    (achievements) or other. The top heading with a cue decides (工作回顾/过去一年/十四五以来 → result,
    政府工作任务/工作安排/主要预期目标/2025年重点工作 → plan, a year before the report year → result); a section
    without one that follows the plans (加强政府自身建设) is a plan too; else the year the section is about
    (`year`: before the report year → result, the report year → plan), else the cue words of the text, else
    the title."""
    if not path and OPENING.search(text):
        return "opening"
    for label in path:
        if NOTE_HEADING.search(label):
            return "other"
        if RESULT_HEADING.search(label):
            return "result"
        if PLAN_HEADING.search(label):
            return "plan"
        if report_year and (named := heading_year((label,))):
            return "result" if named < report_year else "plan"
    if after == "plan" and path:
        return "plan"
    if year and report_year and year <= report_year:
        return "result" if year < report_year else "plan"
    plan_n, result_n = len(PLAN_WORDS.findall(text)), len(RESULT_WORDS.findall(text))
    if plan_n != result_n:
        return "plan" if plan_n > result_n else "result"
    return "result" if RESULT_HEADING.search(title) else "other"


# ---- compatibility, to be removed: rag/ modules still import these Wuhan tables ----
FIVE_YEAR_PLANS = {_plan_name(n): plan_span(n) for n in range(11, 16)}


def __getattr__(name: str):
    if name in ("DISTRICTS", "DISTRICTS_EN", "DISTRICT_RE"):
        g = gazetteer()
        wuhan = [p for p in g.all_places() if p.level == "county" and p.chain[:2] == ("湖北省", "武汉市")]
        districts = {g.short[p.code]: p.name for p in wuhan if p.code in g.short}
        english = {key: p.name for key, owners in g.en.items() for p in owners if p in wuhan}
        tables = {"DISTRICTS": districts, "DISTRICTS_EN": english}
        tables["DISTRICT_RE"] = re.compile("|".join(sorted(districts, key=len, reverse=True)))
        return tables[name]
    raise AttributeError(name)
