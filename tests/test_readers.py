"""ingest.readers on small real files, all made here in tmp_path: text in UTF-8/GB18030, HTML pages with
boilerplate, a PDF written byte by byte, a DOCX made with python-docx, and files that must be refused."""

import io
import random
import zipfile
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader, PdfWriter

from ingest.readers import SUPPORTED_SUFFIXES, UnreadableDocument, read_lines

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


def make_pdf(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF written by hand: one Helvetica text line per string, one page per list."""
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
        objects.append(f"<< /Length {len(content)} >>\nstream\n{content}\nendstream")
    pdf, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(pdf))
        pdf += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(pdf)
    pdf += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    pdf += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    pdf += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return pdf


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

    def deny(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", deny)  # chmod 000 does not stop root, who runs CI here
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
