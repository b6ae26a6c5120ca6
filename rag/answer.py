"""The offline answerer: quote, don't invent.

From a `Retrieval` (the parsed question, ranked chunks, scored statements) it either quotes the best
statements with `[n]` markers, or refuses ("报告中未找到…") naming what the corpus does hold:
- a place the corpus holds no report of, or a year none of its reports covers, is refused at once;
- otherwise a calibrated model (`rag/models/refusal.json`, fitted by `evals/calibrate.py` on the tuning
  items) decides from the best evidence whether the reports answer the question.
Several statements are quoted when the question asks about several places or years (one for each), asks
several things ("…多少…多少"), asks for a list that runs on, or when two documents claim the same place and
year (both are shown, so that no upload silently wins). A label in front of a quote names the place, and the
year only when the quoted passage states it: every number of an answer is in the passage it cites.
"""

from __future__ import annotations

import time

from rag.evidence import VETOES, Candidate, load_model, logistic, statement_kind
from rag.lists import (
    LIST_SCAN_CHARS,
    RUN_ON_CHARS,
    continuation,
    enumeration_labels,
    items_after,
    numbered_parts,
    run_on,
)
from rag.query import Query
from rag.retrieve import Retrieval
from rag.scope import CorpusProfile
from rag.types import Answer, Citation, RetrievedChunk

REFUSAL_FEATURES = ["best_logit", "margin", "lex", "lex_ctx", "bound", "sem", "sem_margin", "type", "no_number",
                    "intent_clash", "year_clash", "half_missing", "aggregate", "english", "scoped", "numeric"]  # fmt: skip
DEFAULT_THRESHOLD = 0.5
MAX_QUOTES = 4
CLOSE = 0.85  # a second statement is quoted when it scores at least this share of the best


def refusal_features(query: Query, evidence: list[Candidate]) -> dict[str, float]:
    """What the decision to answer looks at: the best statement's fitted log-odds and features, how far it
    stands out from the next (in score) and from the rest (in meaning), and what kind of question it is."""
    best = evidence[0]
    second = evidence[1].logit if len(evidence) > 1 else best.logit - 5.0
    head = [c.features["sem"] for c in evidence[:10]]
    f = {k: best.features.get(k, 0.0) for k in REFUSAL_FEATURES if k in best.features}
    f.update(
        best_logit=max(-10.0, min(10.0, best.logit)),
        margin=max(-5.0, min(5.0, best.logit - second)),
        sem_margin=best.features["sem"] - sum(head) / len(head),
        scoped=float(query.scoped),
        numeric=float(query.numeric),
    )
    return f


def answerable_probability(query: Query, evidence: list[Candidate], model: dict | None = None) -> float:
    model = load_model("refusal") if model is None else model
    if not evidence:
        return 0.0
    return logistic(model, refusal_features(query, evidence)) if model else evidence[0].score


def _years_held(query: Query, profile: CorpusProfile) -> bool:
    names = [p.name for p in query.places] or list(profile.years)
    covered = set().union(*(profile.years.get(n, set()) for n in names)) if names else set()
    if query.period:
        return bool(covered & set(range(query.period[0], query.period[1] + 1)))
    return not query.years or bool(covered & set(query.years))


def scope_refusal(query: Query, profile: CorpusProfile) -> str | None:
    """The refusal text when the question's place or year is not held, else None."""
    held = profile.describe() or "(none)"
    if query.missing_places and not query.places:
        missing = "、".join(query.missing_places)
        if query.english:
            return f"These reports do not include {missing}. They cover: {held}."
        return f"报告中没有{missing}的政府工作报告。现有报告:{held}。"
    if not _years_held(query, profile):
        asked = (
            "、".join(f"{y}年" for y in query.years)
            if query.years
            else f"{query.period[0]}–{query.period[1]}年"
        )
        where = "、".join(p.name for p in query.places)
        if query.english:
            return f"These reports say nothing about {where} {asked}. They cover: {held}."
        return f"报告中未找到{where}{asked}的内容。现有报告:{held}。"
    return None


