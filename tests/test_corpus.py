"""The managed corpus (rag/corpus.py) on small real reports: folder sync, added documents that stay,
names and duplicates, removal with tombstones, refused files that leave no trace, a damaged chunk store or
registry rebuilt, and two processes adding at once."""

import json
import logging
import multiprocessing
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from rag.corpus import Corpus
from tests.conftest import DATA, SEEDS

WUCHANG = DATA / "wuchang_2021_excerpt.txt"
HAILAR = DATA / "hailar_2016_excerpt.txt"  # GB18030


def seed_piece(target: Path, seed: str, lines: int = 40) -> Path:
    """The first `lines` lines of a seed report, as a file of the same name in `target`."""
    target.mkdir(parents=True, exist_ok=True)
    text = (SEEDS / seed).read_text(encoding="utf-8").splitlines()[:lines]
    path = target / seed
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = tmp_path / "reports"
    folder.mkdir()
    shutil.copy(WUCHANG, folder)
    shutil.copy(HAILAR, folder)
    seed_piece(folder, "000_6ed33a1f63881161.txt")
    return folder


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


def names(corpus: Corpus) -> list[str]:
    return [r.doc for r in corpus.documents()]


def test_initial_sync_registers_the_folder_and_persists(home, folder):
    corpus = Corpus(home, folder)
    assert corpus.documents() == [] and corpus.chunks() == []
    report = corpus.sync_folder()
    expected = ["000_6ed33a1f63881161.txt", "hailar_2016_excerpt.txt", "wuchang_2021_excerpt.txt"]
    assert [r.doc for r in report.added] == expected == names(corpus)
    assert report.documents == 3 and report.chunks == corpus.chunk_count == len(corpus.chunks())
    assert "3 added" in report.summary()
    jianghan = corpus.documents()[0]
    assert jianghan.place == "江汉区" and jianghan.report_year == 2019 and jianghan.source == "folder"
    assert jianghan.place_chain == ["湖北省", "武汉市", "江汉区"] and jianghan.level == "county"
    assert jianghan.added_by is None and datetime.fromisoformat(jianghan.added_at).tzinfo is not None
    assert jianghan.path == (folder / jianghan.doc).resolve()
    assert jianghan.size == jianghan.path.stat().st_size and len(jianghan.id) == 12
    assert jianghan.chunks == sum(c.doc == jianghan.doc for c in corpus.chunks()) and jianghan.sections >= 1
    # stable order: documents by name, chunks in document order
    chunks = corpus.chunks()
    assert [c.doc for c in chunks] == sorted(c.doc for c in chunks)
    for doc in expected:
        lines = [c.start_line for c in chunks if c.doc == doc]
        assert lines == sorted(lines)
    # re-opening reads the stored state: no re-scan needed, same chunks
    again = Corpus(home, folder)
    assert again.documents() == corpus.documents() and again.chunks() == chunks
    registry = json.loads((home / "documents.json").read_text(encoding="utf-8"))
    assert {d["sha256"][:12] for d in registry["documents"]} == {r.id for r in corpus.documents()}
    assert again.sync_folder().unchanged and not again.sync_folder().added


def test_resync_follows_changed_new_and_removed_files(home, folder):
    corpus = Corpus(home, folder)
    corpus.sync_folder()
    before = {r.doc: r for r in corpus.documents()}
    seed_piece(folder, "000_6ed33a1f63881161.txt", lines=60)  # changed
    seed_piece(folder, "003_e94be4eccf6fb3ec.txt")  # new
    (folder / "hailar_2016_excerpt.txt").unlink()  # gone
    report = Corpus(home, folder).sync_folder()
    assert [r.doc for r in report.updated] == ["000_6ed33a1f63881161.txt"]
    assert [r.doc for r in report.added] == ["003_e94be4eccf6fb3ec.txt"]
    assert [r.doc for r in report.removed] == ["hailar_2016_excerpt.txt"]
    assert [r.doc for r in report.unchanged] == ["wuchang_2021_excerpt.txt"]
    corpus = Corpus(home, folder)
    assert names(corpus) == [
        "000_6ed33a1f63881161.txt",
        "003_e94be4eccf6fb3ec.txt",
        "wuchang_2021_excerpt.txt",
    ]
    assert corpus.documents()[0].sha256 != before["000_6ed33a1f63881161.txt"].sha256
    assert not any(c.doc == "hailar_2016_excerpt.txt" for c in corpus.chunks())
    assert max(c.end_line for c in corpus.chunks() if c.doc.startswith("000")) > 40


