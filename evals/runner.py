"""`rag eval`: every question through the `/ask` code path (`RAG.ask`), the metrics of evals/SCHEMA.md
overall, per kind and per group (corpus, English, colloquial), baselines side by side, a JSON dump and a
Markdown report with a chart.

An item names the corpus it is asked of (`corpus`, default "seeds"; `CORPORA` maps names to folders): each
corpus gets its own pipeline, under RAG_HOME/eval/<corpus>, built once and reused by later runs.

Systems (all with the same answer context, ANSWER_CONTEXT chunks, and the same cleaned text):
- ours: `rag.ask(question, 10)`, exactly `/ask`.
- bm25, dense: one retrieval signal alone, no scope, no rerank; answered by the same extractive answerer
  without its scope refusals (`evals/baselines.py`).
- naive-llama-index: llama-index's default `SentenceSplitter` and `VectorStoreIndex` with the same embedder
  over the same cleaned text, top ANSWER_CONTEXT nodes, the same answerer (`evals/baselines.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from evals.metrics import (
    EvalItem,
    EvalSetError,
    ItemScore,
    SystemScores,
    answer_score,
    check_thresholds,
    first_hit_rank,
    is_hit,
    load_items,
    load_thresholds,
    summarize,
)
from ingest.text import claimed_numbers, number_grounded
from rag.types import Answer

THRESHOLDS = Path(__file__).with_name("thresholds.toml")
ROOT = Path(__file__).resolve().parent.parent
CORPORA = {
    "seeds": ROOT / "seeds",
    "provinces-2025": ROOT / "evals" / "corpora" / "provinces-2025",
    "hailar": ROOT / "evals" / "corpora" / "hailar",
}
RANK_DEPTH = 10
TABLE_METRICS = ["hit@1", "hit@5", "mrr@10", "answer_accuracy", "refusal_precision", "refusal_recall",
                 "false_refusal_rate", "citation_support", "grounded_numbers", "latency_p50_ms", "latency_p95_ms"]  # fmt: skip

# question -> (answer, ranked (doc, original text) of the top RANK_DEPTH retrieved chunks)
System = Callable[[str], tuple[Answer, list[tuple[str, str]]]]


@dataclass
class EvalResult:
    set_path: str
    systems: dict[str, SystemScores]  # "ours" first, then the baselines
    failures: list[str]  # threshold failures of "ours"
    config: dict = field(default_factory=dict)

    @property
    def ours(self) -> SystemScores:
        return self.systems["ours"]

    def to_dict(self) -> dict:
        return {
            "set": self.set_path,
            "config": self.config,
            "failures": self.failures,
            "systems": {name: s.to_dict() for name, s in self.systems.items()},
        }


def score_item(item: EvalItem, answer: Answer, ranked: list[tuple[str, str]]) -> ItemScore:
    numbers = claimed_numbers(answer.answer) if answer.answerable else []
    cited = [c.text for c in answer.citations]
    return ItemScore(
        id=item.id,
        kind=item.kind,
        gold_answerable=item.answerable,
        refused=not answer.answerable,
        rank=first_hit_rank(ranked[:RANK_DEPTH], item) if item.answerable else None,
        score=answer_score(answer.answer, answer.answerable, item),
        cited_support=any(is_hit(c.doc, c.text, item) for c in answer.citations),
        numbers=len(numbers),
        grounded=sum(number_grounded(n, cited) for n in numbers),
        latency_ms=round(answer.latency_ms, 1),
        question=item.question,
        expected=item.must_include,
        expected_where=[f"{d}:{ln}" for d, ln in zip(item.docs, item.lines, strict=False)] or item.docs,
        answer=answer.answer,
        cited=[f"{c.doc}:{c.start_line}-{c.end_line}" for c in answer.citations],
        corpus=item.corpus,
        groups=(["english"] if item.lang == "en" else [])
        + (["colloquial"] if "colloquial" in item.tags else []),
    )


def evaluate(items: list[EvalItem], system: System) -> list[ItemScore]:
    return [score_item(item, *system(item.question)) for item in items]


_OPEN: dict[tuple[Path, Path], object] = {}  # one pipeline per (home, corpus folder) per process


def open_corpora(items: list[EvalItem], settings, corpus: Path | None = None) -> dict:
    """{corpus name: (RAG, its items)}; with `corpus`, every item is asked of that folder instead."""
    from rag.service import RAG

    groups: dict[str, list[EvalItem]] = {}
    for item in items:
        groups.setdefault("custom" if corpus else item.corpus, []).append(item)
    out = {}
    for name, group in groups.items():
        folder = corpus or CORPORA.get(name)
        if folder is None:
            raise EvalSetError(f"unknown corpus {name!r} (known: {', '.join(CORPORA)})")
        home = settings.home / "eval" / name
        if (home, folder) not in _OPEN:
            _OPEN[home, folder] = RAG.open(
                settings.model_copy(update={"home": home, "corpus": folder}), progress=True
            )
        out[name] = (_OPEN[home, folder], group)
    return out


def run_eval(
    set_path: Path,
    settings,
    baselines: bool = False,
    thresholds_path: Path | None = THRESHOLDS,
    corpus: Path | None = None,
) -> EvalResult:
    """Load the set (EvalSetError on a bad file, before any model loads), open each corpus's pipeline once,
    score ours and, when asked, the baselines; thresholds from `thresholds_path` are checked against ours."""
    from evals.baselines import Baselines
    from rag.service import ANSWER_CONTEXT

    items = load_items(set_path)
    thresholds = (load_thresholds(thresholds_path) if thresholds_path else {}).get(Path(set_path).stem, {})
    rows: dict[str, list[ItemScore]] = {"ours": []}
    for _name, (rag, group) in open_corpora(items, settings, corpus).items():

        def ours(q: str, rag=rag) -> tuple[Answer, list[tuple[str, str]]]:
            answer = rag.ask(q, RANK_DEPTH)
            return answer, [(r.doc, r.text) for r in answer.retrieved[:RANK_DEPTH]]

        rows["ours"] += evaluate(group, ours)
        if baselines:
            peers = Baselines(rag, ANSWER_CONTEXT)
            for system, answer_fn in peers.systems().items():
                rows.setdefault(system, []).extend(evaluate(group, answer_fn))
    systems = {name: summarize(r) for name, r in rows.items()}
    config = {
        "answer_context": ANSWER_CONTEXT,
        "embed_model": settings.embed_model,
        "corpora": sorted({i.corpus for i in items}) if corpus is None else [str(corpus)],
        "llm": settings.llm_model if settings.llm_enabled else None,
        "items": len(items),
    }
    return EvalResult(str(set_path), systems, check_thresholds(systems["ours"], thresholds), config)


def run_sets(
    set_paths: list[Path],
    settings,
    baselines: bool = False,
    thresholds_path: Path | None = THRESHOLDS,
    corpus: Path | None = None,
) -> list[EvalResult]:
    """`run_eval` for each set (every set is read and checked before any model loads); thresholds are
    looked up by the set's name (`[holdout.overall]` for evals/holdout.jsonl)."""
    for path in set_paths:
        load_items(path)
    if thresholds_path:
        load_thresholds(thresholds_path)
    return [run_eval(p, settings, baselines, thresholds_path, corpus) for p in set_paths]
