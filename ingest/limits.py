"""Bounds on the work one uploaded file may cause, checked before any parser builds the document in memory.

A check returns ``None`` when the file is within the limits, else a one-line reason ("expands to 1.1 GB,
over the 60 MB limit for a document") that ``ingest.readers`` turns into its ``UnreadableDocument``. No check
holds more than one 1 MB chunk of expanded content at a time: DOCX sizes come from the zip directory and its
XML parts are counted while streaming them; PDF pages are counted by walking the page tree, not the pages.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass

CHUNK = 1 << 20
# An opening paragraph or table-row element, whatever its namespace prefix: <w:p>, <w:p w:rsidR=…>, <w:p/>, <w:tr>.
PARAGRAPH_OR_ROW = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,31}:)?(?:p|tr)[\s/>]")
TAIL = 40  # longer than any PARAGRAPH_OR_ROW match, so a match split between two chunks is still found


@dataclass(frozen=True)
class ReadLimits:
    """What one file may cost. Every limit is checked before the file's content is parsed."""

    max_file_bytes: int = 20_000_000  # any file, from its size on disk, before it is read
    max_expanded_bytes: int = 60_000_000  # DOCX: sum of the zip members' uncompressed sizes
    max_zip_members: int = 2_000  # DOCX: files inside the zip
    max_compression_ratio: int = 100  # DOCX: uncompressed/compressed size of an XML part over 1 MB
    max_paragraphs: int = 20_000  # DOCX: paragraph and table-row elements in its XML parts
    max_xml_elements: int = 500_000  # DOCX: XML elements in its XML parts (python-docx keeps them all)
    max_pages: int = 2_000  # PDF: leaves of the page tree
    max_pdf_content_bytes: int = 10_000_000  # PDF: page contents, decoded (text extraction: ~2.5 s/MB)
    max_html_bytes: int = 10_000_000  # HTML: size of the page (its decoded text is no longer)
    max_html_elements: int = 50_000  # HTML: tags opened in the page (BeautifulSoup keeps them all)
    max_lines: int = 200_000  # text lines of any document


def size(n: int) -> str:
    """Bytes in decimal units: 999 bytes, 1.5 kB, 60 MB, 1.1 GB."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n // scale} {unit}" if n % scale == 0 else f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def over(value: int, limit: int, what: str, counted: bool = True) -> str | None:
    """'5,000 pages, over the limit of 2,000 pages' (or 'over the limit of …' alone when counting stopped
    early at the limit), or None within the limit."""
    if value <= limit:
        return None
    return (
        f"{value:,} {what}, over the limit of {limit:,}" if counted else f"over the limit of {limit:,} {what}"
    )


# --- DOCX ---------------------------------------------------------------------------------------------------


def _zip_directory(data: bytes) -> tuple[int, int] | None:
    """(entries, central directory bytes) as the end record declares them, or None if there is none."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or len(data) - end < 22:
        return None
    entries, cd_bytes = struct.unpack_from("<HI", data, end + 10)
    locator = end - 20
    if locator >= 0 and data.startswith(b"PK\x06\x07", locator):  # Zip64: the real values are elsewhere
        (record,) = struct.unpack_from("<Q", data, locator + 8)
        if record + 56 > len(data) or not data.startswith(b"PK\x06\x06", record):
            return None
        entries, cd_bytes = struct.unpack_from("<QQ", data, record + 32)
    return entries, cd_bytes


