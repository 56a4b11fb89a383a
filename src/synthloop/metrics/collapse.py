"""Mode-collapse diagnostics: does the synthetic data still reach every part of the real data?

Models trained again and again on their own output lose the tails and rare categories first
(Shumailov et al., "AI models collapse when trained on recursively generated data", Nature 2024).
These metrics look for exactly that:

- ``category_coverage``: share of real categories that appear in the synthetic data (per column, averaged);
- ``rare_category_retention``: the same, for categories under 5% of the real rows only;
- ``rare_category_survival``: the same, for categories under 1% of the real rows (the first ones a
  collapsing loop forgets; the collapse lab tracks it against the real training data);
- ``range_coverage``: share of each real numeric range [min, max] spanned by the synthetic values;
- ``tail_mass``: mass beyond the real 5% / 95% quantiles, synthetic against real (1 = same tails);
- ``tail_share``: the raw share of synthetic values beyond the real 1% / 99% quantiles (real data
  ≈ 0.02, collapse → 0), and ``variance_ratio``: synthetic / real variance (real ≈ 1, collapse → 0),
  both averaged over numeric columns; they are read against the real data's own value (goal "real")
  and are not in the default report (``tail_mass`` and ``range_coverage`` score the same loss);
- ``coverage`` (in ``fidelity_multivariate``): share of real neighbourhoods that hold a synthetic row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthloop.metrics.encoding import model_view, resolve_schema
from synthloop.metrics.registry import NotApplicable, Score, mean_or_nan, metric
from synthloop.schema import Schema

RARE_SHARE = 0.05
SURVIVAL_SHARE = 0.01
TAIL_QUANTILE = 0.05
EXTREME_QUANTILE = 0.01


def _views(real, synthetic, schema):
    schema = resolve_schema(real, schema)
    return schema, model_view(real, schema), model_view(synthetic, schema)


def _categorical(schema: Schema) -> list[str]:
    return [name for name, kind in schema.model_kinds().items() if kind == "categorical"]


def _numeric(schema: Schema) -> list[str]:
    return [name for name, kind in schema.model_kinds().items() if kind == "numeric"]


@metric("category_coverage", family="collapse", goal="max", bounds=(0.0, 1.0))
def category_coverage(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                      holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """Share of the real categories that appear in the synthetic data, averaged over columns."""
    schema, real_view, synthetic_view = _views(real, synthetic, schema)
    rows = []
    for name in _categorical(schema):
        real_labels = set(real_view[name].dropna())
        if not real_labels:
            continue
        found = real_labels & set(synthetic_view[name].dropna())
        rows.append({"column": name, "real_categories": len(real_labels), "covered": len(found),
                     "coverage": len(found) / len(real_labels),
                     "missing": ", ".join(sorted(real_labels - found)[:10])})
    if not rows:
        raise NotApplicable("no categorical columns")
    details = pd.DataFrame(rows)
    return Score(float(details["coverage"].mean()), details=details)


@metric("rare_category_retention", family="collapse", goal="max", bounds=(0.0, 1.0))
def rare_category_retention(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                            holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """Share of rare real categories (under 5% of rows) that still appear in the synthetic data."""
    return _rare_retained(real, synthetic, schema, RARE_SHARE)


@metric("rare_category_survival", family="collapse", goal="max", bounds=(0.0, 1.0), default=False)
def rare_category_survival(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                           holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """Share of very rare real categories (under 1% of rows) that still appear in the synthetic data."""
    return _rare_retained(real, synthetic, schema, SURVIVAL_SHARE)


def _rare_retained(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None, threshold: float) -> Score:
    """Share of the real categories under ``threshold`` of the (non-missing) rows found in ``synthetic``, pooled."""
    schema, real_view, synthetic_view = _views(real, synthetic, schema)
    rows = []
    for name in _categorical(schema):
        shares = real_view[name].value_counts(normalize=True)
        present = set(synthetic_view[name].dropna())
        rows.extend({"column": name, "category": label, "real_share": float(share), "retained": label in present,
                     "synthetic_share": float((synthetic_view[name] == label).mean())}
                    for label, share in shares.items() if share < threshold)
    if not rows:
        raise NotApplicable(f"no category is rarer than {threshold:.0%} of the real rows")
    details = pd.DataFrame(rows)
    return Score(float(details["retained"].mean()), details=details)


@metric("range_coverage", family="collapse", goal="max", bounds=(0.0, 1.0))
def range_coverage(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                   holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """Share of each real numeric range [min, max] that the synthetic values span, averaged."""
    schema, real_view, synthetic_view = _views(real, synthetic, schema)
    rows = []
    for name in _numeric(schema):
        real_values, synthetic_values = real_view[name].dropna(), synthetic_view[name].dropna()
        if real_values.empty:
            continue
        low, high = float(real_values.min()), float(real_values.max())
        if synthetic_values.empty:
            covered = 0.0
        elif high == low:
            covered = float((synthetic_values == low).any())
        else:
            overlap = min(high, synthetic_values.max()) - max(low, synthetic_values.min())
            covered = float(np.clip(overlap / (high - low), 0.0, 1.0))
        rows.append({"column": name, "real_low": low, "real_high": high,
                     "synthetic_low": float(synthetic_values.min()) if len(synthetic_values) else np.nan,
                     "synthetic_high": float(synthetic_values.max()) if len(synthetic_values) else np.nan,
                     "coverage": covered})
    if not rows:
        raise NotApplicable("no numeric columns")
    details = pd.DataFrame(rows)
    return Score(float(details["coverage"].mean()), details=details)


@metric("tail_mass", family="collapse", goal="max", bounds=(0.0, 1.0))
def tail_mass(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
              holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """How much of the real tail mass (beyond the 5% / 95% quantiles) the synthetic data keeps.

    Per column, ``ratio`` = synthetic tail share / real tail share (below 1: tails thinned, the usual
    sign of collapse; above 1: heavier tails); the value is the mean of min(ratio, 1 / ratio).
    Columns whose real tails hold under 1% of rows (e.g. mostly one value) are skipped.
    """
    schema, real_view, synthetic_view = _views(real, synthetic, schema)
    rows = []
    for name in _numeric(schema):
        real_values = real_view[name].dropna().to_numpy(dtype="float64")
        synthetic_values = synthetic_view[name].dropna().to_numpy(dtype="float64")
        if len(real_values) == 0:
            continue
        low, high = np.quantile(real_values, [TAIL_QUANTILE, 1 - TAIL_QUANTILE])
        real_share = float(np.mean((real_values < low) | (real_values > high)))
        if real_share < 0.01:
            continue
        synthetic_share = float(np.mean((synthetic_values < low) | (synthetic_values > high))) if len(synthetic_values) else 0.0
        ratio = synthetic_share / real_share
        rows.append({"column": name, "real_tail_share": real_share, "synthetic_tail_share": synthetic_share,
                     "ratio": ratio, "score": min(ratio, 1 / ratio) if ratio > 0 else 0.0})
    if not rows:
        raise NotApplicable("no numeric column has tails holding 1% of the real rows")
    details = pd.DataFrame(rows)
    return Score(mean_or_nan(details["score"]), details=details)


@metric("tail_share", family="collapse", goal="real", bounds=(0.0, 1.0), default=False)
def tail_share(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
               holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """Share of synthetic values beyond the real 1% / 99% quantiles (both sides), mean over numeric columns."""
    schema, real_view, synthetic_view = _views(real, synthetic, schema)
    rows = []
    for name in _numeric(schema):
        real_values = real_view[name].dropna().to_numpy(dtype="float64")
        synthetic_values = synthetic_view[name].dropna().to_numpy(dtype="float64")
        if len(real_values) and len(synthetic_values):
            low, high = np.quantile(real_values, [EXTREME_QUANTILE, 1 - EXTREME_QUANTILE])
            rows.append({"column": name, "low": float(low), "high": float(high),
                         "share": float(np.mean(synthetic_values < low) + np.mean(synthetic_values > high))})
    if not rows:
        raise NotApplicable("no numeric columns")
    details = pd.DataFrame(rows)
    return Score(float(details["share"].mean()), details=details)


@metric("variance_ratio", family="collapse", goal="real", bounds=(0.0, float("inf")), default=False)
def variance_ratio(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                   holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """Synthetic / real variance, mean over numeric columns whose real variance is finite and non-zero."""
    schema, real_view, synthetic_view = _views(real, synthetic, schema)
    rows = []
    for name in _numeric(schema):
        real_variance = real_view[name].var()
        if real_variance and np.isfinite(real_variance):
            rows.append({"column": name, "ratio": float(synthetic_view[name].var() / real_variance)})
    if not rows:
        raise NotApplicable("no numeric column with a non-zero real variance")
    details = pd.DataFrame(rows)
    return Score(mean_or_nan(details["ratio"]), details=details)
