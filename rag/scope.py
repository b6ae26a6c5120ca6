"""What a question is scoped to: districts, years (or a five-year plan, or a half year), and intent
(a plan/target or an achieved result). Also rewrites English terms and colloquial abbreviations into the
reports' own wording, and fills a follow-up question's missing scope from the previous one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.metadata import DISTRICT_RE, DISTRICTS, DISTRICTS_EN, FIVE_YEAR_PLANS
from ingest.types import Chunk

# Abbreviations users type and English report terms → the reports' wording. Longest keys match first.
SYNONYMS = {
    "固投": "固定资产投资", "社零": "社会消费品零售总额", "社消零": "社会消费品零售总额", "gdp": "地区生产总值",
    "GDP": "地区生产总值", "规上工业": "规模以上工业", "一般预算收入": "一般公共预算收入", "财政收入": "一般公共预算收入",
    "招商": "招商引资", "外资": "外商直接投资", "失业率": "城镇登记失业率", "空气质量": "空气质量优良天数",
    "十三五期间": "十三五", "十四五期间": "十四五", "财政总收入": "一般公共预算总收入", "增速": "增长",
    "经济增长": "地区生产总值增长", "经济总量": "地区生产总值", "外贸": "进出口",
}  # fmt: skip
ENGLISH_TERMS = {
    "fixed-asset investment": "固定资产投资", "fixed asset investment": "固定资产投资",
    "retail sales of consumer goods": "社会消费品零售总额", "retail sales": "社会消费品零售总额",
    "gdp": "地区生产总值", "gross domestic product": "地区生产总值", "fiscal revenue": "财政收入",
    "general public budget revenue": "一般公共预算收入", "budget revenue": "一般公共预算收入",
    "investment attraction": "招商引资", "attracted investment": "招商引资", "foreign investment": "外资",
    "days of good air quality": "空气质量优良天数", "good air quality": "空气质量优良", "air quality": "空气质量",
    "patents granted": "专利授权", "patent": "专利", "patents": "专利", "invention": "发明",
    "isolation points": "隔离点", "isolation point": "隔离点", "recovery stations": "康复驿站",
    "makeshift hospital": "方舱医院", "hospital beds": "床位", "beds": "床位", "covid-19": "疫情", "outbreak": "疫情",
    "micro-circulation roads": "微循环道路", "micro-circulation": "微循环", "roads": "道路", "road": "道路",
    "new jobs": "新增就业", "employment": "就业", "unemployment rate": "城镇登记失业率",
    "disposable income": "人均可支配收入", "per capita": "人均", "elevators": "电梯", "elevator": "加装电梯",
    "old residential communities": "老旧小区", "old communities": "老旧小区", "schools": "学校", "kindergartens": "幼儿园",
    "service industry": "服务业", "services": "服务业", "industrial output": "工业总产值", "tax": "税收",
    "market entities": "市场主体", "enterprises": "企业", "headquarters": "总部", "fortune 500": "世界500强",
    "college students": "大学生", "graduates": "大学生", "startup": "创业", "poverty": "贫困", "pension": "养老",
    "elderly": "老年人", "garbage sorting": "垃圾分类", "waste sorting": "垃圾分类", "greening": "绿化",
    "first half": "上半年", "growth": "增长", "grow": "增长", "increase": "增长", "target": "目标", "goal": "目标",
    "plan": "计划", "planned": "计划", "completed": "完成", "total": "总额", "investment": "投资",
    "built": "建设", "build": "建设", "set up": "设立", "district": "区",
}  # fmt: skip
PLAN_CUES = re.compile(
    r"目标|计划|预期|预计(?!全年)|安排|打算|力争|将要|任务|\btarget|\bplan|\bgoal|\bexpected\b|\bwill\b", re.I
)
RESULT_CUES = re.compile(
    r"实际|完成情况|进展|实现了?|取得|达到|成效|已经|\bdid\b|\bwas\b|\bwere\b|\bhad\b|\bachiev", re.I
)
YEAR_RE = re.compile(r"(?<!\d)(20\d{2})(?!\d)")
HALF_YEAR = re.compile(r"上半年|first half", re.I)
FULL_YEAR = re.compile(r"全年|full[- ]year|whole year", re.I)


@dataclass
class Scope:
    districts: list[str] = field(default_factory=list)  # full names, e.g. 武昌区
    years: list[int] = field(default_factory=list)
    five_year: str | None = None  # 十三五 / 十四五
    half_year: bool = False
    full_year: bool = False
    intent: str | None = None  # plan | result | None
    english: bool = False

    @property
    def empty(self) -> bool:
        return not (self.districts or self.years or self.five_year)


def translate(question: str) -> str:
    """The question in the reports' wording: English terms and district names, abbreviations → Chinese."""
    q = question
    if re.search(r"[A-Za-z]{3,}", q):
        low = q.lower()
        for en, zh in sorted({**DISTRICTS_EN, **ENGLISH_TERMS}.items(), key=lambda kv: -len(kv[0])):
            low = re.sub(rf"(?<![a-z]){re.escape(en)}(?![a-z])", f" {zh} ", low)
        q = low
    for _ in range(2):  # twice, so that a rewrite can enable another ("经济增速" → "经济增长" → …)
        for short, full in sorted(SYNONYMS.items(), key=lambda kv: -len(kv[0])):
            if short in q and full not in q:
                q = q.replace(short, full)
    return q


