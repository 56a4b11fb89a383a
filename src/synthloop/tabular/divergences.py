"""Per-column divergences between two samples of one column: how far a marginal moved.

Numeric columns (arrays of floats; missing values dropped by the caller or here):
``ks`` (two-sample Kolmogorov–Smirnov statistic), ``wasserstein`` (W1 on values scaled to the
reference's [min, max]), ``psi`` (population stability index over the reference's deciles) and
``tail_share`` (share beyond the reference's ``q`` and ``1 − q`` quantiles).
Categorical columns (label series): ``tvd`` (total variation distance of label shares, missing a
label of its own) and ``jensen_shannon`` (Jensen–Shannon divergence in bits, 0..1).

Used by the fidelity metrics, the privacy step's marginal-shift report and the drift monitor, so a
"shift of 0.02" means the same thing everywhere.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthloop.tabular.labels import shares

_PSI_FLOOR = 1e-4   # shares below this count as this much, so an empty bin gives a finite PSI


def _present(values: np.ndarray | pd.Series) -> np.ndarray:
    values = np.asarray(values, dtype="float64")
    return values[~np.isnan(values)]


def ks(reference: np.ndarray | pd.Series, other: np.ndarray | pd.Series) -> float:
    """Two-sample KS statistic (largest gap between the empirical CDFs); 1.0 when one side is empty."""
    from scipy.stats import ks_2samp

    reference, other = _present(reference), _present(other)
    if len(reference) == 0 or len(other) == 0:
        return 0.0 if len(reference) == len(other) else 1.0
    return float(ks_2samp(reference, other, method="asymp").statistic)


def wasserstein(reference: np.ndarray | pd.Series, other: np.ndarray | pd.Series) -> float:
    """W1 between the two samples after scaling both by the reference's [min, max] (1.0 when ``other`` is empty)."""
    from scipy.stats import wasserstein_distance

    reference, other = _present(reference), _present(other)
    if len(reference) == 0:
        return float("nan")
    if len(other) == 0:
        return 1.0
    low, span = reference.min(), max(float(np.ptp(reference)), 1e-12)
    return float(wasserstein_distance((reference - low) / span, (other - low) / span))


def psi(reference: np.ndarray | pd.Series, other: np.ndarray | pd.Series, n_bins: int = 10) -> float:
    """Population stability index over the reference's quantile bins (< 0.1: stable, > 0.25: shifted)."""
    reference, other = _present(reference), _present(other)
    if len(reference) == 0 or len(other) == 0:
        return float("nan")
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, n_bins + 1)[1:-1]))
    expected = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1) / len(reference)
    actual = np.bincount(np.searchsorted(edges, other, side="right"), minlength=len(edges) + 1) / len(other)
    expected, actual = np.maximum(expected, _PSI_FLOOR), np.maximum(actual, _PSI_FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def tail_share(reference: np.ndarray | pd.Series, other: np.ndarray | pd.Series, q: float = 0.01) -> float:
    """Share of ``other`` beyond the reference's ``q`` and ``1 − q`` quantiles (the reference itself: ≈ 2q)."""
    reference, other = _present(reference), _present(other)
    if len(reference) == 0 or len(other) == 0:
        return float("nan")
    low, high = np.quantile(reference, [q, 1 - q])
    return float(np.mean(other < low) + np.mean(other > high))


def _aligned_shares(reference: pd.Series, other: pd.Series) -> np.ndarray:
    aligned = pd.concat([shares(pd.Series(reference)), shares(pd.Series(other))], axis=1).fillna(0.0)
    return aligned.to_numpy(dtype="float64")


def tvd(reference: pd.Series, other: pd.Series) -> float:
    """Total variation distance between label shares (missing is a label); 0 = same frequencies."""
    aligned = _aligned_shares(reference, other)
    return float(0.5 * np.abs(aligned[:, 0] - aligned[:, 1]).sum()) if len(aligned) else 0.0


def jensen_shannon(reference: pd.Series, other: pd.Series) -> float:
    """Jensen–Shannon divergence (base 2, so 0..1) between label shares."""
    aligned = _aligned_shares(reference, other)
    if len(aligned) == 0:
        return 0.0
    p, q = aligned[:, 0], aligned[:, 1]
    mixture = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / mixture), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / mixture), 0.0).sum()
    return float(max(0.5 * (kl_p + kl_q), 0.0))


def marginal_shift(before: pd.DataFrame, after: pd.DataFrame) -> dict[str, float]:
    """Per column: KS (float columns) or TVD (labels) between two tables with the same columns."""
    return {name: ks(before[name], after[name]) if pd.api.types.is_float_dtype(before[name].dtype)
            else tvd(before[name], after[name]) for name in before.columns}
