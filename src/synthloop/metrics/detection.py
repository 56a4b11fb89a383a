"""Adversarial validation: a classifier two-sample test telling real rows from synthetic rows.

A gradient-boosted classifier is cross-validated on an equal number of real and synthetic rows;
its out-of-fold ROC AUC is ``detection_auc`` (0.5: indistinguishable, 1.0: trivially told apart;
Lopez-Paz & Oquab, "Revisiting classifier two-sample tests", ICLR 2017). Per-column attributions
are permutation importances (the AUC lost when one column is shuffled in the held-out fold), and
the easiest slices are the column values (or numeric quintiles) where the out-of-fold predictions
are most confidently right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthloop.metrics.cache import frame_key, memo, rng_key
from synthloop.metrics.encoding import MixedEncoding, model_view, resolve_schema, subsample, subsample_note
from synthloop.metrics.intervals import auc_interval
from synthloop.metrics.models import binary_auc, fit_model, predict, seed_from
from synthloop.metrics.registry import Score, metric
from synthloop.schema import Schema

MAX_ROWS_PER_SIDE = 10_000
N_FOLDS = 3
N_SLICES = 10
PERMUTATION_ROWS = 2_000
SPLIT_MAX_ROWS = 3_000


@dataclass(frozen=True)
class AdversarialResult:
    auc: float
    attributions: pd.DataFrame       # column, auc_drop
    slices: pd.DataFrame             # column, slice, n_real, n_synthetic, synthetic_share, confidence
    notes: tuple[str, ...]
    interval: tuple[float, float] = (float("nan"), float("nan"))     # bootstrap of the out-of-fold AUC


@metric("detection_auc", family="detection", goal="min", bounds=(0.0, 1.0))
def detection_auc(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                  holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """Cross-validated AUC of a classifier telling real from synthetic rows (0.5 = indistinguishable)."""
    result = adversarial_validation(real, synthetic, schema, rng=rng)
    notes = result.notes
    if result.auc < 0.5:   # below chance only happens by noise, or with duplicated rows across folds
        notes = (*notes, f"cross-validated AUC was {result.auc:.3f} (below chance); reported as 0.5")
    low, high = result.interval
    return Score(max(result.auc, 0.5), details=result.attributions, notes=notes,
                 tables={"detection_slices": result.slices}, interval=(max(low, 0.5), max(high, 0.5)))


@metric("detection_auc_split", family="detection", goal="min", bounds=(0.0, 1.0), default=False)
def detection_auc_split(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                        holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """Classifier two-sample AUC on one 50/50 split, not clipped (0.5 = indistinguishable; below: noise).

    The encoding and boosted model of ``detection_auc`` without its folds and permutation
    attributions, several times faster: the collapse lab computes it at every generation. Values
    under 0.5 are kept, so means over seeds are unbiased; differences below about 0.02 are noise.
    """
    from sklearn.metrics import roc_auc_score

    schema = resolve_schema(real, schema)
    rng = rng if rng is not None else np.random.default_rng(0)
    encoding = MixedEncoding.for_schema(real, schema)
    per_side = min(len(real), len(synthetic), SPLIT_MAX_ROWS)
    rows = pd.concat([subsample(model_view(real, schema), per_side, rng),
                      subsample(model_view(synthetic, schema), per_side, rng)], ignore_index=True)
    features, is_synthetic = encoding.codes(rows), np.r_[np.zeros(per_side), np.ones(per_side)]
    test = rng.permutation(len(rows)) % 2 == 1
    model = fit_model("boosting", "classification", features[~test], is_synthetic[~test],
                      encoding.categorical_mask(), seed_from(rng))
    auc = roc_auc_score(is_synthetic[test], predict(model, "classification", features[test])[:, 1])
    return Score(float(auc), notes=subsample_note({"real": len(real), "synthetic": len(synthetic)}, per_side))


def adversarial_validation(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                           rng: np.random.Generator | None = None, max_rows: int = MAX_ROWS_PER_SIDE) -> AdversarialResult:
    """Run the classifier two-sample test once (cached inside ``evaluate``)."""
    schema = resolve_schema(real, schema)
    key = ("adversarial", *frame_key(real, synthetic, schema), rng_key(rng), max_rows)
    return memo(key, lambda: _adversarial(real, synthetic, schema, rng if rng is not None else np.random.default_rng(0),
                                          max_rows))


def _adversarial(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema, rng: np.random.Generator,
                 max_rows: int) -> AdversarialResult:
    from sklearn.model_selection import StratifiedKFold

    encoding = MixedEncoding.for_schema(real, schema)
    per_side = min(len(real), len(synthetic), max_rows)
    real_rows = subsample(model_view(real, schema), per_side, rng)
    synthetic_rows = subsample(model_view(synthetic, schema), per_side, rng)
    rows = pd.concat([real_rows, synthetic_rows], ignore_index=True)
    features = encoding.codes(rows)
    is_synthetic = np.r_[np.zeros(len(real_rows)), np.ones(len(synthetic_rows))]
    out_of_fold = np.zeros(len(rows))
    drops = np.zeros((N_FOLDS, features.shape[1]))
    folds = StratifiedKFold(N_FOLDS, shuffle=True, random_state=seed_from(rng))
    for fold, (train_idx, test_idx) in enumerate(folds.split(features, is_synthetic)):
        model = fit_model("boosting", "classification", features[train_idx], is_synthetic[train_idx],
                          encoding.categorical_mask(), seed_from(rng))
        test_x, test_y = features[test_idx], is_synthetic[test_idx]
        out_of_fold[test_idx] = predict(model, "classification", test_x)[:, 1]
        drops[fold] = _permutation_drops(model, test_x, test_y, out_of_fold[test_idx], rng)
    attributions = pd.DataFrame({"column": list(encoding.kinds), "auc_drop": drops.mean(axis=0)})
    attributions = attributions.sort_values("auc_drop", ascending=False, ignore_index=True)
    slices = easiest_slices(rows, is_synthetic, out_of_fold, encoding)
    notes = subsample_note({"real": len(real), "synthetic": len(synthetic)}, per_side)
    return AdversarialResult(float(binary_auc(is_synthetic, out_of_fold)), attributions, slices, notes,
                             auc_interval(is_synthetic, out_of_fold))


def _permutation_drops(model, test_x: np.ndarray, test_y: np.ndarray, predicted: np.ndarray,
                       rng: np.random.Generator) -> np.ndarray:
    """AUC lost when each column is shuffled, on at most ``PERMUTATION_ROWS`` held-out rows."""
    rows = np.sort(rng.choice(len(test_x), size=min(PERMUTATION_ROWS, len(test_x)), replace=False))
    test_x, test_y = test_x[rows], test_y[rows]
    full = binary_auc(test_y, predicted[rows])
    drops = np.zeros(test_x.shape[1])
    for column in range(test_x.shape[1]):
        shuffled = test_x.copy()
        shuffled[:, column] = rng.permutation(shuffled[:, column])
        drops[column] = full - binary_auc(test_y, predict(model, "classification", shuffled)[:, 1])
    return drops


def easiest_slices(rows: pd.DataFrame, is_synthetic: np.ndarray, synthetic_probability: np.ndarray,
                   encoding: MixedEncoding, top: int = N_SLICES) -> pd.DataFrame:
    """Column values (numeric quintiles) where out-of-fold predictions are most confidently right.

    ``confidence`` is the mean predicted probability of each row's true origin within the slice
    (0.5: the classifier is guessing there); slices under 1% of rows (or 30 rows) are skipped.
    """
    confidence = np.where(is_synthetic == 1, synthetic_probability, 1 - synthetic_probability)
    min_rows = max(30, int(0.01 * len(rows)))
    records = []
    for name, kind in encoding.kinds.items():
        labels = _slice_labels(rows[name], kind, real_part=rows[name][is_synthetic == 0])
        for label, index in labels.groupby(labels, sort=False).groups.items():
            positions = rows.index.get_indexer(index)
            if len(positions) < min_rows:
                continue
            n_synthetic = int(is_synthetic[positions].sum())
            records.append({"column": name, "slice": str(label), "n_real": len(positions) - n_synthetic,
                            "n_synthetic": n_synthetic, "synthetic_share": n_synthetic / len(positions),
                            "confidence": float(confidence[positions].mean())})
    table = pd.DataFrame(records, columns=["column", "slice", "n_real", "n_synthetic", "synthetic_share", "confidence"])
    return table.sort_values("confidence", ascending=False, ignore_index=True).head(top)


def _slice_labels(values: pd.Series, kind: str, real_part: pd.Series) -> pd.Series:
    if kind != "numeric":
        return values.astype(object).where(values.notna(), "(missing)").astype(str)
    finite = real_part.dropna().to_numpy(dtype="float64")
    if len(finite) == 0:
        return pd.Series("(missing)", index=values.index)
    edges = np.unique(np.quantile(finite, [0.2, 0.4, 0.6, 0.8]))
    bins = np.searchsorted(edges, values.to_numpy(dtype="float64"), side="right")
    bounds = np.r_[-np.inf, edges, np.inf]
    names = [f"({_fmt(bounds[i])}, {_fmt(bounds[i + 1])}]" for i in range(len(bounds) - 1)]
    labelled = pd.Series(np.array(names, dtype=object)[bins], index=values.index)
    return labelled.where(values.notna(), "(missing)")


def _fmt(value: float) -> str:
    return f"{value:.4g}" if np.isfinite(value) else ("-inf" if value < 0 else "inf")
