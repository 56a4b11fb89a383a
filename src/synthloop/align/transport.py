"""Optimal-transport mapping of the numeric columns of synthetic rows onto a target sample (POT, extra ``ot``).

Weighting can only re-balance rows the generator already produces; when the target sits partly
outside them (a shifted mean, a wider spread), transport moves the rows instead. An exact (EMD)
plan between standardised subsamples of both tables gives a barycentric map of each synthetic
point (Courty et al., "Optimal transport for domain adaptation", TPAMI 2017, as in POT's
``ot.da.EMDTransport``); rows outside the fitting subsample move by the displacement of their
nearest fitted neighbour (POT's out-of-sample rule). Moved values are clipped to the target's
observed range per column, so nothing lands outside the observed support. Categorical
columns are left as they are; missing numbers stay missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthloop.errors import require

#: Rows of each side in the transport plan (EMD is cubic in rows; 1,500 × 1,500 takes about a second).
MAX_PLAN_ROWS = 1_500


def transport_numeric(synthetic: pd.DataFrame, target: pd.DataFrame, numeric: list[str],
                      rng: np.random.Generator) -> pd.DataFrame:
    """``synthetic`` (model view) with its ``numeric`` columns mapped onto the target's distribution."""
    if not numeric:
        return synthetic
    ot = require("ot", "ot", "Optimal-transport alignment (method='transport')")
    source = synthetic[numeric].to_numpy(dtype="float64")
    goal = target[numeric].to_numpy(dtype="float64")
    center = np.nanmean(goal, axis=0)
    scale = np.nanstd(goal, axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    missing = np.isnan(source)
    standard_source = np.where(missing, 0.0, (source - center) / scale)
    standard_goal = np.nan_to_num((goal - center) / scale, nan=0.0)
    fit_source = _subsample(len(source), rng)
    fit_goal = _subsample(len(goal), rng)
    mapping = ot.da.EMDTransport()
    mapping.fit(Xs=standard_source[fit_source], Xt=standard_goal[fit_goal])
    moved = mapping.transform(Xs=standard_source) * scale + center
    low, high = np.nanmin(goal, axis=0), np.nanmax(goal, axis=0)
    moved = np.clip(moved, low, high)
    moved[missing] = np.nan
    out = synthetic.copy()
    out[numeric] = moved
    return out


def _subsample(n_rows: int, rng: np.random.Generator) -> np.ndarray:
    if n_rows <= MAX_PLAN_ROWS:
        return np.arange(n_rows)
    return np.sort(rng.choice(n_rows, size=MAX_PLAN_ROWS, replace=False))
