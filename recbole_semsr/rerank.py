"""The "+" variants: each top-K list of a model reordered by a second model's scores (SemSR-F+ / SemSR-I+).

The set of items in every top-K list is the first model's, so Recall@K never changes and only MRR@K moves.
Metrics@K are computed per K on the first model's own top-K set (docs/paper_notes.md, Table 2). Any model can re-rank,
the non-neural baselines included: `X+` is X re-ranked by NISER (the paper's "+"), `X+R` by model R. Ties in the
re-ranker's scores keep the first model's order (a stable sort).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from recbole_semsr.config import SemSRConfig, dataset_root, package_yaml_files
from recbole_semsr.model import get_model
from recbole_semsr.provenance import check_checkpoint_data, data_provenance, load_weights, read_checkpoint


DEFAULT_RERANKER = "NISER"


def plus_name(model: str, reranker: str) -> str:
    """`X+` when re-ranked by NISER (the paper's "+"), else `X+<reranker>`."""
    return f"{model}+" if reranker == DEFAULT_RERANKER else f"{model}+{reranker}"


def split_plus_name(name: str) -> tuple[str, str | None]:
    """`X` -> (X, None); `X+` -> (X, NISER); `X+R` -> (X, R)."""
    if "+" not in name:
        return name, None
    base, reranker = name.split("+", 1)
    return base, reranker or DEFAULT_RERANKER


def reranked_hits(scores: torch.Tensor, rerank_scores: torch.Tensor, targets: torch.Tensor, k: int) -> torch.Tensor:
    """1-based rank of each target inside the top-`k` of `scores` reordered by `rerank_scores`; 0 when absent."""
    top = scores.topk(k, dim=1).indices
    order = rerank_scores.gather(1, top).argsort(dim=1, descending=True, stable=True)
    reordered = top.gather(1, order)
    found = reordered == targets.unsqueeze(1)
    return torch.where(found.any(dim=1), found.float().argmax(dim=1) + 1, torch.zeros_like(targets))


@torch.no_grad()
def mask_session_items(scores: torch.Tensor, item_seq: torch.Tensor) -> torch.Tensor:
    """`scores` [B, n_items] with the items of each session (`item_seq` [B, L], 0-padded) set to -inf, in place."""
    return scores.scatter_(1, item_seq.to(scores.device), -torch.inf)


@dataclass
class RerankedEvaluation:
    """Metrics@K of the re-ordered top-K lists, and each sample's rank inside them (0 = not in the list)."""

    metrics: dict[str, float]
    ranks: dict[int, np.ndarray]


def evaluate_reranked(model, reranker, eval_data, ks: list[int], device: torch.device,
                      exclude_session_items: bool = False) -> RerankedEvaluation:
    """Recall@K, MRR@K, NDCG@K and Hit@K of `model`'s top-K lists reordered by `reranker`, over a RecBole full-sort
    loader (with `exclude_session_items`, the session's own items never enter a top-K list)."""
    model.eval()
    reranker.eval()
    ranks: dict[int, list[torch.Tensor]] = {k: [] for k in ks}
    for interaction, _, _, targets in eval_data:
        interaction = interaction.to(device)
        scores = model.full_sort_predict(interaction).view(len(targets), -1)
        rerank_scores = reranker.full_sort_predict(interaction).view(len(targets), -1)
        scores[:, 0] = -torch.inf
        rerank_scores[:, 0] = -torch.inf
        if exclude_session_items:
            mask_session_items(scores, interaction[model.ITEM_SEQ])
        for k in ks:
            ranks[k].append(reranked_hits(scores, rerank_scores, targets.to(device), k).cpu())
    by_k = {k: torch.cat(parts).numpy() for k, parts in ranks.items()}
    return RerankedEvaluation({key: value for k, found in by_k.items() for key, value in rank_metrics(found, k).items()},
                              by_k)


def rank_metrics(ranks: np.ndarray, k: int) -> dict[str, float]:
    """Recall (= Hit: one target per sample), MRR and NDCG at `k` from 1-based ranks inside the top-k (0 = absent)."""
    hits = ranks > 0
    safe = np.maximum(ranks, 1)
    reciprocal = np.where(hits, 1.0 / safe, 0.0)
    gain = np.where(hits, 1.0 / np.log2(safe + 1.0), 0.0)
    recall = round(float(hits.mean()), 6)
    return {f"recall@{k}": recall, f"mrr@{k}": round(float(reciprocal.mean()), 6),
            f"ndcg@{k}": round(float(gain.mean()), 6), f"hit@{k}": recall}


def load_reranker(checkpoint: str | Path, config: SemSRConfig, dataset,
                  mismatches: list[str] | None = None) -> torch.nn.Module:
    """The model saved in `checkpoint` (a runner checkpoint), rebuilt with its own hyperparameters.

    A checkpoint trained on other data than `dataset` is refused unless `allow_split_mismatch`; the differences
    it let through are appended to `mismatches`.
    """
    state = read_checkpoint(checkpoint, config["device"])
    allowed = check_checkpoint_data(state, checkpoint, data_provenance(config, dataset),
                                    bool(config["allow_split_mismatch"]))
    if mismatches is not None:
        mismatches.extend(allowed)
    saved_config = state["config"]
    model_class = get_model(saved_config["model"])
    own_keys = model_yaml_keys(model_class, config["dataset"])
    overrides = {key: saved_config[key] for key in own_keys if key in saved_config}
    rebuilt = SemSRConfig(model_class, config["dataset"],
                          config_dict={**overrides, "data_path": str(dataset_root(config))})
    reranker = model_class(rebuilt, dataset).to(config["device"])
    load_weights(reranker, state["state_dict"], checkpoint)
    if reranker.n_items != dataset.item_num:
        raise ValueError(f"{checkpoint}: reranker has {reranker.n_items} items, the dataset {dataset.item_num}")
    return reranker


def model_yaml_keys(model_class: type, dataset: str) -> set[str]:
    """The keys a model's own YAML files set (not overall.yaml nor the dataset's)."""
    keys: set[str] = set()
    for path in package_yaml_files(model_class, dataset):
        if path.parent.name == "model":
            keys |= set(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return keys


def rerank_source(spec: str) -> tuple[str, Any]:
    """('checkpoint', path) for an existing file, else ('model', name) of a known model to train first.

    Checked before any work: a path that does not exist, or a name that is no model, is refused.
    """
    path = Path(spec)
    if path.is_file():
        return "checkpoint", path
    if path.suffix or len(path.parts) > 1:
        raise FileNotFoundError(f"rerank_with={spec}: no such checkpoint file")
    get_model(spec)
    return "model", spec