def test_added_documents_are_copied_and_stay(home, folder, tmp_path):
    corpus = Corpus(home, folder)
    corpus.sync_folder()
    outside = seed_piece(tmp_path / "elsewhere", "001_61e2f93ad6a7b961.txt")
    report = corpus.add([outside], added_by="cli")
    [record] = report.added
    assert record.source == "added" and record.added_by == "cli" and record.place == "武昌区"
    assert (
        record.path == home.resolve() / "documents" / outside.name
        and record.path.read_bytes() == outside.read_bytes()
    )
    uploaded = corpus.add(
        [seed_piece(tmp_path / "up", "003_e94be4eccf6fb3ec.txt")], source="upload", added_by="chat"
    )
    assert uploaded.added[0].source == "upload" and uploaded.added[0].added_by == "chat"
    shutil.rmtree(tmp_path / "elsewhere")
    shutil.rmtree(tmp_path / "up")
    reopened = Corpus(home, folder)
    assert reopened.sync_folder().removed == []  # a re-scan of the folder leaves added documents alone
    assert {"001_61e2f93ad6a7b961.txt", "003_e94be4eccf6fb3ec.txt"} <= set(names(reopened))
    by_name = {r.doc: r for r in reopened.documents()}
    assert by_name["001_61e2f93ad6a7b961.txt"].added_at == record.added_at
    assert by_name["003_e94be4eccf6fb3ec.txt"].added_by == "chat"
    assert any(c.doc == "001_61e2f93ad6a7b961.txt" for c in reopened.chunks())


def test_same_name_other_content_keeps_both_and_same_content_is_not_added_twice(home, folder, tmp_path):
    corpus = Corpus(home, folder)
    corpus.sync_folder()
    clash = seed_piece(tmp_path / "other", "003_e94be4eccf6fb3ec.txt").rename(
        tmp_path / "other" / "wuchang_2021_excerpt.txt"
    )  # same name as a folder document, other content
    report = corpus.add([clash])
    [record] = report.added
    assert record.doc == f"wuchang_2021_excerpt-{record.sha256[:8]}.txt" and "stored as" in report.summary()
    assert {c.doc for c in corpus.chunks()} >= {"wuchang_2021_excerpt.txt", record.doc}
    assert corpus.documents_dir.joinpath(record.doc).exists()
    # the same bytes again, under any name: not added, the report names the existing document
    copy = tmp_path / "other" / "copy.txt"
    shutil.copy(WUCHANG, copy)
    for again in ([copy], [clash]):
        report = corpus.add(again)
        assert not report.added and len(report.unchanged) == 1
        assert report.unchanged[0].doc in report.notes[0] and "not added again" in report.notes[0]
    assert len(corpus.documents()) == 4


def test_remove_by_name_and_id_with_tombstone_and_readd(home, folder, tmp_path):
    corpus = Corpus(home, folder)
    corpus.sync_folder()
    added = corpus.add([seed_piece(tmp_path / "x", "004_98232dc2b37875d5.txt")]).added[0]
    removed = corpus.remove("hailar_2016_excerpt.txt")
    assert removed.source == "folder" and "hailar_2016_excerpt.txt" not in names(corpus)
    assert (folder / "hailar_2016_excerpt.txt").exists()  # the folder is not touched
    assert corpus.remove(added.id).doc == added.doc and not added.path.exists()
    with pytest.raises(KeyError, match="no document named 'nope.txt'"):
        corpus.remove("nope.txt")
    # a re-scan does not bring the removed folder file back, also after re-opening
    assert Corpus(home, folder).sync_folder().added == []
    assert "hailar_2016_excerpt.txt" not in names(Corpus(home, folder))
    assert not any(c.doc in (added.doc, removed.doc) for c in Corpus(home, folder).chunks())
    # adding it again explicitly clears the tombstone; it then stays, and is not duplicated by the folder
    readded = corpus.add([folder / "hailar_2016_excerpt.txt"]).added[0]
    assert readded.source == "added" and readded.sha256 == removed.sha256
    report = Corpus(home, folder).sync_folder()
    assert not report.added and names(Corpus(home, folder)).count("hailar_2016_excerpt.txt") == 1


