"""Readers: a report file → its text lines.

Line i (1-based) of ``read_lines(path)`` is what provenance (``start_line``/``end_line``) refers to:
for .txt/.md files exactly the file's lines; for HTML one line per block element of the extracted body
text (boilerplate removed, no empty lines); for PDF the lines of each page's extracted text, page after
page; for DOCX one line per paragraph or table row, in document order.

A file over one of the ``ReadLimits`` (size, expanded size, paragraphs, pages, tags, lines; see
``ingest.limits``) is refused before it is parsed, so a hostile upload costs little time and memory.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import unicodedata
from collections import Counter
from pathlib import Path

from ingest.limits import ReadLimits, docx_problem, over, pdf_content_problem, pdf_page_problem, size

__all__ = ["SUPPORTED_SUFFIXES", "ReadLimits", "UnreadableDocument", "read_lines"]

SUPPORTED_SUFFIXES = {".txt", ".md", ".html", ".htm", ".pdf", ".docx"}

LINE_BREAK = re.compile(r"\r\n|\r|\n")
META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
GB_ALIASES = {"gb2312", "gbk", "gb_2312-80", "x-gbk", "cp936", "euc-cn", "gb18030"}
HTML_DROP_TAGS = ["head", "script", "style", "nav", "header", "footer", "aside", "form", "noscript", "iframe"]
HTML_NOISE = re.compile(
    r"nav|menu|breadcrumb|crumb|share|comment|footer|copyright|sidebar|toolbar|print", re.I
)
HTML_BLOCK_TAGS = ["p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "br", "table", "ul", "ol",
                   "section", "article", "main", "blockquote", "pre", "dt", "dd", "center"]  # fmt: skip
DEFAULT_LIMITS = ReadLimits()  # frozen, so one shared default is safe
BLOCK_MARK = "\x00"  # NUL never survives _decode, so it is a safe block separator


class UnreadableDocument(Exception):
    """A file that cannot be ingested; str(exc) is a clear one-line message naming the file and why."""


def _plausible_chinese(text: str) -> bool:
    """Whether a GB18030 decoding looks like real text rather than another encoding decoded by accident.

    Rejects text with control characters, private-use or unassigned code points (Big5, EUC-KR…) or whose
    non-ASCII characters are mostly outside GB2312, i.e. rare characters (Shift-JIS, random bytes…)."""
    chars = Counter(text)
    strange = sum(n for c, n in chars.items() if unicodedata.category(c) in ("Co", "Cn"))
    non_ascii = [(c, n) for c, n in chars.items() if c >= "\x80"]
    common = sum(n for c, n in non_ascii if _in_gb2312(c))
    total = sum(n for _, n in non_ascii)
    return _few_controls(text) and strange == 0 and common >= 0.6 * total


def _in_gb2312(char: str) -> bool:
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _few_controls(text: str) -> bool:
    return sum(unicodedata.category(c) == "Cc" and c not in "\t\n\r\f\v" for c in text) <= len(text) / 100


def _looks_utf16(data: bytes) -> bool:
    """A UTF-16 BOM, or bytes that decode as UTF-16 into mostly ASCII and CJK text without controls."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    for encoding in ("utf-16-le", "utf-16-be"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        usual = sum(c < "\x7f" or "\u3000" <= c <= "\u9fff" or "\uff00" <= c <= "\uffef" for c in text)
        if _few_controls(text) and usual >= 0.9 * len(text):
            return True
    return False


def _decode(data: bytes, name: str, declared: str | None = None) -> str:
    """UTF-8 (BOM stripped), else the declared charset (HTML), else GB18030 if it looks like real text."""
    if not data.strip():
        raise UnreadableDocument(f"{name}: empty file")
    if b"\x00" in data and _looks_utf16(data):
        raise UnreadableDocument(f"{name}: not UTF-8 or GB18030 text (looks like UTF-16; save it as UTF-8)")
    if b"\x00" in data:
        raise UnreadableDocument(f"{name}: binary file, not text")
    declared = (declared or "").lower()
    candidates = ["utf-8-sig"]
    if declared and declared not in GB_ALIASES and declared not in {"utf-8", "utf8"}:
        candidates.append(declared)
    candidates.append("gb18030")
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        if (
            encoding == "utf-8-sig"
            or (encoding == "gb18030" and _plausible_chinese(text))
            or (encoding == declared and _few_controls(text))
        ):
            break
    else:
        raise UnreadableDocument(f"{name}: not UTF-8 or GB18030 text")
    if not text.strip():
        raise UnreadableDocument(f"{name}: empty file")
    return text


