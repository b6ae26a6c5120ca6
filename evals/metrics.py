"""Eval metrics (evals/SCHEMA.md): pure functions over eval items and answers, no model or index needed.

Matching: both sides `normalize`d (NFKC, every white-space character removed).

Edge cases, decided:
- retrieval rank (`first_hit_rank`): a chunk is a hit when it comes from a gold doc and contains a gold
  evidence string. The hit rank is the smallest r such that the chunks at ranks 1..r together hold a hit
  in *every* gold doc (one doc for most items; all of them for cross-doc items). hit@k = rank <= k,
  mrr@10 = 1/rank when rank <= 10, else 0. Only answerable items count.
- answer score: answerable item refused -> 0 (a false refusal; it also counts against refusal precision);
  answered -> share of `must_include` found if `partial_ok`, else 1 iff all are found. Unanswerable item
  -> 1 iff refused (`Answer.answerable` is False). answer_accuracy is the mean over all items.
- refusal_precision: refused items that were unanswerable / refused items (None when nothing was refused);
  refusal_recall: refused unanswerable items / unanswerable items; false_refusal_rate: refused answerable
  items / answerable items.
- citation_support: over answerable items that got an answer, the share where >= 1 cited chunk is a hit
  (gold doc and a gold evidence string).
- grounded_numbers: over every answered item (gold-answerable or not), the numbers in the answer text
  (`rag.verify.extract_numbers`: digits with ./, separators and an optional unit; "2021年" and `[n]` left
  out) that `rag.verify.number_grounded` finds in the text of a chunk the answer cites (counted by
  `evals.runner.score_item`, with the answer verifier's own number check).
- latency: p50/p95 (linear interpolation) of per-question milliseconds.
"""

from __future__ import annotations

import json
import re
import tomllib
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pydantic import BaseModel, ValidationError

KINDS_ORDER = ["numeric-target", "numeric-result", "list", "definition", "fact", "paraphrase", "english",
               "cross-doc", "unanswerable"]  # fmt: skip


def normalize(s: str) -> str:
    """NFKC (full-width digits and punctuation become ASCII, `Ⅴ` becomes `V`), then all white space removed."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s))


class EvalItem(BaseModel):
    """One line of an eval set (evals/SCHEMA.md)."""

    id: str
    question: str
    answerable: bool
    answer: str | None = None
    must_include: list[str] = []
    partial_ok: bool = False
    doc: str | list[str] | None = None
    evidence: list[str] = []
    line: int | list[int] | None = None
    district: str | list[str] | None = None
    year: int | str | list[int | str] | None = None
    kind: str = "other"
    lang: str = "zh"
    note: str | None = None
    corpus: str = "seeds"  # which corpus the item is asked of (evals.runner.CORPORA)
    tags: list[str] = []  # e.g. "colloquial"

    @property
    def docs(self) -> list[str]:
        return [] if self.doc is None else [self.doc] if isinstance(self.doc, str) else list(self.doc)

    @property
    def lines(self) -> list[int]:
        return [] if self.line is None else [self.line] if isinstance(self.line, int) else list(self.line)


class EvalSetError(Exception):
    """The eval set (or thresholds file) cannot be read; the message names the file and line."""


def load_items(path: Path) -> list[EvalItem]:
    path = Path(path)
    if not path.is_file():
        raise EvalSetError(f"{path}: no such eval file")
    items: list[EvalItem] = []
    seen: set[str] = set()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise EvalSetError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = EvalItem.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            raise EvalSetError(f"{path}:{n}: not valid JSON ({exc.msg}, column {exc.colno})") from exc
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'item'}: {e['msg']}" for e in exc.errors()
            )
            raise EvalSetError(f"{path}:{n}: not a valid eval item ({problems})") from exc
        if item.id in seen:
            raise EvalSetError(f"{path}:{n}: duplicate id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise EvalSetError(f"{path}: no eval items")
    return items


def is_hit(doc: str, text: str, item: EvalItem) -> bool:
    """A chunk from a gold doc that contains a gold evidence string (normalised)."""
    if doc not in item.docs:
        return False
    t = normalize(text)
    return any(normalize(e) in t for e in item.evidence if normalize(e))


def first_hit_rank(ranked: list[tuple[str, str]], item: EvalItem) -> int | None:
    """1-based rank at which the ranked (doc, text) list first covers every gold doc with a hit, or None."""
    need, covered = set(item.docs), set()
    if not need:
        return None
    for rank, (doc, text) in enumerate(ranked, start=1):
        if is_hit(doc, text, item):
            covered.add(doc)
            if covered >= need:
                return rank
    return None


def answer_score(answer: str, answerable: bool, item: EvalItem) -> float:
    """`answerable` is the system's flag (False = it said "not found")."""
    if not item.answerable:
        return float(not answerable)
    if not answerable:
        return 0.0
    got = normalize(answer)
    wanted = [normalize(m) for m in item.must_include]
    found = sum(m in got for m in wanted) / len(wanted) if wanted else 1.0
    return found if item.partial_ok else float(found == 1.0)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


@dataclass
class ItemScore:
    """One item's outcome for one system; `rank` is `first_hit_rank` over the top 10 (None = miss)."""

    id: str
    kind: str
    gold_answerable: bool
    refused: bool
    rank: int | None
    score: float
    cited_support: bool
    numbers: int
    grounded: int
    latency_ms: float
    question: str = ""
    expected: list[str] = field(default_factory=list)
    expected_where: list[str] = field(default_factory=list)
    answer: str = ""
    cited: list[str] = field(default_factory=list)
    corpus: str = "seeds"
    groups: list[str] = field(default_factory=list)  # "english", "colloquial": groups reported on their own


