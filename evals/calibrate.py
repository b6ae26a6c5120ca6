"""Fit the two small models of the answerer on TUNING items only (never the holdout set):

1. evidence (`rag/models/evidence.json`): a logistic regression over the statement features of
   `rag.evidence.FEATURES`; a statement is a positive when it comes from a gold document and states one of
   the item's `must_include` strings or gold evidence. It ranks the statements an answer quotes.
2. refusal (`rag/models/refusal.json`): a logistic regression over the features of the best statement
   (`rag.answer.REFUSAL_FEATURES`) predicting whether the item is answerable, and the probability threshold
   below which the answerer says "not found". The threshold is chosen on out-of-fold predictions (5-fold,
   grouped by item) to maximise answer accuracy with at most 5% false refusals.

Cross-validated figures are printed and stored with the weights, so what the models were judged on is never
what they were fitted on. Usage: `python -m evals.calibrate evals/dev.jsonl evals/tuning.jsonl`.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from evals.metrics import EvalItem, load_items, normalize
from evals.runner import open_corpora
from rag.answer import REFUSAL_FEATURES, refusal_features
from rag.evidence import FEATURES, MODELS, Candidate, load_model
from rag.retrieve import Retrieval

FOLDS = 5
MAX_FALSE_REFUSALS = 0.05


def is_positive(c: Candidate, item: EvalItem) -> bool:
    if not item.answerable or c.chunk.doc not in item.docs:
        return False
    text = normalize(c.statement.text)
    return any(normalize(m) in text for m in item.must_include) or any(
        normalize(e) in text for e in item.evidence if len(normalize(e)) >= 6
    )


def collect(items: list[EvalItem], settings) -> tuple[list[tuple[EvalItem, Retrieval]], dict]:
    out, profiles = [], {}
    for corpus, (rag, group) in open_corpora(items, settings).items():
        print(f"{corpus}: {len(group)} items", flush=True)
        out += [(item, rag.retrieve(item.question, 10)) for item in group]
        profiles[corpus] = rag.snapshot.profile
    return out, profiles


def _fit(x: np.ndarray, y: np.ndarray, groups: np.ndarray, c: float = 1.0):
    """A balanced logistic regression, and its out-of-fold probabilities."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    oof = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=FOLDS).split(x, y, groups):
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(x[train], y[train])
        oof[test] = model.predict_proba(x[test])[:, 1]
    return LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(x, y), oof


def _save(name: str, model, features: list[str], extra: dict) -> None:
    MODELS.mkdir(exist_ok=True)
    payload = {
        "features": features,
        "weights": [round(float(w), 6) for w in model.coef_[0]],
        "bias": round(float(model.intercept_[0]), 6),
        "fitted": datetime.now(UTC).isoformat(timespec="seconds"),
        **extra,
    }
    (MODELS / f"{name}.json").write_text(
        json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    load_model.cache_clear()


def fit_evidence(data: list[tuple[EvalItem, Retrieval]]) -> dict:
    rows, labels, groups = [], [], []
    for n, (item, retrieval) in enumerate(data):
        for c in retrieval.evidence:
            rows.append([c.features[f] for f in FEATURES])
            labels.append(is_positive(c, item))
            groups.append(n)
    x, y, g = np.array(rows), np.array(labels, dtype=int), np.array(groups)
    model, oof = _fit(x, y, g)
    top1 = []
    for n in range(len(data)):
        mask = g == n
        if y[mask].any():
            top1.append(bool(y[mask][int(np.argmax(oof[mask]))]))
    report = {"statements": int(len(y)), "positives": int(y.sum()), "items_with_positive": len(top1),
              "cv_top1": round(float(np.mean(top1)), 3) if top1 else None}  # fmt: skip
    _save("evidence", model, FEATURES, {"cv": report})
    return report


def fit_refusal(data: list[tuple[EvalItem, Retrieval]], profiles: dict) -> dict:
    """Items refused for their scope (a place or year not held) or with no evidence at all are decided before
    this model, so they are left out; so are answerable items whose best statement does not hold the answer
    (the model learns whether the evidence found answers the question, not whether retrieval failed)."""
    from sklearn.metrics import roc_auc_score

    from rag.answer import scope_refusal
    from rag.evidence import score_candidates

    rows, labels = [], []
    for item, retrieval in data:
        if scope_refusal(retrieval.query, profiles[item.corpus]):
            continue
        evidence = score_candidates(
            [c for c in retrieval.evidence if c.features.get("in_scope") and not c.features.get("intent_veto")]
        )
        if not evidence or (item.answerable and not is_positive(evidence[0], item)):
            continue
        f = refusal_features(retrieval.query, evidence)
        rows.append([f.get(k, 0.0) for k in REFUSAL_FEATURES])
        labels.append(item.answerable)
    x, y = np.array(rows), np.array(labels, dtype=int)
    model, oof = _fit(x, y, np.arange(len(y)))
    print(f"refusal data: {len(y)} items, {int((y == 0).sum())} unanswerable; out-of-fold AUC "
          f"{roc_auc_score(y, oof):.3f}", flush=True)  # fmt: skip
    best = (0.0, 0.5)
    for t in np.linspace(0.05, 0.95, 91):
        answered = oof >= t
        false_refusals = float(np.mean(~answered[y == 1])) if y.any() else 0.0
        accuracy = float(np.mean(answered == (y == 1)))
        if false_refusals <= MAX_FALSE_REFUSALS and accuracy > best[0]:
            best = (accuracy, float(t))
    report = {"items": int(len(y)), "unanswerable": int((y == 0).sum()), "cv_decision_accuracy": round(best[0], 3),
              "threshold": round(best[1], 3)}  # fmt: skip
    _save("refusal", model, REFUSAL_FEATURES, {"threshold": round(best[1], 3), "cv": report})
    return report


def main(argv: list[str]) -> None:
    from rag.config import Settings

    paths = [Path(a) for a in argv] or [Path("evals/dev.jsonl"), Path("evals/tuning.jsonl")]
    if any("holdout" in p.name for p in paths):
        raise SystemExit("calibrate fits on tuning items only; the holdout set is for judging")
    items = [item for p in paths for item in load_items(p)]
    settings = Settings()
    data, _ = collect(items, settings)
    print("evidence:", fit_evidence(data), flush=True)
    data, profiles = collect(items, settings)  # statements re-scored with the fitted evidence model
    print("refusal:", fit_refusal(data, profiles), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
