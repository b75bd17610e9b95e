"""VSTAN: STAN with VSKNN's sequence-aware scoring and IDF weighting (Ludewig, Latifi, Jannach; "Empirical analysis
of session-based recommendation algorithms", UMUAI 2021)."""
from __future__ import annotations

import numpy as np

from recbole_semsr.model.session_knn import NeighbourPairs
from recbole_semsr.model.stan import STAN


class VSTAN(STAN):
    """STAN (w1, w2, w3) plus two factors on each neighbour's items:

    - w_ipw(s, n) = exp((p* - |s|) / lambda_ipw), p* = position in s of the most recent item of s that n contains
      (neighbours found through older items of s count less);
    - 1 + lambda_idf * idf(i), idf(i) = log(number of training sessions / sessions containing i).
    """

    def read_weights(self, config) -> None:
        super().read_weights(config)
        self.lambda_ipw = float(config["lambda_ipw"])

    def neighbour_item_weights(self, pairs: NeighbourPairs) -> np.ndarray:
        sequence_weight = np.exp((pairs.shared_star - pairs.query_length) / self.lambda_ipw)
        return super().neighbour_item_weights(pairs) * sequence_weight[:, None]
