"""The offline answerer: extract, don't invent.

It splits the retrieved in-scope chunks into sentences, scores each sentence against the question
(weighted share of the question's key terms it contains, a number with the asked-for unit, plan/result
cues, retrieval rank), and quotes the best ones with `[n]` markers. It refuses ("报告中未找到…") when the
question's district/year is not covered or when no sentence covers enough of the question
(MIN_COVERAGE, calibrated on the dev set's unanswerable items), naming the closest passages that exist.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import lru_cache

from ingest.metadata import DISTRICTS
from ingest.text import NUMBER, clean_text
from rag.lexical import REPORT_TERMS, tokenize
from rag.scope import PLAN_CUES, RESULT_CUES, Scope, parse_scope, translate
from rag.types import Answer, Citation, RetrievedChunk, ScoredChunk

SENTENCE = re.compile(r"[^。;\uff1b!?\uff01\uff1f\n]+[。;\uff1b!?\uff01\uff1f]?")
QUOTED = re.compile(r"[“\"「『]([^”\"」』]{2,12})[”\"」』]")
ENUMERATION = re.compile(
    r"[、;\uff1b]|\d+[.、]|[一二三四五六七八九十][是、]|(?:^|[。;\uff1b])\s*[^。;\uff1b:\uff1a]{2,8}[:\uff1a]"
)
GENERIC = {"哪几个", "哪个", "几个", "多少个", "哪一", "什么样", "目标", "计划", "预期", "完成", "实现", "多少", "增长", "情况", "全年", "上半年", "期间", "实际", "具体", "哪些", "什么", "意思", "是什么", "包括", "方面", "进展", "如何", "政府", "工作", "报告"}  # fmt: skip
UNIT_ASKED = re.compile(
    r"多少(亿元|万元|元|个|家|人|项|天|亩|套|所|座|部|条|名|户|栋)|(?<!哪)几(个|家|项|所|座|部|条|名)"
)
LIST_Q = re.compile(r"哪些|哪几|分别是|包括|有什么|是什么|哪三|哪六|what are|which", re.I)
DEFINITION_Q = re.compile(r"是什么意思|指什么|什么意思|是指|具体指|是什么|what does .* mean|what is", re.I)
NUMERIC_Q = re.compile(r"多少|几|增长|目标|增速|排第|how many|how much|how fast|growth|rate|%", re.I)
AGGREGATE = re.compile(r"五年来|十[一二三四五]五(期间|时期)?|累计|年均")
MIN_COVERAGE = 0.5  # share of weighted key terms a quoted sentence must contain
MAX_QUOTES = 3


@dataclass
class _Candidate:
    rank: int  # index into the retrieved list
    quote: str  # original text of the sentence
    score: float
    coverage: float


def key_terms(question: str, scope: Scope) -> dict[str, float]:
    """The question's content terms with weights (report indicator terms weigh most)."""
    drop = set(DISTRICTS) | set(DISTRICTS.values())
    terms: dict[str, float] = {}
    for t in tokenize(translate(question)):
        if scope.english and re.fullmatch(r"[a-z']+", t):
            continue  # an English word the term table did not translate cannot match Chinese text
        if (
            t in drop
            or any(t in d for d in scope.districts)
            or re.fullmatch(r"[\d.%]+", t)
            or t in GENERIC
            or any(t in g and g in question for g in GENERIC)  # "上半" of "上半年"
            or len(t) < 2
        ):
            continue
        terms[t] = 4.0 if t in REPORT_TERMS else 3.0 if len(t) >= 3 else 2.0
    for quoted in QUOTED.findall(question):  # a quoted name is a term of its own: “六清”
        terms[clean_text(quoted)] = 4.0
    return terms


@lru_cache(maxsize=50_000)
def _bigrams(text: str) -> frozenset[str]:
    return frozenset(text[i : i + 2] for i in range(len(text) - 1))