def parse_scope(question: str) -> Scope:
    english = bool(re.search(r"[A-Za-z]{3,}", question)) and not re.search(r"[\u4e00-\u9fff]", question)
    q = translate(question)
    districts = list(dict.fromkeys(DISTRICTS[m.group(0)] for m in DISTRICT_RE.finditer(q)))
    years = sorted({int(y) for y in YEAR_RE.findall(q)})
    five_year = next((name for name in FIVE_YEAR_PLANS if name in q), None)
    plan, result = bool(PLAN_CUES.search(q)), bool(RESULT_CUES.search(q))
    if len(years) > 1 and "完成" in q:
        result = True  # "2019年的目标和2020年的完成数": each year its own intent
    intent = "plan" if plan and not result else "result" if result and not plan else None
    return Scope(
        districts, years, five_year, bool(HALF_YEAR.search(q)), bool(FULL_YEAR.search(q)), intent, english
    )


def chunk_in_scope(chunk: Chunk, scope: Scope) -> bool:
    """Does the chunk belong to the districts and years the question asks about?"""
    if scope.districts and chunk.place not in scope.districts:
        return False
    if scope.five_year:  # a five-year plan period: the sections about it
        return scope.five_year in chunk.section
    if scope.years:
        return chunk.section_year in scope.years
    return True


def inherit_scope(question: str, previous_question: str | None) -> str:
    """A follow-up ("那江汉呢?") with the scope it leaves out taken from the previous question."""
    if not previous_question:
        return question
    now, before = parse_scope(question), parse_scope(previous_question)
    core = re.sub(
        r"^(那么?|那|还有|以及|and|what about|how about)\s*|(呢|吧)?[?\uff1f]?\s*$",
        "",
        question.strip(),
        flags=re.I,
    )
    stripped = DISTRICT_RE.sub("", YEAR_RE.sub("", core)).replace("年", "").replace("区", "").strip(" ,,、")
    if stripped:  # the follow-up asks something of its own: only add the scope it leaves out
        prefix = ""
        if not now.districts and before.districts:
            prefix += before.districts[0]
        if not now.years and not now.five_year and before.years:
            prefix += f"{before.years[0]}年"
        return prefix + question if prefix else question
    # only a new district and/or year: ask the previous question again with it
    rewritten = previous_question
    english = re.compile(r"\b(" + "|".join(map(re.escape, DISTRICTS_EN)) + r")\b(\s+district)?", re.I)
    if now.districts and english.search(rewritten):  # an English question: swap the English name
        name = next(en for en, zh in DISTRICTS_EN.items() if zh == now.districts[0] and "'" not in en)
        rewritten = english.sub(f"{name.capitalize()} District", rewritten)
    elif now.districts:
        rewritten = DISTRICT_RE.sub("", rewritten).replace("区区", "区")
        rewritten = now.districts[0] + rewritten.lstrip("区")
    if now.years:
        rewritten = YEAR_RE.sub(str(now.years[0]), rewritten, count=1)
        if str(now.years[0]) not in rewritten:
            rewritten = f"{now.years[0]}年{rewritten}"
    return rewritten
