"""The foundation's done-means on the seeds, and the store's sync rules on small files."""

import re
import shutil
import textwrap

import pytest

from ingest.chunker import DocumentChunks, chunk_document
from ingest.pipeline import ingest_paths, load_store
from ingest.readers import read_lines
from ingest.sections import OPENING, reflow
from ingest.text import normalize
from tests.conftest import ROOT, SEEDS

HUBEI, WUHAN = "湖北省", "武汉市"
HAILAR = ("内蒙古自治区", "呼伦贝尔市", "海拉尔区")
PROVINCES = {  # provinces-2025/<pinyin>_2025.docx → the issuing province (each header: "在X第…届人民代表大会")
    "anhui": "安徽省", "chongqing": "重庆市", "fujian": "福建省", "gansu": "甘肃省", "guangdong": "广东省",
    "guangxi": "广西壮族自治区", "guizhou": "贵州省", "hainan": "海南省", "hebei": "河北省", "heilongjiang": "黑龙江省",
    "henan": "河南省", "hubei": "湖北省", "hunan": "湖南省", "jiangsu": "江苏省", "jiangxi": "江西省", "liaoning": "辽宁省",
    "neimenggu": "内蒙古自治区", "ningxia": "宁夏回族自治区", "qinghai": "青海省", "shaanxi": "陕西省", "shandong": "山东省",
    "shanghai": "上海市", "shanxi": "山西省", "sichuan": "四川省", "tianjin": "天津市", "xinjiang": "新疆维吾尔自治区",
    "xizang": "西藏自治区", "yunnan": "云南省", "zhejiang": "浙江省",
}  # fmt: skip
# Read off each document (title, header "…在X第…届人民代表大会…", signature, body), not off the code's output:
# file → (place chain, level of the issuing government, report year = the year the report plans for).
EXPECTED = {
    # title "2019年武汉市江汉区政府工作报告"
    "seeds/000_6ed33a1f63881161.txt": ((HUBEI, WUHAN, "江汉区"), "county", 2019),
    # "20201229日在武汉市武昌区第十五届人民代表大会第六次会议": delivered at the end of 2020, plans 2021
    "seeds/001_61e2f93ad6a7b961.txt": ((HUBEI, WUHAN, "武昌区"), "county", 2021),
    # mid-year progress on the 2019 report's targets of 武昌区 (巡司河, 武昌 throughout)
    "seeds/002_a9c1fff77efa8afe.txt": ((HUBEI, WUHAN, "武昌区"), "county", 2019),
    # no header; 青山区 of 武汉 (武钢, 红钢城, "大武汉"); "2017年工作回顾", "2018年主要任务"
    "seeds/003_e94be4eccf6fb3ec.txt": ((HUBEI, WUHAN, "青山区"), "county", 2018),
    # 长江日报 2018年第1期 "大成武昌": 武昌区's 2017 results
    "seeds/004_98232dc2b37875d5.txt": ((HUBEI, WUHAN, "武昌区"), "county", 2018),
    "evals/corpora/extra/national_2020.txt": (
        ("全国",),
        "national",
        2020,
    ),  # 第十三届全国人民代表大会, 国务院总理
    "evals/corpora/extra/national_2022.txt": (("全国",), "national", 2022),  # "我代表国务院"
    "evals/corpora/extra/beijing_2025.docx": (("北京市",), "province", 2025),
    "evals/corpora/extra/jilin_2025.docx": (("吉林省",), "province", 2025),
    "evals/corpora/extra/hailar_2015.txt": (HAILAR, "county", 2015),  # names 海拉尔区 only, never 呼伦贝尔
    "evals/corpora/extra/hailar_2019.txt": (HAILAR, "county", 2019),  # "在呼伦贝尔市海拉尔区第十五届…"
    **{
        f"evals/corpora/hailar/hailar_{y}.txt": (HAILAR, "county", y)
        for y in (2012, 2013, 2014, 2016, 2017, 2018)
    },
    **{f"evals/corpora/provinces-2025/{k}_2025.docx": ((v,), "province", 2025) for k, v in PROVINCES.items()},
}
CORPORA = ["seeds", "evals/corpora/provinces-2025", "evals/corpora/hailar", "evals/corpora/extra"]