def _coverage(text: str, terms: dict[str, float]) -> float:
    """Half the weighted share of key terms found whole, half the share of their character bigrams found
    (so that "社会销售品零售总额" still mostly covers "社会消费品零售总额")."""
    total = sum(terms.values())
    if not total:
        return 0.0
    whole = sum(w for t, w in terms.items() if t in text) / total
    wanted = set().union(*(_bigrams(t) for t in terms))
    found = len(wanted & _bigrams(text)) / len(wanted) if wanted else whole
    return 0.5 * whole + 0.5 * found


def _score_sentence(
    sentence: str,
    terms: dict[str, float],
    scope: Scope,
    question: str,
    prior: float,
    kind: str,
    lists: bool = False,
) -> tuple[float, float]:
    """(score, coverage) of one sentence; `lists`: the passage holding it enumerates items."""
    clean = clean_text(sentence)
    coverage = _coverage(clean, terms)
    score = coverage + 0.1 * prior
    numbers = NUMBER.findall(clean)
    unit = UNIT_ASKED.search(question)
    if unit and not any(n.endswith(unit.group(1) or unit.group(2)) for n in numbers):
        return 0.0, 0.0  # asked "多少亿元", the sentence has no amount in 亿元
    if (
        LIST_Q.search(question)
        and not DEFINITION_Q.search(question)
        and not (lists or ENUMERATION.search(clean))
    ):
        return 0.0, 0.0  # asked for a list, the sentence enumerates nothing
    if (
        scope.intent == "result"
        and (PLAN_CUES.search(clean) or kind == "plan")
        and not RESULT_CUES.search(clean)
    ):
        return 0.0, 0.0  # asked what was achieved, the sentence states a target
    if scope.intent == "plan" and kind == "result" and not PLAN_CUES.search(clean):
        return 0.0, 0.0  # asked for a target, the sentence reports a result
    if scope.full_year and "上半年" in clean and "全年" not in clean:
        return 0.0, 0.0  # asked for the whole year, the sentence gives the first half
    elif NUMERIC_Q.search(question) and numbers:
        score += 0.15
    if scope.intent == "plan" and PLAN_CUES.search(clean):
        score += 0.1
    if scope.intent == "result" and RESULT_CUES.search(clean):
        score += 0.1
    if scope.years and not scope.five_year and AGGREGATE.search(clean) and not AGGREGATE.search(question):
        score -= 0.3  # asked about one year, the sentence sums up several
    if scope.half_year and "上半年" in clean:
        score += 0.1
    return score, coverage


def _sentences(text: str, by_paragraph: bool = False) -> list[str]:
    """Sentences (or, for definitions, whole paragraphs) of original text; a short line with no end mark
    (a heading, a defined term, "1. 关爱老年人。") is joined to the unit after it, so that a quote never is
    a bare heading."""
    out: list[str] = []
    carry = ""
    for m in re.finditer(r"[^\n]+", text) if by_paragraph else SENTENCE.finditer(text):
        sentence = m.group(0).strip()
        if not sentence:
            continue
        if carry:
            sentence = carry + ("" if carry.endswith(("。", ":", ":")) else " ") + sentence
            carry = ""
        if len(clean_text(sentence)) < 16 and not re.search(r"\d", sentence[-3:]):
            carry = sentence
            continue
        out.append(sentence)
    if carry:
        out.append(carry)
    return out


def best_sentence_score(question: str, scope: Scope, chunk, terms: dict[str, float]) -> float:
    """The score of the chunk's best sentence for the question (0 when none qualifies)."""
    by_paragraph = bool(DEFINITION_Q.search(question))
    lists = bool(list_items(chunk.text))
    scores = [
        _score_sentence(s, terms, scope, question, 0.0, chunk.kind, lists)[0]
        for s in _sentences(chunk.text, by_paragraph)
    ]
    return max(scores, default=0.0)


