"""Lexical retrieval: BM25 (bm25s) over jieba tokens, with report terms and district names kept whole
and numbers kept whole with their units ("300亿元", "7.8%")."""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache

import numpy as np

from ingest.metadata import DISTRICTS
from ingest.text import NUMBER

# Indicator and policy terms of the reports, so jieba never cuts them apart.
REPORT_TERMS = """
地区生产总值 固定资产投资 社会消费品零售总额 一般公共预算收入 地方一般公共预算收入 一般公共预算总收入 财政总收入
招商引资 招才引智 城镇居民人均可支配收入 居民人均可支配收入 人均可支配收入 规模以上工业增加值 第三产业增加值
服务业增加值 服务业产值 城镇登记失业率 新增就业 市场主体 新增市场主体 空气质量优良天数 优良天数 高新技术企业
外商直接投资 实际利用外资 进出口总额 外贸进出口 世界500强 民营企业500强 区域总部 总部经济 楼宇经济 亿元楼
老旧小区 加装电梯 黑臭水体 四水共治 垃圾分类 为民办实事 十三五 十四五 双招双引 区管校聘 创业工位 对口帮扶
隔离点 康复驿站 方舱医院 微循环道路 专利授权 发明专利 大学生留汉 城建投资 旧城改造 三旧改造 民生支出
""".split()
STOPWORDS = set(
    "的 了 和 与 及 是 在 为 有 多少 什么 哪些 哪个 哪几 几个 几 怎么 如何 吗 呢 个 年 区 中 对 把 被 将 我们 其中 "
    "以及 等 并 也 都 上 下 由 从 到 给 分别 具体 是否 指 请问 情况 ? ? 、 , , 。 : : ; ; “ ” ( ) ( ) 《 》 "
    "the of in and a an to what how many much did was were is are for during".split()
)
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    for term in REPORT_TERMS + list(DISTRICTS) + list(DISTRICTS.values()):
        jieba.add_word(term, freq=200000)
    jieba.initialize()
    return jieba


def tokenize(text: str) -> list[str]:
    """Content tokens: jieba words (search mode, so long terms also yield their parts), whole numbers
    with units, lower-cased Latin words; stop words and punctuation dropped."""
    jieba = _jieba()
    tokens: list[str] = []
    for m in NUMBER.finditer(text):
        number = m.group(0).replace(",", "").replace(" ", "")
        tokens.append(number)
        digits = re.match(r"[\d.]+", number)
        if digits and digits.group(0) != number:
            tokens.append(digits.group(0))
    rest = NUMBER.sub(" ", text)
    with _lock:  # jieba's cache is not thread-safe on first use
        words = jieba.lcut_for_search(rest)
    for w in words:
        w = w.strip().lower()
        if w and w not in STOPWORDS and not re.fullmatch(r"[\W_]+", w):
            tokens.append(w)
    return tokens


class BM25Index:
    """BM25 over chunk texts; `scores(query)` returns one score per chunk, in chunk order."""

    def __init__(self, texts: list[str]):
        import bm25s

        self._n = len(texts)
        self._bm25 = bm25s.BM25()
        self._bm25.index([tokenize(t) for t in texts], show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        tokens = tokenize(query)
        if not tokens or not self._n:
            return np.zeros(self._n, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