@pytest.fixture(scope="module")
def corpus_chunks() -> dict[str, tuple[list[str], DocumentChunks]]:
    files = [
        f for folder in CORPORA for f in sorted((ROOT / folder).iterdir()) if f.suffix in (".txt", ".docx")
    ]
    out = {}
    for f in files:
        lines = read_lines(f)
        out[str(f.relative_to(ROOT))] = (lines, chunk_document(f.name, lines, max_chars=400))
    return out


def test_every_evidence_lies_in_a_chunk_and_its_line_range(seed_report, dev_items):
    lines = {p.name: p.read_text(encoding="utf-8").splitlines() for p in SEEDS.glob("*.txt")}
    for item in dev_items:
        if not item["answerable"]:
            continue
        docs = item["doc"] if isinstance(item["doc"], list) else [item["doc"]]
        for evidence in item["evidence"]:
            e = normalize(evidence)
            holders = [c for c in seed_report.chunks if c.doc in docs and e in normalize(c.text)]
            assert holders, f"{item['id']}: evidence not in any chunk: {evidence}"
            c = holders[0]
            original = normalize("".join(lines[c.doc][c.start_line - 1 : c.end_line]))
            assert e in original, f"{item['id']}: evidence outside lines {c.start_line}-{c.end_line}"


def test_chunk_text_is_original_text_of_its_lines(seed_report):
    lines = {p.name: p.read_text(encoding="utf-8").splitlines() for p in SEEDS.glob("*.txt")}
    for c in seed_report.chunks:
        original = "\n".join(lines[c.doc][c.start_line - 1 : c.end_line])
        assert c.text in original, f"{c.doc}:{c.start_line}-{c.end_line} text is not original"
        assert c.text.strip(), "empty chunk"


def test_no_two_chunks_share_normalised_text(seed_report):
    texts = [normalize(c.text) for c in seed_report.chunks]
    assert len(texts) == len(set(texts))


def test_places_levels_and_report_years_of_every_report(corpus_chunks):
    assert set(corpus_chunks) == set(EXPECTED)  # 46 files
    found = {}
    for name, (_, doc) in corpus_chunks.items():
        place = doc.place
        found[name] = (place.chain if place else None, place.level if place else None, doc.report_year)
        for c in doc.chunks:
            assert (c.place, c.place_chain, c.level, c.report_year) == (
                place.name,
                place.chain,
                place.level,
                doc.report_year,
            )
    assert found == EXPECTED


def test_seed_documents_in_the_ingest_report(seed_report):
    infos = {d.doc: d for d in seed_report.documents}
    assert infos["003_e94be4eccf6fb3ec.txt"].place == "青山区"
    assert infos["003_e94be4eccf6fb3ec.txt"].place_chain == (HUBEI, WUHAN, "青山区")
    assert infos["001_61e2f93ad6a7b961.txt"].level == "county"
    assert "湖北省 > 武汉市 > 武昌区 (county), 2021" in seed_report.summary()


def test_every_chunk_within_the_size_bound_and_original_text(corpus_chunks):
    for name, (lines, doc) in corpus_chunks.items():
        for c in doc.chunks:
            assert len(c.clean) <= 400, (name, c.start_line, len(c.clean))
            assert c.text in "\n".join(lines[c.start_line - 1 : c.end_line]), (name, c.start_line)
    for name in ["seeds/002_a9c1fff77efa8afe.txt", "evals/corpora/provinces-2025/guangdong_2025.docx"]:
        lines = corpus_chunks[name][0]
        small = chunk_document(name, lines, max_chars=120).chunks
        assert small and all(len(c.clean) <= 120 for c in small)


