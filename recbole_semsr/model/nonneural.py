"""Base class of the non-neural session baselines: fitted once on the training sessions, no gradient steps."""
from __future__ import annotations

from time import perf_counter

import numpy as np
import torch
from recbole.model.abstract_recommender import SequentialRecommender
from recbole.utils import InputType

from recbole_semsr.data.training_sessions import TrainingSessions, training_sessions


class NonNeuralSessionModel(SequentialRecommender):
    """A session recommender fitted in one pass over the whole training sessions when it is built.

    Subclasses implement `fit(sessions, config)` (reading their hyperparameters from `config`) and
    `score(item_seq, item_seq_len) -> [B, n_items]` (numpy, >= 0, 0 meaning "no evidence"). The model is built from
    the TRAINING dataset only (RecBole hands `train_data.dataset` to every model), so rebuilding it from the same
    split reproduces it exactly: checkpoints hold no fitted state.

    Rule and neighbour scores tie often, and `torch.topk` orders ties differently for different K, so the metrics @20
    would depend on the largest K asked for. Ties are therefore broken by training popularity, then by the lower
    item id: every score (float64) gains 1e-9 of its row's largest score times the item's tie rank in (0, 1). With
    `fallback_popularity` (default on) the items without a score follow the scored ones in that same order (they get
    tie rank - 1, in (-1, 0)); without it they stay at 0.
    """

    input_type = InputType.POINTWISE
    trains_with_gradients = False

    def __init__(self, config, dataset) -> None:
        super().__init__(config, dataset)
        start = perf_counter()
        sessions = training_sessions(dataset)
        self.tie_rank = popularity_tie_rank(sessions)
        self.fallback = bool(config["fallback_popularity"])
        self.fit(sessions, config)
        self.fit_seconds = perf_counter() - start

    def fit(self, sessions: TrainingSessions, config) -> None:
        raise NotImplementedError

    def score(self, item_seq: np.ndarray, item_seq_len: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def full_sort_predict(self, interaction) -> torch.Tensor:
        """[B, n_items] scores of every item, without ties (float64)."""
        item_seq = interaction[self.ITEM_SEQ]
        scores = self.score(item_seq.cpu().numpy(), interaction[self.ITEM_SEQ_LEN].cpu().numpy()).astype(np.float64)
        scale = TIE_BREAK * np.maximum(scores.max(axis=1, keepdims=True), np.finfo(np.float32).tiny)
        scored = scores > 0
        broken = np.where(scored, scores + scale * self.tie_rank[None, :], 0.0)
        if self.fallback:
            broken = np.where(scored, broken, self.tie_rank[None, :] - 1.0)
        return torch.from_numpy(broken).to(item_seq.device)

    def predict(self, interaction) -> torch.Tensor:
        """[B] score of each row's candidate item."""
        scores = self.full_sort_predict(interaction)
        return scores.gather(1, interaction[self.ITEM_ID].view(-1, 1)).squeeze(1)

    def calculate_loss(self, interaction) -> torch.Tensor:
        raise TypeError(f"{type(self).__name__} is fitted when it is built and has no training loss")


TIE_BREAK = 1e-9
"""Share of a row's largest score that popularity may add to break ties (float64 keeps 1e-16)."""


def popularity_tie_rank(sessions: TrainingSessions) -> np.ndarray:
    """[n_items] distinct values in (0, 1): higher for more training events, then for the lower item id."""
    counts = item_event_counts(sessions)
    order = np.lexsort((-np.arange(len(counts)), counts))
    rank = np.empty(len(counts))
    rank[order] = np.arange(1, len(counts) + 1)
    return rank / (len(counts) + 1)


def item_event_counts(sessions: TrainingSessions) -> np.ndarray:
    """[n_items] number of training events of each item (id 0, the padding, counts 0)."""
    _, _, items = sessions.events()
    return np.bincount(items, minlength=sessions.n_items).astype(np.float64)


def last_items(item_seq: np.ndarray, item_seq_len: np.ndarray) -> np.ndarray:
    """[B] the most recent item of each session."""
    return item_seq[np.arange(len(item_seq)), item_seq_len - 1]
