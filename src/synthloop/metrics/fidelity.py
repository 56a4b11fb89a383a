"""Fidelity of columns and pairs of columns: do the synthetic marginals and pair trends match the real ones?

- per column: ``ks_complement`` (1 − Kolmogorov–Smirnov statistic, numeric), ``tv_complement``
  (1 − total variation distance, categorical), ``wasserstein`` (W1 between values scaled to the real
  range [min, max], numeric);
- per pair: ``correlation_similarity`` (1 − |Δ Spearman ρ| / 2 over numeric pairs) and
  ``contingency_similarity`` (1 − TVD between joint frequency tables, for pairs with a categorical
  column, numerics cut at the real deciles), as in SDMetrics' Column Shapes / Column Pair Trends.

``marginal_table`` and ``association_table`` give the numbers behind the report's marginal overlays
and correlation-difference heatmap (Spearman ρ for numeric pairs, Cramér's V otherwise).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from synthloop.metrics.cache import frame_key, memo, rng_key
from synthloop.metrics.encoding import model_view, resolve_schema, subsample, subsample_note
from synthloop.metrics.registry import NotApplicable, Score, metric
from synthloop.schema import Schema
from synthloop.tabular import divergences
from synthloop.tabular.labels import label_codes

MAX_PAIR_ROWS = 20_000
N_BINS = 10
MAX_PAIR_CATEGORIES = 20
MARGINAL_CATEGORIES = 12
MARGINAL_BINS = 20


def _views(real, synthetic, schema):
    schema = resolve_schema(real, schema)
    return schema, model_view(real, schema), model_view(synthetic, schema)


def _columns(schema: Schema, kind: str) -> list[str]:
    return [name for name, k in schema.model_kinds().items() if k == kind]


@metric("ks_complement", family="fidelity", goal="max", bounds=(0.0, 1.0))
def ks_complement(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                  holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """One minus the two-sample KS statistic, averaged over numeric columns (1.0 = same marginals)."""
    schema, real_view, synthetic_view = _views(real, synthetic, schema)
    per_column = {name: 1.0 - divergences.ks(real_view[name], synthetic_view[name])
                  for name in _columns(schema, "numeric") if real_view[name].notna().any()}
    if not per_column:
        raise NotApplicable("no numeric columns")
    details = pd.DataFrame({"column": list(per_column), "ks_complement": list(per_column.values())})
    return Score(float(np.mean(list(per_column.values()))), details=details)


@metric("tv_complement", family="fidelity", goal="max", bounds=(0.0, 1.0))
def tv_complement(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                  holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """One minus the total variation distance of category frequencies, averaged over categorical columns."""
    schema, real_view, synthetic_view = _views(real, synthetic, schema)
    per_column = {name: 1.0 - divergences.tvd(real_view[name], synthetic_view[name])
                  for name in _columns(schema, "categorical")}
    if not per_column:
        raise NotApplicable("no categorical columns")
    details = pd.DataFrame({"column": list(per_column), "tv_complement": list(per_column.values())})
    return Score(float(np.mean(list(per_column.values()))), details=details)


@metric("wasserstein", family="fidelity", goal="min", bounds=(0.0, float("inf")))
def wasserstein(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """Wasserstein-1 distance between marginals scaled to the real [min, max], averaged over numeric columns."""
    schema, real_view, synthetic_view = _views(real, synthetic, schema)
    per_column = {name: divergences.wasserstein(real_view[name], synthetic_view[name])
                  for name in _columns(schema, "numeric") if real_view[name].notna().any()}
    if not per_column:
        raise NotApplicable("no numeric columns")
    details = pd.DataFrame({"column": list(per_column), "wasserstein": list(per_column.values())})
    return Score(float(np.mean(list(per_column.values()))), details=details)


# ---------------------------------------------------------------------- pairs
def _binned_codes(real_values: pd.Series, values: pd.Series, kind: str) -> tuple[np.ndarray, int]:
    """Small integer codes for a column: numeric deciles of the real values, or top categories."""
    if kind == "numeric":
        finite = real_values.dropna().to_numpy(dtype="float64")
        edges = np.unique(np.quantile(finite, np.linspace(0, 1, N_BINS + 1)[1:-1])) if len(finite) else np.array([])
        numbers = values.to_numpy(dtype="float64")
        codes = np.searchsorted(edges, numbers, side="right")
        return np.where(np.isnan(numbers), len(edges) + 1, codes), len(edges) + 2
    top = list(real_values.value_counts().index[:MAX_PAIR_CATEGORIES])
    codes = label_codes(values, top)
    codes[codes < 0] = len(top)
    codes[values.isna().to_numpy()] = len(top) + 1
    return codes, len(top) + 2


def _joint(a: np.ndarray, b: np.ndarray, n_a: int, n_b: int) -> np.ndarray:
    return np.bincount(a * n_b + b, minlength=n_a * n_b).reshape(n_a, n_b) / max(len(a), 1)


def _cramers_v(table: np.ndarray) -> float:
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return 0.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True)
    chi2 = float(((table - expected) ** 2 / np.where(expected > 0, expected, 1)).sum())
    return float(np.sqrt(chi2 / (min(table.shape) - 1)))


def _spearman(frame: pd.DataFrame, a: str, b: str) -> float:
    pair = frame[[a, b]].dropna()
    if len(pair) < 3 or pair[a].nunique() < 2 or pair[b].nunique() < 2:
        return 0.0
    return float(pair[a].rank().corr(pair[b].rank()))


def association_table(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                      rng: np.random.Generator | None = None) -> pd.DataFrame:
    """One row per column pair: kind, real and synthetic association, contingency similarity.

    Association is Spearman ρ for two numeric columns and Cramér's V otherwise (cached in ``evaluate``).
    """
    schema = resolve_schema(real, schema)
    key = ("pairs", *frame_key(real, synthetic, schema), rng_key(rng))
    rng = rng if rng is not None else np.random.default_rng(0)
    return memo(key, lambda: _association_table(real, synthetic, schema, rng))


def _association_table(real, synthetic, schema: Schema, rng: np.random.Generator) -> pd.DataFrame:
    kinds = schema.model_kinds()
    real_view = subsample(model_view(real, schema), MAX_PAIR_ROWS, rng)
    synthetic_view = subsample(model_view(synthetic, schema), MAX_PAIR_ROWS, rng)
    codes = {name: (_binned_codes(real_view[name], real_view[name], kind),
                    _binned_codes(real_view[name], synthetic_view[name], kind)) for name, kind in kinds.items()}
    rows = []
    for a, b in itertools.combinations(kinds, 2):
        (real_a, n_a), (synthetic_a, _) = codes[a]
        (real_b, n_b), (synthetic_b, _) = codes[b]
        real_joint, synthetic_joint = _joint(real_a, real_b, n_a, n_b), _joint(synthetic_a, synthetic_b, n_a, n_b)
        numeric_pair = kinds[a] == kinds[b] == "numeric"
        if numeric_pair:
            real_assoc, synthetic_assoc = _spearman(real_view, a, b), _spearman(synthetic_view, a, b)
        else:
            real_assoc, synthetic_assoc = _cramers_v(real_joint), _cramers_v(synthetic_joint)
        rows.append({"column_a": a, "column_b": b, "measure": "spearman" if numeric_pair else "cramers_v",
                     "real": real_assoc, "synthetic": synthetic_assoc, "difference": synthetic_assoc - real_assoc,
                     "contingency_similarity": 1.0 - 0.5 * float(np.abs(real_joint - synthetic_joint).sum())})
    return pd.DataFrame(rows, columns=["column_a", "column_b", "measure", "real", "synthetic", "difference",
                                       "contingency_similarity"])


def _pair_notes(real, synthetic) -> tuple[str, ...]:
    return subsample_note({"real": len(real), "synthetic": len(synthetic)}, MAX_PAIR_ROWS)


@metric("correlation_similarity", family="fidelity", goal="max", bounds=(0.0, 1.0))
def correlation_similarity(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                           holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """One minus half the absolute difference in Spearman ρ, averaged over numeric column pairs."""
    table = association_table(real, synthetic, schema, rng=rng)
    pairs = table[table["measure"] == "spearman"]
    if pairs.empty:
        raise NotApplicable("fewer than two numeric columns")
    similarity = 1.0 - pairs["difference"].abs() / 2.0
    details = pairs[["column_a", "column_b", "real", "synthetic"]].assign(similarity=similarity.to_numpy())
    return Score(float(similarity.mean()), details=details.reset_index(drop=True), notes=_pair_notes(real, synthetic))


@metric("contingency_similarity", family="fidelity", goal="max", bounds=(0.0, 1.0))
def contingency_similarity(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                           holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """One minus the TVD of joint frequency tables, averaged over pairs with a categorical column."""
    table = association_table(real, synthetic, schema, rng=rng)
    pairs = table[table["measure"] == "cramers_v"]
    if pairs.empty:
        raise NotApplicable("no column pair involves a categorical column")
    details = pairs[["column_a", "column_b", "contingency_similarity"]].reset_index(drop=True)
    return Score(float(pairs["contingency_similarity"].mean()), details=details, notes=_pair_notes(real, synthetic))


# ---------------------------------------------------------------------- plot data
def marginal_table(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                   holdout: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per column, the share of rows in each bin (numeric) or top category (categorical), per table."""
    schema = resolve_schema(real, schema)
    frames = {"real": model_view(real, schema), "synthetic": model_view(synthetic, schema)}
    if holdout is not None:
        frames["holdout"] = model_view(holdout, schema)
    rows = []
    for name, kind in schema.model_kinds().items():
        labels, assign = _marginal_bins(frames["real"][name], kind)
        for table, frame in frames.items():
            shares = np.bincount(assign(frame[name]), minlength=len(labels)) / max(len(frame), 1)
            rows.extend({"column": name, "kind": kind, "bin": label, "order": i, "table": table, "share": float(share)}
                        for i, (label, share) in enumerate(zip(labels, shares)))
    return pd.DataFrame(rows, columns=["column", "kind", "bin", "order", "table", "share"])


def _marginal_bins(real_values: pd.Series, kind: str):
    if kind == "numeric":
        finite = real_values.dropna().to_numpy(dtype="float64")
        low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        edges = np.linspace(low, high if high > low else low + 1.0, MARGINAL_BINS + 1)
        labels = [f"{edges[i]:.4g}" for i in range(MARGINAL_BINS)] + ["(missing)"]

        def assign(values: pd.Series) -> np.ndarray:
            numbers = values.to_numpy(dtype="float64")
            inner = np.clip(np.searchsorted(edges, numbers, side="right") - 1, 0, MARGINAL_BINS - 1)
            return np.where(np.isnan(numbers), MARGINAL_BINS, inner)

        return labels, assign
    top = [str(v) for v in real_values.value_counts().index[:MARGINAL_CATEGORIES]]
    labels = [*top, "(other)", "(missing)"]

    def assign_labels(values: pd.Series) -> np.ndarray:
        codes = label_codes(values, top)
        codes[codes < 0] = len(top)
        codes[values.isna().to_numpy()] = len(top) + 1
        return codes

    return labels, assign_labels
