"""The discrete part of a numeric column: point masses and missing values.

A value that holds a large share of a column (Adult's ``capital_gain`` is 92% zeros, ``hours_per_week``
46% forty) is a point mass, not a narrow Gaussian: a mixture or quantile map smears it, and generated
data then has 18-55% zeros instead of 92% (what SDV's CTGAN/TVAE give). Such values become modes of
their own in the column's mode block and come back exactly. Missing values get a mode of their own
too: an explicit indicator that the generator learns like any category and that decodes to NaN.
(The idea follows the "mixed-type" encoder of CTAB-GAN, Zhao et al., 2021.)
"""

from __future__ import annotations

import numpy as np

# A value seen fewer times than this is never a point mass, however small the table: on tiny tables
# every value would clear the share, and the generator would only ever replay training values.
MIN_POINT_MASS_COUNT = 10


def find_point_masses(present: np.ndarray, *, min_share: float, max_count: int) -> np.ndarray:
    """Values holding at least ``min_share`` of the non-missing values (at most ``max_count``), sorted."""
    if len(present) == 0 or min_share <= 0:
        return np.zeros(0, dtype=np.float64)
    values, counts = np.unique(present, return_counts=True)
    heavy = np.flatnonzero(counts >= max(min_share * len(present), MIN_POINT_MASS_COUNT))
    if len(heavy) > max_count:
        heavy = heavy[np.argsort(-counts[heavy], kind="stable")[:max_count]]
    return np.sort(values[heavy]).astype(np.float64)


def match_point_masses(values: np.ndarray, point_masses: np.ndarray) -> np.ndarray:
    """Index of each value in the sorted ``point_masses``, or -1 where it is not one (NaN never is)."""
    if len(point_masses) == 0:
        return np.full(len(values), -1, dtype=np.int64)
    position = np.clip(np.searchsorted(point_masses, values), 0, len(point_masses) - 1)
    return np.where(point_masses[position] == values, position, -1).astype(np.int64)


def nearest_point_mass(values: np.ndarray, point_masses: np.ndarray) -> np.ndarray:
    """Index of the nearest point mass (used for unseen values of a column made only of point masses)."""
    return np.abs(values[:, None] - point_masses[None, :]).argmin(axis=1)
