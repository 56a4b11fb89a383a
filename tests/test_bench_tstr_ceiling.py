"""The TSTR-ceiling benchmark's constructions (``benchmarks/tstr_ceiling.py``), on generated data.

The benchmark itself reads the real tables; here the pieces it rests on are checked: residual
windows stay within ``k`` rows in the window column's order, and a target with day-scale structure
keeps it only when the residuals stay local (the mechanism the benchmark's NYSE numbers show).
"""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def ceiling(script):
    return script("benchmarks/tstr_ceiling.py")


def test_windowed_draws_from_rows_at_most_k_away(ceiling):
    rng = np.random.default_rng(0)
    order_by = rng.permutation(500).astype(float)        # row i sits at position order_by[i]
    values = order_by.copy()                             # so a drawn value is the position it came from
    drawn = ceiling.windowed(values, order_by, 3, rng)
    assert np.abs(drawn - order_by).max() <= 3
    assert (drawn != order_by).mean() > 0.5              # most rows take another row's value
    assert np.array_equal(ceiling.windowed(values, order_by, 0, rng), values)


def test_local_residuals_keep_fine_structure_that_permuted_ones_lose(ceiling):
    rng = np.random.default_rng(1)
    n = 3_000
    day = np.arange(n, dtype=float)
    slow = np.sin(day / 300)                                  # what a smooth fit can learn
    persistent = np.convolve(rng.standard_normal(n + 9), np.ones(10) / np.sqrt(10), "valid")  # day-scale
    y = slow + persistent
    residual = y - slow
    permuted = slow + rng.permutation(residual)
    local = slow + ceiling.windowed(residual, day, 2, rng)
    kept = [np.corrcoef(candidate - slow, persistent)[0, 1] for candidate in (permuted, local)]
    assert abs(kept[0]) < 0.1 and kept[1] > 0.7