def _no_trace(home: Path) -> None:
    assert list((home / "documents").glob("*")) == [] if (home / "documents").exists() else True
    assert list(home.glob(".staging-*")) == [] and list(home.glob(".*.tmp")) == []


def test_bad_files_are_refused_with_their_reason_and_leave_no_trace(home, folder, tmp_path):
    corpus = Corpus(home, folder, max_chunks_per_document=5, max_chunks_per_add=10)
    corpus.sync_folder()
    registry = (home / "documents.json").read_bytes()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    (bad / "empty.txt").write_bytes(b"")
    (bad / "notes.xlsx").write_bytes(b"PK\x03\x04")
    big = seed_piece(bad, "003_e94be4eccf6fb3ec.txt")  # 17 chunks
    report = corpus.add([bad / "binary.txt", bad / "empty.txt", bad / "notes.xlsx", big, bad / "missing.txt"])
    reasons = dict(report.skipped)
    assert "binary file" in reasons["binary.txt"]
    assert "empty file" in reasons["empty.txt"]
    assert "unsupported file type .xlsx" in reasons["notes.xlsx"]
    # refused from its length before chunking (a chunk holds at most 400 characters), or after chunking
    assert reasons[big.name] == (
        f"{big.name}: about 11 chunks, over the limit of 5 chunks per document (RAG_MAX_CHUNKS_PER_DOCUMENT)"
    )
    [(_, why)] = Corpus(home, folder, max_chunks_per_document=12).add([big]).skipped
    assert (
        why
        == f"{big.name}: 17 chunks, over the limit of 12 chunks per document (RAG_MAX_CHUNKS_PER_DOCUMENT)"
    )
    assert "no such file" in reasons["missing.txt"]
    assert not report.added and (home / "documents.json").read_bytes() == registry
    _no_trace(home)
    # an add whose files fit one by one but not together is refused as a whole
    two = [
        seed_piece(tmp_path / "two", "001_61e2f93ad6a7b961.txt", 12),
        seed_piece(tmp_path / "two", "004_98232dc2b37875d5.txt", 18),
    ]
    sizes = [Corpus(tmp_path / "probe", None).add([p]).added[0].chunks for p in two]
    assert all(n <= 5 for n in sizes) and sum(sizes) > 3, sizes
    capped = Corpus(home, folder, max_chunks_per_document=5, max_chunks_per_add=sum(sizes) - 1)
    report = capped.add(two)
    assert not report.added and len(report.skipped) == 2
    assert "over the limit of" in report.skipped[0][1] and "RAG_MAX_CHUNKS_PER_UPLOAD" in report.skipped[0][1]
    _no_trace(home)
    # a good file beside a bad one: the good one is added, the bad one listed
    report = corpus.add([two[0], bad / "binary.txt"])
    assert [r.doc for r in report.added] == [two[0].name] and [n for n, _ in report.skipped] == ["binary.txt"]
    # re-opening does not retry the refused files
    reopened = Corpus(home, folder)
    assert names(reopened) == sorted([*names(Corpus(home, folder))]) and "binary.txt" not in names(reopened)
    assert sorted(p.name for p in (home / "documents").iterdir()) == [two[0].name]