def _candidates(question: str, retrieved: list[ScoredChunk], scope: Scope) -> list[_Candidate]:
    terms = key_terms(question, scope)
    top = max((s.score for s in retrieved), default=1.0) or 1.0
    out = []
    for rank, sc in enumerate(retrieved):
        if not sc.in_scope:
            continue
        lists = bool(list_items(sc.chunk.text))
        for sentence in _sentences(sc.chunk.text, by_paragraph=bool(DEFINITION_Q.search(question))):
            score, coverage = _score_sentence(
                sentence, terms, scope, question, sc.score / top, sc.chunk.kind, lists
            )
            out.append(_Candidate(rank, sentence, score, coverage))
    return sorted(out, key=lambda c: -c.score)


def _pick(
    question: str, candidates: list[_Candidate], retrieved: list[ScoredChunk], scope: Scope
) -> list[_Candidate]:
    """The best sentence, plus: one per district/year for cross questions, more items for list questions,
    and the same thing in other reports when they say it almost as well."""
    good = [c for c in candidates if c.coverage >= MIN_COVERAGE and c.score >= MIN_COVERAGE]
    if not good:
        return []
    best = good[0]
    picked = [best]
    if multi_scope(scope):
        # once one part is answered, the other districts/years need only half the evidence
        good = [c for c in candidates if c.coverage >= MIN_COVERAGE / 2 and c.score >= MIN_COVERAGE / 2]
        key = (
            (lambda c: retrieved[c.rank].chunk.place)
            if len(scope.districts) > 1
            else (lambda c: retrieved[c.rank].chunk.section_year)
        )
        for c in good:
            if key(c) not in {key(p) for p in picked}:
                picked.append(c)
    elif LIST_Q.search(question):
        picked += [c for c in good[1:] if c.score >= best.score - 0.15 and c.rank != best.rank][
            : MAX_QUOTES - 1
        ]
    else:
        docs = {retrieved[best.rank].chunk.doc}
        for c in good[1:]:
            doc = retrieved[c.rank].chunk.doc
            if doc not in docs and c.score >= best.score - 0.1 and not scope.years:
                picked.append(c)
                docs.add(doc)
    return picked[:MAX_QUOTES]


LABELS = [
    re.compile(r"(?:^|[。;\uff1b\n])\s*([^。;\uff1b:\uff1a\n,\uff0c]{2,8})[:\uff1a]"),  # "防洪水:…;排涝水:…"
    re.compile(r"(?:^|\n)\s*\d{1,2}[.、．]\s*([^。;\uff1b\n,\uff0c]{2,14})[。;\uff1b]"),  # "1. 关爱老年人。…"
]


def list_items(text: str) -> list[str]:
    """The labels of an enumeration inside a passage (at least three), in order; else []."""
    for pattern in LABELS:
        labels = [re.sub(r"^\d{1,2}[.、．]\s*", "", m.group(1).strip()) for m in pattern.finditer(text)]
        if len(labels) >= 3:
            return list(dict.fromkeys(labels))
    return []


def _scope_words(scope: Scope) -> str:
    parts = ["、".join(scope.districts)] if scope.districts else []
    if scope.years:
        parts.append("、".join(f"{y}年" for y in scope.years))
    if scope.five_year:
        parts.append(f"“{scope.five_year}”")
    return "".join(parts)


def _refusal(question: str, retrieved: list[ScoredChunk], scope: Scope) -> str:
    closest = []
    for sc in retrieved[:3]:
        c = sc.chunk
        where = f"{c.place or ''}{f' {c.section_year}年' if c.section_year else ''}《{c.title[:30]}》{c.section[:30]}"
        if where not in closest:
            closest.append(where)
    asked = _scope_words(scope)
    if scope.english:
        text = "Not found in these reports" + (f" for {asked}" if asked else "") + "."
        return text + (" Closest passages: " + "; ".join(closest) if closest else "")
    text = f"报告中未找到{asked}的相关内容。" if asked else "报告中未找到能回答这个问题的内容。"
    return text + ("最接近的内容见:" + ";".join(closest) + "。" if closest else "")


