"""VSKNN: vector-multiplication session-kNN (Ludewig & Jannach, "Evaluation of session-based recommendation
algorithms", UMUAI 2018)."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recbole_semsr.model.session_knn import DistinctItems, NeighbourPairs, SessionKNN


class VSKNN(SessionKNN):
    """Session-kNN whose session vector decays linearly towards the past.

    - weight of item i of s: p(i) / |s| (1 for the last item);
    - sim(s, n) = sum over the items of s that n contains of those weights, divided by the number of distinct
      items of s;
    - w(i | s, n) = 1 / (|s| - p* + 1), p* = position in s of the most recent item of s that n contains (1 when
      that is the last item); times 1 + lambda_idf * idf(i) (`lambda_idf` = 0: off).
    """

    def query_weights(self, positions: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return positions / lengths

    def normalise_similarity(self, similarity: sp.csr_matrix, query: DistinctItems) -> sp.csr_matrix:
        return sp.diags(1.0 / np.maximum(query.counts, 1)) @ similarity

    def neighbour_item_weights(self, pairs: NeighbourPairs) -> np.ndarray:
        return (1.0 / (pairs.query_length - pairs.shared_star + 1))[:, None]
