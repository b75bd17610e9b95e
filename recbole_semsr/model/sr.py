"""SR: sequential rules (Ludewig & Jannach, "Evaluation of session-based recommendation algorithms", UMUAI 2018)."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recbole_semsr.data.training_sessions import TrainingSessions
from recbole_semsr.model.nonneural import NonNeuralSessionModel, last_items


class SR(NonNeuralSessionModel):
    """Sequential rules a -> b, mined from the training sessions and applied to the session's last item.

    Each time b follows a at a distance of d <= `sr_steps` events in a training session, the rule a -> b gains
    w(d) = 1 / d. Each item keeps its `sr_pruning` strongest rules (0 keeps all). A session s is scored by the
    rules of its last item: score(b | s) = w(s_last -> b).
    """

    def fit(self, sessions: TrainingSessions, config) -> None:
        self.rules = keep_strongest_per_row(rule_weights(sessions, int(config["sr_steps"])), int(config["sr_pruning"]))

    def score(self, item_seq: np.ndarray, item_seq_len: np.ndarray) -> np.ndarray:
        return self.rules[last_items(item_seq, item_seq_len)].toarray()


def rule_weights(sessions: TrainingSessions, steps: int) -> sp.csr_matrix:
    """[n_items, n_items] sum over training sessions of 1 / d for every pair (a at t - d, b at t), 1 <= d <= steps."""
    rows, cols, values = [], [], []
    for distance in range(1, steps + 1):
        later = np.arange(sessions.items.shape[1]) >= distance
        valid = later & (np.arange(sessions.items.shape[1]) < sessions.lengths[:, None])
        session, position = np.nonzero(valid)
        rows.append(sessions.items[session, position - distance])
        cols.append(sessions.items[session, position])
        values.append(np.full(len(session), 1.0 / distance))
    shape = (sessions.n_items, sessions.n_items)
    return sp.coo_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=shape).tocsr()


def keep_strongest_per_row(matrix: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """Each row's `keep` largest entries (ties: the lower column first); `keep` = 0 keeps every entry."""
    matrix.sum_duplicates()
    if keep <= 0:
        return matrix
    coo = matrix.tocoo()
    order = np.lexsort((coo.col, -coo.data, coo.row))
    row_sorted = coo.row[order]
    rank = np.arange(len(order)) - np.searchsorted(row_sorted, row_sorted)
    kept = order[rank < keep]
    return sp.csr_matrix((coo.data[kept], (coo.row[kept], coo.col[kept])), shape=matrix.shape)
