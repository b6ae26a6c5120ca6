"""Question understanding: a question is parsed once into a `Query` (scope, answer type, intent, key terms)
that retrieval, evidence scoring and answer composition all use.

- scope: the places it names, resolved against the places the corpus holds (short forms, English names,
  an ambiguous short name by what the corpus holds); places it names that the corpus does not hold; years
  (Arabic or Chinese numerals, 今年/去年 relative to the latest report of the place asked about), a five-year
  plan (十四五, 到2025年 with 十四五末), a part of the year (上半年, 前三季度).
- intent: a target/plan ("目标", "计划", "打算", "要…", "target") or an achieved result ("实际", "完成了",
  "涨了", past tense "did … create"), or neither.
- answer type: an amount, a percentage, a count, a list, a definition, a rank, a name, or a plain number.
- key terms: content words of the match form (abbreviations canonicalised as in the reports' index), weighted
  by their rarity in the corpus (IDF), with the corpus's other spellings of them (`rag.terms`). English words
  are looked up in CC-CEDICT (`rag.english`).
- names: those the question quotes or that the reports coin in quotes; for a list question, how many things
  of what kind a numbered name counts (“三城”, 一轴两区三城).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.metadata import five_year_plan, years_in
from ingest.places import find_places, national
from ingest.text import UNITS, match_form
from ingest.types import Place
from rag.english import chinese_terms, is_english, names_indicator
from rag.lexical import QUOTED, BM25Index
from rag.lists import numbered_parts
from rag.scope import CorpusProfile
from rag.terms import in_vocabulary, key_terms

PLAN_STRONG = re.compile(r"目标|计划|预期|规划|打算|\btargets?\b|\bgoals?\b|\bplan(?:ned|s)?\b|\baim", re.I)
PLAN_WEAK = re.compile(
    r"预计|力争|准备|拟|想(?!到)|要(?!求)|定了|定的|将|争取|任务|安排|\bexpect|\bset (?:for|to)\b|\bwill\b",
    re.I,
)
RESULT_STRONG = re.compile(
    r"实际|完成了|实现了|达到了|增长了|涨了|降了|下降了|提高了|新增了|来了|一共|共计|累计|去年|上年|\bachiev|\bactual",
    re.I,
)
RESULT_WEAK = re.compile(
    r"完成|取得|已经|已|建成|\bdid\b|\bwas\b|\bwere\b|\bhad\b|\bcreated?\b|\breceived?\b|\bhandled?\b|\brecorded?\b",
    re.I,
)
HALF = re.compile(r"上半年|1[-—至~]6月|first half", re.I)
THREE_QUARTERS = re.compile(r"前三季度|1[-—至~]9月", re.I)
# another part of the year, asked by name: a figure for the whole year does not answer it
PART_OF_YEAR = re.compile(r"春节|国庆|五一|黄金周|暑期|暑假|寒假|元旦|端午|中秋|[一二三四]季度")
FULL_YEAR = re.compile(r"全年|full[- ]year|whole year", re.I)
NUMERAL = "一二两三四五六七八九十百千"
LIST_Q = re.compile(
    rf"哪些|哪几|分别(?!是?为?多少)|包括|包含|都有|有什么|有哪|是哪[{NUMERAL}\d]+|哪[{NUMERAL}\d]+[个项条张座所大]|哪[二两三四五六七八九十]|\bwhich\b|\bwhat are\b|\blist\b",
    re.I,
)
DEFINITION_Q = re.compile(
    r"什么意思|是指|指什么|指的是|含义|是什么|具体指|何谓|\bmean\b|\bwhat is\b|\bdefin", re.I
)
RANK_Q = re.compile(r"第几|排名|排第|排在|位次|名次|\brank", re.I)
NAME_Q = re.compile(
    r"谁|哪位|哪个|哪家|哪一|什么(?:企业|项目|奖|名字|公司|单位|地方)|\bwho\b|\bwhich\b", re.I
)
PERCENT_Q = re.compile(  # not a rise "to" a level, which asks for the level: "低保标准涨到多少", "增长到多少"
    r"增速|增幅|增长(?![到至])|百分之|百分比|比重|比例|占比|[率%]|涨(?![到至])|降幅|下降(?![到至])|\bgrowth\b|\brate\b"
    r"|\bpercent|\bshare\b|\bgrow",
    re.I,
)
_CJK_UNITS = "|".join(u for u in UNITS if not u.isascii())
# a unit asked for, with what it is per ("多少微克每立方米"): the unit says the kind, not what is asked about
UNIT_Q = re.compile(
    r"(?:多少|几)(?:个)?((?:万亿|亿|万|千)?(?:" + _CJK_UNITS + "))(?:(?:每|/)(?:" + _CJK_UNITS + "))?"
)
COUNT_Q = re.compile(
    r"多少|几|\bhow (?:many|long|far|large|big|high|much)\b|\bwhat (?:was|is|were) the (?:number|total|amount)",
    re.I,
)
AMOUNT_Q = re.compile(
    r"(?:总额|总量|总值|规模|金额|收入|产值|投资|支出)[^，,。?？]{0,6}?(?:多少|多大)|多少(?:亿|万|钱)|多少元|\bhow much\b",
    re.I,
)
# the kind of figure said in so many words (a total, a sum of money); "地区生产总值…多少" names only the indicator,
# and reports set such targets as growth rates as often as amounts
EXPLICIT_AMOUNT = re.compile(
    r"(?:总额|总量|规模|金额)[^，,。?？]{0,6}?(?:多少|多大)|多少(?:亿|万|钱)|多少元|\bhow much\b", re.I
)
# how many people of some kind: counted in 人, 人次 or 名 whatever the noun
PEOPLE_Q = re.compile(
    r"(?:多少|几)(?:个|名|位)?万?(?:游客|旅客|人口|居民|学生|职工|农民|贫困人口|志愿者|人才|人员|就业)"
)
# "by how much did X fall", "how much did X increase": a change, given as a rate as often as an amount
CHANGE_EN = re.compile(
    r"\bby how much\b|\bhow much\b.{0,60}?\b(?:fall|fell|drop|declin\w*|rise|rose|increas\w*|grow|grew)\b",
    re.I,
)
YESNO_Q = re.compile(r"是否|有没有|有无|吗[?？]?$|\bis there\b|\bdid .* set\b", re.I)
QUESTION_MARK = re.compile(
    r"[?？吗呢么啥谁哪怎何]|什么|如何|是否|\b(?:what|which|who|how|why|when|where|is|are|does|did)\b", re.I
)
# a year that names a report, not what it is about: "2018年报告里的", "2025年江苏省政府工作报告"
REPORT_YEAR = re.compile(
    r"((?:19|20)\d{2})\s*年(?:的|度)?(?:政府)?(?:工作)?报告|((?:19|20)\d{2})\s*年[^，,。？?\d]{0,8}?政府工作报告"
)
# a five-year plan's name names a period, not a target: "十三五规划期间年均增长" asks for a result
PLAN_NAME = re.compile(
    r"(?:十[一二三四五六七八九]五|“十五”|第[一二三四五六七八九十\d]+个五年)[”\"]?\s*(?:规划|计划)|\bfive[- ]year\s+plans?\b",
    re.I,
)
RELATIVE_YEAR = {"今年": 0, "本年": 0, "明年": 1, "去年": -1, "上年": -1, "前年": -2}


@dataclass(frozen=True)
class Query:
    question: str
    form: str  # match form of the question (English terms appended)
    english: bool
    places: tuple[Place, ...] = ()  # held places the question is about
    missing_places: tuple[str, ...] = ()  # places it names that the corpus does not hold
    years: tuple[int, ...] = ()
    report_years: tuple[int, ...] = ()  # those of `years` that name a report: all its sections are in scope
    period: tuple[int, int] | None = None  # a five-year plan span
    half: str | None = None  # "H1" (上半年) | "Q1-3" (前三季度) | another part named (春节, 一季度)
    full_year: bool = False
    intent: str | None = None  # plan | result | None
    intent_strong: bool = False  # decided by a strong cue (目标, 计划 / 实际, 完成了, 去年 …)
    answer_type: str = "other"  # amount | percent | count | number | list | definition | rank | name | yesno
    unit: str | None = None  # a unit asked for: 多少亿元 → 亿元
    type_explicit: bool = False  # says the kind of figure (a unit, a rate, 总额), not only the indicator
    terms: dict[str, float] = field(default_factory=dict)  # key term (match form) → weight
    # term → the corpus's other spellings of it (棚改: 棚户区改造)
    alts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    named: tuple[str, ...] = ()  # names the question quotes: “六清”
    # a list question's numbered name: "三城" → ((3, "城"),), a list of that many things ending in 城
    numbered: tuple[tuple[int, str], ...] = ()
    parts: int = 1  # how many things are asked ("…多少？…多少？" → 2)
    unknown: tuple[str, ...] = ()  # content words the corpus never uses, nor a word they abbreviate (地铁站)
    # set by retrieval: a section reviewing the asked year is in scope, so a question that names no plan or
    # target ("2017年GDP是多少", "What was X's GDP in 2013?") asks what happened, not what was planned
    reviewed: bool = False
    both_intents: bool = False  # asks the target and the result ("目标是多少，实际完成了多少")
    plan_said: bool = False  # any word of a target or plan ("目标", "要", "力争"), even beside a result's

    @property
    def numeric(self) -> bool:
        return self.answer_type in ("amount", "percent", "count", "number")

    @property
    def scoped(self) -> bool:
        return bool(self.places or self.years or self.period)


YEAR_BEFORE_NAME = re.compile(r"(?:19|20)\d{2}\s*年(?:的)?")


def _places(question: str, profile: CorpusProfile) -> tuple[tuple[Place, ...], tuple[str, ...], list[str]]:
    """(held places asked about, places named but not held, the surfaces to drop from key terms)."""
    held = tuple(profile.places.values())
    mentions = find_places(question, held)
    if not mentions:  # "2016年海拉尔农村…": a short name right after a year, read as at the start of the text
        mentions = find_places(YEAR_BEFORE_NAME.sub(lambda m: " " * len(m.group(0)), question), held)
    scope: list[Place] = []
    missing: list[str] = []
    named = [m.candidates[0] for m in mentions]
    for place in named:
        if profile.held(place):
            scope.append(place)
        elif (ancestor := profile.held_ancestor(place)) is not None:
            scope.append(ancestor)  # 唐山港 in 河北省's report: the scope is the report's place
        elif place.level == "national":
            continue  # "全国第一", "全国文明城市": the country as a yardstick, unless the corpus holds it
        elif any(place.name in other.chain[:-1] and profile.held(other) for other in named):
            continue  # "呼伦贝尔市海拉尔区": a parent named before the held place
        else:
            missing.append(place.name)
    if not scope and not missing and national().name in profile.places:
        if re.search(r"全国|我国|中国|国务院|\bChina\b|\bnational", question, re.I):
            scope.append(profile.places[national().name])
    unique = tuple(dict.fromkeys(scope))
    return (
        unique,
        tuple(dict.fromkeys(n for n in missing if n not in {p.name for p in unique})),
        [m.surface for m in mentions],
    )


# a year typed bare in a keyword query ("青山 2017 招商引资", "武昌2017招商"): four digits, not a figure with a unit
BARE_YEAR = re.compile(
    r"(?<![\d.])((?:19|20)\d{2})(?![\d.%％])(?!\s*(?:[万亿千百多余元倍次]|" + _CJK_UNITS + "))"
)


def _years(question: str, places: tuple[Place, ...], profile: CorpusProfile):
    years = set(years_in(question)) | {int(y) for y in BARE_YEAR.findall(question)}
    anchor = profile.latest_year(places)
    for word, offset in RELATIVE_YEAR.items():
        if word in question and anchor is not None:
            years.add(anchor + offset)
    if re.search(r"\blast year\b", question, re.I) and anchor:
        years.add(anchor - 1)
    if re.search(r"\bthis year\b", question, re.I) and anchor:
        years.add(anchor)
    plan = five_year_plan(question)
    period = (plan[1], plan[2]) if plan else None
    if period and re.search(r"末|到\s*\d{4}|by \d{4}", question):
        years.discard(period[1])
    return tuple(sorted(years)), period


def _intent(q: str) -> tuple[str | None, bool]:
    """(plan or result when the question's cues point one way, else None; whether a strong cue decided it).
    None when it asks both ("目标是多少，实际完成了多少")."""
    strong_plan, strong_result = len(PLAN_STRONG.findall(q)), len(RESULT_STRONG.findall(q))
    if strong_plan and strong_result:
        return None, False
    plan = 2 * strong_plan + len(PLAN_WEAK.findall(q))
    result = 2 * strong_result + len(RESULT_WEAK.findall(q))
    intent = "plan" if plan > result else "result" if result > plan else None
    return intent, bool(intent and (strong_plan if intent == "plan" else strong_result))


def _answer_type(q: str) -> tuple[str, str | None]:
    unit = UNIT_Q.search(q)
    if DEFINITION_Q.search(q) and not COUNT_Q.search(q):
        return "definition", None
    if LIST_Q.search(q) and not RANK_Q.search(q):
        return "list", None
    if RANK_Q.search(q):
        return "rank", None
    if len(re.findall(r"多少|几[个家项人次]?|\bhow (?:many|much|fast)\b", q, re.I)) >= 2:
        return "number", None  # "是多少，增长了多少": an amount and a rate, any figure may answer a part
    if CHANGE_EN.search(q):
        return "number", None
    if PERCENT_Q.search(q) and not unit:
        return "percent", "%"
    if unit:
        u = unit.group(1)
        return ("amount" if u.endswith("元") else "count"), u
    if PEOPLE_Q.search(q):  # "来了多少游客": a count of people, in 人 (人次, 名)
        return "count", "人"
    if AMOUNT_Q.search(q):
        return "amount", None
    if COUNT_Q.search(q):
        return "number", None
    if re.match(r"\s*what\s+(?:was|is|were|are|will)\b", q, re.I) and names_indicator(q):
        return "number", None  # "What was Hailar's GDP in 2013?": an indicator's figure
    if NAME_Q.search(q):
        return "name", None
    if YESNO_Q.search(q):
        return "yesno", None
    if not QUESTION_MARK.search(q) and re.search(r"(?<!\d)(?:19|20)\d{2}(?!\d)", q):
        return "number", None  # a keyword query with a year ("青山 2017 招商引资") looks for figures
    return "other", None


PARSE_CHARS = 120  # bounded work: the key terms of a longer question come from its first 120 characters


def _coined_names(q: str, profile: CorpusProfile) -> list[str]:
    """Names the reports coin in quotes that the question writes without them ("三区两翼是指什么"), longest
    first, none inside another."""
    found: list[str] = []
    for name in sorted((n for n in profile.names if n in q), key=len, reverse=True):
        if not any(name in longer for longer in found):
            found.append(name)
    return found


def _part_of_year(q: str) -> str | None:
    if HALF.search(q):
        return "H1"
    if THREE_QUARTERS.search(q):
        return "Q1-3"
    part = PART_OF_YEAR.search(q)
    return part.group(0) if part else None


def parse_query(question: str, profile: CorpusProfile, index: BM25Index) -> Query:
    q = question.strip()[:PARSE_CHARS]
    english = is_english(q)
    places, missing, surfaces = _places(q, profile)
    years, period = _years(q, places, profile)
    answer_type, unit = _answer_type(q)
    report_years = {int(a or b) for a, b in REPORT_YEAR.findall(q)}
    unnamed = PLAN_NAME.sub(" ", q)
    intent, strong = _intent(unnamed)
    form = match_form(q)
    plan = five_year_plan(q)
    periods = [m.group(0) for m in (HALF.search(q), THREE_QUARTERS.search(q), FULL_YEAR.search(q)) if m]
    asked_unit = [m.group(0) for m in UNIT_Q.finditer(q)]
    drop = surfaces + ([plan[0]] if plan else []) + periods + asked_unit
    terms, unknown, alts = key_terms(form, drop, index)
    for word in unknown:  # asked about, said nowhere: every statement misses it (coverage falls)
        terms.setdefault(word, round(index.idf(word), 3))
    named = tuple(dict.fromkeys(QUOTED.findall(q) + _coined_names(q, profile)))
    top = max(terms.values(), default=1.0)
    for name in named:  # a name the question quotes is a key term of its own, among the rarest
        terms.setdefault(match_form(name), round(max(top, index.idf(match_form(name))), 3))
    if english:
        extra = chinese_terms(q, lambda w: in_vocabulary(match_form(w), index), tuple(surfaces))
        for word, confidence in extra.items():
            w = match_form(word)
            terms.setdefault(w, round(confidence * index.idf(w), 3))
        form = form + " " + " ".join(extra)
    spellings = list(terms) + [a for t in alts for a in alts[t]]
    form = form + "".join(f" {t}" for t in spellings if t not in form)  # abbreviations spelt out, for BM25
    parts = max(1, len(re.findall(r"多少|几[个家项人次]|\bhow (?:many|much)\b", q, re.I)))
    return Query(
        question=q,
        form=form,
        english=english,
        places=places,
        missing_places=missing,
        years=years,
        report_years=() if period else tuple(y for y in years if y in report_years),
        period=period,
        half=_part_of_year(q),
        full_year=bool(FULL_YEAR.search(q)),
        intent=intent,
        intent_strong=strong,
        both_intents=bool(PLAN_STRONG.search(unnamed) and RESULT_STRONG.search(unnamed)),
        plan_said=bool(PLAN_STRONG.search(unnamed) or PLAN_WEAK.search(unnamed)),
        answer_type=answer_type,
        unit=unit,
        type_explicit=unit is not None or (bool(EXPLICIT_AMOUNT.search(q)) and not CHANGE_EN.search(q)),
        terms=terms,
        alts=alts,
        named=named,
        numbered=numbered_parts(q, named) if answer_type in ("list", "definition") else (),
        parts=parts,
        unknown=tuple(unknown),
    )
