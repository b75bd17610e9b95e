"""The rank of each evaluation sample's target, as every result record stores it for paired significance tests and
breakdowns.

A rank is 1-based over all items, as full ranking sees them (the padding item, and the session's own items under
`exclude_session_items`, never rank). Inside the top ``max_k`` it is the position in `torch.topk`'s list, the list
RecBole's metrics read, so Recall@K and MRR@K computed from the ranks equal RecBole's for every K <= max_k. Below it
is 1 + the number of items scored strictly higher (at least max_k + 1). A "+" row re-orders each top-K list, so its
ranks are stored per K: the position in the re-ordered top-K list, 0 when the target is not in it.

Stored form (JSON): ``{"format": "uint32-zlib-base64", "targets_sha256": ..., "all": ARRAY}`` or ``..., "at_k":
{"20": ARRAY, ...}}`` where ARRAY is ``{"count": n, "data": base64(zlib(little-endian uint32))}``; the samples are in
the order of the evaluation file, whose targets hash to ``targets_sha256``.
"""
from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Any, Iterable

import numpy as np
import torch

RANK_FORMAT = "uint32-zlib-base64"


def target_ranks(scores: torch.Tensor, targets: torch.Tensor, max_k: int) -> torch.Tensor:
    """1-based rank of each target in ``scores`` [B, n_items] (see the module docstring for ties and the tail)."""
    targets = targets.to(scores.device).view(-1, 1)
    top = scores.topk(max_k, dim=1).indices
    found = top == targets
    position = found.float().argmax(dim=1) + 1
    higher = (scores > scores.gather(1, targets)).sum(dim=1) + 1
    return torch.where(found.any(dim=1), position, higher.clamp(min=max_k + 1)).cpu()


def encode_array(values: np.ndarray) -> dict[str, Any]:
    """``{"count", "data"}``: non-negative integers as compressed little-endian uint32, base64 text."""
    array = np.asarray(values)
    if array.size and (array.min() < 0 or array.max() >= 2**32):
        raise ValueError("ranks must be non-negative 32-bit integers")
    raw = array.astype("<u4").tobytes()
    return {"count": int(array.size), "data": base64.b64encode(zlib.compress(raw, 9)).decode("ascii")}


def decode_array(stored: dict[str, Any]) -> np.ndarray:
    """The integers of :func:`encode_array` (int64)."""
    values = np.frombuffer(zlib.decompress(base64.b64decode(stored["data"])), dtype="<u4").astype(np.int64)
    if len(values) != stored["count"]:
        raise ValueError(f"stored ranks hold {len(values)} values, the record says {stored['count']}")
    return values


def targets_sha256(targets: Iterable[str]) -> str:
    """SHA-256 of the evaluation targets (raw item ids, one per line, in sample order)."""
    digest = hashlib.sha256()
    for target in targets:
        digest.update(f"{target}\n".encode("utf-8"))
    return digest.hexdigest()


def stored_full_ranks(ranks: np.ndarray, targets_hash: str) -> dict[str, Any]:
    """The record entry of a plain model's ranks."""
    return {"format": RANK_FORMAT, "targets_sha256": targets_hash, "all": encode_array(ranks)}


def stored_ranks_at_k(ranks_by_k: dict[int, np.ndarray], targets_hash: str) -> dict[str, Any]:
    """The record entry of a "+" row: the rank inside each re-ordered top-K list (0 = absent)."""
    return {"format": RANK_FORMAT, "targets_sha256": targets_hash,
            "at_k": {str(k): encode_array(ranks) for k, ranks in sorted(ranks_by_k.items())}}


def ranks_at(stored: dict[str, Any], k: int) -> np.ndarray:
    """Per sample: the target's 1-based position in the top-``k`` list, 0 when it is not in it."""
    if stored.get("format") != RANK_FORMAT:
        raise ValueError(f"unknown rank format {stored.get('format')!r}, expected {RANK_FORMAT}")
    if "all" in stored:
        ranks = decode_array(stored["all"])
        return np.where(ranks <= k, ranks, 0)
    if str(k) not in stored["at_k"]:
        raise ValueError(f"ranks are stored at K = {', '.join(stored['at_k'])} only, not at {k}")
    return decode_array(stored["at_k"][str(k)])
