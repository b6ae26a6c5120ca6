"""Text normalisation, numbers and statements: one of each for the whole project.

- `normalize`: NFKC with all white space removed, the comparison form of evals/SCHEMA.md.
- `clean_text`: what a reader of the text sees, normalised (NFKC, traditional → simplified with OpenCC,
  stray marks dropped, white space collapsed); used for headings, chunk sizes and embeddings.
- `match_form`: `clean_text`, lower-cased, quotes dropped and the standard abbreviations of statistical
  indicators (GDP, 固投, 社零, CPI…, from `data/terms.tsv`) replaced by one canonical term. Applied the same
  way to questions and to report text, so either side may use either wording.
- `NUMBER` / `numbers` / `number_grounded`: numbers as reports write them (`300亿元`, `7.8%左右`, `2万余家`,
  `916,564万元`, `第27名`).
- `jieba_dictionary`: jieba with its general dictionary loaded (its own cache, read in one piece).
- `split_statements`: a passage cut into statements (sentences; a long sentence into its ；-clauses, each
  keeping the subject the sentence opened with), with their exact spans in the original text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).with_name("data")

WHITESPACE = re.compile(r"\s+")


def jieba_dictionary():
    """The `jieba` module, its process-wide tokenizer initialised. From jieba's own cache file when it has one,
    read whole: jieba's `marshal.load` on the open file reads it in small pieces, ~0.7 s of a cold
    `rag ask` against ~0.2 s this way. Anything unexpected falls back to jieba's own loading."""
    import marshal
    import os
    import tempfile

    import jieba

    dt = jieba.dt
    if not dt.initialized and dt.dictionary == jieba.DEFAULT_DICT:
        cache = Path(dt.tmp_dir or tempfile.gettempdir()) / (dt.cache_file or "jieba.cache")
        with dt.lock:
            try:
                if not dt.initialized and cache.is_file() and cache.stat().st_uid == os.getuid():
                    freq, total = marshal.loads(cache.read_bytes())
                    if isinstance(freq, dict) and freq and isinstance(total, int):
                        dt.FREQ, dt.total, dt.initialized = freq, total, True
            except (OSError, ValueError, EOFError, TypeError):
                pass
    jieba.initialize()  # nothing left to do when the cache was read
    return jieba


STRAY_MARKS = re.compile(r"[*★☆�\u200b\u200c\u200d\ufeff]")
QUOTES = re.compile(r"[“”\"「」『』‘’]")


def normalize(text: str) -> str:
    """NFKC and all white space removed: the comparison form used by evals."""
    return WHITESPACE.sub("", unicodedata.normalize("NFKC", text))


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC

    return OpenCC("t2s")


def clean_text(text: str, spam: list[str] | tuple[str, ...] = ()) -> str:
    """See `_clean_text`; cached, since answering cleans the same sentences again and again."""
    return _clean_text(text, tuple(spam))


@lru_cache(maxsize=200_000)
def _clean_text(text: str, spam: tuple[str, ...]) -> str:
    """NFKC, spam phrases cut out, traditional characters mapped to simplified ones, stray marks dropped,
    white space collapsed (and removed between CJK characters)."""
    t = unicodedata.normalize("NFKC", text).replace("\u00a0", " ").replace("\u3000", " ")
    for phrase in spam:
        t = re.sub(r"\s*".join(map(re.escape, phrase.split())), "", t)
    t = _t2s().convert(t)
    t = STRAY_MARKS.sub("", t)
    t = WHITESPACE.sub(" ", t).strip()
    return re.sub(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])", "", t)


