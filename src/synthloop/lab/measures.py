"""What the lab measures each generation, always against a frozen real holdout never trained on.

The collapse signatures of Shumailov et al. (Nature 2024) are lost tails and lost rare events, so
besides whole-distribution scores the lab tracks them directly:

- ``tail_mass``: share of generated values beyond the holdout's 1st / 99th percentiles, both sides,
  averaged over numeric columns (real data: about 0.02; collapse drives it to 0);
- ``variance_ratio``: generated / holdout variance, averaged over numeric columns (collapse → 0);
- ``category_coverage``: share of the holdout's categories that still appear (collapse → lower);
- ``rare_category_survival``: share of the real data's rare categories (< 1% frequency) that still
  appear — the first thing a collapsing loop forgets;
- ``detection_auc``: classifier two-sample test, holdout vs generated (0.5 = indistinguishable);
- ``tstr``: train on generated, test on real holdout (ROC AUC for a binary target, else accuracy).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from synthloop.errors import ConfigError
from synthloop.lab.verifiers import _as_text, encode_features
from synthloop.schema import Schema

MEASURES = ("tail_mass", "variance_ratio", "category_coverage", "rare_category_survival", "detection_auc", "tstr")
#: Whether a higher value is better, for each measure (tail mass and variance ratio: closer to real is better).
GOALS = {"tail_mass": "real", "variance_ratio": "real", "category_coverage": "max",
         "rare_category_survival": "max", "detection_auc": "min", "tstr": "max"}
RARE_FREQUENCY = 0.01
_MAX_ROWS = 5_000


def tail_mass(synthetic: pd.DataFrame, holdout: pd.DataFrame, schema: Schema) -> float:
    """Share of values beyond the holdout's 1st/99th percentiles (two-sided), averaged over numeric columns."""
    masses = []
    for column in schema.numeric():
        real_values = pd.to_numeric(holdout[column.name], errors="coerce").dropna().to_numpy()
        values = pd.to_numeric(synthetic[column.name], errors="coerce").dropna().to_numpy()
        if len(real_values) and len(values):
            low, high = np.quantile(real_values, [0.01, 0.99])
            masses.append(float(np.mean(values < low) + np.mean(values > high)))
    return float(np.mean(masses)) if masses else float("nan")


def variance_ratio(synthetic: pd.DataFrame, holdout: pd.DataFrame, schema: Schema) -> float:
    """Generated / holdout variance, averaged over numeric columns with non-zero holdout variance."""
    ratios = []
    for column in schema.numeric():
        real_var = pd.to_numeric(holdout[column.name], errors="coerce").var()
        if real_var and np.isfinite(real_var):
            ratios.append(float(pd.to_numeric(synthetic[column.name], errors="coerce").var() / real_var))
    return float(np.nanmean(ratios)) if ratios else float("nan")


def category_coverage(synthetic: pd.DataFrame, holdout: pd.DataFrame, schema: Schema) -> float:
    """Share of the holdout's categories present in the generated data, averaged over categorical columns."""
    shares = []
    for column in schema.categorical():
        wanted = set(_labels(holdout[column.name]))
        if wanted:
            shares.append(len(wanted & set(_labels(synthetic[column.name]))) / len(wanted))
    return float(np.mean(shares)) if shares else float("nan")


def rare_categories(real: pd.DataFrame, schema: Schema, threshold: float = RARE_FREQUENCY) -> dict[str, set[str]]:
    """Per categorical column, the labels seen in ``real`` with frequency below ``threshold``."""
    out = {}
    for column in schema.categorical():
        freq = _labels(real[column.name]).value_counts(normalize=True)
        rare = set(freq.index[freq < threshold])
        if rare:
            out[column.name] = rare
    return out


def rare_category_survival(synthetic: pd.DataFrame, rare: dict[str, set[str]]) -> float:
    """Share of the rare real categories that still appear in the generated data."""
    total = sum(len(labels) for labels in rare.values())
    if not total:
        return float("nan")
    present = sum(len(labels & set(_labels(synthetic[name]))) for name, labels in rare.items())
    return present / total


