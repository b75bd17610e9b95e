"""Session-based nearest neighbours, vectorised over a batch: the engine under VSKNN, STAN and VSTAN.

Every model follows the same four steps, and differs only in the weights of steps 1, 2 and 4:
1. the session s becomes a weighted vector over its distinct items (`query_weights`);
2. its similarity to each training session n is a sparse product with the session-item incidence matrix,
   normalised per model (`normalise_similarity`) and, when the dataset has times, multiplied by a recency weight;
3. the `knn_neighbours` most similar sessions are kept (among the `knn_sample_size` most recent candidates, when the
   dataset has times and the size is > 0);
4. each item i of a neighbour n adds sim(s, n) * w(i | s, n) * (1 + lambda_idf * idf(i)) to its score
   (`neighbour_item_weights`); with `knn_remind: False` the items of s itself get nothing ("remind" in the
   authors' code: on data without repeated items, such as Beauty reviews, recommending them only wastes slots).

Positions are 1-based and refer to an item's LAST occurrence in its session; lengths count events.
"""
from __future__ import annotations

from dataclasses import dataclass
from logging import getLogger

import numpy as np
import scipy.sparse as sp

from recbole_semsr.data.training_sessions import TrainingSessions
from recbole_semsr.model.nonneural import NonNeuralSessionModel

SECONDS_PER_DAY = 86400.0
MAX_TABLE_ENTRIES = 1 << 24
"""Sessions x items entries of one scoring chunk (64 MB of float32)."""


@dataclass
class DistinctItems:
    """Each session's distinct items (left-aligned, 0-padded) with the 1-based position of their last occurrence."""

    items: np.ndarray
    positions: np.ndarray
    counts: np.ndarray

    def filled(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, slot) of every filled entry."""
        return np.nonzero(self.items > 0)


def distinct_items(items: np.ndarray, lengths: np.ndarray) -> DistinctItems:
    """The distinct items of each row of `items` (first `lengths` entries), ordered by their last occurrence."""
    n_rows, width = items.shape
    rows, cols = np.nonzero(np.arange(width) < lengths[:, None])
    values = items[rows, cols]
    order = np.lexsort((cols, values, rows))
    rows, values, cols = rows[order], values[order], cols[order]
    is_last = np.r_[(rows[1:] != rows[:-1]) | (values[1:] != values[:-1]), True]
    rows, values, cols = rows[is_last], values[is_last], cols[is_last]
    order = np.lexsort((cols, rows))
    rows, values, cols = rows[order], values[order], cols[order]
    counts = np.bincount(rows, minlength=n_rows)
    slots = np.arange(len(rows)) - (np.cumsum(counts) - counts)[rows]
    out_width = max(int(counts.max(initial=0)), 1)
    out_items = np.zeros((n_rows, out_width), dtype=np.int64)
    out_positions = np.zeros((n_rows, out_width), dtype=np.int64)
    out_items[rows, slots] = values
    out_positions[rows, slots] = cols + 1
    return DistinctItems(items=out_items, positions=out_positions, counts=counts)


def top_k_per_row(matrix: sp.csr_matrix, k: int, keys: np.ndarray | None = None) -> sp.csr_matrix:
    """Each row's `k` entries with the largest `keys` (default: the values); ties keep the lower column."""
    matrix = matrix.tocsr()
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    keys = matrix.data if keys is None else keys
    order = np.lexsort((matrix.indices, -keys, rows))
    rank = np.arange(len(order)) - matrix.indptr[rows[order]]
    kept = order[rank < k]
    return sp.csr_matrix((matrix.data[kept], (rows[kept], matrix.indices[kept])), shape=matrix.shape)


@dataclass
class NeighbourPairs:
    """The (session, neighbour) pairs of a batch, one row each, with what the item weights need.

    items, positions: [P, W] the neighbour's distinct items and their positions in the neighbour;
    shared_star: [P] position in s of the most recent item of s that also occurs in n (i*);
    star_in_neighbour: [P] position of i* in n; query_length: [P] |s| in events.
    """

    items: np.ndarray
    positions: np.ndarray
    shared_star: np.ndarray
    star_in_neighbour: np.ndarray
    query_length: np.ndarray