def _text_lines(text: str) -> list[str]:
    """Split on \\n, \\r\\n and \\r only; a final line break does not start another line."""
    lines = LINE_BREAK.split(text)
    return lines[:-1] if len(lines) > 1 and lines[-1] == "" else lines


def _html_lines(data: bytes, name: str, limits: ReadLimits) -> list[str]:
    from bs4 import BeautifulSoup

    if len(data) > limits.max_html_bytes:
        raise UnreadableDocument(
            f"{name}: {size(len(data))} of HTML, over the {size(limits.max_html_bytes)} limit"
        )
    tags = data.count(b"<") - data.count(
        b"</"
    )  # every tag opened, plus comments and stray '<': an upper bound
    if problem := over(tags, limits.max_html_elements, "HTML tags"):
        raise UnreadableDocument(f"{name}: {problem}")
    declared = META_CHARSET.search(data[:4096])
    text = _decode(data, name, declared.group(1).decode("ascii") if declared else None)
    soup = BeautifulSoup(text, "html.parser")
    blocks = (" ".join(block.split()) for block in _html_text(soup).split(BLOCK_MARK))
    lines = [block for block in blocks if block]
    if not lines:
        raise UnreadableDocument(f"{name}: no text in the HTML page")
    return lines


def _html_text(soup) -> str:
    """The page's text (what soup.get_text() gives) without HTML_DROP_TAGS and navigation blocks, with
    BLOCK_MARK around block elements and a space after table cells. In time linear in the page: no tree
    edits (bs4 finds a tag among its siblings one by one to edit, quadratic on a page of 50,000 <p>)."""
    from bs4 import CData, NavigableString, Tag

    strings = (NavigableString, CData)  # exactly these: not comments, <template> or ruby annotations
    tags = [node for node in soup.descendants if isinstance(node, Tag)]
    chars: dict[int, Counter] = {}  # id(tag) → its text length by string type; children after parents
    for tag in [*reversed(tags), soup]:
        chars[id(tag)] = count = Counter()
        if tag.name not in HTML_DROP_TAGS or tag is soup:
            for child in tag.contents:
                count.update(chars[id(child)] if isinstance(child, Tag) else {type(child): len(child)})

    def text_length(tag) -> int:  # len(tag.get_text()), which counts the string types the tag is about
        return sum(chars[id(tag)][kind] for kind in tag.interesting_string_types)

    pieces, stack = [], [soup]
    while stack:
        node = stack.pop()
        if not isinstance(node, Tag):  # a string of the page, or one of the marks pushed below (plain str)
            pieces.append(node if type(node) in (*strings, str) else "")
            continue
        marks = " ".join(str(v) for attr in ("class", "id", "role") for v in node.get_attribute_list(attr))
        # A navigation block never holds most of the page: this guards against e.g. <body class="has-nav">.
        if node is not soup and (
            node.name in HTML_DROP_TAGS
            or HTML_NOISE.search(marks)
            and text_length(node) < text_length(soup) / 2
        ):
            continue
        block = node.name in HTML_BLOCK_TAGS
        pieces.append(BLOCK_MARK if block else "")
        stack.extend([BLOCK_MARK if block else "", " " if node.name in ("td", "th") else ""])
        stack.extend(reversed(node.contents))
    return "".join(pieces)


