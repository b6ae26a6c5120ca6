"""Section structure: recognise headings and group a document's paragraphs under their section path.

Heading ranks (smaller = higher):
  0  standalone heading lines: "2021年主要工作", "2018年工作回顾", "“十四五”目标任务", "第X部分", "附件1",
     "名词解释", and other short lines without sentence punctuation (newspaper headlines)
  1  "一、…"          2  "(一)…" / "（一）…"          3  "1." / "1、" / "1．" numbered items
A numbered or "(一)" line that goes on into a sentence ("(一)稳投资、促发展,…。疫后经济…") is both a
heading (its lead phrase names the section) and content. The title, header and address to the delegates
("各位代表：现在，我代表…向大会报告政府工作") before the first heading form a block of their own (`opening`).

Text with hard line breaks inside sentences (PDF text, hard-wrapped .txt) is first reflowed into paragraphs
(`reflow`): in a document most of whose lines have about the same length, a line of that full length that
does not end a sentence goes on in the next line, unless that line starts a heading. A paragraph records its
first and last original line; its text is the exact original text of those lines.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ingest.text import clean_text

CN_NUM = "一二三四五六七八九十"
RANKED = [
    (0, re.compile(rf"^第[{CN_NUM}]+(部分|章)")),
    (1, re.compile(rf"^[{CN_NUM}]+[、.]")),
    (2, re.compile(rf"^[(（][{CN_NUM}]+[)）]")),
    (3, re.compile(r"^\d{1,2}(\.(?!\d)|、|．)")),
]
STANDALONE = re.compile(
    r"^(附件\s*\d*|名词(解释|注释)|.{0,12}名词(解释|注释)|\d{4}年.{0,14}(工作|回顾|任务|安排|目标|计划|实事|要点|情况|成绩)(建议)?"
    r"|.{0,6}(十[一二三四五]五).{0,6}(目标|任务|回顾|规划).{0,4})$"
)
SENTENCE_END = re.compile(r"[。;\uff1b!?\uff01\uff1f]")
MAX_HEADING_CHARS = 24
MAX_LEAD_CHARS = 40
OPENING = re.compile(r"我代表[^。]{0,30}?向[^。]{0,8}大会[^。]{0,6}(报告|作|做)[^。]{0,6}工作")
OPENING_WITHIN = 12  # paragraphs: the address comes right after the title and header
LINE_END = re.compile(r"[。!?\uff01\uff1f…][”’」』)\uff09】》]*$")  # a sentence ends the line
MIN_WRAPPED_LINES = 5


@dataclass
class Paragraph:
    line: int  # first line (1-based) in the original file
    text: str  # original text of lines line..end_line, joined by "\n"
    clean: str  # cleaned text
    heading: bool = False  # a bare heading line (no body text of its own)
    end_line: int = 0  # last line in the original file (0: the first)

    def __post_init__(self) -> None:
        self.end_line = self.end_line or self.line


@dataclass
class Block:
    """A run of paragraphs under one section path (a leaf of the section tree)."""

    path: tuple[str, ...]
    paragraphs: list[Paragraph] = field(default_factory=list)
    opening: bool = False  # the header and address to the delegates before the first heading


def heading_rank(clean: str, generic: bool = True) -> int | None:
    """The rank of a heading line, or None for a body paragraph. `generic` admits any short line without
    sentence punctuation as a heading (for documents, such as newspaper pages, that have no other kind)."""
    for rank, pattern in RANKED:
        if pattern.match(clean):
            return rank
    if len(clean) <= MAX_HEADING_CHARS and STANDALONE.match(clean):
        return 0
    if (
        generic
        and len(clean) <= MAX_HEADING_CHARS
        and not SENTENCE_END.search(clean)
        and not re.search(r"[,\uff0c:\uff1a、]$", clean)
        and not re.fullmatch(r"[\d\W]*", clean)
    ):
        return 0
    return None


def heading_label(clean: str) -> str:
    """The name of a section as shown in a path: the lead phrase of a heading line."""
    m = re.search(r"[。:\uff1a]", clean)
    label = clean[: m.start()] if m and m.start() > 2 else clean
    return label[:MAX_LEAD_CHARS].rstrip(",, ")


def is_content_heading(clean: str) -> bool:
    """A heading line that also carries body text (a lead sentence followed by more)."""
    m = re.search(r"[。:\uff1a]", clean)
    return bool(m) and len(clean) - m.end() > 4 or len(clean) > MAX_LEAD_CHARS


def group_sections(paragraphs: list[Paragraph]) -> list[Block]:
    """Walk the paragraphs, keeping a stack of open headings, and return leaf blocks in order."""
    generic = not any(heading_rank(p.clean, generic=False) is not None for p in paragraphs)
    stack: list[tuple[int, str, bool]] = []  # (rank, label, has_content)
    blocks: list[Block] = []

    def current() -> Block:
        path = tuple(label for _, label, _ in stack)
        if not blocks or blocks[-1].path != path:
            blocks.append(Block(path))
        return blocks[-1]

    for p in paragraphs:
        rank = heading_rank(p.clean, generic)
        if rank is None:
            if stack:
                stack[-1] = (stack[-1][0], stack[-1][1], True)
            current().paragraphs.append(p)
            continue
        # A heading right under an empty heading of the same or higher rank nests under it
        # ("附件1" then "2019年政府为民办实事"); otherwise close headings of its rank and below.
        if not (stack and not stack[-1][2] and stack[-1][0] <= rank):
            while stack and stack[-1][0] >= rank:
                stack.pop()
        content = is_content_heading(p.clean) or rank == 3
        stack.append((rank, heading_label(p.clean), content))
        p.heading = not content  # headings stay in the text; the chunker never emits one alone
        current().paragraphs.append(p)
    blocks = [b for b in blocks if b.paragraphs]
    if blocks and not blocks[0].path:  # split off the address to the delegates
        lead = blocks[0].paragraphs
        k = next((i for i, p in enumerate(lead[:OPENING_WITHIN]) if OPENING.search(p.clean)), None)
        if k is not None:
            blocks[:1] = [Block((), lead[: k + 1], opening=True)] + (
                [Block((), lead[k + 1 :])] if lead[k + 1 :] else []
            )
    return blocks


def _wrap_width(cleans: list[str]) -> int | None:
    """The length of a full line when most lines of the document have about the same length."""
    lengths = [len(c) for c in cleans if len(c) >= 10]
    if len(lengths) < MIN_WRAPPED_LINES:
        return None
    mode = Counter(lengths).most_common(1)[0][0]
    slack = max(2, mode // 10)
    near = sum(mode - slack <= n <= mode + slack for n in lengths)
    return mode - slack if near >= 0.4 * len(lengths) and mode <= 150 else None


def reflow(lines: list[tuple[int, str]], spam: list[str]) -> list[Paragraph]:
    """Paragraphs from (line number, original text) lines: a hard-wrapped line is joined with the next."""
    cleans = [clean_text(text, spam) for _, text in lines]
    width = _wrap_width(cleans)
    out: list[Paragraph] = []
    last = ""  # cleaned last line of the paragraph being built
    for (no, text), clean in zip(lines, cleans, strict=True):
        p = out[-1] if out else None
        if (
            width
            and p
            and no == p.end_line + 1
            and len(last) >= width
            and not LINE_END.search(last)
            and heading_rank(clean, generic=False) is None
        ):
            p.text, p.end_line = f"{p.text}\n{text}", no
            p.clean = clean_text(p.text, spam)
        else:
            out.append(Paragraph(no, text, clean))
        last = clean
    return out
