"""What the lab measures each generation: registered metrics (:mod:`synthloop.metrics`), read against
a frozen real holdout never trained on.

The collapse signatures of Shumailov et al. (Nature 2024) are lost tails and lost rare events, so
besides whole-distribution scores the lab tracks them directly. Each lab measure is one registered
metric with one definition, and this module says only which real table it is read against:

- ``tail_share``: share of generated values beyond the holdout's 1st / 99th percentiles (real ≈ 0.02,
  collapse → 0); ``variance_ratio``: generated / holdout variance (real ≈ 1, collapse → 0);
- ``category_coverage``: share of the holdout's categories that still appear;
- ``rare_category_survival``: share of the *real training data's* categories under 1% that still
  appear — the first thing a collapsing loop forgets;
- ``detection_auc_split``: classifier two-sample AUC on one split, holdout vs generated (0.5 =
  indistinguishable; not clipped, so means over seeds are unbiased);
- ``tstr_auc``: models trained on generated rows, tested on the holdout (NaN without a categorical target).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from synthloop.errors import ConfigError
from synthloop.schema import Schema

#: Lab measure → the real table it is read against: the frozen ``holdout``, or the ``train``ing data
#: (rare categories are those the loop started from; TSTR trains on generated rows, tests on the holdout).
REFERENCE = {"tail_share": "holdout", "variance_ratio": "holdout", "category_coverage": "holdout",
             "rare_category_survival": "train", "detection_auc_split": "holdout", "tstr_auc": "train"}
MEASURES = tuple(REFERENCE)


def goals() -> dict[str, str]:
    """Each measure's goal from the metric registry: ``max``, ``min`` or ``real`` (closest to real)."""
    from synthloop.metrics import get_metric

    return {name: get_metric(name).goal for name in MEASURES}


def measure(synthetic: pd.DataFrame, holdout: pd.DataFrame, schema: Schema, rng: np.random.Generator,
            names: Sequence[str] = MEASURES, *, real: pd.DataFrame) -> dict[str, float]:
    """The named lab measures (default: all) for one generated table; NaN where a metric does not apply."""
    from synthloop.metrics import NotApplicable, get_metric

    scores = {}
    for name in names:
        info = get_metric(name)
        train = REFERENCE[name] == "train"
        try:
            scores[name] = float(info(real if train else holdout, synthetic, schema,
                                      holdout=holdout if train else None, rng=rng).value)
        except NotApplicable:
            scores[name] = float("nan")
    return scores


def check_measures(names: Sequence[str] | str) -> tuple[str, ...]:
    """``"default"`` (all) or a list of known measure names."""
    if isinstance(names, str):
        names = MEASURES if names == "default" else [names]
    unknown = [n for n in names if n not in MEASURES]
    if unknown:
        raise ConfigError(f"Unknown lab measures {unknown}; choose from {', '.join(MEASURES)} (or 'default').")
    return tuple(names)
