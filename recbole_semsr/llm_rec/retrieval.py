"""Map a generated title to catalogue items by cosine similarity (paper section 3.2, "LLM Inference").

Two indexes with one `search` interface:
- `ChromaIndex`: a persistent Chroma collection (cosine space; HNSW `ef_construction=200`, `ef_search=400`, which
  docs/dependencies.md records at ~0.94 recall@100 against exact search where the defaults gave 0.16-0.59), built once per
  dataset + encoder + item texts. Only caller-supplied embeddings are used (`query_texts` would try a download).
- `ExactIndex`: exact in-memory search (torch matmul + topk).
Item vectors come from the text encoder and are cached as `.npy` beside the collection.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import logging
import re
from pathlib import Path
from typing import Iterable, Protocol, Sequence

import numpy as np
import torch

logger = logging.getLogger(__name__)
HNSW_CONFIGURATION = {"space": "cosine", "ef_construction": 200, "ef_search": 400}
Hits = list[tuple[str, float]]


class TextEncoder(Protocol):
    """What `recbole_semsr.embeddings.get_encoder` returns: L2-normalised float32 rows."""

    dim: int

    def encode(self, texts: list[str], batch_size: int = ...) -> np.ndarray: ...


class ItemIndex(Protocol):
    def search(self, queries: np.ndarray, k: int, exclude: Sequence[Iterable[str]] | None = None) -> list[Hits]:
        """Top-`k` (item id, cosine) per query row, best first, never returning ids in that row's `exclude`."""


def _check_queries(queries: np.ndarray, dim: int, exclude: Sequence[Iterable[str]] | None) -> list[set[str]]:
    if queries.ndim != 2 or queries.shape[1] != dim:
        raise ValueError(f"queries must have shape (n, {dim}), got {queries.shape}")
    if exclude is not None and len(exclude) != len(queries):
        raise ValueError(f"exclude has {len(exclude)} entries for {len(queries)} queries")
    return [set(ids) for ids in exclude] if exclude is not None else [set() for _ in range(len(queries))]


class ExactIndex:
    """Exact cosine search over L2-normalised item vectors (one matmul + topk)."""

    def __init__(self, item_ids: Sequence[str], vectors: np.ndarray, device: str = "cpu") -> None:
        if len(item_ids) != len(vectors):
            raise ValueError(f"{len(item_ids)} item ids for {len(vectors)} vectors")
        self.item_ids = list(item_ids)
        self.position = {item: i for i, item in enumerate(self.item_ids)}
        self.vectors = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32)).to(device)

    def search(self, queries: np.ndarray, k: int, exclude: Sequence[Iterable[str]] | None = None) -> list[Hits]:
        excluded = _check_queries(queries, self.vectors.shape[1], exclude)
        scores = torch.from_numpy(np.asarray(queries, dtype=np.float32)).to(self.vectors.device) @ self.vectors.T
        for row, ids in enumerate(excluded):
            scores[row, [self.position[i] for i in ids if i in self.position]] = -torch.inf
        values, indices = scores.topk(min(k, len(self.item_ids)), dim=1)
        return [
            [(self.item_ids[i], float(v)) for v, i in zip(vals, idxs) if v != -torch.inf]
            for vals, idxs in zip(values.tolist(), indices.tolist())
        ]


