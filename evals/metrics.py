"""Eval metrics (evals/SCHEMA.md): pure functions over eval items and answers, no model or index needed.

Edge cases, decided:
- retrieval ranks: a rank counts as a hit when the chunks up to it cover every gold doc with a chunk
  holding a gold evidence string (one doc for most items; all of them for cross-doc items).
- answer_accuracy: answerable items score the share of `must_include` found (partial_ok) or 1/0 (all found);
  an answerable item that got a refusal scores 0 (a false refusal); unanswerable items score 1 iff refused.
- grounded_numbers: numbers (with units) in answered answers that appear in the text of the chunks they cite.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

from pydantic import BaseModel, ValidationError

NUMBER = re.compile(r"\d+(?:[.,]\d+)*(?:[万亿千]?(?:余|多)?(?:%|亿元|万元|元|个|家|人|项|天|亩|套|所|座|部|条|名|户|栋))?")
KINDS_ORDER = ["numeric-target", "numeric-result", "list", "definition", "fact", "paraphrase", "english",
               "cross-doc", "unanswerable"]  # fmt: skip


def normalize(s: str) -> str:
    """NFKC, then every white-space character removed (full-width digits become ASCII)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s))


class EvalItem(BaseModel):
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

    @property
    def docs(self) -> list[str]:
        return [] if self.doc is None else [self.doc] if isinstance(self.doc, str) else list(self.doc)


class EvalSetError(Exception):
    pass


def load_items(path: Path) -> list[EvalItem]:
    if not Path(path).is_file():
        raise EvalSetError(f"{path}: no such eval file")
    items = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(EvalItem.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise EvalSetError(f"{path}:{n}: not a valid eval item ({str(exc).splitlines()[0]})") from exc
    if not items:
        raise EvalSetError(f"{path}: no eval items")
    return items


def is_hit(doc: str, text: str, item: EvalItem) -> bool:
    t = normalize(text)
    return doc in item.docs and any(normalize(e) in t for e in item.evidence)


def first_hit_rank(ranked: list[tuple[str, str]], item: EvalItem) -> int | None:
    """1-based rank at which the ranked (doc, text) list covers every gold doc, or None."""
    need, covered = set(item.docs), set()
    for rank, (doc, text) in enumerate(ranked, start=1):
        if is_hit(doc, text, item):
            covered.add(doc)
            if covered >= need:
                return rank
    return None


def answer_score(answer: str, answerable: bool, item: EvalItem) -> float:
    if not item.answerable:
        return float(not answerable)
    if not answerable:
        return 0.0
    got = normalize(answer)
    found = sum(normalize(m) in got for m in item.must_include) / max(len(item.must_include), 1)
    return found if item.partial_ok else float(found == 1.0)


def numbers_in(text: str) -> list[str]:
    text = re.sub(r"\[\d+\]", "", unicodedata.normalize("NFKC", text))
    return [n.replace(",", "") for n in NUMBER.findall(text) if not re.fullmatch(r"20\d\d", n)]


def grounded(numbers: list[str], cited_texts: list[str]) -> int:
    pool = [normalize(t).replace(",", "") for t in cited_texts]
    return sum(any(n in t for t in pool) for n in numbers)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def aggregate(rows: list[dict]) -> dict:
    """rows: one per item with id, kind, answerable (gold), refused, rank, score, cited_support, numbers,
    grounded, latency_ms. Returns the metrics of SCHEMA.md."""
    answerable = [r for r in rows if r["gold_answerable"]]
    refused = [r for r in rows if r["refused"]]
    answered = [r for r in answerable if not r["refused"]]
    numbers = sum(r["numbers"] for r in rows)
    out = {
        "n": len(rows),
        "hit@1": _mean([r["rank"] is not None and r["rank"] <= 1 for r in answerable]),
        "hit@5": _mean([r["rank"] is not None and r["rank"] <= 5 for r in answerable]),
        "mrr@10": _mean([1 / r["rank"] if r["rank"] and r["rank"] <= 10 else 0.0 for r in answerable]),
        "answer_accuracy": _mean([r["score"] for r in rows]),
        "refusal_precision": _mean([not r["gold_answerable"] for r in refused]) if refused else None,
        "refusal_recall": _mean([r["refused"] for r in rows if not r["gold_answerable"]]),
        "false_refusal_rate": _mean([r["refused"] for r in answerable]),
        "citation_support": _mean([r["cited_support"] for r in answered]),
        "grounded_numbers": sum(r["grounded"] for r in rows) / numbers if numbers else None,
        "latency_p50_ms": round(percentile([r["latency_ms"] for r in rows], 50), 1),
        "latency_p95_ms": round(percentile([r["latency_ms"] for r in rows], 95), 1),
    }
    return out


def _mean(values: list) -> float | None:
    values = [float(v) for v in values]
    return round(sum(values) / len(values), 4) if values else None


def by_kind(rows: list[dict]) -> dict[str, dict]:
    kinds = sorted({r["kind"] for r in rows}, key=lambda k: (KINDS_ORDER.index(k) if k in KINDS_ORDER else 99, k))
    return {k: aggregate([r for r in rows if r["kind"] == k]) for k in kinds}


def check_thresholds(overall: dict, per_kind: dict[str, dict], thresholds: dict) -> list[str]:
    """Failures as readable lines; thresholds: {"overall": {metric: min}, "kind": {kind: {metric: min}}}
    (a `max_` prefix makes a metric an upper bound, e.g. max_false_refusal_rate)."""
    failures = []
    scopes = [("overall", overall, thresholds.get("overall", {}))]
    scopes += [(k, per_kind.get(k, {}), t) for k, t in thresholds.get("kind", {}).items()]
    for name, metrics, limits in scopes:
        for metric, limit in limits.items():
            upper = metric.startswith("max_")
            key = metric[4:] if upper else metric
            value = metrics.get(key)
            if value is None:
                continue
            if (value > limit) if upper else (value < limit):
                failures.append(f"{name} {key} = {value:.3f} {'>' if upper else '<'} threshold {limit}")
    return failures
