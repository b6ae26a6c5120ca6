"""A question's key terms: its content words weighted by their rarity in the corpus (IDF), the corpus's
other spellings of them (a report's own abbreviation and its spelt-out form stand for each other: 棚改 /
棚户区改造, 固投 / 固定资产投资, found from the corpus's vocabulary, not a table), and the nouns it asks
about that the corpus never uses (地铁站), kept so that no statement covers such a question.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

from ingest.text import UNITS, match_form
from rag.lexical import BM25Index, general_word, tokenize

UNIT_WORD = re.compile(r"(?:万亿|亿|万|千|百)?(?:" + "|".join(map(re.escape, UNITS)) + r")|万亿|亿|万")
# Question words and scope words: they say what kind of answer is wanted, not what it is about.
QUESTION_WORDS = set(
    """多少 几 哪些 哪个 哪几 哪位 哪家 什么 是什么 意思 指什么 具体 情况 如何 怎么 怎样 分别 包括 目标 计划 预期 预计
    打算 想 要 完成 实际 实现 达到 增长 增速 增幅 涨 降 排名 第几 全年 上半年 今年 去年 明年 年度 期间 报告 政府 工作
    政府工作报告 提出 一共 到底 多大 比重 比例 占比 定 搞 准备 总量 总额 规模 分别是 都 有 哪 年 是 定了 现在 目前 如今
    共有 总共 一共有 百分之 百分比 百分 百分点 啦 呀 吧 呢 了没 没有 具体多少 大概 大约 请问 想知道 知道 告诉 一下""".split()
)

ABBREVIATION_CHARS = 3  # a short word of the corpus, not of general Chinese, that it also spells out (棚改)


def key_terms(
    form: str, drop: list[str], index: BM25Index
) -> tuple[dict[str, float], list[str], dict[str, tuple[str, ...]]]:
    """Content words of the question with their IDF weights; words the corpus never uses are left out of
    them, and nouns among those are returned beside them when nothing in the corpus spells them (no word
    they abbreviate, no corpus word inside or around them); and the other spellings the corpus uses for a
    term, any of which stands for it (棚改 / 棚户区改造)."""
    dropped = {match_form(d) for d in drop}
    terms: dict[str, float] = {}
    unknown: list[str] = []
    alts: dict[str, list[str]] = {}
    inside = index.vocabulary_words(form)
    nouns: set[str] | None = None  # tagged only when needed: jieba.posseg takes ~0.35 s to load
    tokens = tokenize(form)
    for char in _single_nouns(form, tokens, index):  # "挖了多少煤": 煤 is what is asked about (煤炭产量)
        terms[char] = round(index.idf(char), 3)
    for token in dict.fromkeys(tokens + tuple(inside)):
        if (
            token in QUESTION_WORDS
            or token in dropped
            or any(token in d for d in dropped)
            or re.fullmatch(r"[\d.%]+|\d{4}年?", token)
            or UNIT_WORD.fullmatch(token)
            or len(token) < 2
        ):
            continue
        if index.df(token):
            terms[token] = round(index.idf(token), 3)
            if len(token) <= ABBREVIATION_CHARS and not general_word(token):  # the corpus may write both
                alts.setdefault(token, []).extend(w for w in index.expansions(token) if token not in w)
            continue
        spelt = [w for w in index.expansions(token) if token not in w]  # 棚改 → 棚户区改造
        if spelt:  # an abbreviation of words the corpus uses: any of them stands for it
            terms.setdefault(spelt[0], round(0.8 * index.idf(spelt[0]), 3))
            alts.setdefault(spelt[0], []).extend(spelt[1:])
        said = any(w in token or token in w for w in inside if len(w) >= 2)
        if not spelt and re.fullmatch(r"[\u4e00-\u9fff]+", token) and not said:
            nouns = _nouns(form) if nouns is None else nouns
            unknown.extend([token] if token in nouns else [])
    words = [t for t in tokenize(form) if t in terms or t in form and len(t) >= 2 and t not in QUESTION_WORDS]
    phrases = list(terms) + ["".join(words[i : i + n]) for n in (2, 3) for i in range(len(words) - n + 1)]
    for phrase in phrases:  # and the reverse: the corpus may write the abbreviation (棚户区改造 → 棚改)
        if phrase in form or phrase in terms:
            for short in abbreviations(phrase, index):
                for word in [phrase] if phrase in terms else [w for w in terms if w in phrase]:
                    alts.setdefault(word, []).append(short)
    return terms, unknown, {t: tuple(dict.fromkeys(a)) for t, a in alts.items() if t in terms}


FUNCTION_CHARS = set(
    "的了吗呢啊呀吧么是有在和与及或年月日多少几个去今明能要会可把被给让等都也还就又很最该这那哪谁啥咋怎钱人事物"
)


def _single_nouns(form: str, tokens: tuple[str, ...], index: BM25Index) -> list[str]:
    """Nouns of one character the question asks about in everyday words ("挖了多少煤", "种的菜", and the 煤 of
    挖煤, a word the corpus never uses), when the corpus uses them, as a token or inside its words."""
    singles = [t for t in tokens if re.fullmatch(r"[\u4e00-\u9fff]", t) and t not in FUNCTION_CHARS]
    unknown = [t for t in tokens if re.fullmatch(r"[\u4e00-\u9fff]{2}", t) and not index.df(t)]
    if not singles and not unknown:
        return []

    def noun(char: str) -> bool:
        return char not in FUNCTION_CHARS and any(flag == "n" for _, flag in _tags(char))

    found = [word for word, flag in _tags(form) if word in singles and flag == "n"]
    found += [c for word in unknown for c in word if noun(c)]
    return [c for c in dict.fromkeys(found) if index.df(c)]


@lru_cache(maxsize=1024)
def _tags(text: str) -> tuple[tuple[str, str], ...]:
    """jieba's words of `text` with their part-of-speech tags, once per text (jieba.posseg takes ~0.35 s to
    load; it is imported only when a question needs it)."""
    import jieba.posseg

    return tuple((w.word, w.flag) for w in jieba.posseg.cut(text))


def _nouns(form: str) -> set[str]:
    """The words jieba tags as nouns in the question read as a whole: things asked about (地铁站), not verbs,
    measures or colloquial words the corpus would never use either (最后, 那会儿, 三座, 啥意思)."""
    return {
        word
        for word, flag in _tags(form)
        if flag in ("n", "nz", "vn") and re.fullmatch(r"[\u4e00-\u9fff]{2,}", word)
        and not re.search(r"[啥咋哪几]", word)
    }  # fmt: skip


def abbreviations(term: str, index: BM25Index) -> list[str]:
    """Abbreviations of a term, made the way Chinese ones are, from the first characters of its words in order
    (棚户区|改造 → 棚改, 固定|资产|投资 → 固投), that the corpus uses as words of their own."""
    if not re.fullmatch(r"[\u4e00-\u9fff]{4,12}", term):
        return []
    words = [w for w in tokenize(term) if len(w) >= 2 and w in term]
    words = sorted({w for w in words if not any(w != o and w in o for o in words)}, key=term.index)
    if len(words) < 2:
        return []
    initials = [w[0] for w in words]
    found = []
    for size in range(2, min(4, len(initials)) + 1):
        for combo in itertools.combinations(range(1, len(initials)), size - 1):
            short = initials[0] + "".join(initials[i] for i in combo)
            if short not in term and index.df(short) and short not in found:
                found.append(short)
    return found


def in_vocabulary(word: str, index: BM25Index) -> bool:
    """Whether the corpus uses `word`: as one of its tokens, or as tokens it uses side by side (集装箱吞吐量)."""
    return index.df(word) > 0 or (len(word) >= 3 and all(index.df(t) > 0 for t in tokenize(word)))