def _pdf_lines(data: bytes, name: str, limits: ReadLimits) -> list[str]:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError

    try:
        reader = PdfReader(io.BytesIO(data))
        if problem := pdf_page_problem(reader, limits) or pdf_content_problem(reader.pages, limits):
            raise UnreadableDocument(f"{name}: {problem}")
        pages = [page.extract_text() or "" for page in reader.pages]
    except UnreadableDocument:
        raise
    except FileNotDecryptedError as exc:
        raise UnreadableDocument(f"{name}: encrypted PDF (password-protected)") from exc
    except Exception as exc:  # pypdf raises many kinds (PdfReadError, ValueError, KeyError…) on broken files
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        raise UnreadableDocument(f"{name}: broken or unreadable PDF ({reason})") from exc
    if not any(page.strip() for page in pages):
        raise UnreadableDocument(f"{name}: PDF has no text layer (scanned?)")
    return [line for page in pages for line in _text_lines(page)]


def _docx_lines(data: bytes, name: str, limits: ReadLimits) -> list[str]:
    import docx
    from docx.table import Table

    if data.startswith(b"\xd0\xcf\x11\xe0") and "EncryptedPackage".encode("utf-16-le") in data:
        raise UnreadableDocument(f"{name}: encrypted DOCX (password-protected)")  # Word wraps it in OLE
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableDocument(f"{name}: old Word .doc format, not .docx (save it as .docx)")
    if problem := docx_problem(data, limits):
        raise UnreadableDocument(f"{name}: {problem}")
    try:
        document = docx.Document(io.BytesIO(data))
        lines = []
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                for row in block.rows:
                    cells = list(dict.fromkeys(row.cells))  # a merged cell appears once per grid column
                    lines.append("\t".join(cell.text for cell in cells))
            else:
                lines.append(block.text)
    except Exception as exc:  # python-docx raises zip, XML and KeyError errors on broken files
        raise UnreadableDocument(f"{name}: broken or unreadable DOCX ({type(exc).__name__})") from exc
    if not any(line.strip() for line in lines):
        raise UnreadableDocument(f"{name}: empty document")
    return lines


def read_lines(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> list[str]:
    """Return the document as a list of text lines (no line breaks); see the module docstring for what
    the lines are per file type. Raises UnreadableDocument, and nothing else, for any bad input, and for a
    file over one of ``limits`` (checked before the file is parsed, see ``ingest.limits.ReadLimits``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UnreadableDocument(
            f"{path.name}: unsupported file type {suffix or '(none)'} (supported: {supported})"
        )
    data = _read_bounded(path, limits.max_file_bytes)
    if suffix == ".pdf":
        lines = _pdf_lines(data, path.name, limits)
    elif suffix == ".docx":
        lines = _docx_lines(data, path.name, limits)
    elif suffix in {".html", ".htm"}:
        lines = _html_lines(data, path.name, limits)
    else:
        text = _decode(data, path.name)
        breaks = text.count("\n") + text.count("\r") - text.count("\r\n")  # counted before splitting
        if problem := over(breaks + (not text.endswith(("\n", "\r"))), limits.max_lines, "lines"):
            raise UnreadableDocument(f"{path.name}: {problem}")
        lines = _text_lines(text)
    if problem := over(len(lines), limits.max_lines, "lines"):
        raise UnreadableDocument(f"{path.name}: {problem}")
    return lines


def _read_bounded(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, refused from its size on disk before any is read; never more than max_bytes + 1
    are read, even if the file grows in between."""
    try:
        with path.open("rb") as file:
            length = os.fstat(file.fileno()).st_size
            if length > max_bytes:
                raise UnreadableDocument(
                    f"{path.name}: file is {size(length)}, over the {size(max_bytes)} limit for a file"
                )
            data = file.read(max_bytes + 1)
    except IsADirectoryError as exc:
        raise UnreadableDocument(f"{path.name}: is a folder, not a file") from exc
    except OSError as exc:
        raise UnreadableDocument(f"{path.name}: cannot read ({exc.strerror or exc})") from exc
    if len(data) > max_bytes:
        raise UnreadableDocument(f"{path.name}: file is over the {size(max_bytes)} limit for a file")
    return data
