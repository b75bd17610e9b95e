"""Embedding files: the encoder cache (`.npy` + `.json` id index) and user-supplied `.itememb` atomic files.

Cache layout: ``<sem_embedding_dir>/<dataset>/<encoder>-<fingerprint[:16]>.npy`` holds float32 vectors in the
item order of ``<same>.json`` (``item_ids``), which also records the full fingerprint, the encoder and template
descriptions and the encoding speed. The fingerprint hashes the encoder (name, model path and its file list,
options), the text template and every (item id, item text) pair, so a re-run with the same inputs reuses the
file and any change of template, model, options or item texts encodes again into a new file.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recbole_semsr.embeddings.errors import (
    DuplicateItemError,
    EmbeddingDimensionError,
    ItemFileError,
    NonFiniteEmbeddingError,
)
from recbole_semsr.embeddings.item_file import bom_tolerant

logger = logging.getLogger(__name__)
STORE_FORMAT = 1


@dataclass
class StoredEmbeddings:
    """Vectors (float32 [n, d]) with the raw item id of each row, where they came from, and whether they were
    read from the cache (`reused`) rather than just encoded."""

    item_ids: list[str]
    vectors: np.ndarray
    source: str
    meta: dict[str, Any] = field(default_factory=dict)
    reused: bool = False


def cache_fingerprint(encoder: dict[str, Any], template: dict[str, Any], item_ids: Sequence[str], texts: Sequence[str]) -> str:
    """SHA-256 over the encoder and template descriptions and every (item id, text) pair."""
    digest = hashlib.sha256()
    header = {"format": STORE_FORMAT, "encoder": encoder, "template": template}
    digest.update(json.dumps(header, sort_keys=True, default=str).encode("utf-8"))
    for item_id, text in zip(item_ids, texts, strict=True):
        digest.update(item_id.encode("utf-8") + b"\x00" + text.encode("utf-8") + b"\x01")
    return digest.hexdigest()


def validate_vectors(item_ids: Sequence[str], vectors: np.ndarray, source: str) -> None:
    """Shape [len(item_ids), d] with d > 0, unique ids, finite values; raises the matching `EmbeddingError`."""
    if vectors.ndim != 2 or vectors.shape[0] != len(item_ids) or vectors.shape[1] == 0:
        raise EmbeddingDimensionError(f"{source}: vectors of shape {vectors.shape} for {len(item_ids)} item ids")
    seen: dict[str, int] = {}
    for row, item_id in enumerate(item_ids):
        if item_id in seen:
            raise DuplicateItemError(f"{source}: item {item_id!r} appears at rows {seen[item_id]} and {row}")
        seen[item_id] = row
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        examples = ", ".join(repr(item_ids[row]) for row in bad[:5])
        raise NonFiniteEmbeddingError(f"{source}: {bad.size} vectors contain NaN or infinity (items {examples})")


class EmbeddingStore:
    """Cache of encoded item vectors under one root folder, one file pair per (dataset, encoder, fingerprint)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def paths(self, dataset: str, encoder: str, digest: str) -> tuple[Path, Path]:
        """(.npy, .json) paths of one cache entry."""
        stem = self.root / dataset / f"{encoder}-{digest[:16]}"
        return stem.with_suffix(".npy"), stem.with_suffix(".json")

    def load(self, dataset: str, encoder: str, digest: str) -> StoredEmbeddings | None:
        """The cached entry whose fingerprint is `digest`, or None when there is none."""
        npy_path, index_path = self.paths(dataset, encoder, digest)
        if not (npy_path.is_file() and index_path.is_file()):
            return None
        meta = json.loads(index_path.read_text(encoding="utf-8"))
        if meta.get("fingerprint") != digest:
            return None
        vectors = np.load(npy_path, allow_pickle=False)
        item_ids = meta.pop("item_ids")
        validate_vectors(item_ids, vectors, str(npy_path))
        return StoredEmbeddings(item_ids=item_ids, vectors=vectors, source=str(npy_path), meta=meta, reused=True)

    def save(
        self, dataset: str, encoder: str, digest: str, item_ids: Sequence[str], vectors: np.ndarray, meta: dict[str, Any]
    ) -> StoredEmbeddings:
        """Write an entry atomically (vectors first, index last) and return it."""
        npy_path, index_path = self.paths(dataset, encoder, digest)
        validate_vectors(item_ids, vectors, f"vectors for {npy_path}")
        npy_path.parent.mkdir(parents=True, exist_ok=True)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        index = {**meta, "fingerprint": digest, "dim": int(vectors.shape[1]), "item_ids": list(item_ids)}
        _atomic_write(npy_path, lambda handle: np.save(handle, vectors, allow_pickle=False))
        _atomic_write(index_path, lambda handle: handle.write(json.dumps(index, indent=1).encode("utf-8")))
        logger.info(f"wrote {len(item_ids)} item vectors to {npy_path}")
        index.pop("item_ids")
        return StoredEmbeddings(item_ids=list(item_ids), vectors=vectors, source=str(npy_path), meta=index)