def detection_auc(synthetic: pd.DataFrame, holdout: pd.DataFrame, schema: Schema, rng: np.random.Generator) -> float:
    """Cross-validated ROC AUC of a classifier telling holdout rows from generated rows (0.5 = same)."""
    from sklearn.metrics import roc_auc_score

    columns = list(schema.names)
    real, fake = _cap(holdout, rng)[columns], _cap(synthetic, rng)[columns]
    (real_x, fake_x), categorical = encode_features([real, fake])
    x, y = np.vstack([real_x, fake_x]), np.r_[np.ones(len(real_x)), np.zeros(len(fake_x))]
    # One 50/50 split: half the cost of two-fold cross-fitting, and plenty of rows for an AUC.
    test = rng.random(len(y)) < 0.5
    with threadpool_limits(1):  # OpenMP threads on a shared, busy machine slow boosting down many times over
        model = _boosting(categorical, int(rng.integers(2**31))).fit(x[~test], y[~test])
        return float(roc_auc_score(y[test], model.predict_proba(x[test])[:, 1]))


def tstr(synthetic: pd.DataFrame, holdout: pd.DataFrame, schema: Schema, rng: np.random.Generator) -> float:
    """Train on generated, test on real: ROC AUC (binary target) or accuracy (multi-class)."""
    from sklearn.metrics import accuracy_score, roc_auc_score

    target = schema.target
    if target is None or schema[target].kind not in ("categorical", "boolean"):
        return float("nan")
    features = [n for n in schema.names if n != target]
    train, test = _cap(synthetic, rng), holdout
    y_train, y_test = _labels(train[target], keep_na=True), _labels(test[target], keep_na=True)
    if y_train.nunique() < 2:
        return 0.5 if y_test.nunique() == 2 else 0.0
    (x_train, x_test), categorical = encode_features([train[features], test[features]])
    with threadpool_limits(1):
        model = _boosting(categorical, int(rng.integers(2**31))).fit(x_train, y_train.to_numpy())
        if y_test.nunique() == 2 and set(y_test) <= set(model.classes_):
            positive = sorted(set(y_test))[1]
            proba = model.predict_proba(x_test)[:, list(model.classes_).index(positive)]
            return float(roc_auc_score(y_test == positive, proba))
        return float(accuracy_score(y_test, model.predict(x_test)))


def measure(synthetic: pd.DataFrame, holdout: pd.DataFrame, schema: Schema, rare: dict[str, set[str]],
            rng: np.random.Generator, names: Sequence[str] = MEASURES) -> dict[str, float]:
    """The named lab measures (default: all) for one generated table."""
    compute = {"tail_mass": lambda: tail_mass(synthetic, holdout, schema),
               "variance_ratio": lambda: variance_ratio(synthetic, holdout, schema),
               "category_coverage": lambda: category_coverage(synthetic, holdout, schema),
               "rare_category_survival": lambda: rare_category_survival(synthetic, rare),
               "detection_auc": lambda: detection_auc(synthetic, holdout, schema, rng),
               "tstr": lambda: tstr(synthetic, holdout, schema, rng)}
    return {name: compute[name]() for name in names}


def check_measures(names: Sequence[str] | str) -> tuple[str, ...]:
    """``"default"`` (all) or a list of known measure names."""
    if isinstance(names, str):
        names = MEASURES if names == "default" else [names]
    unknown = [n for n in names if n not in MEASURES]
    if unknown:
        raise ConfigError(f"Unknown lab measures {unknown}; choose from {', '.join(MEASURES)} (or 'default').")
    return tuple(names)


def _labels(values: pd.Series, *, keep_na: bool = False) -> pd.Series:
    labels = _as_text(values)
    return labels.fillna("\0missing") if keep_na else labels.dropna()


def _cap(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= _MAX_ROWS:
        return frame
    return frame.iloc[rng.choice(len(frame), size=_MAX_ROWS, replace=False)]


def _boosting(categorical: np.ndarray, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=40, learning_rate=0.2, min_samples_leaf=20,
                                          categorical_features=categorical, random_state=seed)
