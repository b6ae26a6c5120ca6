"""ingest.readers on small real files, all made here in tmp_path: text in UTF-8/GB18030, HTML pages with
boilerplate, a PDF written byte by byte, a DOCX made with python-docx, and files that must be refused —
hostile ones too (zip and PDF bombs, huge files), built small and fast here and refused under ReadLimits."""

import dataclasses
import functools
import io
import json
import random
import struct
import subprocess
import sys
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader, PdfWriter

from ingest.readers import SUPPORTED_SUFFIXES, ReadLimits, UnreadableDocument, read_lines

REPORT_LINES = [
    "政府工作报告",
    "",
    "各位代表：",
    "\u3000\u3000根据会议安排，我代表区人民政府向大会报告工作，请予审议。",
    "一、2017年工作回顾",
    "  全区地区生产总值完成1256亿元，同比增长7.5%。\u00a0 ",
    "二、2018年工作安排",
]
REPORT = "\n".join(REPORT_LINES) + "\n"

HTML_PAGE = """<!DOCTYPE html>
<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}">
<title>2018年政府工作报告_青山区人民政府</title>
<style>.x {{ color: red }}</style>
<script>var nav = "首页"; document.write("广告");</script>
</head>
<body class="has-sidebar">
<div class="top-menu"><a href="/">首页</a> | <a href="/zwgk">政务公开</a></div>
<div class="breadcrumb">首页 &gt; 重要发布</div>
<div id="content">
  <h1>2018年政府工作报告</h1>
  <div class="bdsharebuttonbox"><a class="bds_weixin">分享到微信</a><a class="bds_tsina">微博</a></div>
  <h2>一、2017年工作回顾</h2>
  <p>　　全区地区生产总值完成<strong>1256亿元</strong>，
     同比增长<span>7.5%</span>。</p>
  <p>城镇新增就业2.1万人。<br>新建公租房3000套。</p>
  <table><tr><td>指标</td><td>完成值</td></tr><tr><td>财政收入</td><td>88亿元</td></tr></table>
  <script>trackPageView();</script>
</div>
<div class="comment-list"><p>网友留言：好！</p></div>
<div id="footer"><a href="javascript:window.print()">打印本页</a> <a>关闭窗口</a></div>
<footer>版权所有：青山区人民政府</footer>
</body></html>
"""

HTML_LINES = [
    "2018年政府工作报告",
    "一、2017年工作回顾",
    "全区地区生产总值完成1256亿元， 同比增长7.5%。",
    "城镇新增就业2.1万人。",
    "新建公租房3000套。",
    "指标 完成值",
    "财政收入 88亿元",
]


def make_pdf(pages: list[list[str]], padding: int = 0) -> bytes:
    """A minimal valid PDF written by hand: one Helvetica text line per string, one page per list; with
    padding, each page's content ends with that many spaces and is deflated (as a PDF bomb is made)."""
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, lines in enumerate(pages):
        content = "BT /F1 12 Tf 14 TL 72 720 Td " + " ".join(f"({line}) Tj T*" for line in lines) + " ET"
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>"
        )
        flate = ""
        if padding:
            content, flate = deflated(content + " " * padding).decode("latin-1"), " /Filter /FlateDecode"
        objects.append(f"<< /Length {len(content)}{flate} >>\nstream\n{content}\nendstream")
    pdf, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(pdf))
        pdf += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(pdf)
    pdf += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    pdf += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    pdf += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return pdf


@functools.cache
def deflated(text: str) -> bytes:
    return zlib.compress(text.encode("latin-1"), 9)


def refused(path: Path) -> str:
    """The message read_lines gives for a file it must refuse; it names the file and fits on one line."""
    with pytest.raises(UnreadableDocument) as info:
        read_lines(path)
    message = str(info.value)
    assert message.startswith(f"{path.name}: ") and "\n" not in message
    return message


# --- text files ---------------------------------------------------------------------------------------------


def test_utf8_text_lines_are_the_files_lines_exactly(tmp_path):
    (tmp_path / "report.txt").write_bytes(REPORT.encode("utf-8"))
    assert read_lines(tmp_path / "report.txt") == REPORT_LINES


