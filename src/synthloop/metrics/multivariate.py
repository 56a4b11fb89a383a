"""Multivariate fidelity on the shared dense encoding: MMD, PRDC and α-precision / β-recall.

- ``mmd``: squared maximum mean discrepancy with a Gaussian kernel, bandwidth by the median
  heuristic on the real rows (Gretton et al., JMLR 2012; unbiased estimator).
- ``precision``, ``recall``, ``density``, ``coverage``: Naeem et al., "Reliable fidelity and
  diversity metrics for generative models", ICML 2020, with k = 5 nearest-neighbour balls.
  ``coverage`` (share of real neighbourhoods holding a synthetic row) is reported as a collapse
  diagnostic. ``density`` is about 1 for matching distributions and can exceed 1.
- ``alpha_precision``, ``beta_recall``: Alaa et al., "How faithful is your synthetic data?",
  ICML 2022, integrated over α, β ∈ [0, 1] as in their reference code (synthcity), computed in the
  encoded space with the real mean as the centre instead of a learned one-class embedding.

All share one seeded subsample of at most ``MAX_ROWS`` rows per table (stated in the report).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthloop.metrics.cache import frame_key, memo, rng_key
from synthloop.metrics.encoding import dense_pair, resolve_schema, subsample_note
from synthloop.metrics.registry import Score, metric
from synthloop.schema import Schema

MAX_ROWS = 2_000
N_NEIGHBOURS = 5
N_LEVELS = 30


@dataclass(frozen=True)
class Multivariate:
    mmd: float
    precision: float
    recall: float
    density: float
    coverage: float
    alpha_precision: float
    beta_recall: float
    curves: pd.DataFrame          # level, alpha_precision, beta_recall (the curves behind the integrals)
    notes: tuple[str, ...]


def multivariate(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                 rng: np.random.Generator | None = None) -> Multivariate:
    """Compute every multivariate score once (cached inside ``evaluate``)."""
    schema = resolve_schema(real, schema)
    key = ("multivariate", *frame_key(real, synthetic, schema), rng_key(rng))
    rng = rng if rng is not None else np.random.default_rng(0)
    return memo(key, lambda: _multivariate(real, synthetic, schema, rng))


def _pick(rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return rows if len(rows) <= MAX_ROWS else rows[np.sort(rng.choice(len(rows), MAX_ROWS, replace=False))]


def _multivariate(real, synthetic, schema: Schema, rng: np.random.Generator) -> Multivariate:
    from sklearn.metrics import pairwise_distances
    from threadpoolctl import threadpool_limits

    real_dense, synthetic_dense = dense_pair(real, (synthetic,), schema)
    real_rows, synthetic_rows = _pick(real_dense, rng).astype("float64"), _pick(synthetic_dense, rng).astype("float64")
    with threadpool_limits(1):
        real_real = pairwise_distances(real_rows)
        synthetic_synthetic = pairwise_distances(synthetic_rows)
        real_synthetic = pairwise_distances(real_rows, synthetic_rows)
    prdc = _prdc(real_real, synthetic_synthetic, real_synthetic)
    alpha, beta, curves = _alpha_beta(real_rows, synthetic_rows, real_real, real_synthetic)
    notes = subsample_note({"real": len(real_dense), "synthetic": len(synthetic_dense)}, MAX_ROWS)
    return Multivariate(_mmd(real_real, synthetic_synthetic, real_synthetic), *prdc, alpha, beta, curves, notes)


def _kth_neighbour(within: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row to its k-th nearest other row (column 0 of the sort is the row itself)."""
    k = min(k, len(within) - 1)
    return np.partition(within, k, axis=1)[:, k] if k > 0 else np.zeros(len(within))


def _prdc(real_real: np.ndarray, synthetic_synthetic: np.ndarray, real_synthetic: np.ndarray) -> tuple[float, ...]:
    real_radius = _kth_neighbour(real_real, N_NEIGHBOURS)                  # (n_real,)
    synthetic_radius = _kth_neighbour(synthetic_synthetic, N_NEIGHBOURS)   # (n_synthetic,)
    inside_real_ball = real_synthetic <= real_radius[:, None]              # (n_real, n_synthetic)
    precision = float(inside_real_ball.any(axis=0).mean())
    recall = float((real_synthetic <= synthetic_radius[None, :]).any(axis=1).mean())
    density = float(inside_real_ball.sum(axis=0).mean() / N_NEIGHBOURS)
    coverage = float((real_synthetic.min(axis=1) <= real_radius).mean())
    return precision, recall, density, coverage


