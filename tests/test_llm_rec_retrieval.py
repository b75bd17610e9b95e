"""Retrieval of a generated title: real MiniLM vectors of Beauty titles in Chroma and in the exact index."""
from __future__ import annotations

import ast
import html
from collections import Counter

import numpy as np
import pytest

from recbole_semsr.llm_rec.retrieval import ExactIndex, build_index, collection_name, encode_quietly

N_ITEMS = 120


@pytest.fixture(scope="module")
def beauty_titles(shared_data):
    """(asins, titles) of the first items with a title in the Beauty metadata sample."""
    path = shared_data / "amazon_beauty_2014" / "sample" / "meta_Beauty.sample.json"
    asins, titles = [], []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            record = ast.literal_eval(line)
            title = " ".join(html.unescape(record.get("title", "")).split())
            if title:
                asins.append(record["asin"])
                titles.append(title)
            if len(asins) == N_ITEMS:
                break
    return asins, titles


@pytest.fixture(scope="module")
def minilm():
    from recbole_semsr.embeddings.encoders import get_encoder

    return get_encoder("minilm", device="cpu")


@pytest.fixture(scope="module")
def beauty_index(beauty_titles, minilm, tmp_path_factory):
    asins, titles = beauty_titles
    cache_dir = tmp_path_factory.mktemp("llm_rec_cache")
    vectors = encode_quietly(minilm, titles)
    chroma = build_index("chroma", asins, vectors, cache_dir, "beauty-sample-minilm")
    exact = build_index("exact", asins, vectors, cache_dir, "beauty-sample-minilm")
    return chroma, exact, cache_dir, vectors


def test_an_exact_item_title_retrieves_that_item_at_rank_1(beauty_titles, beauty_index, minilm):
    asins, titles = beauty_titles
    counts = Counter(titles)
    chosen = [i for i in range(0, N_ITEMS, 13) if counts[titles[i]] == 1]
    queries = encode_quietly(minilm, [titles[i] for i in chosen])
    chroma, exact, _, _ = beauty_index
    for index in (chroma, exact):
        hits = index.search(queries, 100)
        assert [row[0][0] for row in hits] == [asins[i] for i in chosen]
        assert all(len(row) == 100 and row[0][1] == pytest.approx(1.0, abs=1e-4) for row in hits)
        scores = [score for _, score in hits[0]]
        assert scores == sorted(scores, reverse=True)


def test_chroma_returns_the_exact_top_100_on_a_small_catalogue(beauty_titles, beauty_index, minilm):
    asins, titles = beauty_titles
    chroma, exact, _, _ = beauty_index
    queries = encode_quietly(minilm, ["moisturizing face cream", "eau de parfum spray for women", "nail polish red"])
    for from_chroma, from_exact in zip(chroma.search(queries, 100), exact.search(queries, 100)):
        assert {item for item, _ in from_chroma} == {item for item, _ in from_exact}


def test_session_items_are_excluded_on_request(beauty_titles, beauty_index, minilm):
    asins, titles = beauty_titles
    chroma, exact, _, _ = beauty_index
    query = encode_quietly(minilm, [titles[5]])
    for index in (chroma, exact):
        top = [item for item, _ in index.search(query, 3)[0]]
        kept = [item for item, _ in index.search(query, 3, exclude=[top[:2]])[0]]
        assert top[0] == asins[5]
        assert kept[0] == top[2] and not set(top[:2]) & set(kept) and len(kept) == 3


def test_the_collection_is_built_once_and_rebuilt_when_the_items_change(beauty_titles, beauty_index, minilm):
    asins, titles = beauty_titles
    chroma, _, cache_dir, vectors = beauty_index
    hnsw = chroma.collection.configuration["hnsw"]
    assert (hnsw["space"], hnsw["ef_search"], hnsw["ef_construction"]) == ("cosine", 400, 200)
    again = build_index("chroma", asins, vectors, cache_dir, "beauty-sample-minilm")
    assert again.collection.id == chroma.collection.id
    changed = build_index("chroma", asins[:-1], vectors[:-1], cache_dir, "beauty-sample-minilm")
    assert changed.collection.id != chroma.collection.id and changed.collection.count() == N_ITEMS - 1


def test_exact_index_scores_are_cosines_and_queries_are_checked():
    index = ExactIndex(["a", "b", "c"], np.eye(3, dtype=np.float32))
    query = np.array([[0.6, 0.8, 0.0]], dtype=np.float32)
    assert index.search(query, 2) == [[("b", pytest.approx(0.8)), ("a", pytest.approx(0.6))]]
    assert index.search(query, 5, exclude=[["b", "zzz"]]) == [[("a", pytest.approx(0.6)), ("c", 0.0)]]
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        index.search(np.ones((1, 4), dtype=np.float32), 2)
    assert collection_name("beauty-minilm:/models/x y") == "beauty-minilm-models-x-y"
