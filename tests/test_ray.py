"""`rag ingest --ray` on a real Ray cluster of two nodes on this machine: a head and a second node process
(`ray start`, 1 CPU each, on the loopback addresses 127.0.0.2 and 127.0.0.3). The corpus and index it builds
must equal a local build's, answer the same, and a second run must chunk and embed nothing. About 2-3 minutes
on 2 cores; skipped when `ray` is not installed (`pip install -e '.[ray]'`)."""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, free_port

FOLDER_REPORTS = [
    ROOT / "evals/corpora/hailar/hailar_2012.txt",
    ROOT / "evals/corpora/hailar/hailar_2013.txt",
]
ADDED_REPORT = ROOT / "evals/corpora/provinces-2025/hubei_2025.docx"  # `rag ingest PATH`: Corpus.add_chunked
QUESTIONS = {  # question -> (a figure the answer must quote, the document it is in); None: not in the reports
    "海拉尔区2011年全社会固定资产投资完成了多少？": ("155.4亿元", "hailar_2012.txt"),
    "海拉尔区2013年地区生产总值的预期目标是多少？": ("282亿元", "hailar_2013.txt"),
    "2012年海拉尔区城镇居民人均可支配收入是多少？": ("23267元", "hailar_2013.txt"),
    "湖北省2024年粮食总产量是多少？": ("557亿斤", "hubei_2025.docx"),
    "湖北2025年城镇新增就业的目标是多少？": ("70万人", "hubei_2025.docx"),
    "海拉尔区2012年新建了几座地铁站？": None,
}
needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="ray is not installed: pip install -e '.[ray]'"
)


@pytest.fixture(scope="module")
def ray_head():
    """A head node and a second node, each a `ray start` of 1 CPU; `ray stop --force` at the end, whatever
    happened. Node addresses are on loopback (127.0.0.x other than .1, which Ray would swap for the machine's
    network address)."""
    ray_cli = str(Path(sys.executable).with_name("ray"))
    # one auth mode for every process of this cluster, the driver of this process included: left unset, a
    # head finding ~/.ray/auth_token turns token auth on and a second node started without it is refused
    auth_mode = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    port = free_port()
    head = f"127.0.0.2:{port}"

    def ray(*args: str) -> None:
        done = subprocess.run([ray_cli, *args], env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, (
            f"ray {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )

    try:
        ray("start", "--head", "--node-ip-address", "127.0.0.2", "--port", str(port), "--num-cpus", "1",
            "--include-dashboard=false", "--disable-usage-stats")  # fmt: skip
        ray("start", "--address", head, "--node-ip-address", "127.0.0.3", "--num-cpus", "1")
        yield head
    finally:
        subprocess.run([ray_cli, "stop", "--force"], env=env, capture_output=True, timeout=180)
        os.environ.pop("RAY_AUTH_MODE")
        if auth_mode is not None:
            os.environ["RAY_AUTH_MODE"] = auth_mode


@pytest.fixture(scope="module")
def builds(ray_head, tmp_path_factory):
    """(local RAG, Ray-built RAG_HOME opened as `rag serve` opens it, Ray report, settings of the Ray home)."""
    from rag.config import Settings
    from rag.distributed import ingest_on_ray
    from rag.service import RAG

    tmp = tmp_path_factory.mktemp("ray")
    folder = tmp / "reports"
    folder.mkdir()
    for report in FOLDER_REPORTS:
        shutil.copy(report, folder)
    added = tmp / ADDED_REPORT.name
    shutil.copy(ADDED_REPORT, added)

    local = RAG.open(Settings(home=tmp / "local-home", corpus=folder))
    local.add([added], source="added", added_by="cli")  # what a local `rag ingest PATH` does

    settings = Settings(home=tmp / "ray-home", corpus=folder)
    report = ingest_on_ray(settings, [added], address=ray_head, progress=False)
    written = sorted(settings.vectors_dir.rglob("seg-*.npz"))
    served = RAG.open(settings)  # as `rag serve` opens it: nothing left to chunk or embed
    assert sorted(settings.vectors_dir.rglob("seg-*.npz")) == written
    return local, served, report, settings


@needs_ray
def test_ray_build_equals_local_build(builds):
    from rag.index import text_key
    from rag.snapshot import all_embed_texts

    local, distributed, report, _ = builds
    assert report.chunked == 3 and report.embedded == report.statements == report.vectors > 0
    assert report.workers == "2 actors x 1 CPU"  # one per CPU of the two nodes
    assert report.folder.documents == 2 and not report.skipped

    def documents(rag):
        return [
            (d.doc, d.source, d.added_by, d.sha256, d.chunks, d.place, d.report_year) for d in rag.documents()
        ]

    assert documents(distributed) == documents(local)
    assert [(c.id, c.text) for c in distributed.chunks] == [(c.id, c.text) for c in local.chunks]
    assert distributed.chunks == local.chunks  # every field: section, years, kind, line range…

    keys = sorted({text_key(t) for t in all_embed_texts(local.chunks)})
    assert distributed.store.keys() == local.store.keys() == set(keys)
    ray_vectors, found = distributed.store.get(keys)
    local_vectors, _ = local.store.get(keys)
    assert found.all() and np.abs(ray_vectors - local_vectors).max() < 1e-4
    assert distributed.snapshot.hybrid and distributed.health()["embedded"] == report.statements


@needs_ray
@pytest.mark.parametrize("question", list(QUESTIONS))
def test_ray_build_answers_as_local_build(builds, question):
    local, distributed, _, _ = builds
    mine, theirs = distributed.ask(question), local.ask(question)
    assert mine.answer == theirs.answer and mine.answerable == theirs.answerable
    cited = [(c.doc, c.start_line, c.end_line, c.quote) for c in mine.citations]
    assert cited == [(c.doc, c.start_line, c.end_line, c.quote) for c in theirs.citations]
    assert [(r.id, round(r.score, 5)) for r in mine.retrieved] == [
        (r.id, round(r.score, 5)) for r in theirs.retrieved
    ]
    if QUESTIONS[question] is None:
        assert not mine.answerable
    else:
        figure, doc = QUESTIONS[question]
        assert mine.answerable and figure in mine.answer and doc in {c.doc for c in mine.citations}


@needs_ray
def test_second_ray_ingest_chunks_and_embeds_nothing(builds, ray_head):
    """The CLI again over the same files: unchanged documents are not chunked, no statement is embedded."""
    _, _, _, settings = builds
    segments = sorted(p.name for p in settings.vectors_dir.rglob("seg-*.npz"))
    env = {**os.environ, "RAG_HOME": str(settings.home), "RAG_CORPUS": str(settings.corpus)}
    added, rag_cli = settings.home.parent / ADDED_REPORT.name, str(Path(sys.executable).with_name("rag"))
    done = subprocess.run([rag_cli, "ingest", str(added), "--ray", ray_head], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ray: 0 documents chunked (0 chunks), 0 statements embedded" in done.stdout
    assert "0 added, 0 updated, 0 removed, 1 unchanged" in done.stdout
    assert sorted(p.name for p in settings.vectors_dir.rglob("seg-*.npz")) == segments


def test_ray_is_not_imported_without_ray():
    """The local path, and even importing rag.distributed, loads nothing of Ray."""
    code = (
        "import sys, ui.cli, rag.service, rag.distributed; from click.testing import CliRunner; "
        "assert CliRunner().invoke(ui.cli.cli, ['ingest', '--help']).exit_code == 0; "
        "assert not [m for m in sys.modules if m == 'ray' or m.startswith('ray.')]"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