def _closest(retrieval: Retrieval) -> str:
    closest = []
    for sc in retrieval.ranked[:3]:
        c = sc.chunk
        where = f"{c.place or ''}《{c.title[:30]}》{c.section[:30]}"
        if where not in closest:
            closest.append(where)
    return ";".join(closest)


def _prefer_definitions(query: Query, evidence: list[Candidate]) -> list[Candidate]:
    """For "X是什么/指什么": a statement that defines X ("六清:线索清仓、…") goes first, when it scores at
    least half the best; then the rest in score order."""
    if query.answer_type not in ("definition", "list"):
        return evidence
    bar = evidence[0].score / 2
    # a statement that spells out what a numbered name counts ("草原音乐名城、冰雪运动名城、生态旅游名城" for
    # “三城”) answers better than one that only names it
    named = bool(numbered_parts("", query.named))  # a name the reports coin, not only "哪三个产业"
    key = "expands" if named else "defines" if query.answer_type == "definition" else None
    first = [c for c in evidence if key and c.features.get(key) and c.score >= bar]
    return first + [c for c in evidence if c not in first]


def _part(query: Query, c: Candidate):
    """Which part of a question about several places (or years) a statement answers, or None."""
    if len(query.places) > 1:
        return c.chunk.place if c.chunk.place in {p.name for p in query.places} else None
    if len(query.years) > 1:
        if c.chunk.section_year in query.years:
            return c.chunk.section_year
        return next((y for y in query.years if f"{y}年" in c.statement.text), None)
    return None


def _kind(c: Candidate) -> str | None:
    """Whether a statement reports a result or sets a target: its own wording, else its section's kind."""
    kind = statement_kind(c.statement.clean) or c.chunk.kind
    return kind if kind in ("plan", "result") else None


def _pick(query: Query, evidence: list[Candidate], threshold: float) -> list[Candidate]:
    """The best statement; for a question about several places or years, the best one of each part that
    passes half the threshold; a statement of another document claiming the same place and year (shown
    side by side, so that no upload silently wins); for a question that asks several things, the next
    statements scoring close to the best."""
    best = evidence[0]
    picked = [best]
    if len(query.places) > 1 or len(query.years) > 1:
        covered = {_part(query, best)}
        for c in evidence[1:]:
            part = _part(query, c)
            if part is not None and part not in covered and c.score >= threshold / 2:
                picked.append(c)
                covered.add(part)
    if query.both_intents:  # "目标是多少，实际完成了多少": the best target and the best result
        kinds = {_kind(best)}
        for c in evidence[1:]:
            if (
                _kind(c) not in kinds
                and c.score >= threshold / 2
                and c.features["lex"] >= best.features["lex"] / 2
            ):
                picked.append(c)
                kinds.add(_kind(c))
    rival = next(
        (c for c in evidence[1:]
         if c.chunk.doc != best.chunk.doc and c.chunk.place == best.chunk.place
         and c.chunk.report_year == best.chunk.report_year and c.score >= CLOSE * best.score),
        None,
    )  # fmt: skip
    if rival is not None and rival not in picked:
        picked.append(rival)
    floor = max(threshold, CLOSE * best.score)
    for c in evidence[1:]:
        if len(picked) >= min(MAX_QUOTES, query.parts):
            break
        if (
            c not in picked
            and c.score >= floor
            and c.statement.text not in {p.statement.text for p in picked}
        ):
            picked.append(c)
    return picked[:MAX_QUOTES]


def _cite(citations: list[Citation], chunk, quote: str) -> int:
    """The number of the citation of `quote` in `chunk`, added if new."""
    for x in citations:
        if x.doc == chunk.doc and x.start_line == chunk.start_line and x.quote == quote:
            return x.n
    citations.append(Citation.from_chunk(len(citations) + 1, chunk, quote))
    return len(citations)


def _label(c: Candidate, multi: bool) -> str:
    if not multi:
        return ""
    year = c.chunk.section_year
    said = f"{year}年" if year and f"{year}年" in c.chunk.text else ""
    return f"{c.chunk.place or c.chunk.doc}{said}"


