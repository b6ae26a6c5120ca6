"""Evidence scoring at statement level, shared by retrieval (reranking its head) and answering.

Each statement of a candidate chunk (a sentence, or a ；-clause with its subject attached; see
`ingest.text.split_statements`) gets a few features: lexical coverage of the question's key terms (IDF
weighted, soft on characters), semantic similarity to the question (multilingual e5: cross-lingual and
paraphrase-aware), answer-type match (an amount with its unit, a percentage, a count, an enumeration, a
definition), plan/result match decided from the statement's own wording with its section as a prior, the
asked year and part of the year, and the retrieval score of its chunk. A logistic model fitted on the tuning
eval items (`evals/calibrate.py`; weights in `rag/models/evidence.json`) turns them into a score.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ingest.text import Statement, match_form, numbers
from ingest.types import Chunk
from rag.lists import LIST_SCAN_CHARS, enumeration_labels, expands, items_after, run_on
from rag.matching import ENUMERATION, bound_coverage, coverage, defines, type_match, unit_fits
from rag.query import Query

MODELS = Path(__file__).with_name("models")
SHORT_STATEMENT = 16  # characters: a heading or a fragment, which embeddings find similar to anything
TYPE_VETO_LEX = 0.6  # the statement names most of what is asked …
TYPE_VETO_BOUND = 0.3  # … but hardly any of it next to a number of the asked kind
VETOES = ("intent_veto", "period_veto", "type_veto", "plan_reviewed", "year_clash")
FEATURES = [
    "lex", "lex_ctx", "bound", "defines", "sem", "sem_rel", "chunk", "rank", "type", "no_number", "unit",
    "intent_match", "intent_clash", "year", "year_clash", "half_missing", "half_extra", "aggregate", "opening",
    "enumeration", "english", "lex_en", "sem_en", "result_default", "labelled", "short", "expands",
    "target_figure", "plan_reviewed",
]  # fmt: skip
HALF_WORDS = re.compile(r"上半年|1[-—至~]6月|一季度|前三季度|1[-—至~]\d月|二季度|三季度")
AGGREGATE = re.compile(r"五年来|累计|年均|十[一二三四五六七八九]五(?:期间|时期)|以来")
NO_TARGET = re.compile(r"(?:没有|未|不再?|暂不)(?:提出|设定?|确定|制定|规定)[^。；;]{0,16}?(?:目标|指标)")

# "目标" alone is no cue: "主要目标质效齐升" and "目标任务全面完成" report results; a target is set ("预期目标是",
# "目标为", "力争") or planned ("计划", "将")
PLAN_STRONG = re.compile(r"预期|目标(?:是|为|[:：])|力争|计划|规划")
PLAN_WEAK = re.compile(r"目标|将(?!近)|要(?![求素点])|确保|争取|拟|左右|以上|以内|控制在")
RESULT_STRONG = re.compile(
    r"完成情况|同比|比上年|实现了|增长了|下降了|提高了|达到了|完成了|全年实现|全年完成"
)
RESULT_WEAK = re.compile(r"完成|达到|实现|累计|已经|已|建成|获得|荣获|位居|排名|取得|新增")


def statement_kind(text: str) -> str | None:
    """plan or result from a statement's own wording ("目标…" vs "完成情况：…同比增长"), or None when its
    words don't decide (then its section decides)."""
    return statement_kind_strength(text)[0]


def statement_kind_strength(text: str) -> tuple[str | None, bool]:
    """The statement's kind and whether a strong cue decided it."""
    strong_plan, strong_result = len(PLAN_STRONG.findall(text)), len(RESULT_STRONG.findall(text))
    plan = 2 * strong_plan + len(PLAN_WEAK.findall(text))
    result = 2 * strong_result + len(RESULT_WEAK.findall(text))
    if plan > result:
        return "plan", bool(strong_plan) and not strong_result
    if result > plan:
        return "result", bool(strong_result) and not strong_plan
    return None, False


@dataclass
class Candidate:
    """A statement of a retrieved chunk, with its features and score."""

    rank: int  # rank of its chunk in retrieval
    chunk: Chunk
    statement: Statement
    features: dict[str, float]
    score: float = 0.0
    logit: float = 0.0


@lru_cache(maxsize=4)
def load_model(name: str) -> dict:
    """A fitted logistic model: {"features": [...], "weights": [...], "bias": b, ...}."""
    path = MODELS / f"{name}.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def log_odds(model: dict, features: dict[str, float]) -> float:
    if not model:
        return features.get("lex", 0.0) + 0.5 * features.get("sem_rel", 0.0)
    return model["bias"] + sum(
        w * features.get(f, 0.0) for f, w in zip(model["features"], model["weights"], strict=True)
    )