def docx_problem(data: bytes, limits: ReadLimits) -> str | None:
    """Why this DOCX may not be parsed (not a zip, encrypted, corrupt, or over a limit), or None."""
    directory = _zip_directory(data)
    if directory is None:
        return "broken or unreadable DOCX (not a zip archive)"
    entries, cd_bytes = directory
    # zipfile builds one object per central-directory record, however many the end record declares: bound
    # them by both (a Word record is ~100 bytes) before it reads them.
    if problem := over(max(entries, cd_bytes // 1024), limits.max_zip_members, "files inside the DOCX"):
        return problem
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, struct.error) as exc:
        return f"broken or unreadable DOCX (corrupt zip: {_reason(exc)})"
    members = archive.infolist()
    if problem := over(len(members), limits.max_zip_members, "files inside the DOCX"):
        return problem
    if any(member.flag_bits & 0x1 for member in members):
        return "broken or unreadable DOCX (encrypted zip, password-protected)"
    expanded = sum(member.file_size for member in members)
    if expanded > limits.max_expanded_bytes:
        return f"expands to {size(expanded)}, over the {size(limits.max_expanded_bytes)} limit for a document"
    for member in members:  # real Word XML compresses ~10:1; only parts over 1 MB matter
        ratio = member.file_size / max(member.compress_size, 1)
        if member.filename.lower().endswith(".xml") and member.file_size > 10**6:
            if ratio > limits.max_compression_ratio:
                limit = limits.max_compression_ratio
                return (
                    f"{member.filename} is compressed {ratio:,.0f}:1, over the {limit}:1 limit (a zip bomb?)"
                )
    return _xml_count_problem(archive, members, limits)


def _xml_count_problem(archive: zipfile.ZipFile, members: list, limits: ReadLimits) -> str | None:
    """Count paragraphs/rows and elements in every XML member, streaming it in 1 MB chunks (the zip
    reader never yields more than a member's declared size, which the caller has already bounded)."""
    paragraphs = elements = 0
    try:
        for member in members:
            with archive.open(member) as stream:
                tail, first = b"", True
                while chunk := stream.read(CHUNK):
                    if first and not chunk.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
                        break  # not XML (an image…): python-docx keeps it as bytes, never parses it
                    first, buffer = False, tail + chunk
                    paragraphs += sum(m.end() > len(tail) for m in PARAGRAPH_OR_ROW.finditer(buffer))
                    elements += chunk.count(b"<") - sum(chunk.count(s) for s in (b"</", b"<?", b"<!"))
                    tail = buffer[-TAIL:]
                    if problem := (
                        over(paragraphs, limits.max_paragraphs, "paragraphs and table rows", counted=False)
                        or over(elements, limits.max_xml_elements, "XML elements", counted=False)
                    ):
                        return problem
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        return f"broken or unreadable DOCX (corrupt zip: {_reason(exc)})"
    return None


# --- PDF ----------------------------------------------------------------------------------------------------


def pdf_page_problem(reader, limits: ReadLimits) -> str | None:
    """Count the pages by walking the page tree (its nodes only, no page content), stopping past the limit;
    no /Pages, a loop or a node that is not a dictionary is a broken page tree."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    broken = "broken or unreadable PDF (broken page tree: {})"
    root = _resolve(reader.trailer.get("/Root"))
    tree = _resolve(root.get("/Pages")) if isinstance(root, DictionaryObject) else None
    if not isinstance(tree, DictionaryObject):
        return broken.format("no /Pages dictionary")
    declared = _resolve(tree.get("/Count"))
    if isinstance(declared, int) and (problem := over(declared, limits.max_pages, "pages")):
        return problem
    pages, seen, stack = 0, set(), [root.get("/Pages")]
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            if (item.idnum, item.generation) in seen:
                return broken.format("it loops or repeats a node")
            seen.add((item.idnum, item.generation))
        node = _resolve(item)
        if not isinstance(node, DictionaryObject):
            return broken.format("a node is not a dictionary")
        if _resolve(node.get("/Type")) == "/Pages" or ("/Type" not in node and "/Kids" in node):
            kids = _resolve(node.get("/Kids"))
            if not isinstance(kids, ArrayObject):
                return broken.format("/Kids is not an array")
            stack.extend(kids)
        else:
            pages += 1
        if pages > limits.max_pages or len(seen) > 2 * limits.max_pages + 100:
            return over(limits.max_pages + 1, limits.max_pages, "pages", counted=False)
    return None


def pdf_content_problem(pages, limits: ReadLimits) -> str | None:
    """Decode the pages' content streams (not parse them: fast) and stop once their total is over the limit.
    pypdf keeps them decoded for the text extraction that follows, which takes ~2.5 s per MB of them."""
    total = 0
    for page in pages:
        contents = _resolve(page.get("/Contents"))
        streams = contents if isinstance(contents, list) else [contents]
        total += sum(
            len(stream.get_data()) for stream in map(_resolve, streams) if hasattr(stream, "get_data")
        )
        if total > limits.max_pdf_content_bytes:
            return f"page contents expand to over {size(limits.max_pdf_content_bytes)}, the limit for a PDF"
    return None


def _resolve(obj):
    return obj.get_object() if hasattr(obj, "get_object") else obj


def _reason(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