def compose(
    retrieval: Retrieval,
    profile: CorpusProfile,
    started: float | None = None,
    scope: bool = True,
    refusal_model: dict | None = None,
) -> Answer:
    """The answer to `retrieval.query`; `scope=False` (peers) skips the place/year refusals and in-scope
    filter, leaving only the evidence decision."""
    started = started or time.perf_counter()
    query = retrieval.query
    shown = [
        RetrievedChunk(rank=i + 1, score=s.score, in_scope=s.in_scope, id=s.chunk.id, doc=s.chunk.doc,
                       title=s.chunk.title, place=s.chunk.place, section=s.chunk.section,
                       start_line=s.chunk.start_line, end_line=s.chunk.end_line, text=s.chunk.text)
        for i, s in enumerate(retrieval.ranked)
    ]  # fmt: skip

    def refuse(text: str) -> Answer:
        return Answer(question=query.question, answer=text, answerable=False, retrieved=shown,
                      latency_ms=(time.perf_counter() - started) * 1000)  # fmt: skip

    refusal = scope_refusal(query, profile) if scope else None
    if refusal:
        return refuse(refusal)
    refusal_model = load_model("refusal") if refusal_model is None else refusal_model
    threshold = refusal_model.get("threshold", DEFAULT_THRESHOLD)
    evidence = [
        c for c in retrieval.evidence
        if (c.features.get("in_scope") or not scope) and not any(c.features.get(v) for v in VETOES)
    ]  # fmt: skip
    if not evidence or answerable_probability(query, evidence, refusal_model) < threshold:
        closest = _closest(retrieval)
        if query.english:
            return refuse(
                "Not found in these reports." + (f" Closest passages: {closest}." if closest else "")
            )
        return refuse(
            "报告中未找到能回答这个问题的内容。" + (f"最接近的内容见:{closest}。" if closest else "")
        )
    picked = _pick(query, _prefer_definitions(query, evidence), threshold)
    citations: list[Citation] = []
    parts = []
    multi = len({(c.chunk.place, c.chunk.section_year, c.chunk.doc) for c in picked}) > 1
    for c in (
        sorted(picked, key=lambda c: (c.chunk.place or "", c.chunk.section_year or 0)) if multi else picked
    ):
        quote, runs_on = run_on(c.chunk, c.statement, query.answer_type)
        labels, end, span, items = [], 0, "", []
        if query.answer_type in ("list", "definition"):  # an enumeration longer than a quote: its item labels
            span, _ = run_on(c.chunk, c.statement, query.answer_type, limit=LIST_SCAN_CHARS)
            labels, end = enumeration_labels(span)
            # or an introduction whose items are numbered paragraphs of their own ("一是…" … "六是…")
            items = [] if labels else items_after(c.chunk, c.statement, retrieval.following, query.numbered)
        if items:
            intro = c.statement.text.strip().rstrip("。；;，,:：")
            text = f"{intro}[{_cite(citations, c.chunk, c.statement.text.strip())}]。包括:"
            text += "、".join(f"{label}[{_cite(citations, chunk, cited)}]" for chunk, label, cited in items)
            runs_on = False
        elif labels and end > len(quote):
            cited = span[:end].rstrip()
            intro = c.statement.text.strip().rstrip("。；;，,:：")
            text = f"{intro}。包括:{'、'.join(labels)}[{_cite(citations, c.chunk, cited)}]"
            runs_on = False
        else:
            text = f"{quote.strip().rstrip('。；;，,')}[{_cite(citations, c.chunk, quote)}]"
        if runs_on:  # the enumeration goes on in the next chunk: quote its items too, cited to it
            following = retrieval.following(c.chunk)
            more = continuation(following, RUN_ON_CHARS - len(quote))
            if more:
                text += f"\n{more.rstrip('。；;，,')}[{_cite(citations, following, more)}]"
        label = _label(c, multi)
        parts.append(f"{label}:{text}" if label else text)
    body = ";".join(parts)
    text = f"According to the reports: {body}." if query.english else body + "。"
    return Answer(question=query.question, answer=text, answerable=True, citations=citations, retrieved=shown,
                  latency_ms=(time.perf_counter() - started) * 1000)  # fmt: skip
