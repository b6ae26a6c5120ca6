"""The foundation's done-means on the seeds, and the store's sync rules on small files."""

import shutil
import subprocess
import sys

from ingest.chunker import chunk_document
from ingest.pipeline import ingest_paths, load_store
from ingest.text import normalize
from tests.conftest import ROOT, SEEDS

EXPECTED_DISTRICTS = {
    "000_6ed33a1f63881161.txt": "江汉区",
    "001_61e2f93ad6a7b961.txt": "武昌区",
    "002_a9c1fff77efa8afe.txt": "武昌区",
    "003_e94be4eccf6fb3ec.txt": "青山区",
    "004_98232dc2b37875d5.txt": "武昌区",
}


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


def test_districts_and_report_years(seed_report):
    found = {d.doc: d.place for d in seed_report.documents}
    assert found == EXPECTED_DISTRICTS
    years = {d.doc: d.report_year for d in seed_report.documents}
    assert years["000_6ed33a1f63881161.txt"] == 2019
    assert years["001_61e2f93ad6a7b961.txt"] == 2021


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
        assert len(c.clean) <= 460
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
    assert chunk_document("a.txt", read_lines(tmp_path / "a.txt")).place == "青山区"


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


def test_cli_ingest_exit_status_and_chunks_json(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    shutil.copy(SEEDS / "003_e94be4eccf6fb3ec.txt", tmp_path)
    env = {
        "RAG_HOME": str(tmp_path / "home"),
        "PATH": str(ROOT / ".venv" / "bin") + ":/usr/bin:/bin",
        "HF_HUB_OFFLINE": "1",
    }
    run = subprocess.run(
        [sys.executable, "-m", "ui", "ingest", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert run.returncode == 1, run.stderr
    assert "empty.txt: empty file" in run.stdout and "1 documents" in run.stdout
    assert "Traceback" not in run.stderr
    out = subprocess.run(
        [sys.executable, "-m", "ui", "chunks", "--json"], capture_output=True, text=True, env=env, timeout=60
    )
    import json

    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert rows and set(rows[0]) == {
        "id",
        "doc",
        "title",
        "place",
        "place_chain",
        "level",
        "period",
        "report_year",
        "section",
        "section_year",
        "kind",
        "start_line",
        "end_line",
        "text",
    }
    assert {r["place"] for r in rows} == {"青山区"}
