"""How a statement's words and figures match what a question asks: coverage of its key terms (IDF weighted,
soft on characters), the kind of figure (an amount with its unit, a percentage, a count, a rank, an enumeration,
a definition) and whether the figure stands next to what it measures. Used by `rag.evidence` for its features.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ingest.text import match_form, numbers
from rag.query import Query

ENUMERATION = re.compile(r"(?:[^、，,；;]{1,20}、){2,}|[①②③④⑤⑥⑦⑧⑨]|[一二三四五六七八九十]是|\d[.、．]")
DEFINES = re.compile(r"[:：]|即|是指|指的是|包括|分别是|也就是")
CLAUSE = re.compile(r"[^，,；;、。:：]+")
THOUSANDS = re.compile(r"(?<=\d),(?=\d{3})")  # 916,564万元 is one number, not two clauses
# a clause that opens with one of these has no subject of its own: its figure belongs to the clause before
NO_SUBJECT = re.compile(
    r"^(?:同比|比上年|较上年|年均|平均|增长|下降|提高|降低|达到|增加|减少|完成|实现|占|其中|分别|居|排)"
)


@lru_cache(maxsize=200_000)
def _bigrams(text: str) -> frozenset[str]:
    return frozenset(text[i : i + 2] for i in range(len(text) - 1))


def coverage(text: str, terms: dict[str, float], alts: dict[str, tuple[str, ...]] | None = None) -> float:
    """Weighted share of key terms in `text` (match form): a term found whole, or another spelling of it
    (`alts`: 棚户区改造 for 棚改), counts 1, else half the share of its character bigrams found (so
    "社会销售品零售总额" still mostly covers "社会消费品零售总额")."""
    total = sum(terms.values())
    if not total:
        return 0.0
    grams = _bigrams(text)
    got = 0.0
    alts = alts or {}
    for term, weight in terms.items():
        if term in text or any(a in text for a in alts.get(term, ())):
            got += weight
        elif len(term) >= 2:
            wanted = _bigrams(term)
            got += 0.5 * weight * len(wanted & grams) / max(1, len(wanted))
    return got / total


# units that count the same things: "多少人" is answered in 人次 or 名 as well, "多少家企业" in 户
SAME_UNIT = [{"人", "人次", "名", "位"}, {"户", "家"}]


def unit_fits(unit: str | None, n) -> bool:
    """Whether a number is in the unit asked for ("多少万人": 760万人次 is; 183人 is not)."""
    if not unit:
        return False
    base = unit.lstrip("万亿千")
    magnitude = unit[: len(unit) - len(base)]
    same = unit in (n.full_unit, n.unit) or any(base in g and n.unit in g for g in SAME_UNIT)
    return same and n.magnitude.startswith(magnitude)


def _fits(query: Query, n) -> bool:
    """Whether a number is of the kind the question asks for."""
    if n.is_year:
        return False
    t = query.answer_type
    if t == "percent":
        return n.is_percent
    if query.unit == "个":  # the all-purpose measure word: a report may count in 座, 家, 项 … or with none
        return not n.is_percent and not n.is_money
    if query.unit:
        return unit_fits(query.unit, n) or (t == "count" and not n.unit)
    if t == "amount":
        return bool(n.magnitude) or n.is_money
    return t in ("count", "number", "rank") and not n.is_percent


def bound_coverage(query: Query, form: str) -> float:
    """How much of the question's key terms stand in the same clause as a number of the asked kind — or in the
    clause before, when the number's clause has no subject ("…地区生产总值287.9亿元，年均增长12.1%"), or in
    the clauses after it that share its object ("完成1.8万户、189万平方米棚改任务"). An amount in 亿元
    elsewhere in the sentence does not answer "地区生产总值多少亿元"."""
    if not query.numeric:
        return coverage(form, query.terms, query.alts)
    text = THOUSANDS.sub("", form)
    spans = [(m.start(), m.end()) for m in CLAUSE.finditer(text)]
    clauses = [text[a:b] for a, b in spans]
    best = 0.0
    for i, clause in enumerate(clauses):
        if not any(_fits(query, n) for n in numbers(clause)):
            continue
        context = clause
        j = i
        while j > 0 and NO_SUBJECT.match(clauses[j]) and i - j < 2:
            j -= 1
            context = clauses[j] + " " + context
        k = i
        while k + 1 < len(clauses) and text[spans[k][1] : spans[k][1] + 1] == "、" and k - i < 3:
            k += 1  # "1.8万户、189万平方米棚改任务": figures listed before what they count
            context = context + " " + clauses[k]
        best = max(best, coverage(context, query.terms, query.alts))
    return best


def defines(query: Query, form: str) -> float:
    """1 when the statement opens a definition of one of the question's rarest terms: the term, then ":",
    "是指", "即", "包括" … within a few characters."""
    if not query.terms and not query.named:
        return 0.0
    top = max(query.terms.values(), default=0.0)
    names = list(query.named) + [t for t, w in query.terms.items() if w >= 0.8 * top]
    pattern = r".{0,4}?(?:[:：]|是指|即|指的是|包括|分别是|就是)"
    return float(any(re.search(re.escape(match_form(name)) + pattern, form) for name in names))


def type_match(query: Query, stmt_form: str, found: list) -> float:
    t = query.answer_type
    if t == "percent":
        return 1.0 if any(n.is_percent for n in found) else 0.3 if found else 0.0
    if t == "amount":
        if query.unit:
            return 1.0 if any(unit_fits(query.unit, n) for n in found) else 0.2 if found else 0.0
        return 1.0 if any(n.magnitude or n.is_money for n in found) else 0.4 if found else 0.0
    if t == "count":
        if any(unit_fits(query.unit, n) for n in found):
            return 1.0
        return 0.6 if any(not n.is_percent and not n.is_year for n in found) else 0.0
    if t == "number":
        return 1.0 if any(not n.is_year for n in found) else 0.0
    if t == "rank":
        return 1.0 if re.search(r"第[一二三四五六七八九十\d]+|首位|前列|位居|排名|领先", stmt_form) else 0.0
    if t == "list":
        return 1.0 if ENUMERATION.search(stmt_form) else 0.0
    if t == "definition":
        return 1.0 if DEFINES.search(stmt_form) or ENUMERATION.search(stmt_form) else 0.3
    return 0.5
