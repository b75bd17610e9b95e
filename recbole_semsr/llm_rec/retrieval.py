"""Map a generated title to catalogue items by cosine similarity (paper section 3.2, "LLM Inference").

Two indexes with one `search` interface:
- `ChromaIndex`: a persistent Chroma collection (cosine space; HNSW `ef_construction=200`, `ef_search=400`, which
  docs/dependencies.md records at ~0.94 recall@100 against exact search where the defaults gave 0.16-0.59), built
  once per set of item vectors. Only caller-supplied embeddings are used (`query_texts` would try a download).
  It needs the `[llm]` extra (chromadb); without it, one line names `pip install "recbole-semsr[llm]"`.
- `ExactIndex`: exact in-memory search (torch matmul + topk).
The item vectors come from the Sem models' embedding store (`recbole_semsr.embeddings`), so both encode the same
item text once.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import logging
import re
from pathlib import Path
from types import ModuleType
from typing import Iterable, Protocol, Sequence

import numpy as np
import torch

from recbole_semsr.compat import require_extra
from recbole_semsr.embeddings.encoders import TextEncoder

logger = logging.getLogger(__name__)
HNSW_CONFIGURATION = {"space": "cosine", "ef_construction": 200, "ef_search": 400}
Hits = list[tuple[str, float]]


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
        chromadb = chromadb_module()
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


def chromadb_module() -> ModuleType:
    """chromadb, from the `[llm]` extra; without it `MissingExtraError` names the `pip install` command."""
    return require_extra("chromadb", "llm", "--index=chroma")


def collection_name(name: str) -> str:
    """A valid Chroma collection name (3-512 chars of [a-zA-Z0-9._-], alphanumeric at both ends)."""
    cleaned = re.sub(r"[^a-zA-Z0-9._-]+", "-", name).strip("._-")
    return (cleaned + "-idx")[:512] if len(cleaned) < 3 else cleaned[:512]


def index_fingerprint(item_ids: Sequence[str], vectors: np.ndarray) -> str:
    """Hash of the item ids and their vectors: any change of either rebuilds the Chroma collection."""
    digest = hashlib.sha256(json.dumps(list(item_ids), ensure_ascii=False).encode("utf-8"))
    digest.update(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
    return digest.hexdigest()[:16]


def encode_quietly(encoder: TextEncoder, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Encode without a progress bar when the encoder offers `show_progress` (query batches are small)."""
    if "show_progress" in inspect.signature(encoder.encode).parameters:
        return np.asarray(encoder.encode(list(texts), batch_size=batch_size, show_progress=False), dtype=np.float32)
    return np.asarray(encoder.encode(list(texts), batch_size=batch_size), dtype=np.float32)


def build_index(kind: str, item_ids: Sequence[str], vectors: np.ndarray, cache_dir: Path, name: str) -> ItemIndex:
    """`chroma` (a collection `name` persisted under `cache_dir/chroma`) or `exact` index over the item vectors."""
    if kind not in ("chroma", "exact"):
        raise ValueError(f"unknown index {kind!r}: use 'chroma' or 'exact'")
    if kind == "exact":
        return ExactIndex(item_ids, vectors)
    return ChromaIndex.open_or_build(cache_dir / "chroma", name, item_ids, vectors,
                                     index_fingerprint(item_ids, vectors))
