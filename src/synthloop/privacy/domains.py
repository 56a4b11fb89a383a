"""What a DP model buys with part of its budget when the public schema does not give it.

Three releases, each charged to the fit's :class:`~synthloop.privacy.accounting.Ledger` before it is made:

- **A row count** (:func:`dp_row_count`): n + N(0, sigma²); one row changes n by 1 (sensitivity 1).
  DP-SGD needs it to set its sampling rate and batch size.
- **Numeric bounds** (:func:`dp_bounds`): a noisy histogram of the column on a public grid of
  buckets, log-spaced in magnitude (8 per decade from 10⁻³ to 10¹⁵, both signs, 0 an edge;
  :func:`bucket_edges`), so the grid covers any plausible range and reads nothing from the data. Each
  row falls in one bucket: the counts have L2 sensitivity 1 and take Gaussian noise. Buckets whose
  noisy count is below ``5 sigma`` are set to 0 (an empty bucket passes with probability 3e-7, so a
  bound almost never jumps to an empty part of the grid), and the bounds are the outer edges of the
  lowest and the highest bucket left. Values outside them are **clipped** to them by the models'
  encoders: the rows in sparse extreme buckets (fewer than about ``5 sigma`` values) come back at
  the bound, which is what the DP estimate costs in fidelity; raise the share, or publish bounds.
- **Category sets** (:func:`dp_categories`): DP partition selection (Korolova et al. 2009; the
  Gaussian version of Desfontaines et al. 2022). The labels observed in the column get a noisy count
  each (one label per row: sensitivity 1), and a label is kept when its noisy count passes
  ``1 + sigma · z`` with ``P(N(0, 1) > z) = delta_column``. A label held by one row is released with
  probability at most ``delta_column``: the only part that is not zCDP, paid from the ledger's
  ``reserved_delta``. Rows whose label is not kept are left out of the fit (a rule applied to each row
  on its own given the released set, so what follows keeps its sensitivity): rare labels, which
  identify the few people who hold them, never reach the synthetic data.

Randomness comes from the caller's generator (a named child of the fit's seed tree).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthloop.errors import PrivacyError
from synthloop.privacy.accounting import Ledger
from synthloop.privacy.mechanisms import gaussian, gaussian_sigma
from synthloop.schema import Column, Schema

#: Buckets per decade of magnitude in the public grid of :func:`dp_bounds` (neighbouring edges ×1.33).
BUCKETS_PER_DECADE = 8
#: The grid's magnitudes: 10**-3 (two buckets, [-1e-3, 0) and [0, 1e-3), hold what is nearer 0) to 10**15 (values
#: beyond fall outside the grid and are clipped to its ends).
DECADES = (-3, 15)
#: A bucket is kept when its noisy count is at least this many sigmas.
BUCKET_THRESHOLD = 5.0
#: The mechanism names of the three purchases in a ledger.
BOUNDS, SELECTION, ROW_COUNT = "gaussian histogram (DP bounds)", "gaussian partition selection", "gaussian row count"


@dataclass(frozen=True)
class DomainPlan:
    """Which learned columns of a schema lack a public domain: what a fit has to buy."""

    bounds: tuple[str, ...]           # numeric / datetime columns without low or high
    categories: tuple[str, ...]       # categorical / boolean columns without a category list

    @classmethod
    def of(cls, schema: Schema) -> DomainPlan:
        kinds = schema.model_kinds()
        return cls(tuple(n for n, k in kinds.items() if k == "numeric" and (schema[n].low is None or schema[n].high is None)),
                   tuple(n for n, k in kinds.items() if k == "categorical" and schema[n].categories is None))

    @property
    def empty(self) -> bool:
        return not (self.bounds or self.categories)

    def refusal(self, model: str) -> PrivacyError:
        """The error a model without a budget share raises: what is missing and the two ways out."""
        parts = [_lacking(self.bounds, "bounds"), _lacking(self.categories, "category list")]
        return PrivacyError(f"{' and '.join(p for p in parts if p).capitalize()}: {model} cannot read them from the "
                            "data for free. Declare them in the schema (low/high, categories), or buy DP estimates "
                            "with part of the budget: domain_share=0.1 (CLI: -p domain_share=0.1) spends 10% of it "
                            "on them.")


def _lacking(names: Sequence[str], what: str) -> str:
    """"column 'a' has no bounds in the schema" / "columns 'a', 'b' have no ..." ("" for no names)."""
    if not names:
        return ""
    many = len(names) > 1
    return f"column{'s' * many} {', '.join(repr(n) for n in names)} {'have' if many else 'has'} no {what} in the schema"


# ---------------------------------------------------------------------- the three releases
def dp_row_count(n_rows: int, rho: float, ledger: Ledger, rng: np.random.Generator, *, why: str) -> float:
    """The row count with Gaussian noise of zCDP cost ``rho`` (at least 1)."""
    noisy = gaussian(np.array([float(n_rows)]), sigma=gaussian_sigma(rho), ledger=ledger, rng=rng,
                     what=f"row count ({why})", mechanism=ROW_COUNT)
    return max(float(noisy[0]), 1.0)


def bucket_edges() -> np.ndarray:
    """The public bucket edges of :func:`dp_bounds`: 0 and ±10**(k/8) over ``DECADES``, sorted (no data read).

    0 is an edge, so a column of non-negative values with a point mass at 0 gets the bound 0 exactly."""
    magnitudes = 10.0 ** (np.arange(DECADES[0] * BUCKETS_PER_DECADE, DECADES[1] * BUCKETS_PER_DECADE + 1)
                          / BUCKETS_PER_DECADE)
    return np.concatenate([-magnitudes[::-1], [0.0], magnitudes])


def dp_bounds(values: np.ndarray, column: Column, rho: float, ledger: Ledger,
              rng: np.random.Generator) -> tuple[float, float]:
    """(low, high) of a model-view numeric column from a noisy histogram on the public grid (module docstring)."""
    edges = bucket_edges()
    finite = values[np.isfinite(values)]
    cells = np.clip(np.searchsorted(edges, finite, side="right") - 1, -1, len(edges) - 1) + 1   # 0: below the grid
    sigma = gaussian_sigma(rho)
    noisy = gaussian(np.bincount(cells, minlength=len(edges) + 1).astype("float64"), sigma=sigma, ledger=ledger,
                     rng=rng, mechanism=BOUNDS,
                     what=f"bounds of {column.name} (noisy histogram on {len(edges) + 1} public buckets; "
                                   "values outside are clipped)")
    kept = np.flatnonzero(noisy >= BUCKET_THRESHOLD * sigma)
    if not len(kept):
        raise PrivacyError(f"No bucket of column '{column.name}' holds clearly more than the noise "
                           f"({BUCKET_THRESHOLD * sigma:.0f} values at this share): too few rows to estimate its "
                           "bounds. Declare low/high in the schema, or raise domain_share.")
    outer = np.concatenate([[-np.inf], edges, [np.inf]])         # cell i spans outer[i], outer[i + 1]
    low, high = outer[kept[0]], outer[kept[-1] + 1]
    low = low if np.isfinite(low) else edges[0]                  # beyond the grid: clipped to its ends
    high = high if np.isfinite(high) else edges[-1]
    if column.integer:
        low, high = math.floor(low), math.ceil(high)
    return low, high


def partition_threshold(sigma: float, delta: float) -> float:
    """The noisy count a label must reach: 1 + sigma·z, where a count of 1 passes with probability ``delta``."""
    from scipy.stats import norm

    return 1.0 + sigma * float(norm.isf(delta))


def dp_categories(labels: pd.Series, column: Column, rho: float, delta: float, ledger: Ledger,
                  rng: np.random.Generator) -> tuple[str, ...]:
    """The labels whose noisy count passes :func:`partition_threshold` (DP partition selection), in natural order."""
    from synthloop.schema.values import natural_key

    observed = labels.dropna().value_counts(sort=False)
    sigma = gaussian_sigma(rho)
    threshold = partition_threshold(sigma, delta)
    noisy = gaussian(observed.to_numpy(dtype="float64"), sigma=sigma, ledger=ledger, rng=rng,
                     what=f"category set of {column.name} (DP partition selection: labels above {threshold:.0f} "
                          "noisy rows; rows with other labels are left out)", delta=delta,
                     mechanism=SELECTION)
    kept = sorted((str(label) for label, count in zip(observed.index, noisy, strict=True) if count >= threshold),
                  key=natural_key)
    if not kept:
        raise PrivacyError(f"No label of column '{column.name}' is held by clearly more rows than the noise "
                           f"({threshold:.0f} at this share): too few rows to release its category set. Declare "
                           "the categories in the schema, or raise domain_share.")
    return tuple(kept)


# ---------------------------------------------------------------------- all of a schema's gaps
def buy_domains(plan: DomainPlan, schema: Schema, data: pd.DataFrame, rho: float, ledger: Ledger,
                rng: np.random.Generator) -> tuple[Schema, pd.DataFrame]:
    """The schema completed with DP bounds and category sets (``rho`` split evenly over the releases), and the
    rows that remain: those whose labels were all kept. ``data`` is the model view; delta comes from the
    ledger's reserve, split evenly over the categorical columns."""
    share = rho / (len(plan.bounds) + len(plan.categories))
    changes: dict[str, dict[str, object]] = {}
    for name in plan.bounds:
        column = schema[name]
        low, high = dp_bounds(data[name].to_numpy(dtype="float64", na_value=np.nan), column, share, ledger, rng)
        origin = column.origin or 0
        changes[name] = {"low": low + origin, "high": high + origin}
    keep = np.ones(len(data), dtype=bool)
    for name in plan.categories:
        categories = dp_categories(data[name], schema[name], share, ledger.reserved_delta / len(plan.categories),
                                   ledger, rng)
        changes[name] = {"categories": categories}
        keep &= (data[name].isna() | data[name].isin(categories)).to_numpy()
    return schema.with_columns(**changes), data.loc[keep]
