"""Enumerations in the reports and in questions: a list or definition quote that runs on past its first
statement (through its paragraph, into the items that follow it, into the next chunk); the labels of an
enumeration's items ("防洪水", "排涝水", …) that a list answer names, also when each item is a numbered
paragraph of its own or a run-in heading; and how many things of what kind a question's numbered name counts
(“三城” → 3 城)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from ingest.text import Statement, clean_text
from ingest.types import Chunk

RUN_ON_CHARS = 320  # a list quote continues into the statements after it, up to this many characters
LIST_SCAN_CHARS = 1500  # how far an enumeration's labels are looked for
INTRO_CHARS = 40  # a quote this short is a heading or an introduction: what it introduces follows
ITEM_START = re.compile(
    r"^\s*(?:\d{1,2}[.、．]|[(（][一二三四五六七八九十\d]+[)）]|[一二三四五六七八九十]+是|[^，,。；;]{2,12}[:：])"
)


# a numbered name ("三城", "五个中心", "一轴两区三城") or a count asked ("哪三座城"): how many, and of what
NUMBERED_PART = re.compile(
    r"([一二两三四五六七八九十]|\d{1,2})[个项条场座张所大家]?((?:(?![一二两三四五六七八九十百千万])[\u4e00-\u9fff]){1,2})"
)
ASKED_COUNT = re.compile(r"哪([二两三四五六七八九十]|\d{1,2})[个项条场座张所大家]?([\u4e00-\u9fff]{1,2})")
COUNT_WORDS = {c: i for i, c in enumerate("一二三四五六七八九十", start=1)} | {"两": 2}


def numbered_parts(q: str, named: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    """How many things of what kind a list question asks for, one (count, head) per part of a numbered name:
    "“三城”指哪三座城" → ((3, "城"),), "一轴两区三城" → ((1, "轴"), (2, "区"), (3, "城"))."""
    for name in reversed(named):
        parts = list(NUMBERED_PART.finditer(name))
        if parts and "".join(m.group(0) for m in parts) == name:  # the whole name is numbered parts
            counted = tuple((count_of(m.group(1)), m.group(2)) for m in parts)
            if sum(c for c, _ in counted) >= 2:
                return counted
    m = ASKED_COUNT.search(q)
    if m and not any(c in COUNT_WORDS or c in "百千万" for c in m.group(2)):
        return ((count_of(m.group(1)), m.group(2)),)
    return ()


def count_of(numeral: str) -> int:
    return int(numeral) if numeral.isdigit() else COUNT_WORDS[numeral]


def run_on(chunk: Chunk, stmt: Statement, answer_type: str, limit: int = 0) -> tuple[str, bool]:
    """A list or definition quote goes on through its paragraph, and into the next ones while the quote so
    far is only a heading or an introduction ("“四水共治”全面推进。", "5. 双招双引") or, for a list, while they
    are items of the enumeration ("1.…", "(二)…", "排涝水：…"); up to RUN_ON_CHARS. Returns the quote (always
    a substring of the chunk's text) and whether the enumeration runs on past the chunk's end."""
    limit = limit or RUN_ON_CHARS
    text = stmt.text
    if answer_type not in ("list", "definition"):
        return text, False
    begin, end = stmt.start, stmt.end
    rest = chunk.text[end:]
    stop, taken = len(rest), 0
    for i, paragraph in enumerate(rest.split("\n")):
        start, taken = taken, taken + len(paragraph) + 1
        if i == 0 or not paragraph.strip():
            continue
        intro = len(clean_text(chunk.text[begin : end + start])) <= INTRO_CHARS
        if not intro and not (answer_type == "list" and ITEM_START.match(paragraph)):
            stop = start
            break
    quote = chunk.text[begin : end + stop].rstrip()
    if len(quote) <= limit:
        return quote, stop == len(rest) and answer_type == "list"
    cut = max(quote.rfind(mark, 0, limit) for mark in "。；;")
    return (quote[: cut + 1] if cut + 1 > len(text) else text), False


LABELS = [
    re.compile(r"(?:^|[。；;\n])\s*([^。；;:：\n，,“”]{2,12})[:：]"),  # "防洪水:…。排涝水:…"
    re.compile(r"(?:^|\n)\s*\d{1,2}[.、．]\s*([^。；;:：\n，,]{2,16})[。；;:：]"),  # "1. 关爱老年人。…"
    re.compile(
        r"(?:^|\n)\s*[(（][一二三四五六七八九十]+[)）]\s*([^。；;:：\n，,]{2,20})[。，,；;]"
    ),  # "(一)稳增长…，"
    re.compile(
        r"(?:^|[。；;\n：:])\s*[一二三四五六七八九十]是\s*([^。；;:：\n，,]{2,20})[。，,；;]"
    ),  # "一是稳增长，"
]


def enumeration_labels(text: str) -> tuple[list[str], int]:
    """The labels of an enumeration in a passage, when it has at least three ("防洪水", "排涝水", …), and
    where the sentence of the last one ends; ([], 0) when there is none."""
    for pattern in LABELS:
        found = list(pattern.finditer(text))
        labels = list(dict.fromkeys(m.group(1).strip() for m in found))
        if len(labels) >= 3:
            last = found[-1].end()
            ends = [text.find(mark, last) for mark in "。；;\n"]
            end = min((e for e in ends if e >= 0), default=len(text) - 1)
            return labels, end + 1
    return [], 0


def continuation(chunk: Chunk | None, budget: int) -> str:
    """The items an enumeration continues with at the start of the next chunk (empty if none)."""
    if chunk is None or budget <= 0:
        return ""
    out, length = [], 0
    for paragraph in chunk.text.split("\n"):
        if not paragraph.strip():
            out.append(paragraph)
            continue
        if not ITEM_START.match(paragraph) or length + len(paragraph) > budget:
            break
        out.append(paragraph)
        length += len(paragraph)
    return "\n".join(out).strip()


def expands(numbered: tuple[tuple[int, str], ...], text: str) -> float:
    """1 when the text enumerates what each part of a numbered name counts, each thing naming its head:
    "草原音乐名城、冰雪运动名城、生态旅游名城" for “三城” (3, 城); for a head of two characters, as many
    distinct words ending in it across sentences ("增强国际经济中心…。提升国际金融中心…" for “五个中心”);
    for a part that counts one ("一轴"), its head."""
    clauses = re.split(r"[，,。；;：:（）()\n]", text)

    def listed(count: int, head: str) -> bool:
        if count == 1:
            return head in text
        if any(sum(head in part for part in re.split(r"[、和及与]", c)) >= count for c in clauses):
            return True
        words = set(re.findall(r"[\u4e00-\u9fff]{2}" + re.escape(head), text))
        return len(head) >= 2 and len(words) >= count

    return float(bool(numbered) and all(listed(count, head) for count, head in numbered))


NUMERALS = "一二三四五六七八九十"
# the styles in which a report numbers the paragraphs that follow an introduction ("着重抓了以下工作。"):
# "一是…", "(一)…", "1.…", "第一，…"; {n} is the numeral
ORDINAL_STYLES = [r"{n}是", r"[(（]{n}[)）]", r"{d}[.、．]", r"第{n}[，,、]"]
ITEMS_SCAN_CHARS = 30_000  # how far the numbered paragraphs of an introduction are followed
ITEMS_MAX = 10
ITEM_LABEL = re.compile(r"[^，,。；;：:\n]{2,30}")


def _ordinal(style: str, n: int) -> re.Pattern[str]:
    return re.compile(r"^\s*" + style.format(n=NUMERALS[n - 1], d=n) + r"\s*")


def _onward(
    chunk: Chunk,
    start: int,
    following: Callable[[Chunk], Chunk | None],
    limit: int,
    same: Callable[[Chunk], bool],
) -> Iterator[tuple[Chunk, int]]:
    """`chunk` from offset `start`, then the chunks after it while `same(next chunk)` holds, until `limit`
    characters are read: (chunk, offset) each."""
    current: Chunk | None = chunk
    offset, scanned = start, 0
    while current is not None and scanned < limit and (current is chunk or same(current)):
        yield current, offset
        scanned += len(current.text) - offset
        current, offset = following(current), 0


def numbered_paragraphs(
    chunk: Chunk, stmt: Statement, following: Callable[[Chunk], Chunk | None]
) -> list[tuple[Chunk, str, str]]:
    """The items an introduction announces when each is a paragraph of its own, numbered, running over the
    chunks that follow ("…着重抓了以下工作。" then "一是聚力打好稳增长阵地战，…" … "六是…"): for each, its
    chunk, its label (the paragraph's first clause) and the quote to cite (the label with its number, a
    substring of the chunk's text). Body paragraphs between the numbered ones are passed over; the items end
    at a number out of sequence or where the introduction's top section ends. Empty unless the statement
    ends its paragraph and the next paragraph is item 1."""
    if chunk.text[stmt.end :].split("\n", 1)[0].strip():
        return []
    top = chunk.section.split(" > ")[0]
    items: list[tuple[Chunk, str, str]] = []
    style: str | None = None
    for current, offset in _onward(
        chunk, stmt.end, following, ITEMS_SCAN_CHARS, lambda c: c.section.split(" > ")[0] == top
    ):
        for paragraph in current.text[offset:].split("\n"):
            if not paragraph.strip():
                continue
            n = len(items) + 1
            if style is None:  # the first paragraph after the introduction must be item 1, in any style
                style = next((st for st in ORDINAL_STYLES if _ordinal(st, 1).match(paragraph)), None)
                if style is None:
                    return []
            m = _ordinal(style, n).match(paragraph) if n <= len(NUMERALS) else None
            if m is None:
                if re.match(r"^\s*" + style.format(n=f"[{NUMERALS}]+", d=r"\d+"), paragraph):
                    return items if len(items) >= 2 else []  # a number out of sequence: another list
                continue  # a body paragraph of the item before
            label = ITEM_LABEL.match(paragraph[m.end() :])
            if label is None:
                return items
            items.append((current, label.group(0).strip(), paragraph[: m.end() + label.end()].strip()))
        if len(items) >= ITEMS_MAX:
            break
    return items if len(items) >= 2 else []


# a run-in heading: a short sentence that opens what follows ("增强国际经济中心核心功能。")
HEADING_CHARS = (4, 18)
SENTENCE_END = re.compile(r"[^。！？!?\n]+[。！？!?]?")


def run_in_headings(
    chunk: Chunk, stmt: Statement, following: Callable[[Chunk], Chunk | None], count: int, head: str
) -> list[tuple[Chunk, str, str]]:
    """The items of a numbered name when each opens its part of a paragraph as a short sentence naming its
    head ("加快推进“五个中心”建设。增强国际经济中心核心功能。健全…。提升国际金融中心服务能级。…" for (5, "中心")),
    from the statement on, over the chunks that continue its paragraph: (chunk, label, quote) each. Empty
    unless all `count` are found."""
    items: list[tuple[Chunk, str, str]] = []
    for current, offset in _onward(
        chunk, stmt.end, following, LIST_SCAN_CHARS, lambda c: c.section == chunk.section
    ):
        for m in SENTENCE_END.finditer(current.text, offset):
            sentence = m.group(0).strip()
            words = clean_text(sentence).rstrip("。！？!?")
            if HEADING_CHARS[0] <= len(words) <= HEADING_CHARS[1] and head in words and "“" not in words:
                if words not in {label for _, label, _ in items}:
                    items.append((current, words, sentence))
                    if len(items) == count:
                        break
        if len(items) == count:
            break
    return items if len(items) == count else []


def items_after(
    chunk: Chunk,
    stmt: Statement,
    following: Callable[[Chunk], Chunk | None],
    numbered: tuple[tuple[int, str], ...] = (),
) -> list[tuple[Chunk, str, str]]:
    """The items a statement introduces that are not a list inside its own quote: numbered paragraphs, or the
    run-in headings of a numbered name the question asks about (`numbered`: ((5, "中心"),))."""
    items = numbered_paragraphs(chunk, stmt, following)
    if not items and len(numbered) == 1 and numbered[0][0] >= 2:
        items = run_in_headings(chunk, stmt, following, *numbered[0])
    return items