@lru_cache(maxsize=1)
def canonical_terms() -> dict[str, str]:
    """variant → canonical term, from data/terms.tsv (one group a line: canonical, then its variants)."""
    table: dict[str, str] = {}
    for line in (DATA / "terms.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        canonical, *variants = [cell.strip().lower() for cell in line.split("\t") if cell.strip()]
        for variant in variants:
            table[variant] = canonical
    return table


@lru_cache(maxsize=1)
def _variant_re() -> re.Pattern[str]:
    variants = sorted(canonical_terms(), key=len, reverse=True)
    return re.compile("|".join(rf"(?<![a-z]){re.escape(v)}(?![a-z])" for v in variants))


@lru_cache(maxsize=200_000)
def match_form(text: str) -> str:
    """The form compared between questions and reports: cleaned, lower case, no quotes, no white space
    between CJK, abbreviations replaced by their canonical term (longest variant first)."""
    t = QUOTES.sub("", clean_text(text).lower())
    table = canonical_terms()
    return _variant_re().sub(lambda m: table[m.group(0)], t)


# ---------------------------------------------------------------- numbers
UNITS = sorted(
    """亿美元 万美元 美元 亿元 万元 元 个百分点 百分点 % ‰ 倍 人次 人 户 家 个 项 件 台 辆 套 所 座 栋 间 张 部 条
    名 位 次 场 批 期 届 处 床 亩 公顷 平方公里 平方千米 平方米 立方米 千米 公里 米 吨 千瓦时 千瓦 小时 天 岁 年 公斤 千克
    斤 微克 毫克 克 标准箱 标箱 艘 架 头 只 株 棵 册""".split(),
    key=len,
    reverse=True,
)
NUMBER = re.compile(
    r"(?<![\dA-Za-z])(?<!\d\.)(?P<ordinal>第\s*)?(?P<value>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)(?![\dA-Za-z])"
    r"\s*(?P<magnitude>万亿|亿|万|千)?(?P<approx>余|多)?\s*(?P<unit>" + "|".join(map(re.escape, UNITS)) + ")?"
)
YEAR = re.compile(r"(?<!\d)\d{4}\s*(?:[-–—~至到]\s*\d{4}\s*)?年")
CITATION = re.compile(r"[\[【\uff3b]\s*(\d+(?:\s*[,、;\uff0c\uff1b\-–~]\s*\d+)*)\s*[\]】\uff3d]")
PERCENT_UNITS = {"%", "‰", "个百分点", "百分点"}
MONEY_UNITS = {"亿美元", "万美元", "美元", "亿元", "万元", "元"}


@dataclass(frozen=True)
class Number:
    text: str  # as written, white space removed
    value: Decimal
    magnitude: str  # 万亿 | 亿 | 万 | 千 | ""
    unit: str  # one of UNITS or ""
    ordinal: bool  # 第27名

    @property
    def full_unit(self) -> str:
        """Magnitude and unit together, as a question asks for them: 亿元, 万人, 万亿元."""
        return self.magnitude + self.unit

    @property
    def is_percent(self) -> bool:
        return self.unit in PERCENT_UNITS

    @property
    def is_money(self) -> bool:
        return self.unit in MONEY_UNITS

    @property
    def is_year(self) -> bool:
        return self.unit == "年" and not self.magnitude and 1949 <= self.value <= 2100


def _number(m: re.Match[str]) -> Number | None:
    try:
        value = Decimal(m["value"].replace(",", ""))
    except InvalidOperation:
        return None
    return Number(
        WHITESPACE.sub("", m.group(0)), value, m["magnitude"] or "", m["unit"] or "", bool(m["ordinal"])
    )


def numbers(text: str) -> list[Number]:
    """Every number stated in `text` (NFKC), years included, citation markers [n] left out."""
    t = CITATION.sub(" ", unicodedata.normalize("NFKC", text))
    return [n for m in NUMBER.finditer(t) if (n := _number(m)) is not None]


def claimed_numbers(text: str) -> list[str]:
    """The numbers an answer claims: as written, without citation markers and years (`2021年`,
    `2021—2025年`), which are context rather than claims."""
    t = YEAR.sub(" ", CITATION.sub(" ", unicodedata.normalize("NFKC", text)))
    return [WHITESPACE.sub("", m.group(0)) for m in NUMBER.finditer(t)]


def number_grounded(number: str, texts: list[str]) -> bool:
    """True when `number` (value, magnitude, unit) is stated in one of `texts`. Thousands separators, white
    space, 余/多 and 第 don't matter; a unit left off matches any unit (`300亿` matches `300亿元`)."""
    found = numbers(number)
    if not found:
        return False
    want = found[0]
    return any(  # read with and without its years: "14.2025年" is item 14, then a year
        n.value == want.value and n.magnitude == want.magnitude and n.unit.startswith(want.unit)
        for text in texts
        for form in (text, YEAR.sub(" ", unicodedata.normalize("NFKC", text)))
        for n in numbers(form)
    )


# ---------------------------------------------------------------- statements
SENTENCE = re.compile(r"[^。！？!?\n]+(?:[。！？!?]+[”’」』)）]*)?|[。！？!?]+")
CLAUSE = re.compile(r"[^；;]+[；;]?")
LONG_SENTENCE = 120  # cleaned characters: a longer sentence is also cut into its ；-clauses
MIN_STATEMENT = 10  # a shorter piece (a heading, "完成情况:") joins the statement after it
ENUMERATOR = re.compile(
    r"^\s*(?:\d{1,2}[.、．]|[(（][一二三四五六七八九十\d]+[)）]|[一二三四五六七八九十]+、)\s*"
)
SUBJECT = re.compile(r"^[^，,：:；;。]{2,24}[：:]|^[^，,：:；;。]{2,16}[，,]")


@dataclass(frozen=True)
class Statement:
    """A sentence, or a ；-clause of a long sentence, of a passage."""

    start: int  # span in the passage's original text
    end: int
    text: str  # passage[start:end], original
    subject: str  # cleaned lead of the sentence a clause was cut from ("" for whole sentences)

    @property
    def clean(self) -> str:
        return clean_text(self.text)

    @property
    def with_subject(self) -> str:
        """The statement as read on its own: its subject first when it was cut off."""
        return f"{self.subject} {self.clean}" if self.subject else self.clean


def _spans(text: str, pattern: re.Pattern[str], start: int, end: int) -> list[tuple[int, int]]:
    out = []
    for m in pattern.finditer(text, start, end):
        a, b = m.start(), m.end()
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


@lru_cache(maxsize=100_000)
def split_statements(text: str) -> tuple[Statement, ...]:
    """The statements of a passage, in order. Short pieces (headings, labels such as "完成情况:") are joined
    to the statement that follows, so no statement is a bare heading."""
    pieces: list[tuple[int, int, str]] = []
    for a, b in _spans(text, SENTENCE, 0, len(text)):
        long = len(normalize(text[a:b])) > LONG_SENTENCE  # a length needs no OpenCC: cheap for every chunk
        clauses = _spans(text, CLAUSE, a, b) if long else [(a, b)]
        if len(clauses) == 1:
            pieces.append((a, b, ""))
            continue
        lead = SUBJECT.match(clean_text(text[a:b]))
        subject = lead.group(0).rstrip("，,：: ") if lead else ""
        for i, (ca, cb) in enumerate(clauses):
            pieces.append((ca, cb, "" if i == 0 else subject))
    out: list[Statement] = []
    carry: int | None = None
    for a, b, subject in pieces:
        if carry is not None:
            a, carry = carry, None
        piece = ENUMERATOR.sub("", normalize(text[a:b]))
        if len(piece) < MIN_STATEMENT and not re.search(r"\d", piece):
            carry = a
            continue
        out.append(Statement(a, b, text[a:b], subject))
    if carry is not None:
        if out and text[out[-1].end : carry].strip() == "":
            last = out.pop()
            out.append(
                Statement(last.start, len(text.rstrip()), text[last.start : len(text.rstrip())], last.subject)
            )
        elif text[carry:].strip():
            out.append(Statement(carry, len(text.rstrip()), text[carry : len(text.rstrip())], ""))
    return tuple(out)
