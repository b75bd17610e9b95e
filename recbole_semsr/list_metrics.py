"""Metrics of the top-K lists themselves rather than of the targets: item coverage and average popularity.

RecBole's `ItemCoverage` and `AveragePopularity` fail in its full-ranking collector (it calls `.cpu()` on the
integer item count), so the trainer computes them here from the same scores its top-K lists come from.

* coverage@K: the share of the dataset's items (the padding item excluded) that appear in at least one top-K list;
* average popularity@K: the mean, over samples, of the mean training popularity of the K items recommended, an
  item's popularity being the number of training samples whose target it is (RecBole's definition).
"""
from __future__ import annotations

import numpy as np
import torch


class TopKListStatistics:
    """Accumulates coverage and popularity of the top-K lists of an evaluation, batch by batch."""

    def __init__(self, popularity: np.ndarray, ks: list[int]) -> None:
        self.popularity = torch.as_tensor(popularity, dtype=torch.float64)
        self.ks = sorted(ks)
        self.covered = {k: torch.zeros(len(popularity), dtype=torch.bool) for k in self.ks}
        self.popularity_sums = {k: 0.0 for k in self.ks}
        self.samples = 0

    def add(self, scores: torch.Tensor) -> None:
        """One batch of scores [B, n_items] as ranked (padding and masked items at -inf)."""
        top = scores.topk(self.ks[-1], dim=1).indices.cpu()
        for k in self.ks:
            head = top[:, :k]
            self.covered[k][head.reshape(-1)] = True
            self.popularity_sums[k] += float(self.popularity[head].mean(dim=1).sum())
        self.samples += len(top)

    def result(self) -> dict[str, float]:
        """``coverage@K`` and ``averagepopularity@K`` for every K (rounded as RecBole rounds its metrics)."""
        n_items = len(self.popularity) - 1
        out = {}
        for k in self.ks:
            out[f"coverage@{k}"] = round(float(self.covered[k][1:].sum()) / n_items, 6)
            out[f"averagepopularity@{k}"] = round(self.popularity_sums[k] / max(self.samples, 1), 6)
        return out


def training_popularity(train_dataset) -> np.ndarray:
    """Per internal item id: how many training samples have it as their target (index 0, padding, is 0)."""
    counts = np.zeros(train_dataset.item_num, dtype=np.int64)
    targets = train_dataset.inter_feat[train_dataset.iid_field].numpy()
    np.add.at(counts, targets, 1)
    return counts