def _corrupt(store: Path, how: str) -> None:
    data = store.read_bytes()
    if how == "truncated":
        store.write_bytes(data[: len(data) // 2])
    elif how == "truncated at a line end":
        store.write_bytes(b"".join(data.splitlines(keepends=True)[:-3]))
    elif how == "a bad line":
        lines = data.splitlines(keepends=True)
        store.write_bytes(b"".join(lines[:4] + [b'{"id": "oops\n'] + lines[5:]))
    elif how == "garbled":
        store.write_bytes(data[:1000] + bytes(range(256)) + data[1256:])
    elif how == "one character changed":
        store.write_bytes(data.replace("武昌".encode(), "武汉".encode(), 1))
    elif how == "missing":
        store.unlink()


DAMAGE = ["truncated", "truncated at a line end", "a bad line", "garbled", "one character changed", "missing"]


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_chunk_store_is_detected_and_rebuilt(home, folder, tmp_path, caplog, how):
    corpus = Corpus(home, folder)
    corpus.sync_folder()
    corpus.add([seed_piece(tmp_path / "x", "001_61e2f93ad6a7b961.txt")], added_by="cli")
    chunks, documents = corpus.chunks(), corpus.documents()
    store = home / "chunks.jsonl"
    _corrupt(store, how)
    with caplog.at_level(logging.WARNING, logger="rag.corpus"):
        reopened = Corpus(home, folder)
    assert "chunks.jsonl" in caplog.text and "rebuilding the chunk store" in caplog.text
    expected = {"truncated": "is cut off", "a bad line": "chunks.jsonl line 5 is not valid JSON"}
    assert expected.get(how, "") in caplog.text
    assert reopened.chunks() == chunks and reopened.documents() == documents
    caplog.clear()
    assert Corpus(home, folder).chunks() == chunks and not caplog.text  # repaired on disk


def test_damaged_registry_is_rebuilt_from_folder_and_stored_documents(home, folder, tmp_path, caplog):
    corpus = Corpus(home, folder)
    corpus.sync_folder()
    corpus.add([seed_piece(tmp_path / "x", "001_61e2f93ad6a7b961.txt")], source="upload", added_by="chat")
    expected = names(corpus)
    (home / "documents.json").write_text('{"documents": [{"doc": ', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="rag.corpus"):
        reopened = Corpus(home, folder)
    assert "documents.json is not a valid registry" in caplog.text and "is lost" in caplog.text
    assert names(reopened) == expected
    stored = {r.doc: r for r in reopened.documents()}["001_61e2f93ad6a7b961.txt"]
    assert stored.source == "added" and stored.added_by is None  # who uploaded it is lost
    assert len(reopened.chunks()) == len(corpus.chunks())


def _add_in_process(home: str, folder: str, path: str, barrier) -> None:
    corpus = Corpus(Path(home), Path(folder))
    barrier.wait()
    report = corpus.add([Path(path)], added_by=f"process {Path(path).name}")
    assert report.added, report.summary()


def test_concurrent_adds_both_survive(home, folder, tmp_path):
    Corpus(home, folder).sync_folder()
    seeds = ["001_61e2f93ad6a7b961.txt", "003_e94be4eccf6fb3ec.txt", "004_98232dc2b37875d5.txt"]
    files = [seed_piece(tmp_path / "in", seed) for seed in seeds]
    context = multiprocessing.get_context("fork")  # the children inherit the loaded gazetteer: a real race
    barrier = context.Barrier(len(files))
    processes = [
        context.Process(target=_add_in_process, args=(str(home), str(folder), str(f), barrier)) for f in files
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join(60)
    assert [p.exitcode for p in processes] == [0] * len(files)
    corpus = Corpus(home, folder)
    assert set(seeds) <= set(names(corpus))
    assert {r.added_by for r in corpus.documents() if r.source == "added"} == {f"process {s}" for s in seeds}
    assert {c.doc for c in corpus.chunks()} == set(names(corpus))


def test_line_separators_inside_a_paragraph_survive_the_store(home, tmp_path, caplog):
    """U+2028, U+0085 and form feeds are not line ends for the reader, so they stay inside chunk text;
    the store must read them back as they are (no repair on every open)."""
    folder = tmp_path / "odd"
    folder.mkdir()
    text = WUCHANG.read_text(encoding="utf-8").replace("。", "。\u2028", 3).replace(",", ",\x85\x0c", 2)
    (folder / "odd.txt").write_text(text, encoding="utf-8")
    corpus = Corpus(home, folder)
    corpus.sync_folder()
    assert any("\u2028" in c.text for c in corpus.chunks())
    with caplog.at_level(logging.WARNING, logger="rag.corpus"):
        assert Corpus(home, folder).chunks() == corpus.chunks()
    assert not caplog.text