class SessionKNN(NonNeuralSessionModel):
    """Session-kNN engine; subclasses set the weights (see the module docstring)."""

    def fit(self, sessions: TrainingSessions, config) -> None:
        self.n_neighbours = int(config["knn_neighbours"])
        self.sample_size = int(config["knn_sample_size"] or 0)
        self.remind = bool(config["knn_remind"])
        self.read_weights(config)
        self.neighbours = distinct_items(sessions.items, sessions.lengths)
        rows, slots = self.neighbours.filled()
        items = self.neighbours.items[rows, slots]
        self.item_session = sp.csr_matrix((np.ones(len(rows)), (items, rows)),
                                          shape=(sessions.n_items, len(sessions)))
        sessions_with_item = np.bincount(items, minlength=sessions.n_items)
        idf = np.log(len(sessions) / np.maximum(sessions_with_item, 1))
        self.item_factor = 1.0 + self.lambda_idf * np.where(sessions_with_item > 0, idf, 0.0)
        self.times = sessions.times
        if self.times is None and (self.sample_size or self.lambda_snh):
            getLogger().warning(f"{type(self).__name__}: the dataset has no time field, so knn_sample_size and "
                                "lambda_snh (recency) are not applied")
        self.recency = self.recency_weights(sessions.times)

    def read_weights(self, config) -> None:
        """Read the model's decay parameters; the engine needs `lambda_idf` and `lambda_snh`."""
        self.lambda_idf = float(config["lambda_idf"] or 0.0)
        self.lambda_snh = None

    def recency_weights(self, times: np.ndarray | None) -> np.ndarray | None:
        """w2(n) = exp(-(t_now - t_n) / lambda_snh), t_now = the latest training time, lambda_snh in days."""
        if times is None or not self.lambda_snh:
            return None
        return np.exp(-(times.max() - times) / (self.lambda_snh * SECONDS_PER_DAY))

    def query_weights(self, positions: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def normalise_similarity(self, similarity: sp.csr_matrix, query: DistinctItems) -> sp.csr_matrix:
        raise NotImplementedError

    def neighbour_item_weights(self, pairs: NeighbourPairs) -> np.ndarray:
        raise NotImplementedError

    def score(self, item_seq: np.ndarray, item_seq_len: np.ndarray) -> np.ndarray:
        query = distinct_items(item_seq, item_seq_len)
        neighbours = self.nearest_neighbours(query, item_seq_len)
        return self.scores_from_neighbours(neighbours, query, item_seq_len)

    def similarity(self, query: DistinctItems, item_seq_len: np.ndarray) -> sp.csr_matrix:
        """[B, N] similarity of each session to every training session (explicit zeros dropped)."""
        rows, slots = query.filled()
        weights = self.query_weights(query.positions[rows, slots], item_seq_len[rows])
        vectors = sp.csr_matrix((weights, (rows, query.items[rows, slots])), shape=(len(query.counts),
                                                                                   self.item_session.shape[0]))
        similarity = self.normalise_similarity((vectors @ self.item_session).tocsr(), query)
        if self.recency is not None:
            similarity = similarity @ sp.diags(self.recency)
        similarity.eliminate_zeros()
        return similarity.tocsr()

    def nearest_neighbours(self, query: DistinctItems, item_seq_len: np.ndarray) -> sp.csr_matrix:
        """[B, N] the kept neighbours of each session with their similarity."""
        similarity = self.similarity(query, item_seq_len)
        if self.sample_size and self.times is not None:
            similarity = top_k_per_row(similarity, self.sample_size, keys=self.times[similarity.indices])
        return top_k_per_row(similarity, self.n_neighbours)

    def scores_from_neighbours(self, neighbours: sp.csr_matrix, query: DistinctItems,
                               item_seq_len: np.ndarray) -> np.ndarray:
        """[B, n_items] sum over neighbours n of sim(s, n) * w(i | s, n) * (1 + lambda_idf * idf(i)).

        Sessions are scored in chunks of rows, so that the per-chunk position table and sums stay near
        `MAX_TABLE_ENTRIES` entries whatever the number of items.
        """
        batch_size, n_items = len(item_seq_len), self.item_session.shape[0]
        scores = np.zeros((batch_size, n_items), dtype=np.float32)
        chunk = max(1, MAX_TABLE_ENTRIES // n_items)
        for start in range(0, batch_size, chunk):
            rows = slice(start, min(start + chunk, batch_size))
            scores[rows] = self.score_chunk(neighbours[rows], take_rows(query, rows), item_seq_len[rows])
        return scores

    def score_chunk(self, neighbours: sp.csr_matrix, query: DistinctItems, item_seq_len: np.ndarray) -> np.ndarray:
        batch_size, n_items = len(item_seq_len), self.item_session.shape[0]
        pair_query = np.repeat(np.arange(batch_size), np.diff(neighbours.indptr))
        pair_neighbour, pair_similarity = neighbours.indices, neighbours.data
        items = self.neighbours.items[pair_neighbour]
        positions = self.neighbours.positions[pair_neighbour]
        shared = query_positions(query, n_items)[pair_query[:, None], items] * (items > 0)
        star = shared.argmax(axis=1)
        pairs = NeighbourPairs(items=items, positions=positions,
                               shared_star=shared[np.arange(len(star)), star],
                               star_in_neighbour=positions[np.arange(len(star)), star],
                               query_length=item_seq_len[pair_query])
        recommendable = (items > 0) if self.remind else (items > 0) & (shared == 0)
        contribution = (pair_similarity[:, None] * self.neighbour_item_weights(pairs)
                        * self.item_factor[items] * recommendable)
        flat = (pair_query[:, None] * n_items + items).ravel()
        scores = np.bincount(flat, weights=contribution.ravel(), minlength=batch_size * n_items)
        return scores.reshape(batch_size, n_items)


def take_rows(query: DistinctItems, rows: slice) -> DistinctItems:
    return DistinctItems(items=query.items[rows], positions=query.positions[rows], counts=query.counts[rows])


def query_positions(query: DistinctItems, n_items: int) -> np.ndarray:
    """[B, n_items] position in each session of each item (0 when the item is not in the session)."""
    table = np.zeros((len(query.counts), n_items), dtype=np.int32)
    rows, slots = query.filled()
    table[rows, query.items[rows, slots]] = query.positions[rows, slots]
    return table
