"""What the lab measures each generation, always against a frozen real holdout never trained on.

The collapse signatures of Shumailov et al. (Nature 2024) are lost tails and lost rare events, so
besides whole-distribution scores the lab tracks them directly:

- ``tail_mass``: share of generated values beyond the holdout's 1st / 99th percentiles, both sides,
  averaged over numeric columns (real data: about 0.02; collapse drives it to 0);
- ``variance_ratio``: generated / holdout variance, averaged over numeric columns (collapse → 0);
- ``rare_category_survival``: share of the real training data's rare categories (< 1% frequency)
  that still appear — the first thing a collapsing loop forgets;
- ``detection_auc``: classifier two-sample test, holdout vs generated (0.5 = indistinguishable),
  with the encoding and boosted model of :mod:`synthloop.metrics` on one split;
- from :mod:`synthloop.metrics` (the functions the evaluation report uses): ``category_coverage``
  (share of the holdout's categories that still appear) and ``tstr`` (``tstr_auc``: models trained
  on generated rows, tested on the holdout; NaN without a categorical target).

The registry's own ``tail_mass`` metric is a different number (a 5%/95% tail *ratio* score for
reports); the lab keeps the raw 1%/99% mass, whose drift towards 0 is the collapse signature.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from synthloop.errors import ConfigError
from synthloop.lab.verifiers import _as_text
from synthloop.schema import Schema

MEASURES = ("tail_mass", "variance_ratio", "category_coverage", "rare_category_survival", "detection_auc", "tstr")
#: Whether a higher value is better, for each measure (tail mass and variance ratio: closer to real is better).
GOALS = {"tail_mass": "real", "variance_ratio": "real", "category_coverage": "max",
         "rare_category_survival": "max", "detection_auc": "min", "tstr": "max"}
RARE_FREQUENCY = 0.01


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


def detection_auc(synthetic: pd.DataFrame, holdout: pd.DataFrame, schema: Schema, rng: np.random.Generator,
                  max_rows: int = 3_000) -> float:
    """Classifier two-sample AUC, holdout vs generated, on one 50/50 split (0.5 = indistinguishable).

    The same encoding and boosted model as the registry's ``detection_auc`` metric, without its
    three folds and permutation attributions: the lab needs only the AUC, at every generation.
    """
    from sklearn.metrics import roc_auc_score

    from synthloop.metrics.encoding import MixedEncoding, model_view, subsample
    from synthloop.metrics.models import fit_model, predict, seed_from

    encoding = MixedEncoding.for_schema(holdout, schema)
    per_side = min(len(holdout), len(synthetic), max_rows)
    rows = pd.concat([subsample(model_view(holdout, schema), per_side, rng),
                      subsample(model_view(synthetic, schema), per_side, rng)], ignore_index=True)
    features, is_synthetic = encoding.codes(rows), np.r_[np.zeros(per_side), np.ones(per_side)]
    test = rng.permutation(len(rows)) % 2 == 1
    model = fit_model("boosting", "classification", features[~test], is_synthetic[~test],
                      encoding.categorical_mask(), seed_from(rng))
    auc = roc_auc_score(is_synthetic[test], predict(model, "classification", features[test])[:, 1])
    return max(float(auc), 0.5)


def _registered(name: str, real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema,
                holdout: pd.DataFrame | None, rng: np.random.Generator) -> float:
    """A metric from :mod:`synthloop.metrics` (NaN when it does not apply to this table)."""
    from synthloop.metrics import NotApplicable, get_metric

    try:
        return float(get_metric(name)(real, synthetic, schema, holdout=holdout, rng=rng).value)
    except NotApplicable:
        return float("nan")


def measure(synthetic: pd.DataFrame, holdout: pd.DataFrame, schema: Schema, rare: dict[str, set[str]],
            rng: np.random.Generator, names: Sequence[str] = MEASURES, *,
            real: pd.DataFrame | None = None) -> dict[str, float]:
    """The named lab measures (default: all) for one generated table."""
    compute = {"tail_mass": lambda: tail_mass(synthetic, holdout, schema),
               "variance_ratio": lambda: variance_ratio(synthetic, holdout, schema),
               "category_coverage": lambda: _registered("category_coverage", holdout, synthetic, schema, None, rng),
               "rare_category_survival": lambda: rare_category_survival(synthetic, rare),
               "detection_auc": lambda: detection_auc(synthetic, holdout, schema, rng),
               "tstr": lambda: _registered("tstr_auc", holdout if real is None else real, synthetic, schema, holdout, rng)}
    return {name: compute[name]() for name in names}


def check_measures(names: Sequence[str] | str) -> tuple[str, ...]:
    """``"default"`` (all) or a list of known measure names."""
    if isinstance(names, str):
        names = MEASURES if names == "default" else [names]
    unknown = [n for n in names if n not in MEASURES]
    if unknown:
        raise ConfigError(f"Unknown lab measures {unknown}; choose from {', '.join(MEASURES)} (or 'default').")
    return tuple(names)


def _labels(values: pd.Series) -> pd.Series:
    return _as_text(values).dropna()