def test_gb18030_text_gives_the_same_lines(tmp_path):
    (tmp_path / "report.txt").write_bytes(REPORT.encode("gb18030"))
    assert read_lines(tmp_path / "report.txt") == REPORT_LINES


def test_gbk_text_with_a_rare_name_character_is_accepted(tmp_path):
    text = "朱镕基同志指出，要坚持实事求是。\n堃、喆、昇等字也会出现在人名里。"  # 镕堃喆昇: GBK, not GB2312
    (tmp_path / "report.md").write_bytes(text.encode("gbk"))
    assert read_lines(tmp_path / "report.md") == text.split("\n")


def test_utf8_bom_is_stripped(tmp_path):
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbf" + REPORT.encode("utf-8"))
    assert read_lines(tmp_path / "bom.txt") == REPORT_LINES


def test_windows_and_old_mac_line_breaks_count_as_line_breaks(tmp_path):
    (tmp_path / "crlf.txt").write_bytes("第一行\r\n第二行\r第三行\n\n第五行".encode())
    assert read_lines(tmp_path / "crlf.txt") == ["第一行", "第二行", "第三行", "", "第五行"]


def test_other_unicode_separators_stay_inside_a_line(tmp_path):
    # str.splitlines would split these; provenance counts only \n, \r\n and \r.
    (tmp_path / "a.txt").write_bytes("甲\x0c乙\u2028丙\x85丁\n戊".encode())
    assert read_lines(tmp_path / "a.txt") == ["甲\x0c乙\u2028丙\x85丁", "戊"]


# --- HTML ---------------------------------------------------------------------------------------------------


def test_html_keeps_the_body_and_drops_boilerplate(tmp_path):
    (tmp_path / "page.html").write_text(HTML_PAGE.format(charset="utf-8"), encoding="utf-8")
    lines = read_lines(tmp_path / "page.html")
    assert lines == HTML_LINES
    text = "\n".join(lines)
    for boilerplate in [
        "首页",
        "重要发布",
        "分享到微信",
        "打印本页",
        "版权所有",
        "网友留言",
        "trackPageView",
        "color",
    ]:
        assert boilerplate not in text


def test_html_in_gb2312_declared_by_meta_charset(tmp_path):
    (tmp_path / "page.htm").write_bytes(HTML_PAGE.format(charset="gb2312").encode("gb18030"))
    assert read_lines(tmp_path / "page.htm") == HTML_LINES


def test_html_in_gbk_without_a_charset_declaration(tmp_path):
    page = HTML_PAGE.replace('<meta http-equiv="Content-Type" content="text/html; charset={charset}">', "")
    (tmp_path / "page.html").write_bytes(page.format().encode("gbk"))
    assert read_lines(tmp_path / "page.html") == HTML_LINES


def test_html_in_big5_declared_by_meta_charset(tmp_path):
    page = '<html><head><meta charset="big5"></head><body><p>政府工作報告</p><p>各位代表：</p></body></html>'
    (tmp_path / "tw.html").write_bytes(page.encode("big5"))
    assert read_lines(tmp_path / "tw.html") == ["政府工作報告", "各位代表："]


def test_html_with_only_boilerplate_is_refused(tmp_path):
    (tmp_path / "nav.html").write_text("<html><body><nav>首页</nav><script>x()</script></body></html>")
    assert "no text" in refused(tmp_path / "nav.html")


# --- PDF and DOCX -------------------------------------------------------------------------------------------


def test_pdf_text_lines_page_after_page(tmp_path):
    pages = [["Government Work Report 2018", "I. Review of 2017"], ["GDP reached 125.6 billion yuan."]]
    (tmp_path / "report.pdf").write_bytes(make_pdf(pages))
    assert read_lines(tmp_path / "report.pdf") == [line for page in pages for line in page]


def test_pdf_without_text_layer_is_refused(tmp_path):
    (tmp_path / "scan.pdf").write_bytes(make_pdf([[]]))
    assert "PDF has no text layer (scanned?)" in refused(tmp_path / "scan.pdf")