def test_opening_address_is_its_own_chunk(corpus_chunks):
    for name, (_, doc) in corpus_chunks.items():
        openings = [c for c in doc.chunks if c.kind == "opening"]
        has_address = any(OPENING.search(c.clean) for c in doc.chunks[:3])
        assert len(openings) == (1 if has_address else 0), name
        for c in openings:
            assert c.section == "前言" and OPENING.search(c.clean) and not re.search(r"\n一、", c.clean), name
    kinds = {c.kind for c in corpus_chunks["evals/corpora/extra/national_2022.txt"][1].chunks}
    assert kinds == {"opening", "result", "plan"}


def test_plan_and_result_sections_of_national_and_provincial_reports(corpus_chunks):
    def kinds(name: str, section: str) -> set[str]:
        return {c.kind for c in corpus_chunks[name][1].chunks if c.section.startswith(section)}

    assert kinds("evals/corpora/extra/national_2022.txt", "三、2022年政府工作任务") == {"plan"}
    assert kinds("evals/corpora/extra/national_2022.txt", "一、2021年工作回顾") == {"result"}
    assert kinds("evals/corpora/provinces-2025/anhui_2025.docx", "三、2025年重点工作") == {"plan"}
    assert kinds("evals/corpora/provinces-2025/anhui_2025.docx", "二、2025年工作总体要求和主要目标任务") == {
        "plan"
    }
    assert kinds("evals/corpora/extra/national_2020.txt", "五、实施扩大内需战略") == {
        "plan"
    }  # after the plans
    hailar = corpus_chunks["evals/corpora/hailar/hailar_2016.txt"][1].chunks
    plan = [c for c in hailar if c.section.startswith("二、“十三五”")]
    assert plan and all(
        c.period == (2016, 2020) and c.section_year is None and c.kind == "plan" for c in plan
    )


def test_hard_wrapped_text_is_reflowed_with_its_line_range(tmp_path):
    source = (ROOT / "evals/corpora/hailar/hailar_2016.txt").read_bytes().decode("gb18030").splitlines()
    paragraph = next(line.strip() for line in source if "地区生产总值" in line and len(line.strip()) > 150)
    wrapped = textwrap.wrap(paragraph, 30)
    address = ["政府工作报告", "各位代表：", "现在，我代表区人民政府向大会作工作报告，请予审议。"]
    lines = [
        *address,
        "一、2015年工作回顾",
        *wrapped,
        "",
        "二、2016年工作安排",
        *textwrap.wrap(paragraph[:95], 30),
    ]
    (tmp_path / "wrapped.txt").write_text("\n".join(lines), encoding="utf-8")
    doc = chunk_document("wrapped.txt", read_lines(tmp_path / "wrapped.txt"))
    review = [c for c in doc.chunks if c.section == "一、2015年工作回顾"]
    n = len(wrapped)
    assert (review[0].start_line, review[-1].end_line) == (4, 4 + n)  # the heading, then lines 5..4+n
    assert [c.kind for c in doc.chunks if c.end_line <= 3] == ["opening"]
    assert "".join(c.text for c in review).replace("\n", "").endswith("".join(wrapped))
    assert all(c.text in "\n".join(lines[c.start_line - 1 : c.end_line]) for c in doc.chunks)
    [reflowed] = [p for p in reflow([(i, x) for i, x in enumerate(lines, 1) if x], []) if p.line == 5]
    assert (reflowed.end_line, reflowed.text) == (4 + n, "\n".join(wrapped))
    # a sentence broken across two lines is one sentence of the paragraph again, not two pieces
    assert any(wrapped[0][-6:] + wrapped[1][:6] in c.clean for c in review)
    plan = [c for c in doc.chunks if c.section == "二、2016年工作安排"]
    assert plan and plan[-1].end_line == len(lines)
    if len(paragraph) > 400:
        assert len(review) > 1 and all(len(c.clean) <= 400 for c in review)