def _mmd(real_real: np.ndarray, synthetic_synthetic: np.ndarray, real_synthetic: np.ndarray) -> float:
    upper = real_real[np.triu_indices(len(real_real), k=1)]
    bandwidth = float(np.median(upper)) if len(upper) else 1.0
    gamma = 1.0 / (2.0 * max(bandwidth, 1e-12) ** 2)

    def mean_off_diagonal(distances: np.ndarray) -> float:
        kernel = np.exp(-gamma * distances**2)
        n = len(kernel)
        return float((kernel.sum() - np.trace(kernel)) / max(n * (n - 1), 1))

    cross = float(np.exp(-gamma * real_synthetic**2).mean())
    return max(mean_off_diagonal(real_real) + mean_off_diagonal(synthetic_synthetic) - 2.0 * cross, 0.0)


def _alpha_beta(real_rows: np.ndarray, synthetic_rows: np.ndarray, real_real: np.ndarray,
                real_synthetic: np.ndarray) -> tuple[float, float, pd.DataFrame]:
    levels = np.linspace(0.0, 1.0, N_LEVELS)
    centre = real_rows.mean(axis=0)
    real_radii = np.quantile(np.linalg.norm(real_rows - centre, axis=1), levels)
    synthetic_to_centre = np.linalg.norm(synthetic_rows - centre, axis=1)
    # β-recall: a real row counts when its closest synthetic row is nearer than its closest real
    # neighbour and that synthetic row lies within the β-support of the synthetic data.
    real_to_real = _kth_neighbour(real_real, 1)
    closest_synthetic = real_synthetic.argmin(axis=1)
    real_to_synthetic = real_synthetic[np.arange(len(real_rows)), closest_synthetic]
    synthetic_centre = synthetic_rows.mean(axis=0)
    closest_to_centre = np.linalg.norm(synthetic_rows[closest_synthetic] - synthetic_centre, axis=1)
    synthetic_radii = np.quantile(closest_to_centre, levels)
    alpha_curve = np.array([np.mean(synthetic_to_centre <= radius) for radius in real_radii])
    beta_curve = np.array([np.mean((real_to_synthetic <= real_to_real) & (closest_to_centre <= radius))
                           for radius in synthetic_radii])
    step = levels[1] - levels[0]
    alpha_precision = 1.0 - 2.0 * float(np.abs(levels - alpha_curve).sum() * step)
    beta_recall = 1.0 - 2.0 * float(np.abs(levels - beta_curve).sum() * step)
    curves = pd.DataFrame({"level": levels, "alpha_precision": alpha_curve, "beta_recall": beta_curve})
    return alpha_precision, beta_recall, curves


def _registered(name: str, family: str, goal: str, bounds: tuple[float, float], doc: str):
    def score(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
              holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
        found = multivariate(real, synthetic, schema, rng=rng)
        details = found.curves if name in ("alpha_precision", "beta_recall") else None
        return Score(float(getattr(found, name)), details=details, notes=found.notes)

    score.__doc__ = doc
    score.__name__ = score.__qualname__ = name
    return metric(name, family=family, goal=goal, bounds=bounds)(score)


mmd = _registered("mmd", "fidelity", "min", (0.0, float("inf")),
                  "Squared maximum mean discrepancy (Gaussian kernel, median bandwidth) on encoded rows.")
precision = _registered("precision", "fidelity", "max", (0.0, 1.0),
                        "Share of synthetic rows inside some real row's 5-NN ball (Naeem et al. 2020).")
recall = _registered("recall", "fidelity", "max", (0.0, 1.0),
                     "Share of real rows inside some synthetic row's 5-NN ball (Naeem et al. 2020).")
density = _registered("density", "fidelity", "max", (0.0, float("inf")),
                      "Mean number of real 5-NN balls holding each synthetic row, over 5 (about 1 when matched).")
coverage = _registered("coverage", "collapse", "max", (0.0, 1.0),
                       "Share of real 5-NN neighbourhoods that hold at least one synthetic row (Naeem et al. 2020).")
alpha_precision = _registered("alpha_precision", "fidelity", "max", (-1.0, 1.0),
                              "Integrated α-precision: synthetic rows fall in the real α-support as often as they should.")
beta_recall = _registered("beta_recall", "fidelity", "max", (-1.0, 1.0),
                          "Integrated β-recall: real rows are covered by the synthetic β-support as often as they should.")