def test_broken_pdf_is_refused(tmp_path):
    (tmp_path / "random.pdf").write_bytes(random.Random(1).randbytes(2000))
    (tmp_path / "fake.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    assert "broken or unreadable PDF" in refused(tmp_path / "random.pdf")
    assert "broken or unreadable PDF" in refused(tmp_path / "fake.pdf")


def test_password_protected_pdf_is_refused(tmp_path):
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([["secret plan"]]))))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    writer.write(tmp_path / "locked.pdf")
    assert "encrypted PDF" in refused(tmp_path / "locked.pdf")


def test_docx_paragraphs_and_table_rows_in_document_order(tmp_path):
    document = docx.Document()
    document.add_heading("政府工作报告", level=1)
    document.add_paragraph("一、2017年工作回顾")
    table = document.add_table(rows=2, cols=3)
    for cell, text in zip(table.rows[0].cells, ["指标", "完成值", "增长"], strict=True):
        cell.text = text
    merged = table.cell(1, 1).merge(table.cell(1, 2))
    table.cell(1, 0).text, merged.text = "地区生产总值", "1256亿元"
    document.add_paragraph("二、2018年工作安排")
    document.save(tmp_path / "report.docx")
    assert read_lines(tmp_path / "report.docx") == [
        "政府工作报告",
        "一、2017年工作回顾",
        "指标\t完成值\t增长",
        "地区生产总值\t1256亿元",
        "二、2018年工作安排",
    ]


def test_broken_and_legacy_word_files_are_refused(tmp_path):
    (tmp_path / "random.docx").write_bytes(random.Random(2).randbytes(2000))
    with zipfile.ZipFile(tmp_path / "notword.docx", "w") as archive:
        archive.writestr("hello.txt", "not a Word document")
    (tmp_path / "old.docx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512))
    docx.Document().save(tmp_path / "blank.docx")
    assert "broken or unreadable DOCX" in refused(tmp_path / "random.docx")
    assert "broken or unreadable DOCX" in refused(tmp_path / "notword.docx")
    assert "old Word .doc format" in refused(tmp_path / "old.docx")
    assert "empty document" in refused(tmp_path / "blank.docx")


# --- files that must be refused -----------------------------------------------------------------------------


def test_empty_and_blank_files_are_refused(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_bytes(b" \r\n\t\n")
    (tmp_path / "fullwidth.txt").write_bytes("\ufeff\u3000\u3000\n".encode())
    for name in ["empty.txt", "blank.txt", "fullwidth.txt"]:
        assert refused(tmp_path / name) == f"{name}: empty file"


def test_binary_file_is_refused(tmp_path):
    (tmp_path / "image.txt").write_bytes(
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random.Random(3).randbytes(300)
    )
    assert refused(tmp_path / "image.txt") == "image.txt: binary file, not text"


def test_utf16_text_is_refused_with_a_hint(tmp_path):
    (tmp_path / "bom.txt").write_bytes(REPORT.encode("utf-16"))
    (tmp_path / "nobom.txt").write_bytes(REPORT.encode("utf-16-le"))
    for name in ["bom.txt", "nobom.txt"]:
        assert "not UTF-8 or GB18030 text (looks like UTF-16" in refused(tmp_path / name)


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Le café était très bon, à la française. Élève naïve: « résumé ».\n", "latin-1"),
        ("政府工作報告\n各位代表：根據會議安排，我代表區人民政府向大會報告工作，請予審議。\n", "big5"),
        ("令和五年度の予算案について説明します。東京都の報告書です。\n", "shift_jis"),
    ],
)
def test_text_in_other_encodings_is_refused(tmp_path, text, encoding):
    (tmp_path / "other.txt").write_bytes(text.encode(encoding))
    assert refused(tmp_path / "other.txt") == "other.txt: not UTF-8 or GB18030 text"


def test_unsupported_suffix_is_refused(tmp_path):
    (tmp_path / "report.xyz").write_text("政府工作报告")
    (tmp_path / "README").write_text("政府工作报告")
    message = refused(tmp_path / "report.xyz")
    assert "unsupported file type .xyz" in message and all(s in message for s in SUPPORTED_SUFFIXES)
    assert "unsupported file type (none)" in refused(tmp_path / "README")