def test_duplicated_body_kept_once_and_boilerplate_gone(seed_report):
    chunks = [c for c in seed_report.chunks if c.doc.startswith("002")]
    assert max(c.end_line for c in chunks) < 321  # the second copy of the body starts at line 321
    allclean = "".join(c.clean for c in seed_report.chunks)
    for noise in ["打印本页", "QQ空间", "我要回帖", "较旧一篇", "首页 >", "技术支持"]:
        assert noise not in allclean
    assert "巡司河 水质 2019" not in allclean and "巡司河水质2019" not in normalize(allclean)


def test_sections_years_and_plan_vs_result(seed_report):
    by_line = {(c.doc, line): c for c in seed_report.chunks for line in range(c.start_line, c.end_line + 1)}
    plan = by_line[("001_61e2f93ad6a7b961.txt", 89)]
    review = by_line[("001_61e2f93ad6a7b961.txt", 35)]
    assert plan.section.startswith("2021年主要工作") and plan.section_year == 2021 and plan.kind == "plan"
    assert (
        review.section.startswith("2020年及十三五工作回顾")
        and review.section_year == 2020
        and review.kind == "result"
    )
    assert by_line[("001_61e2f93ad6a7b961.txt", 95)].section.startswith("2021年主要工作 > 一、突出创新引领")
    assert by_line[("000_6ed33a1f63881161.txt", 130)].section == "附件1 > 2019年政府为民办实事"
    assert by_line[("003_e94be4eccf6fb3ec.txt", 107)].section_year == 2018


def test_chunks_never_span_top_level_sections_and_are_not_bare_headings(seed_report):
    for c in seed_report.chunks:
        assert len(c.clean) <= 400
        assert len(c.clean) >= 20 or c.section == "前言", c


def test_store_sync_rules(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEEDS / "000_6ed33a1f63881161.txt", corpus)
    store = tmp_path / "chunks.jsonl"
    first = ingest_paths([corpus], store)
    assert first.added == len(first.chunks) > 0
    again = ingest_paths([corpus], store)  # same file: nothing changes
    assert (again.added, again.removed) == (0, 0)
    assert [c.id for c in load_store(store)] == [c.id for c in first.chunks]
    f = corpus / "000_6ed33a1f63881161.txt"
    f.write_text(f.read_text(encoding="utf-8").replace("1255亿元", "1256亿元"), encoding="utf-8")
    changed = ingest_paths([corpus], store)
    assert changed.added == changed.removed == 1
    assert any("1256亿元" in c.text for c in load_store(store))
    f.unlink()
    gone = ingest_paths([corpus], store)
    assert gone.chunks == [] and load_store(store) == []


def test_gb18030_file_gives_same_chunks(tmp_path):
    text = (SEEDS / "003_e94be4eccf6fb3ec.txt").read_text(encoding="utf-8")
    (tmp_path / "a.txt").write_bytes(text.encode("gb18030"))
    from ingest.readers import read_lines

    assert read_lines(tmp_path / "a.txt") == text.split("\n")
    place = chunk_document("a.txt", read_lines(tmp_path / "a.txt")).place
    assert place is not None and place.chain == (HUBEI, WUHAN, "青山区")


def test_bad_files_are_skipped_with_clear_messages(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02garbage\x00" * 20)
    (tmp_path / "latin.txt").write_bytes(
        "Caf\xe9 na\xefve r\xe9sum\xe9 \xbb\xab \xe0 la carte".encode("latin-1") * 3
    )
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    shutil.copy(SEEDS / "003_e94be4eccf6fb3ec.txt", tmp_path)
    report = ingest_paths([tmp_path], tmp_path / "store" / "chunks.jsonl")
    reasons = dict(report.skipped)
    assert [d.doc for d in report.documents] == ["003_e94be4eccf6fb3ec.txt"]
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "not UTF-8 or GB18030" in reasons["latin.txt"]
    assert "PDF" in reasons["broken.pdf"]
