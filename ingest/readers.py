"""Readers: a report file → its text lines. Line i (1-based) of the result is what provenance refers to:
for text files exactly the file's lines; for HTML, PDF and DOCX the lines of the extracted text."""

from __future__ import annotations

import re
from pathlib import Path

SUPPORTED_SUFFIXES = {".txt", ".md", ".html", ".htm", ".pdf", ".docx"}
NOISE_HTML = re.compile(r"nav|menu|breadcrumb|share|comment|footer|copyright|sidebar|toolbar|crumb", re.I)


class UnreadableDocument(Exception):
    """A file that cannot be ingested; the message names the file and says why."""


def _decode(data: bytes, name: str) -> str:
    if not data.strip():
        raise UnreadableDocument(f"{name}: empty file")
    if b"\x00" in data:
        raise UnreadableDocument(f"{name}: binary file, not text")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
        cjk_or_ascii = sum(ch < "\x80" or "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" for ch in text)
        if printable / len(text) > 0.98 and cjk_or_ascii / len(text) > 0.9:
            return text
    raise UnreadableDocument(f"{name}: not UTF-8 or GB18030 text")


def _html_lines(text: str) -> list[str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "nav", "header", "footer", "aside", "form", "noscript", "iframe"]):
        tag.decompose()
    for tag in soup.find_all(True):
        if tag.attrs is None:
            continue
        marks = " ".join(tag.get("class") or []) + " " + (tag.get("id") or "")
        if NOISE_HTML.search(marks):
            tag.decompose()
    lines = []
    for line in soup.get_text("\n").splitlines():
        line = re.sub(r"[ \t\u00a0]+", " ", line).strip()
        if line:
            lines.append(line)
    return lines


def _pdf_lines(path: Path) -> list[str]:
    from pypdf import PdfReader

    try:
        reader = PdfReader(path)
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except Exception as exc:  # pypdf raises many kinds for broken files
        raise UnreadableDocument(f"{path.name}: broken or unreadable PDF ({type(exc).__name__})") from exc
    if not text.strip():
        raise UnreadableDocument(f"{path.name}: PDF has no text layer (scanned?)")
    return text.splitlines()


def _docx_lines(path: Path) -> list[str]:
    import docx

    try:
        document = docx.Document(str(path))
    except Exception as exc:
        raise UnreadableDocument(f"{path.name}: broken or unreadable DOCX ({type(exc).__name__})") from exc
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        lines += [" ".join(cell.text for cell in row.cells) for row in table.rows]
    if not any(line.strip() for line in lines):
        raise UnreadableDocument(f"{path.name}: empty document")
    return lines


def read_lines(path: Path) -> list[str]:
    """The document's text lines; raises UnreadableDocument (never anything else) for bad input."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnreadableDocument(f"{path.name}: unsupported file type {suffix or '(none)'} (supported: {', '.join(sorted(SUPPORTED_SUFFIXES))})")
    try:
        if suffix == ".pdf":
            return _pdf_lines(path)
        if suffix == ".docx":
            return _docx_lines(path)
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableDocument(f"{path.name}: cannot read ({exc.strerror or exc})") from exc
    text = _decode(data, path.name)
    if suffix in {".html", ".htm"}:
        return _html_lines(text)
    return re.split(r"\r\n|\r|\n", text)
