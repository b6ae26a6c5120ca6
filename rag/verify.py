"""Citation parsing and verification of generated answers.

An answer passes when it cites at least one passage, every `[n]` names a passage that was given, and every
number it states (with its unit) appears in a passage its sentence cites. A sentence without a citation of
its own (e.g. an answer whose only citations come at its end) is checked against all cited passages.

Numbers are read by `ingest.text` (the project's one number pattern). In an answer, a 4-digit number
followed by 年 (`2021年`, `2021—2025年`) is a year: context, not a claim, so it is not checked.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from ingest.text import CITATION, claimed_numbers, number_grounded
from ingest.types import Chunk

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


def strip_citations(text: str) -> str:
    """`text` (NFKC) without its citation markers."""
    return CITATION.sub("", _nfkc(text))


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
        for number in claimed_numbers(sentence):
            if not number_grounded(number, texts):
                where = f"cited passage {_labels(own)}" if len(own) == 1 else f"cited passages {_labels(own)}"
                problems.append(
                    f"number {number} not found in {where}" if own else f"number {number} is uncited"
                )
    return VerificationResult(ok=not problems, problems=problems, cited=cited)