def test_missing_file_folder_and_unreadable_file_are_refused(tmp_path, monkeypatch):
    (tmp_path / "folder.txt").mkdir()
    assert "cannot read (No such file or directory)" in refused(tmp_path / "missing.pdf")
    assert "is a folder" in refused(tmp_path / "folder.txt")

    def deny(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", deny)  # chmod 000 does not stop root, who runs CI here
    assert "cannot read (Permission denied)" in refused(tmp_path / "locked.docx")


@pytest.mark.parametrize("suffix", sorted(SUPPORTED_SUFFIXES))
def test_random_bytes_never_raise_anything_but_unreadable_document(tmp_path, suffix):
    rng = random.Random(suffix)
    for i in range(20):
        path = tmp_path / f"junk{i}{suffix}"
        path.write_bytes(rng.randbytes(rng.randint(1, 3000)))
        try:
            read_lines(path)
        except UnreadableDocument:
            pass


# --- limits: hostile files are refused before parsing, quickly and in bounded memory ------------------------

WORD_PARAGRAPH = "<w:p><w:r><w:t>政府工作报告</w:t></w:r></w:p>".encode()


def docx_parts() -> dict[str, bytes]:
    """The parts of a blank python-docx document, to build real-looking DOCX files by hand."""
    buffer = io.BytesIO()
    docx.Document().save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def body(xml: bytes, paragraphs: bytes) -> bytes:
    """document.xml with paragraphs inserted at the start of its body."""
    start = xml.index(b"<w:body>") + len(b"<w:body>")
    return xml[:start] + paragraphs + xml[start:]


def write_zip_bomb(path: Path, expanded: int) -> None:
    """A DOCX whose document.xml is `expanded` bytes of paragraphs, written in ~1 MB and ~0.5 s: one chunk is
    deflated once and its compressed block (independent of what precedes it, thanks to a full flush) is
    repeated, as a zip bomb is made. The CRC and sizes are right: any zip reader inflates the whole of it."""
    chunk = WORD_PARAGRAPH * 20_000
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    parts = docx_parts()
    head, tail = parts.pop("word/document.xml").split(b"<w:body>")
    head, repeats = head + b"<w:body>", (expanded - len(head) - len(tail)) // len(chunk)
    crc = zlib.crc32(head)
    for _ in range(repeats):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(tail, crc)

    def deflate(data: bytes) -> bytes:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)

    members = [
        (name, zlib.crc32(data), len(data), [deflate(data) + b"\x03\x00"]) for name, data in parts.items()
    ]
    bomb = [deflate(head), *[block] * repeats, deflate(tail) + b"\x03\x00"]  # 03 00: an empty final block
    members.append(("word/document.xml", crc, len(head) + repeats * len(chunk) + len(tail), bomb))
    central, offset = b"", 0
    with path.open("wb") as file:
        for name, crc32, length, pieces in members:
            packed, encoded = sum(map(len, pieces)), name.encode()
            fields = (20, 0, 8, 0, 33, crc32, packed, length, len(encoded))
            file.write(struct.pack("<4s5HIIIHH", b"PK\x03\x04", *fields, 0) + encoded)
            file.writelines(pieces)
            central += (
                struct.pack("<4s6HIIIHHHHHII", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, 0, offset) + encoded
            )
            offset += 30 + len(encoded) + packed
        file.write(central + struct.pack("<4s4HIIH", b"PK\x05\x06", 0, 0, len(members), len(members),
                                         len(central), offset, 0))  # fmt: skip


