"""Citation parsing and verification of generated answers.

An answer passes when it cites at least one passage, every `[n]` names a passage that was given, and every
number it states (with its unit) appears in a passage its sentence cites. A sentence without a citation of
its own (e.g. an answer whose only citations come at its end) is checked against all cited passages.

Numbers are read the way Chinese reports write them: `300亿元`, `7.8%左右` (read as `7.8%`), `2万余家`,
`916,564万元`, `第27名`, plain `96`; full-width digits are normalised with NFKC. In an answer, a 4-digit
number followed by 年 (`2021年`, `2021—2025年`) is a year: context, not a claim, so it is not checked.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from rag.types import Chunk

# [1] ［1］ 【1】, lists [1,2] [1、2] and ranges [1-3]; full-width forms match before NFKC too.
CITATION = re.compile(r"[\[【\uff3b]\s*(\d+(?:\s*[,、;\uff0c\uff1b\-–~]\s*\d+)*)\s*[\]】\uff3d]")
UNITS = sorted(
    """亿美元 万美元 美元 亿元 万元 元 个百分点 百分点 % ‰ 倍 人次 人 户 家 个 项 件 台 辆 套 所 座 栋 间 张 部 条 名 位
    次 场 批 期 届 处 床 亩 公顷 平方公里 平方千米 平方米 立方米 千米 公里 米 吨 千瓦时 千瓦 小时 天 岁""".split(),
    key=len,
    reverse=True,
)
NUMBER = re.compile(
    r"(?<!\d)(?<!\d\.)(?P<ordinal>第\s*)?(?P<value>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)(?![\d])"
    r"\s*(?P<magnitude>万亿|亿|万|千)?(?P<approx>余|多)?\s*(?P<unit>" + "|".join(map(re.escape, UNITS)) + ")?"
)
YEAR = re.compile(r"(?<!\d)\d{4}\s*(?:[-–—~至到]\s*\d{4}\s*)?年")
ENGLISH_STOP = re.compile(r"(?<=[.!?])\s+(?=\S)")
LEADING_CITATIONS = re.compile(r"^\s*(?:" + CITATION.pattern + r"\s*)+")


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def parse_citations(text: str) -> list[int]:
    """Passage numbers cited in `text`, in order of first use: [1], [1][2], [1,2], [1、2], ［1］, 【1】, [1-3]."""
    out: list[int] = []
    for m in CITATION.finditer(_nfkc(text)):
        for part in re.split(r"\s*[,、;]\s*", m.group(1)):
            ends = [int(x) for x in re.split(r"\s*[-–~]\s*", part)]
            span = range(ends[0], ends[-1] + 1) if len(ends) == 2 and 0 <= ends[-1] - ends[0] <= 20 else ends
            out += [n for n in span if n not in out]
    return out


@dataclass(frozen=True)
class _Number:
    value: Decimal
    magnitude: str
    unit: str


def _parse(match: re.Match[str]) -> _Number:
    return _Number(Decimal(match["value"].replace(",", "")), match["magnitude"] or "", match["unit"] or "")


def strip_citations(text: str) -> str:
    """`text` (NFKC) without its citation markers."""
    return CITATION.sub("", _nfkc(text))


def extract_numbers(text: str) -> list[str]:
    """Numbers with their units as stated in `text` (NFKC, white space removed, 左右/以上 left off).

    Citation markers and years (a 4-digit number followed by 年) are not claims and are left out.
    """
    t = YEAR.sub(" ", CITATION.sub(" ", _nfkc(text)))
    return [re.sub(r"\s+", "", m.group(0)) for m in NUMBER.finditer(t)]


def _numbers_in(text: str) -> list[_Number]:
    """Every number of a passage, years included (an English answer may say "in 2021")."""
    return [_parse(m) for m in NUMBER.finditer(CITATION.sub(" ", _nfkc(text)))]


def number_grounded(number: str, texts: list[str]) -> bool:
    """True when `number` (value, magnitude, unit) is stated in one of `texts`.

    Thousands separators and white space don't matter (`916564万元` matches `916,564万元`), nor do 余/多 or
    第; a unit left off matches any unit (`300亿` matches `300亿元`, `96` matches `96天`), others must agree.
    """
    m = NUMBER.search(_nfkc(number))
    if m is None:
        return False
    want = _parse(m)
    return any(
        n.value == want.value and n.magnitude == want.magnitude and n.unit.startswith(want.unit)
        for text in texts
        for n in _numbers_in(text)
    )


def split_sentences(text: str) -> list[str]:
    """Sentences (and ;-clauses) of an answer; citation markers that open a segment (`。[1]`) are moved to
    the end of the segment before it, where they belong."""
    out: list[str] = []
    for line in text.splitlines():
        for piece in ENGLISH_STOP.split(line):
            for seg in re.findall(r"[^。\uff01\uff1f\uff1b!?;]+[。\uff01\uff1f\uff1b!?;]*", piece):
                lead = LEADING_CITATIONS.match(seg)
                if lead and out:
                    out[-1] += lead.group(0).rstrip()
                    seg = seg[lead.end() :]
                if seg.strip():
                    out.append(seg.strip())
    return out


@dataclass
class VerificationResult:
    ok: bool
    problems: list[str] = field(default_factory=list)
    cited: list[int] = field(default_factory=list)  # passage numbers cited, in order of first use


def grounding_text(chunk: Chunk) -> str:
    """What the model saw of a passage: its header fields and its text."""
    return f"{chunk.title}\n{chunk.section}\n{chunk.text}"


def _labels(ns: list[int]) -> str:
    return "".join(f"[{n}]" for n in ns)


def verify_answer(answer_text: str, given: list[Chunk]) -> VerificationResult:
    """Check `answer_text` against the passages `given` (passage `[n]` is `given[n - 1]`)."""
    cited = parse_citations(answer_text)
    problems: list[str] = []
    if not cited:
        problems.append("the answer cites no passage")
    bad = [n for n in cited if not 1 <= n <= len(given)]
    if bad:
        problems.append(
            f"citation {_labels(bad)} names a passage that was not given (only [1]-[{len(given)}])"
        )
    valid = [n for n in cited if 1 <= n <= len(given)]
    for sentence in split_sentences(answer_text):
        own = [n for n in parse_citations(sentence) if 1 <= n <= len(given)] or valid
        texts = [grounding_text(given[n - 1]) for n in own]
        for number in extract_numbers(sentence):
            if not number_grounded(number, texts):
                where = f"cited passage {_labels(own)}" if len(own) == 1 else f"cited passages {_labels(own)}"
                problems.append(
                    f"number {number} not found in {where}" if own else f"number {number} is uncited"
                )
    return VerificationResult(ok=not problems, problems=problems, cited=cited)
