"""How far a table is from a target: detection AUC, per-column divergences and train-synthetic-test-on-target.

Measured the same way before and after alignment or refinement, so the two numbers compare:

- ``detection_auc``: the cross-fitted AUC of the classifier of :mod:`synthloop.align.ratio`
  telling target rows from the table's rows (0.5: indistinguishable), on balanced sides;
- ``divergences``: one row per column, KS for numerics and total variation for labels
  (:mod:`synthloop.tabular.divergences`, the definitions every metric uses);
- ``tstr``: with a target column, a boosted model trained on the table and scored on the target
  rows (ROC AUC for two classes, accuracy for more, R² for numbers).

Pass held-out target rows (not those the weights were fitted on) for an honest "after".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthloop.align.ratio import fit_ratio
from synthloop.metrics.encoding import MixedEncoding
from synthloop.metrics.models import binary_auc, fit_model, predict
from synthloop.tabular.divergences import ks, tvd

#: Rows per side of the detection test (balanced), at most.
DETECTION_ROWS = 5_000


@dataclass(frozen=True)
class Discrepancy:
    """One table measured against target rows."""

    detection_auc: float
    divergences: pd.DataFrame          # column, kind, divergence (KS or TVD)
    tstr: float | None                 # None without a target column
    tstr_metric: str | None

    def to_dict(self) -> dict[str, object]:
        def rounded(value: float | None) -> float | None:
            return None if value is None or value != value else round(value, 4)

        mean = float(self.divergences["divergence"].mean()) if len(self.divergences) else None
        return {"detection_auc": rounded(self.detection_auc), "tstr": rounded(self.tstr), "tstr_metric": self.tstr_metric,
                "mean_divergence": rounded(mean)}


def discrepancy(target: pd.DataFrame, table: pd.DataFrame, kinds: Mapping[str, str], *, rng: np.random.Generator,
                label: str | None = None) -> Discrepancy:
    """Measure the model-view ``table`` against the model-view ``target`` (see the module docstring)."""
    per_side = min(len(target), len(table), DETECTION_ROWS)
    target_rows = target.iloc[np.sort(rng.choice(len(target), per_side, replace=False))]
    table_rows = table.iloc[np.sort(rng.choice(len(table), per_side, replace=False))]
    auc = fit_ratio(target_rows, table_rows, kinds, rng=rng).auc
    records = [{"column": name, "kind": kind,
                "divergence": ks(target[name], table[name]) if kind == "numeric" else tvd(target[name], table[name])}
               for name, kind in kinds.items()]
    tstr, name = (None, None) if label is None else _tstr(table, target, kinds, label, rng)
    return Discrepancy(max(auc, 0.5), pd.DataFrame(records, columns=["column", "kind", "divergence"]), tstr, name)


def _tstr(train: pd.DataFrame, test: pd.DataFrame, kinds: Mapping[str, str], label: str,
          rng: np.random.Generator) -> tuple[float | None, str | None]:
    features = {k: v for k, v in kinds.items() if k != label}
    encoding = MixedEncoding.fit(test, features)
    x_train, x_test = encoding.codes(train), encoding.codes(test)
    seed = int(rng.integers(2**31 - 1))
    if kinds[label] == "numeric":
        from sklearn.metrics import r2_score

        keep = train[label].notna().to_numpy()
        model = fit_model("boosting", "regression", x_train[keep], train[label].to_numpy(dtype="float64")[keep],
                          encoding.categorical_mask(), seed)
        present = test[label].notna().to_numpy()
        return float(r2_score(test[label].to_numpy(dtype="float64")[present],
                              predict(model, "regression", x_test[present]))), "r2"
    y_train, y_test = train[label].astype(str).to_numpy(), test[label].astype(str).to_numpy()
    classes = np.unique(y_train)
    if len(classes) < 2:
        return None, None
    model = fit_model("boosting", "classification", x_train, np.searchsorted(classes, y_train),
                      encoding.categorical_mask(), seed)
    probability = predict(model, "classification", x_test)
    if len(classes) == 2 and len(np.unique(y_test)) == 2:
        return binary_auc(y_test == classes[1], probability[:, 1]), "roc_auc"
    return float(np.mean(classes[probability.argmax(axis=1)] == y_test)), "accuracy"