def _atomic_write(path: Path, write: Any) -> None:
    temporary = path.with_name(path.name + f".tmp{os.getpid()}")
    with temporary.open("wb") as handle:
        write(handle)
    os.replace(temporary, path)


def read_itememb(
    path: str | Path, item_field: str = "item_id", seq_separator: str = " ", encoding: str = "utf-8"
) -> StoredEmbeddings:
    """Read a RecBole `.itememb` atomic file: `item_id:token<TAB><name>:float_seq`, one item per line.

    Errors name the file and line: wrong header, rows of different dimension, unparsable or non-finite
    numbers, duplicate ids.
    """
    path = Path(path)
    if not path.is_file():
        raise ItemFileError(f"embedding file {path} not found (sem_embedding_file)")
    item_ids: list[str] = []
    rows: list[list[float]] = []
    first_line: dict[str, int] = {}
    with path.open(encoding=bom_tolerant(encoding)) as handle:
        header = handle.readline().rstrip("\r\n").split("\t")
        if len(header) != 2 or header[0] != f"{item_field}:token" or not header[1].endswith(":float_seq"):
            raise ItemFileError(
                f"{path}, line 1: expected header '{item_field}:token<TAB><name>:float_seq', got {header}"
            )
        for line_number, line in enumerate(handle, start=2):
            if not line.strip():
                continue
            item_id, values = _parse_itememb_line(line, seq_separator, f"{path}, line {line_number}")
            if item_id in first_line:
                raise DuplicateItemError(
                    f"{path}, line {line_number}: item {item_id!r} already defined on line {first_line[item_id]}"
                )
            if rows and len(values) != len(rows[0]):
                raise EmbeddingDimensionError(
                    f"{path}, line {line_number}: {len(values)} values, but line 2 has {len(rows[0])}"
                )
            if not np.isfinite(values).all():
                raise NonFiniteEmbeddingError(f"{path}, line {line_number}: item {item_id!r} has NaN or infinity")
            first_line[item_id] = line_number
            item_ids.append(item_id)
            rows.append(values)
    if not rows:
        raise ItemFileError(f"{path}: no embedding rows after the header")
    return StoredEmbeddings(item_ids=item_ids, vectors=np.asarray(rows, dtype=np.float32), source=str(path))


def _parse_itememb_line(line: str, seq_separator: str, where: str) -> tuple[str, list[float]]:
    cells = line.rstrip("\r\n").split("\t")
    if len(cells) != 2 or not cells[0].strip():
        raise ItemFileError(f"{where}: expected 'item id<TAB>values', found {len(cells)} fields")
    try:
        values = [float(value) for value in cells[1].split(seq_separator) if value.strip()]
    except ValueError as exc:
        raise ItemFileError(f"{where}: values must be floats separated by {seq_separator!r} ({exc})") from exc
    if not values:
        raise EmbeddingDimensionError(f"{where}: no values")
    return cells[0].strip(), values
