"""Nearest-neighbour distances on the shared dense encoding, cached inside ``evaluate``."""

from __future__ import annotations

import numpy as np

from synthloop.metrics.cache import memo


def nearest(query: np.ndarray, reference: np.ndarray, k: int = 1, *,
            exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances (n_query, k) and indices of each query row's ``k`` nearest reference rows.

    With ``exclude_self`` the query *is* the reference and each row's own match is dropped.
    """
    def compute() -> tuple[np.ndarray, np.ndarray]:
        from sklearn.neighbors import NearestNeighbors

        n_neighbours = min(k + int(exclude_self), len(reference))
        index = NearestNeighbors(n_neighbors=n_neighbours, algorithm="brute").fit(reference)
        distances, indices = index.kneighbors(query)
        if exclude_self:
            distances, indices = distances[:, 1:], indices[:, 1:]
        return distances.astype("float64"), indices

    return memo(("nearest", id(query), id(reference), k, exclude_self), compute, keep=(query, reference))