def _list_part(
    retrieved: list[ScoredChunk], best, citations: list[Citation], terms: dict[str, float]
) -> list[tuple[str, str]]:
    """The items of an enumeration in the best passage and its neighbours of the same section (an
    enumeration split over several chunks), each item cited to the chunk that holds it; only when what
    introduces the enumeration (the section path, the words before its first item) is what was asked."""
    same = sorted(
        (
            sc.chunk
            for sc in retrieved
            if sc.in_scope and sc.chunk.doc == best.doc and sc.chunk.section.startswith(best.section)
        ),
        key=lambda c: c.start_line,
    )
    joined = "\n".join(c.text for c in same)
    items = list_items(joined)
    if not items:
        return []
    intro = best.section + joined[max(0, joined.find(items[0]) - 40) : joined.find(items[0])]
    if _coverage(clean_text(intro), terms) < MIN_COVERAGE:
        return []
    cited = []
    for item in items:
        chunk = next(c for c in same if item in c.text)
        n = next((x.n for x in citations if x.doc == chunk.doc and x.start_line == chunk.start_line), None)
        if n is None:
            n = len(citations) + 1
            citations.append(Citation.from_chunk(n, chunk, item))
        cited.append(f"{item}[{n}]")
    return [("", "包括:" + "、".join(cited))]


def multi_scope(scope: Scope) -> bool:
    return len(scope.districts) > 1 or len(scope.years) > 1


def compose(question: str, retrieved: list[ScoredChunk], started: float | None = None) -> Answer:
    """Answer `question` from `retrieved` (rank order) by quoting; refuse when nothing in scope supports it."""
    started = started or time.perf_counter()
    scope = parse_scope(question)
    picked = _pick(question, _candidates(question, retrieved, scope), retrieved, scope)
    shown = [
        RetrievedChunk(
            rank=i + 1,
            score=s.score,
            in_scope=s.in_scope,
            **s.chunk.model_dump(exclude={"clean", "report_year", "section_year", "kind"}),
        )
        for i, s in enumerate(retrieved)
    ]
    if not picked:
        return Answer(question=question, answer=_refusal(question, retrieved, scope), answerable=False, retrieved=shown,
                      latency_ms=(time.perf_counter() - started) * 1000)  # fmt: skip
    citations: list[Citation] = []
    parts = []
    for c in picked:
        chunk = retrieved[c.rank].chunk
        n = next(
            (
                x.n
                for x in citations
                if x.doc == chunk.doc and x.start_line == chunk.start_line and x.quote == c.quote
            ),
            None,
        )
        if n is None:
            n = len(citations) + 1
            citations.append(Citation.from_chunk(n, chunk, c.quote))
        label = f"{chunk.place or ''}{f'{chunk.section_year}年' if chunk.section_year else ''}"
        quote = c.quote.rstrip("。;;,, ")
        parts.append((label, f"{quote}[{n}]"))
    if LIST_Q.search(question) and not multi_scope(scope):
        parts += _list_part(retrieved, retrieved[picked[0].rank].chunk, citations, key_terms(question, scope))
    multi = len({label for label, _ in parts if label}) > 1
    body = ";".join(f"{label}:{q}" if multi and label else q for label, q in parts)
    if scope.english:
        lead = f"According to the {'/'.join(sorted({label for label, _ in parts if label}))} report(s): "
        text = lead + body + "."
    else:
        lead = "" if multi else (parts[0][0] + ":" if parts[0][0] else "")
        text = lead + body + "。"
    return Answer(question=question, answer=text, answerable=True, citations=citations, retrieved=shown,
                  latency_ms=(time.perf_counter() - started) * 1000)  # fmt: skip
