"""STAN: sequence and time aware neighbourhood (Garg, Gupta, Malhotra, Vig, Shroff; SIGIR 2019)."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recbole_semsr.model.session_knn import DistinctItems, NeighbourPairs, SessionKNN


class STAN(SessionKNN):
    """Session-kNN with STAN's three decay factors.

    1. items of s: w1(i) = exp((p(i) - |s|) / lambda_spw); sim(s, n) = sum_{i in s and n} w1(i) / sqrt(l(s) l(n)),
       l = number of distinct items;
    2. neighbour recency: sim *= w2(n) = exp(-(t_now - t_n) / lambda_snh), lambda_snh in days, t_now = the latest
       training time (only when the dataset has a time field);
    3. items of n: w3(i | s, n) = exp(-|p_n(i) - p_n(i*)| / lambda_inh), i* = the most recent item of s that
       occurs in n.
    score(i | s) = sum over the k neighbours n containing i of sim(s, n) * w3(i | s, n).
    """

    def read_weights(self, config) -> None:
        super().read_weights(config)
        self.lambda_spw = float(config["lambda_spw"])
        self.lambda_snh = config["lambda_snh"]
        self.lambda_inh = float(config["lambda_inh"])

    def query_weights(self, positions: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return np.exp((positions - lengths) / self.lambda_spw)

    def normalise_similarity(self, similarity: sp.csr_matrix, query: DistinctItems) -> sp.csr_matrix:
        neighbour_norm = 1.0 / np.sqrt(np.maximum(self.neighbours.counts, 1))
        return sp.diags(1.0 / np.sqrt(np.maximum(query.counts, 1))) @ similarity @ sp.diags(neighbour_norm)

    def neighbour_item_weights(self, pairs: NeighbourPairs) -> np.ndarray:
        return np.exp(-np.abs(pairs.positions - pairs.star_in_neighbour[:, None]) / self.lambda_inh)
