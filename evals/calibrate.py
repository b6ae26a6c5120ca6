"""Fit the two small models of the answerer on TUNING items only (never the holdout set):

1. evidence (`rag/models/evidence.json`): a logistic regression over the statement features of
   `rag.evidence.FEATURES`; a statement is a positive when it comes from a gold document and states one of
   the item's `must_include` strings or gold evidence. It ranks the statements an answer quotes.
2. refusal (`rag/models/refusal.json`): a logistic regression over the features of the best statement
   (`rag.answer.REFUSAL_FEATURES`) predicting whether the item is answerable, and the probability threshold
   below which the answerer says "not found". The threshold is chosen on out-of-fold predictions to maximise
   correct decisions with at most 5% false refusals. Items refused for their scope, with no evidence, or
   answerable but with a best statement that does not hold the answer are left out: the model learns whether
   the evidence found answers the question, not whether retrieval failed.

Judged honestly: `--cv` also reports the answer accuracy of the whole answerer with both models fitted
on 4/5 of the items and asked the other 1/5 (5 folds), next to the in-sample figure. The figures are
stored with the weights. Usage: `python -m evals.calibrate [--cv [--repeats=N]] evals/dev.jsonl evals/tuning.jsonl`
(`--repeats=3`: three shuffles of the folds, averaged, to judge a change by more than a few items).
"""

from __future__ import annotations

import copy
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from evals.metrics import EvalItem, answer_score, load_items, normalize
from evals.runner import open_corpora
from rag.answer import REFUSAL_FEATURES, compose, refusal_features, scope_refusal
from rag.evidence import FEATURES, MODELS, VETOES, Candidate, load_model, score_candidates
from rag.retrieve import Retrieval

FOLDS = 5
MAX_FALSE_REFUSALS = 0.05
C = 0.5  # inverse regularisation strength of both regressions


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


def _logistic_regression(x: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, class_weight="balanced", max_iter=3000).fit(x, y)


def _as_dict(model, features: list[str], **extra) -> dict:
    return {"features": features, "weights": [round(float(w), 6) for w in model.coef_[0]],
            "bias": round(float(model.intercept_[0]), 6), **extra}  # fmt: skip


def _usable(retrieval: Retrieval) -> list[Candidate]:
    return [
        c
        for c in retrieval.evidence
        if c.features.get("in_scope") and not any(c.features.get(v) for v in VETOES)
    ]


def fit_evidence(data: list[tuple[EvalItem, Retrieval]]) -> dict:
    """The evidence model, and the mean similarity of the statements it saw (used for statements whose
    vectors are not computed yet, so that lexical-only answers are scored on the same scale)."""
    rows, labels = [], []
    for item, retrieval in data:
        for c in retrieval.evidence:
            rows.append([c.features[f] for f in FEATURES])
            labels.append(is_positive(c, item))
    x = np.array(rows)
    sem_mean = round(float(x[:, FEATURES.index("sem")].mean()), 4)
    return _as_dict(_logistic_regression(x, np.array(labels, dtype=int)), FEATURES, sem_mean=sem_mean)


def _refusal_rows(data, profiles, evidence_model: dict):
    rows, labels = [], []
    for item, retrieval in data:
        if scope_refusal(retrieval.query, profiles[item.corpus]):
            continue
        evidence = score_candidates([copy.copy(c) for c in _usable(retrieval)], evidence_model)
        if not evidence or (item.answerable and not is_positive(evidence[0], item)):
            continue
        f = refusal_features(retrieval.query, evidence)
        rows.append([f.get(k, 0.0) for k in REFUSAL_FEATURES])
        labels.append(item.answerable)
    return np.array(rows), np.array(labels, dtype=int)


def fit_refusal(data, profiles, evidence_model: dict) -> dict:
    """The refusal model and its threshold (from its own out-of-fold predictions)."""
    from sklearn.model_selection import StratifiedKFold

    x, y = _refusal_rows(data, profiles, evidence_model)
    oof = np.zeros(len(y))
    for train, test in StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(x, y):
        oof[test] = _logistic_regression(x[train], y[train]).predict_proba(x[test])[:, 1]
    best = (0.0, 0.5)
    for t in np.linspace(0.02, 0.95, 94):
        answered = oof >= t
        false_refusals = float(np.mean(~answered[y == 1]))
        correct = float(np.mean(answered == (y == 1)))
        if false_refusals <= MAX_FALSE_REFUSALS and correct > best[0]:
            best = (correct, float(t))
    from sklearn.metrics import roc_auc_score

    cv = {"items": int(len(y)), "unanswerable": int((y == 0).sum()), "oof_auc": round(float(roc_auc_score(y, oof)), 3),
          "oof_decision_accuracy": round(best[0], 3)}  # fmt: skip
    return _as_dict(_logistic_regression(x, y), REFUSAL_FEATURES, threshold=round(best[1], 3), cv=cv)


