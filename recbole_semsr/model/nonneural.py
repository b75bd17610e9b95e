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

    Subclasses implement `fit(sessions, config)` (reading their hyperparameters from `config`) and `score(item_seq, item_seq_len) -> [B, n_items]` (numpy, >= 0, 0 meaning
    "no evidence"). The model is built from the TRAINING dataset only (RecBole hands `train_data.dataset` to every
    model), so rebuilding it from the same split reproduces it exactly: checkpoints hold no fitted state.

    With `fallback_popularity` (default on) the items a model gives no score follow the scored ones, by training
    popularity: scored items keep their score (> 0), the others get popularity / (max + 1) - 1, in [-1, 0).
    """

    input_type = InputType.POINTWISE
    trains_with_gradients = False

    def __init__(self, config, dataset) -> None:
        super().__init__(config, dataset)
        start = perf_counter()
        sessions = training_sessions(dataset)
        self.fallback = self.popularity_fallback(sessions) if config["fallback_popularity"] else None
        self.fit(sessions, config)
        self.fit_seconds = perf_counter() - start

    def fit(self, sessions: TrainingSessions, config) -> None:
        raise NotImplementedError

    def score(self, item_seq: np.ndarray, item_seq_len: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def popularity_fallback(self, sessions: TrainingSessions) -> np.ndarray:
        """[n_items] values in [-1, 0) ordered by the number of training events of each item."""
        counts = item_event_counts(sessions)
        return (counts / (counts.max() + 1.0) - 1.0).astype(np.float32)

    def full_sort_predict(self, interaction) -> torch.Tensor:
        """[B, n_items] scores of every item."""
        item_seq = interaction[self.ITEM_SEQ]
        scores = self.score(item_seq.cpu().numpy(), interaction[self.ITEM_SEQ_LEN].cpu().numpy())
        if self.fallback is not None:
            scores = np.where(scores > 0, scores, self.fallback[None, :])
        return torch.from_numpy(np.ascontiguousarray(scores, dtype=np.float32)).to(item_seq.device)

    def predict(self, interaction) -> torch.Tensor:
        """[B] score of each row's candidate item."""
        scores = self.full_sort_predict(interaction)
        return scores.gather(1, interaction[self.ITEM_ID].view(-1, 1)).squeeze(1)

    def calculate_loss(self, interaction) -> torch.Tensor:
        raise TypeError(f"{type(self).__name__} is fitted when it is built and has no training loss")


def item_event_counts(sessions: TrainingSessions) -> np.ndarray:
    """[n_items] number of training events of each item (id 0, the padding, counts 0)."""
    _, _, items = sessions.events()
    return np.bincount(items, minlength=sessions.n_items).astype(np.float64)


def last_items(item_seq: np.ndarray, item_seq_len: np.ndarray) -> np.ndarray:
    """[B] the most recent item of each session."""
    return item_seq[np.arange(len(item_seq)), item_seq_len - 1]