def isolated(path: Path, **limits) -> dict:
    """read_lines(path) in a fresh interpreter: its message, seconds and growth of its peak resident memory
    (MB: every allocation counts, zlib's and lxml's too), the libraries being imported before measuring.
    The peak is VmHWM, which starts afresh at exec (ru_maxrss would carry over the forking test's)."""
    code = """if True:
        import json, re, sys, time
        import bs4, docx, pypdf
        from ingest.readers import ReadLimits, UnreadableDocument, read_lines
        def peak_kb():
            with open("/proc/self/status") as status:
                return int(re.search(r"VmHWM:\\s+(\\d+)", status.read()).group(1))
        limits = ReadLimits(**json.loads(sys.argv[2]))
        before, start = peak_kb(), time.perf_counter()
        try:
            message = "read %d lines" % len(read_lines(sys.argv[1], limits))
        except UnreadableDocument as exc:
            message = str(exc)
        seconds = time.perf_counter() - start
        print(json.dumps({"message": message, "seconds": seconds, "growth_mb": (peak_kb() - before) / 1024}))
    """
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", code, str(path), json.dumps(limits)],
        cwd=root, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return json.loads(result.stdout)


def test_read_limits_are_frozen_and_have_defaults():
    limits = ReadLimits()
    assert (limits.max_file_bytes, limits.max_expanded_bytes, limits.max_pages) == (
        20_000_000,
        60_000_000,
        2_000,
    )
    assert (limits.max_paragraphs, limits.max_lines) == (20_000, 200_000)
    with pytest.raises(dataclasses.FrozenInstanceError):
        limits.max_pages = 10**9  # type: ignore[misc]


def test_docx_bomb_of_1_gib_is_refused_from_the_zip_directory_quickly_in_bounded_memory(tmp_path):
    write_zip_bomb(tmp_path / "bomb.docx", expanded=1 << 30)
    assert (tmp_path / "bomb.docx").stat().st_size < 5_000_000  # a 3 MB upload…
    with zipfile.ZipFile(tmp_path / "bomb.docx") as archive:  # …that really expands to 1 GiB
        assert archive.getinfo("word/document.xml").file_size > 1_000_000_000
    result = isolated(tmp_path / "bomb.docx")
    assert result["message"] == "bomb.docx: expands to 1.1 GB, over the 60 MB limit for a document"
    assert result["seconds"] < 1.0 and result["growth_mb"] < 50


def test_smaller_bomb_is_refused_by_its_compression_ratio(tmp_path):
    write_zip_bomb(tmp_path / "ratio.docx", expanded=30_000_000)  # under the 60 MB expanded limit
    message = refused(tmp_path / "ratio.docx")
    assert "word/document.xml is compressed" in message and "over the 100:1 limit" in message


