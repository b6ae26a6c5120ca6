"""Lexical side: jieba tokens of the match form (`ingest.text.match_form`), BM25 over them (bm25s), and the
document frequencies that weigh a question's key terms.

Words jieba must keep whole come from data, not from a list grown per question: the canonical indicator
names of `ingest/data/terms.tsv`. Tokenizing a chunk depends on nothing else, so token lists are cached by
chunk (`rag.snapshot`); a name a question quotes (“四水共治”) is a key term of its own (`rag.query`).
Numbers stay whole with their units ("300亿元", "7.8%"). `TOKENIZER_VERSION` names this setup: a change
to it or to terms.tsv invalidates the cached token lists.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from ingest.text import NUMBER, canonical_terms, jieba_dictionary, match_form

# Function words, question words and punctuation: never key terms, never BM25 tokens.
STOPWORDS = set(
    """的 了 和 与 及 是 在 为 有 多少 什么 哪些 哪个 哪几 几个 几 怎么 怎样 如何 吗 呢 啊 呀 吧 么 个 年 中 对 把
    被 将 我们 其中 以及 等 并 也 都 上 下 由 从 到 给 分别 具体 是否 指 请问 情况 一下 一共 到底 这个 那个 这 那 就
    还 又 能 会 要 想 打算 准备 一 其 之 所 该 各 每 此 已 已经 多大 多 少 哪 谁 哪位 啥 咋 么样 怎么样 什么样
    the of in and a an to what how many much did was were is are for during""".split()
) | set('?？、,，。:：;；“”‘’"()（）《》【】!！—-·…')
QUOTED = re.compile(r"[“\"「『]([^”\"」』\n]{2,16})[”\"」』]")
_lock = threading.Lock()
TOKENIZER_VERSION = "jieba-0.42.1-search-1"


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba_dictionary()
    for term in set(canonical_terms().values()):
        jieba.add_word(term, freq=200_000)
    return jieba


def general_word(word: str) -> bool:
    """Whether jieba's dictionary of general Chinese holds `word` (资产, 投资): not a report's own coinage or
    abbreviation (棚改, 固投)."""
    return bool(_jieba().dt.FREQ.get(word))


def coined_terms(texts: Iterable[str]) -> set[str]:
    """Names a corpus coins in quotes (“四水共治”, “一轴两区三城”): 2–16 characters, not a sentence."""
    return {m for t in texts for m in QUOTED.findall(t) if not re.search(r"[，,。；;：:]", m)}


@lru_cache(maxsize=100_000)
def tokenize(text: str) -> tuple[str, ...]:
    """Content tokens of the match form of `text`: whole numbers with units (and their digits), jieba words
    in search mode (long words also yield their parts), Latin words lower-cased; stop words dropped."""
    form = match_form(text)
    tokens: list[str] = []
    for m in NUMBER.finditer(form):
        number = re.sub(r"[,\s]", "", m.group(0))
        tokens.append(number)
        digits = re.match(r"[\d.]+", number)
        if digits and digits.group(0) != number:
            tokens.append(digits.group(0))
    rest = NUMBER.sub(" ", form)
    jieba = _jieba()
    with _lock:  # jieba's dictionary is not thread-safe while it changes
        words = jieba.lcut_for_search(rest)
    tokens += [
        w for w in (w.strip() for w in words) if w and w not in STOPWORDS and not re.fullmatch(r"\W+", w)
    ]
    return tuple(tokens)


class BM25Index:
    """BM25 over token lists; `scores(tokens)` gives one score per document, in order. `idf(term)` weighs a
    question's key terms by how rare they are in the corpus."""

    def __init__(self, token_lists: list[tuple[str, ...]]):
        import bm25s

        self._n = len(token_lists)
        self._df = Counter(t for tokens in token_lists for t in set(tokens))
        self._by_first: dict[str, list[str]] | None = None
        self._token_lists = token_lists
        self._bm25 = bm25s.BM25()
        if self._n:
            self._bm25.index([list(t) or ["∅"] for t in token_lists], show_progress=False)

    def __len__(self) -> int:
        return self._n

    def df(self, term: str) -> int:
        return self._df.get(term, 0)

    def idf(self, term: str) -> float:
        """log((N + 1) / (df + 0.5)): ~8 for a word in one chunk of 3,000, ~0.7 for one in half of them."""
        return math.log((self._n + 1) / (self._df.get(term, 0) + 0.5))

    def vocabulary_words(self, text: str, longest: int = 8) -> list[str]:
        """Words of the corpus's vocabulary found in `text` (its match form) as substrings, the longest ones
        only: a question segmented differently from the reports ("棚/改要/完成") still finds "棚改"."""
        form = match_form(text)
        found: list[tuple[int, int]] = []
        for run in re.finditer(r"[\u4e00-\u9fff]+", form):
            s, e = run.span()
            for i in range(s, e):
                for j in range(min(e, i + longest), i + 1, -1):
                    if self._df.get(form[i:j]):
                        found.append((i, j))
                        break
        spans = [a for a in found if not any(b != a and b[0] <= a[0] and a[1] <= b[1] for b in found)]
        return [form[i:j] for i, j in spans]

    def expansions(self, short: str, limit: int = 2) -> list[str]:
        """Corpus words that `short` abbreviates the way Chinese abbreviations are made, by keeping some of
        a word's characters in order from its first one (棚改 → 棚户区改造, 固投 → 固定资产投资); the most
        frequent first."""
        if not re.fullmatch(r"[\u4e00-\u9fff]{2,4}", short):
            return []
        if self._by_first is None:  # words, and pairs of adjacent words (棚户区 + 改造), by first character
            phrases = Counter(self._df)
            for tokens in self._token_lists:
                for a, b in zip(tokens, tokens[1:], strict=False):
                    if a not in b and b not in a:
                        phrases[a + b] += 1
            self._phrases = phrases
            self._by_first = {}
            for word in phrases:
                if re.fullmatch(r"[\u4e00-\u9fff]{3,8}", word):
                    self._by_first.setdefault(word[0], []).append(word)

        def abbreviates(word: str) -> bool:
            rest = iter(word[1:])
            return len(word) > len(short) and all(ch in rest for ch in short[1:])

        found = [w for w in self._by_first.get(short[0], []) if abbreviates(w)]
        return sorted(found, key=lambda w: -self._phrases[w])[:limit]

    def scores(self, tokens: Iterable[str]) -> np.ndarray:
        tokens = [t for t in tokens if t in self._df]
        if not tokens or not self._n:
            return np.zeros(self._n, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