def accuracy(data, profiles, evidence_model: dict, refusal: dict) -> tuple[float, dict[str, float]]:
    """Answer accuracy of the answerer with these models, overall and per corpus."""
    scores: dict[str, list[float]] = {}
    for item, retrieval in data:
        rescored = copy.copy(retrieval)
        rescored.evidence = score_candidates([copy.copy(c) for c in retrieval.evidence], evidence_model)
        answer = compose(rescored, profiles[item.corpus], refusal_model=refusal)
        scores.setdefault(item.corpus, []).append(answer_score(answer.answer, answer.answerable, item))
    every = [s for group in scores.values() for s in group]
    return round(float(np.mean(every)), 3), {k: round(float(np.mean(v)), 3) for k, v in scores.items()}


def cross_validate(data, profiles, repeats: int = 1) -> dict:
    """Both models fitted on 4/5 of the items, the answerer judged on the other 1/5, five times; `repeats`
    times over different shuffles, averaged (one split moves the figure by ±0.01: a few items near the
    threshold)."""
    results: list[tuple[EvalItem, float]] = []
    for seed in range(repeats):
        _cross_validate_once(data, profiles, seed, results)
    by: dict[str, list[float]] = {}
    for item, score in results:
        for key in (f"corpus {item.corpus}", f"kind {item.kind}") + (
            ("english",) if item.lang == "en" else ()
        ):
            by.setdefault(key, []).append(score)
    return {"cv_answer_accuracy": round(float(np.mean([s for _, s in results])), 3), "cv_repeats": repeats,
            **{k: round(float(np.mean(v)), 3) for k, v in sorted(by.items())}}  # fmt: skip


def _cross_validate_once(data, profiles, seed: int, results: list) -> None:
    from sklearn.model_selection import KFold

    fold_of = np.zeros(len(data), dtype=int)
    for k, (_, test) in enumerate(KFold(FOLDS, shuffle=True, random_state=seed).split(np.arange(len(data)))):
        fold_of[test] = k
    for k in range(FOLDS):
        train = [d for d, f in zip(data, fold_of, strict=True) if f != k]
        test = [d for d, f in zip(data, fold_of, strict=True) if f == k]
        evidence_model = fit_evidence(train)
        refusal = fit_refusal(train, profiles, evidence_model)
        for item, retrieval in test:
            rescored = copy.copy(retrieval)
            rescored.evidence = score_candidates([copy.copy(c) for c in retrieval.evidence], evidence_model)
            answer = compose(rescored, profiles[item.corpus], refusal_model=refusal)
            results.append((item, answer_score(answer.answer, answer.answerable, item)))
            if "--failures" in sys.argv and results[-1][1] < 1:
                print(f"  CV-FAIL {item.id} [{item.kind}] {item.question} | want {item.must_include or 'refusal'} "
                      f"| got {answer.answer[:150]!r}", flush=True)  # fmt: skip


def _save(name: str, model: dict) -> None:
    MODELS.mkdir(exist_ok=True)
    model = {**model, "fitted": datetime.now(UTC).isoformat(timespec="seconds")}
    (MODELS / f"{name}.json").write_text(
        json.dumps(model, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    load_model.cache_clear()


def main(argv: list[str]) -> None:
    from rag.config import Settings

    cv = "--cv" in argv
    paths = [Path(a) for a in argv if not a.startswith("--")] or [
        Path("evals/dev.jsonl"),
        Path("evals/tuning.jsonl"),
    ]
    if any("holdout" in p.name for p in paths):
        raise SystemExit("calibrate fits on tuning items only; the holdout set is for judging")
    items = [item for p in paths for item in load_items(p)]
    data, profiles = collect(items, Settings())
    evidence_model = fit_evidence(data)
    refusal = fit_refusal(data, profiles, evidence_model)
    in_sample, per_corpus = accuracy(data, profiles, evidence_model, refusal)
    report = {"items": len(items), "in_sample_answer_accuracy": in_sample, **per_corpus}
    if cv:
        repeats = next((int(a.split("=", 1)[1]) for a in argv if a.startswith("--repeats=")), 1)
        report.update(cross_validate(data, profiles, repeats))
    _save("evidence", {**evidence_model, "cv": report})
    _save("refusal", refusal)
    print("refusal:", refusal["cv"], "threshold", refusal["threshold"], flush=True)
    print("answerer:", json.dumps(report, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