def logistic(model: dict, features: dict[str, float]) -> float:
    z = log_odds(model, features)
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def statement_features(
    query: Query,
    chunk: Chunk,
    stmt: Statement,
    rank: int,
    chunk_score: float,
    sem: float,
    in_scope: bool,
    following: Callable[[Chunk], Chunk | None] | None = None,  # the next chunk, where a list may go on
) -> dict[str, float]:
    form = match_form(stmt.with_subject)
    found = [n for n in numbers(stmt.text) if not n.is_year]
    own, strong = statement_kind_strength(stmt.clean)
    years_said = {int(y) for y in re.findall(r"(?<!\d)(20\d{2}|19\d{2})\s*年", stmt.clean)}
    if not strong and years_said and chunk.report_year:  # "到2025年…" in a 2021 report is a target
        own = (
            "plan"
            if min(years_said) >= chunk.report_year
            else "result"
            if max(years_said) < chunk.report_year
            else own
        )
    kind = own or (chunk.kind if chunk.kind in ("plan", "result") else None)
    # what the statement clearly is: its own strong cue, else its section's kind (a 主要预期目标 section)
    effective = own if strong else (chunk.kind if chunk.kind in ("plan", "result") else None)
    in_report = chunk.report_year in query.report_years  # "2018年报告里的…": any section of that report
    about_year = (chunk.section_year in query.years) or bool(years_said & set(query.years)) or in_report
    other_year = (
        bool(years_said)
        and not (years_said & set(query.years))
        and chunk.section_year not in query.years
        and not in_report
    )
    where = f"{stmt.clean} {chunk.section} {chunk.title}"
    half_said = bool(HALF_WORDS.search(where)) if query.half in (None, "H1", "Q1-3") else query.half in where
    half_only = bool(HALF_WORDS.search(stmt.clean)) and "全年" not in stmt.clean
    context = match_form(f"{chunk.section} {chunk.clean}")
    lex = coverage(form, query.terms, query.alts)
    english = float(query.english)
    labelled = 0.0
    if query.answer_type in ("list", "definition"):  # judged on what would be quoted: the list it opens
        form = match_form(run_on(chunk, stmt, query.answer_type)[0])
        labelled = float(
            bool(enumeration_labels(run_on(chunk, stmt, query.answer_type, LIST_SCAN_CHARS)[0])[0])
            or (following is not None and bool(items_after(chunk, stmt, following, query.numbered)))
        )
    bound = bound_coverage(query, form)
    listed = expands(query.numbered, form)  # 0 unless a list question names a numbered name
    # "没有提出全年经济增速具体目标": a statement that no figure was set answers a question for the figure
    no_target = bool(NO_TARGET.search(stmt.clean)) and query.numeric
    if no_target:
        bound = lex
    return {
        "lex": lex,
        "lex_ctx": coverage(context, query.terms, query.alts),
        "bound": bound,
        "defines": defines(query, form) if query.answer_type in ("definition", "list") else 0.0,
        "sem": sem,
        "sem_rel": 0.0,  # set once all candidates are known
        "chunk": chunk_score,
        "rank": 1.0 / (1.0 + rank),
        "type": 1.0 if no_target else type_match(query, form, found),
        "no_number": float(query.numeric and not found and not no_target),
        "unit": float(bool(query.unit) and any(unit_fits(query.unit, n) for n in found)),
        "intent_match": float(query.intent is not None and kind == query.intent),
        "intent_clash": float(query.intent is not None and kind is not None and kind != query.intent),
        "result_default": float(query.intent is None and kind == "result"),
        "plan_reviewed": float(query.reviewed and effective == "plan"),
        # Vetoes: the statement cannot be the answer, whatever else it has. A strong target question and a
        # statement that strongly reports a result (or the reverse); a question for a part of the year and
        # a statement (section, report) that says nothing of it, or a whole-year question and a statement
        # about a part only; a number question whose indicator the statement names, but with a number of
        # another kind ("地区生产总值增长8%" for "地区生产总值多少亿元"). Only when the question names that kind
        # (a unit, a rate, 总额): "地区生产总值目标是多少" names only the indicator, and reports set such targets
        # as growth rates, so there a rate is a weaker candidate, not an impossible one.
        "intent_veto": float(query.intent_strong and effective is not None and effective != query.intent),
        "period_veto": float((query.half is not None and not half_said) or (query.full_year and half_only)),
        "type_veto": float(
            query.numeric and query.type_explicit and lex >= TYPE_VETO_LEX and bound < TYPE_VETO_BOUND
        ),
        "year": float(bool(query.years) and about_year),
        "year_clash": float(bool(query.years) and not about_year and other_year),
        "half_missing": float(query.half is not None and not half_said),
        "half_extra": float(query.half is None and half_said and "全年" not in stmt.clean),
        "aggregate": float(
            bool(query.years)
            and query.period is None
            and (
                bool(AGGREGATE.search(stmt.clean))
                or (chunk.period is not None and chunk.section_year is None)
            )
        ),
        "opening": float(chunk.kind == "opening"),
        "in_scope": float(in_scope),
        "enumeration": float(bool(ENUMERATION.search(stmt.clean))),
        "labelled": labelled,
        "short": float(len(stmt.clean) < SHORT_STATEMENT),
        "expands": listed,
        # "旅游定了什么目标": a target asked without asking for a number is mostly a figure all the same
        "target_figure": float(query.intent == "plan" and not query.numeric and bool(found)),
        "english": english,
        "lex_en": lex * english,
        "sem_en": 0.0,  # sem_rel × english, set with sem_rel
    }


def score_candidates(candidates: list[Candidate], model: dict | None = None) -> list[Candidate]:
    """Fill `sem_rel` and the fitted score (the shipped model unless one is given); best first."""
    if not candidates:
        return []
    top_sem = max(c.features["sem"] for c in candidates)
    model = load_model("evidence") if model is None else model
    for c in candidates:
        c.features["sem_rel"] = c.features["sem"] - top_sem
        c.features["sem_en"] = c.features["sem_rel"] * c.features["english"]
        c.logit = log_odds(model, c.features)
        c.score = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, c.logit))))
    return sorted(candidates, key=lambda c: -c.score)