@dataclass
class SystemScores:
    """Metrics of one system over an eval set: overall, per kind, per group (corpus, English, colloquial),
    and the per-item outcomes."""

    overall: dict[str, float | int | None]
    kinds: dict[str, dict[str, float | int | None]]
    items: list[ItemScore]
    groups: dict[str, dict[str, float | int | None]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"overall": self.overall, "kinds": self.kinds, "groups": self.groups,
                "items": [asdict(i) for i in self.items]}  # fmt: skip


def aggregate(rows: list[ItemScore]) -> dict[str, float | int | None]:
    """The metrics of SCHEMA.md over `rows` (None where a metric has no items to be computed on)."""
    answerable = [r for r in rows if r.gold_answerable]
    unanswerable = [r for r in rows if not r.gold_answerable]
    refused = [r for r in rows if r.refused]
    answered = [r for r in answerable if not r.refused]
    numbers = sum(r.numbers for r in rows if not r.refused)
    latencies = [r.latency_ms for r in rows]
    return {
        "n": len(rows),
        "hit@1": _mean([r.rank is not None and r.rank <= 1 for r in answerable]),
        "hit@5": _mean([r.rank is not None and r.rank <= 5 for r in answerable]),
        "mrr@10": _mean([1 / r.rank if r.rank is not None and r.rank <= 10 else 0.0 for r in answerable]),
        "answer_accuracy": _mean([r.score for r in rows]),
        "refusal_precision": _mean([not r.gold_answerable for r in refused]),
        "refusal_recall": _mean([r.refused for r in unanswerable]),
        "false_refusal_rate": _mean([r.refused for r in answerable]),
        "citation_support": _mean([r.cited_support for r in answered]),
        "grounded_numbers": round(sum(r.grounded for r in rows if not r.refused) / numbers, 4)
        if numbers
        else None,
        "latency_p50_ms": round(percentile(latencies, 50), 1),
        "latency_p95_ms": round(percentile(latencies, 95), 1),
    }


def _mean(values: list) -> float | None:
    return round(sum(float(v) for v in values) / len(values), 4) if values else None


def summarize(rows: list[ItemScore]) -> SystemScores:
    kinds = sorted(
        {r.kind for r in rows}, key=lambda k: (KINDS_ORDER.index(k) if k in KINDS_ORDER else 99, k)
    )
    groups = {
        f"corpus {c}": aggregate([r for r in rows if r.corpus == c]) for c in sorted({r.corpus for r in rows})
    }
    for name in ("english", "colloquial"):
        members = [r for r in rows if name in r.groups]
        if members:
            groups[name] = aggregate(members)
    return SystemScores(
        aggregate(rows), {k: aggregate([r for r in rows if r.kind == k]) for k in kinds}, rows, groups
    )


METRICS = ("hit@1", "hit@5", "mrr@10", "answer_accuracy", "refusal_precision", "refusal_recall",
           "false_refusal_rate", "citation_support", "grounded_numbers", "latency_p50_ms", "latency_p95_ms")  # fmt: skip


def load_thresholds(path: Path) -> dict:
    """Read and check a thresholds file ({set name: {"overall": …, "kind": {…}, "group": {…}}}): a misspelt
    metric would otherwise never be checked."""
    try:
        thresholds = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise EvalSetError(f"{path}: cannot read thresholds ({exc})") from exc
    for set_name, tables in thresholds.items():
        if not isinstance(tables, dict) or not set(tables) <= {"overall", "kind", "group"}:
            raise EvalSetError(
                f"{path}: [{set_name}] must hold only overall, kind.<kind> and group.<group> tables"
            )
        scopes = [("overall", tables.get("overall", {}))] + list(tables.get("kind", {}).items())
        scopes += list(tables.get("group", {}).items())
        for scope, limits in scopes:
            for metric, limit in limits.items():
                if metric.removeprefix("max_") not in METRICS or not isinstance(limit, int | float):
                    raise EvalSetError(
                        f"{path}: [{set_name}] {scope} {metric} = {limit!r} is not a known metric with a number"
                    )
    return thresholds


def check_thresholds(result: SystemScores, thresholds: dict) -> list[str]:
    """Failures as readable lines. thresholds: {"overall": {metric: min}, "kind": {kind: {metric: min}}};
    a `max_` prefix makes a metric an upper bound (max_false_refusal_rate, max_latency_p95_ms).
    A metric that is None on this set (e.g. no refusals, so no refusal precision) is not checked."""
    failures = []
    scopes = [("overall", result.overall, thresholds.get("overall", {}))]
    scopes += [
        (kind, result.kinds.get(kind, {}), limits) for kind, limits in thresholds.get("kind", {}).items()
    ]
    scopes += [
        (group, result.groups.get(group, {}), limits) for group, limits in thresholds.get("group", {}).items()
    ]
    for scope, metrics, limits in scopes:
        for metric, limit in limits.items():
            upper = metric.startswith("max_")
            key = metric.removeprefix("max_")
            value = metrics.get(key)
            if value is None:
                continue
            if (value > limit) if upper else (value < limit):
                failures.append(f"{scope} {key} = {value:.3f} {'>' if upper else '<'} threshold {limit}")
    return failures