class ChromaIndex:
    """A persistent Chroma collection of item vectors, searched with caller-supplied query embeddings."""

    def __init__(self, collection, dim: int) -> None:
        self.collection, self.dim = collection, dim

    @classmethod
    def open_or_build(
        cls, path: str | Path, name: str, item_ids: Sequence[str], vectors: np.ndarray, fingerprint: str
    ) -> "ChromaIndex":
        """Reuse collection `name` under `path` when its fingerprint matches; otherwise (re)build it."""
        import chromadb

        client = chromadb.PersistentClient(path=str(path))
        name = collection_name(name)
        existing = {c.name for c in client.list_collections()}
        if name in existing:
            collection = client.get_collection(name, embedding_function=None)
            if (collection.metadata or {}).get("fingerprint") == fingerprint and collection.count() == len(item_ids):
                return cls(collection, vectors.shape[1])
            logger.info("Chroma collection %s is stale; rebuilding", name)
            client.delete_collection(name)
        collection = client.create_collection(
            name, configuration={"hnsw": dict(HNSW_CONFIGURATION)}, metadata={"fingerprint": fingerprint},
            embedding_function=None,
        )
        step = client.get_max_batch_size()
        for start in range(0, len(item_ids), step):
            collection.add(ids=list(item_ids[start:start + step]), embeddings=vectors[start:start + step])
        return cls(collection, vectors.shape[1])

    def search(self, queries: np.ndarray, k: int, exclude: Sequence[Iterable[str]] | None = None) -> list[Hits]:
        excluded = _check_queries(queries, self.dim, exclude)
        n_results = min(k + max((len(ids) for ids in excluded), default=0), self.collection.count())
        reply = self.collection.query(query_embeddings=np.asarray(queries, dtype=np.float32), n_results=n_results,
                                      include=["distances"])
        return [
            [(item, 1.0 - distance) for item, distance in zip(ids, distances) if item not in skip][:k]
            for ids, distances, skip in zip(reply["ids"], reply["distances"], excluded)
        ]


def collection_name(name: str) -> str:
    """A valid Chroma collection name (3-512 chars of [a-zA-Z0-9._-], alphanumeric at both ends)."""
    cleaned = re.sub(r"[^a-zA-Z0-9._-]+", "-", name).strip("._-")
    return (cleaned + "-idx")[:512] if len(cleaned) < 3 else cleaned[:512]


def fingerprint(encoder_name: str, item_ids: Sequence[str], texts: Sequence[str]) -> str:
    """Hash of the encoder name and every (item id, text) pair: a change of either rebuilds the index."""
    digest = hashlib.sha256(encoder_name.encode("utf-8"))
    digest.update(json.dumps(list(zip(item_ids, texts)), ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()[:16]


def encode_quietly(encoder: TextEncoder, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Encode without a progress bar when the encoder offers `show_progress` (query batches are small)."""
    if "show_progress" in inspect.signature(encoder.encode).parameters:
        return np.asarray(encoder.encode(list(texts), batch_size=batch_size, show_progress=False), dtype=np.float32)
    return np.asarray(encoder.encode(list(texts), batch_size=batch_size), dtype=np.float32)


def item_vectors(
    encoder: TextEncoder, texts: Sequence[str], cache_file: Path | None = None, batch_size: int = 256
) -> np.ndarray:
    """Encode item texts, or load them from `cache_file` (`.npy`) written by an earlier call."""
    if cache_file is not None and cache_file.is_file():
        vectors = np.load(cache_file, allow_pickle=False)
        if vectors.shape == (len(texts), encoder.dim):
            return vectors
        logger.info("%s has shape %s, expected %s; re-encoding", cache_file, vectors.shape, (len(texts), encoder.dim))
    vectors = np.asarray(encoder.encode(list(texts), batch_size=batch_size), dtype=np.float32)
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache_file, vectors, allow_pickle=False)
    return vectors


def build_index(
    kind: str,
    item_ids: Sequence[str],
    texts: Sequence[str],
    encoder: TextEncoder,
    encoder_name: str,
    cache_dir: Path,
    dataset: str,
) -> ItemIndex:
    """`chroma` or `exact` index over the items, with vectors and collection cached under `cache_dir`."""
    if kind not in ("chroma", "exact"):
        raise ValueError(f"unknown index {kind!r}: use 'chroma' or 'exact'")
    key = fingerprint(encoder_name, item_ids, texts)
    vectors = item_vectors(encoder, texts, cache_dir / f"{dataset}.{collection_name(encoder_name)}.{key}.npy")
    if kind == "exact":
        return ExactIndex(item_ids, vectors)
    return ChromaIndex.open_or_build(cache_dir / "chroma", f"{dataset}-{encoder_name}", item_ids, vectors, key)
