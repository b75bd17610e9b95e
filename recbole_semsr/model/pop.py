"""POP: every session gets the items ranked by their number of training events."""
from __future__ import annotations

import numpy as np

from recbole_semsr.data.training_sessions import TrainingSessions
from recbole_semsr.model.nonneural import NonNeuralSessionModel, item_event_counts


class POP(NonNeuralSessionModel):
    """Popularity: score(i) = number of events of i in the training sessions, the same for every session."""

    def fit(self, sessions: TrainingSessions, config) -> None:
        self.counts = item_event_counts(sessions).astype(np.float32)

    def score(self, item_seq: np.ndarray, item_seq_len: np.ndarray) -> np.ndarray:
        return np.repeat(self.counts[None, :], len(item_seq), axis=0)