def test_docx_lying_about_its_sizes_is_refused_without_inflating_more_than_it_declares(tmp_path):
    write_zip_bomb(tmp_path / "liar.docx", expanded=300_000_000)
    data = bytearray((tmp_path / "liar.docx").read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # uncompressed size: now 50 kB
        at = data.rindex(signature)
        data[at + offset : at + offset + 4] = struct.pack("<I", 50_000)
    (tmp_path / "liar.docx").write_bytes(bytes(data))
    result = isolated(tmp_path / "liar.docx")
    assert result["message"].startswith("liar.docx: broken or unreadable DOCX (corrupt zip: Bad CRC-32")
    assert result["seconds"] < 1.0 and result["growth_mb"] < 50


def test_docx_paragraph_and_row_limit_is_counted_before_parsing(tmp_path):
    document = docx.Document()
    for i in range(30):
        document.add_paragraph(f"第{i}段")
    document.add_table(rows=25, cols=2)
    document.save(tmp_path / "long.docx")
    assert len(read_lines(tmp_path / "long.docx", ReadLimits(max_paragraphs=200))) == 55
    with pytest.raises(UnreadableDocument) as info:
        read_lines(tmp_path / "long.docx", ReadLimits(max_paragraphs=50))
    assert str(info.value) == "long.docx: over the limit of 50 paragraphs and table rows"
    with pytest.raises(UnreadableDocument) as info:
        read_lines(tmp_path / "long.docx", ReadLimits(max_xml_elements=100))
    assert str(info.value) == "long.docx: over the limit of 100 XML elements"


def test_docx_with_too_many_zip_members_is_refused(tmp_path):
    docx.Document().save(tmp_path / "many.docx")
    with zipfile.ZipFile(tmp_path / "many.docx", "a") as archive:
        for i in range(30):
            archive.writestr(f"extra/item{i}.xml", "<x/>")
    with pytest.raises(UnreadableDocument) as info:
        read_lines(tmp_path / "many.docx", ReadLimits(max_zip_members=20))
    assert "files inside the DOCX, over the limit of 20" in str(info.value)


def test_encrypted_and_corrupt_docx_are_refused_with_the_reason(tmp_path):
    parts = docx_parts()
    parts["word/document.xml"] = body(parts["word/document.xml"], WORD_PARAGRAPH * 50)
    with zipfile.ZipFile(tmp_path / "good.docx", "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    good = (tmp_path / "good.docx").read_bytes()
    assert read_lines(tmp_path / "good.docx") == ["政府工作报告"] * 50
    encrypted = bytearray(good)  # the "encrypted" flag in every central directory record
    for at in (i for i in range(len(good)) if good.startswith(b"PK\x01\x02", i)):
        encrypted[at + 8] |= 1
    (tmp_path / "locked.docx").write_bytes(bytes(encrypted))
    assert "encrypted zip, password-protected" in refused(tmp_path / "locked.docx")
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500) + "EncryptedPackage".encode("utf-16-le")
    (tmp_path / "office.docx").write_bytes(ole)  # how Word saves a password-protected .docx
    assert refused(tmp_path / "office.docx") == "office.docx: encrypted DOCX (password-protected)"
    start = good.index(b"word/document.xml") + len("word/document.xml")  # its local header, then its data
    corrupt = good[: start + 20] + bytes(40) + good[start + 60 :]
    (tmp_path / "corrupt.docx").write_bytes(corrupt)
    assert "broken or unreadable DOCX (corrupt zip: " in refused(tmp_path / "corrupt.docx")
    (tmp_path / "half.docx").write_bytes(good[: len(good) // 2])
    assert "broken or unreadable DOCX (not a zip archive)" in refused(tmp_path / "half.docx")


def test_pdf_page_limit_is_checked_on_the_page_tree_before_extracting(tmp_path):
    writer = PdfWriter()
    for _ in range(60):
        writer.add_blank_page(612, 792)
    writer.write(tmp_path / "blank.pdf")
    with pytest.raises(UnreadableDocument) as info:
        read_lines(tmp_path / "blank.pdf", ReadLimits(max_pages=50))
    assert str(info.value) == "blank.pdf: 60 pages, over the limit of 50"
    liar = make_pdf([["page"]] * 60).replace(b"/Count 60", b"/Count 1 ")  # the page count is a lie
    (tmp_path / "liar.pdf").write_bytes(liar)
    with pytest.raises(UnreadableDocument) as info:
        read_lines(tmp_path / "liar.pdf", ReadLimits(max_pages=50))
    assert str(info.value) == "liar.pdf: over the limit of 50 pages"
    assert len(read_lines(tmp_path / "liar.pdf", ReadLimits(max_pages=60))) == 60


def test_pdf_with_a_broken_page_tree_is_refused(tmp_path):
    pdf = make_pdf([["Government Work Report"]])
    (tmp_path / "loop.pdf").write_bytes(pdf.replace(b"/Kids [4 0 R]", b"/Kids [2 0 R]"))
    (tmp_path / "nopages.pdf").write_bytes(pdf.replace(b"/Pages 2 0 R", b"/Pagez 2 0 R"))
    (tmp_path / "notdict.pdf").write_bytes(pdf.replace(b"/Kids [4 0 R]", b"/Kids [42   ]"))
    assert (
        refused(tmp_path / "loop.pdf")
        == "loop.pdf: broken or unreadable PDF (broken page tree: it loops or repeats a node)"
    )
    assert "broken page tree: no /Pages dictionary" in refused(tmp_path / "nopages.pdf")
    assert "broken page tree: a node is not a dictionary" in refused(tmp_path / "notdict.pdf")


def test_pdf_bomb_is_refused_before_extracting_text_quickly_in_bounded_memory(tmp_path):
    (tmp_path / "bomb.pdf").write_bytes(make_pdf([["Government Work Report"]] * 200, padding=5_000_000))
    assert (tmp_path / "bomb.pdf").stat().st_size < 2_000_000  # 200 pages of 5 MB: 1 GB of page content
    result = isolated(tmp_path / "bomb.pdf")
    assert result["message"] == "bomb.pdf: page contents expand to over 10 MB, the limit for a PDF"
    assert result["seconds"] < 2.0 and result["growth_mb"] < 100


def test_pdf_page_contents_count_against_the_expanded_limit(tmp_path):
    (tmp_path / "long.pdf").write_bytes(make_pdf([[f"line {i}" for i in range(100)]] * 3))
    assert len(read_lines(tmp_path / "long.pdf")) == 300
    with pytest.raises(UnreadableDocument) as info:
        read_lines(tmp_path / "long.pdf", ReadLimits(max_pdf_content_bytes=3000))
    assert str(info.value) == "long.pdf: page contents expand to over 3 kB, the limit for a PDF"


def test_file_over_the_size_limit_is_refused_from_its_size_without_reading_it(tmp_path):
    with (tmp_path / "huge.txt").open("wb") as file:
        file.truncate(400_000_000)  # sparse: 400 MB by its size, nothing written
    tracemalloc.start()
    start = time.perf_counter()
    try:
        assert refused(tmp_path / "huge.txt") == "huge.txt: file is 400 MB, over the 20 MB limit for a file"
        seconds, (_, peak) = time.perf_counter() - start, tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seconds < 0.1 and peak < 1_000_000  # not a byte of it was read
    for suffix in (".pdf", ".docx", ".html"):
        (tmp_path / "huge.txt").rename(tmp_path / f"huge{suffix}")
        assert "over the 20 MB limit for a file" in refused(tmp_path / f"huge{suffix}")
        (tmp_path / f"huge{suffix}").rename(tmp_path / "huge.txt")


def test_text_line_limit_is_counted_before_splitting(tmp_path):
    (tmp_path / "lines.txt").write_text("行\n" * 300)
    assert len(read_lines(tmp_path / "lines.txt", ReadLimits(max_lines=300))) == 300
    with pytest.raises(UnreadableDocument) as info:
        read_lines(tmp_path / "lines.txt", ReadLimits(max_lines=299))
    assert str(info.value) == "lines.txt: 300 lines, over the limit of 299"


def test_html_size_and_tag_limits(tmp_path):
    (tmp_path / "page.html").write_text(HTML_PAGE.format(charset="utf-8"), encoding="utf-8")
    size = (tmp_path / "page.html").stat().st_size
    with pytest.raises(UnreadableDocument) as info:
        read_lines(tmp_path / "page.html", ReadLimits(max_html_bytes=1000))
    assert str(info.value) == f"page.html: {size / 1000:.1f} kB of HTML, over the 1 kB limit"
    with pytest.raises(UnreadableDocument) as info:
        read_lines(tmp_path / "page.html", ReadLimits(max_html_elements=20))
    assert "HTML tags, over the limit of 20" in str(info.value)
    (tmp_path / "tags.html").write_text("<p>政府工作报告</p>" * 100_000)  # 100,000 tags in 2.1 MB
    start = time.perf_counter()
    assert refused(tmp_path / "tags.html") == "tags.html: 100,000 HTML tags, over the limit of 50,000"
    assert time.perf_counter() - start < 0.5


def test_html_with_many_blocks_is_read_in_linear_time(tmp_path):
    # Editing the tree (tag.insert_before) made this page take ~60 s: bs4 finds a tag among its siblings one
    # by one. Within the tag limit a page must be read in seconds.
    (tmp_path / "flat.html").write_text("<html><body>" + "<p>政府工作报告</p>" * 20_000 + "</body></html>")
    (tmp_path / "deep.html").write_text("<html><body>" + "<div>报告" * 20_000 + "</div>" * 20_000)
    start = time.perf_counter()
    assert read_lines(tmp_path / "flat.html") == ["政府工作报告"] * 20_000
    assert read_lines(tmp_path / "deep.html") == ["报告"] * 20_000
    assert time.perf_counter() - start < 5.0
