"""Weighted hybrids: two trained models' scores, each normalised per session, mixed with a weight chosen on
validation (session-rec's WeightedHybrid, with a per-session normalisation).

``X~R`` scores every item by ``(1 - w) * norm(s_X) + w * norm(s_R)``, where ``norm`` maps each session's scores
linearly onto [0, 1] (min-max over the items that can be ranked: the padding item, and the session's own items
under `exclude_session_items`, stay at -inf). The weight ``w`` is the one of `hybrid_weights` (default 0, 0.1, ...,
1) with the best validation `hybrid_metric` (default: `valid_metric`); only that weight is evaluated on test. w = 0
is X alone and w = 1 is R alone, so on validation the hybrid is never worse than either.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from recbole_semsr.list_metrics import TopKListStatistics
from recbole_semsr.rerank import mask_session_items, rank_metrics
from recbole_semsr.sample_ranks import target_ranks

SEPARATOR = "~"


def hybrid_name(model: str, other: str) -> str:
    """``X~R``."""
    return f"{model}{SEPARATOR}{other}"


def split_hybrid_name(name: str) -> tuple[str, str | None]:
    """``X~R`` -> (X, R); any other name -> (name, None)."""
    if SEPARATOR not in name:
        return name, None
    base, other = name.split(SEPARATOR, 1)
    if not base or not other:
        raise ValueError(f"{name}: a hybrid is named MODEL{SEPARATOR}MODEL")
    return base, other


def normalised(scores: torch.Tensor) -> torch.Tensor:
    """Each row mapped linearly onto [0, 1] over its finite entries (-inf stays -inf; a constant row becomes 0)."""
    finite = torch.isfinite(scores)
    low = torch.where(finite, scores, torch.inf).min(dim=1, keepdim=True).values
    high = torch.where(finite, scores, -torch.inf).max(dim=1, keepdim=True).values
    spread = (high - low).clamp(min=torch.finfo(scores.dtype).tiny)
    return torch.where(finite, (scores - low) / spread, -torch.inf)


def fused(first: torch.Tensor, second: torch.Tensor, weight: float) -> torch.Tensor:
    """``(1 - weight) * first + weight * second`` of already normalised scores, -inf where either is -inf."""
    mixed = (1.0 - weight) * first.nan_to_num(neginf=0.0) + weight * second.nan_to_num(neginf=0.0)
    return torch.where(torch.isfinite(first) & torch.isfinite(second), mixed, -torch.inf)


@dataclass
class WeightResult:
    """One weight's metrics@K and each sample's rank (full ranking over the fused scores)."""

    metrics: dict[str, float]
    ranks: np.ndarray


def evaluate_hybrid(model, other, eval_data, ks: list[int], weights: list[float], device: torch.device,
                    exclude_session_items: bool = False,
                    popularity: np.ndarray | None = None) -> dict[float, WeightResult]:
    """Metrics of the fused scores at every weight, over a RecBole full-sort loader, in one pass over the data; with
    ``popularity``, coverage and average popularity of the fused lists too."""
    model.eval()
    other.eval()
    ranks: dict[float, list[torch.Tensor]] = {weight: [] for weight in weights}
    lists = {weight: TopKListStatistics(popularity, ks) for weight in weights} if popularity is not None else {}
    with torch.no_grad():
        for interaction, _, _, targets in eval_data:
            interaction = interaction.to(device)
            first = session_scores(model, interaction, len(targets), exclude_session_items)
            second = session_scores(other, interaction, len(targets), exclude_session_items)
            for weight in weights:
                scores = fused(first, second, weight)
                ranks[weight].append(target_ranks(scores, targets, max(ks)))
                if lists:
                    lists[weight].add(scores)
    results = {}
    for weight, parts in ranks.items():
        found = torch.cat(parts).numpy()
        metrics = {key: value for k in ks for key, value in rank_metrics(np.where(found <= k, found, 0), k).items()}
        results[weight] = WeightResult({**metrics, **(lists[weight].result() if lists else {})}, found)
    return results


def session_scores(model, interaction, batch_size: int, exclude_session_items: bool) -> torch.Tensor:
    """A model's normalised scores [B, n_items]: padding at -inf, the session's own items too when excluded."""
    scores = model.full_sort_predict(interaction).view(batch_size, -1).float()
    scores[:, 0] = -torch.inf
    if exclude_session_items:
        mask_session_items(scores, interaction[model.ITEM_SEQ])
    return normalised(scores)


def choose_weight(valid: dict[float, WeightResult], metric: str) -> float:
    """The weight with the best validation ``metric`` (ties: the smallest weight, the one closest to X alone)."""
    key = metric.lower()
    if any(key not in result.metrics for result in valid.values()):
        raise ValueError(f"hybrid_metric {metric} is not computed; it must be one of the topk metrics "
                         f"({', '.join(sorted(next(iter(valid.values())).metrics))})")
    best = max(result.metrics[key] for result in valid.values())
    return min(weight for weight, result in valid.items() if result.metrics[key] == best)
