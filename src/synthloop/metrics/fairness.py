"""Fairness: are differences between sensitive groups kept, not invented or erased, by the synthetic data?

For each column the schema marks sensitive (``Column.sensitive``), groups are its categories
holding at least 1% of the rows (and 30 rows).

- ``target_rate_gap``: the spread (max − min over groups) of the rate of the target's rarest class
  is computed in the real and in the synthetic data; the score is the largest absolute change of
  that spread over sensitive columns (0: the demographic-parity gap is preserved; Dwork et al. 2012).
- ``tstr_group_gap``: the spread of accuracy over groups, on real test rows, of the gradient-boosted
  model trained on synthetic data; its baseline is the same spread for the model trained on real data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthloop.metrics.encoding import model_view, resolve_schema
from synthloop.metrics.registry import NotApplicable, Score, metric
from synthloop.metrics.utility import utility_run
from synthloop.schema import Schema

MIN_GROUP_SHARE = 0.01
MIN_GROUP_ROWS = 30


def _sensitive(schema: Schema) -> list[str]:
    kinds = schema.model_kinds()
    names = [c.name for c in schema.sensitive() if kinds.get(c.name) == "categorical" and c.name != schema.target]
    if not names:
        raise NotApplicable("no categorical column is marked sensitive in the schema")
    return names


def _groups(values: pd.Series) -> list[str]:
    counts = values.value_counts()
    return [str(label) for label, count in counts.items()
            if count >= MIN_GROUP_ROWS and count >= MIN_GROUP_SHARE * len(values)]


@metric("target_rate_gap", family="fairness", goal="min", bounds=(0.0, 1.0))
def target_rate_gap(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                    holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """Largest change, over sensitive columns, of the between-group spread in the target rate."""
    schema = resolve_schema(real, schema)
    if schema.target is None or schema.model_kinds().get(schema.target) != "categorical":
        raise NotApplicable("needs a categorical target column")
    sensitive = _sensitive(schema)
    real_view, synthetic_view = model_view(real, schema), model_view(synthetic, schema)
    positive = str(real_view[schema.target].value_counts().index[-1])
    rows, changes = [], []
    for name in sensitive:
        groups = _groups(real_view[name])
        spreads = {}
        for table, frame in (("real", real_view), ("synthetic", synthetic_view)):
            rates = frame.groupby(name)[schema.target].agg(lambda v, p=positive: float((v == p).mean()))
            rates = rates.reindex(groups)
            rows.extend({"column": name, "group": group, "table": table, "target_rate": rate,
                         "positive_class": positive} for group, rate in rates.items())
            spreads[table] = float(rates.max() - rates.min()) if rates.notna().sum() > 1 else 0.0
        changes.append(abs(spreads["synthetic"] - spreads["real"]))
    return Score(float(max(changes)), details=pd.DataFrame(rows))


@metric("tstr_group_gap", family="fairness", goal="min", bounds=(0.0, 1.0))
def tstr_group_gap(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                   holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """Largest spread of accuracy across sensitive groups for a model trained on synthetic data."""
    schema = resolve_schema(real, schema)
    sensitive = _sensitive(schema)
    run = utility_run(real, synthetic, schema, holdout=holdout, rng=rng)
    if run.task != "classification":
        raise NotApplicable("needs a categorical target column")
    rows, spreads = [], {"synthetic": [], "real": []}
    for name in sensitive:
        groups = _groups(run.test[name])
        labels = run.test[name].astype(str).to_numpy()
        for trained_on in ("synthetic", "real"):
            right = run.predictions["boosting", trained_on].argmax(axis=1) == run.test_y
            accuracy = {group: float(right[labels == group].mean()) for group in groups}
            rows.extend({"column": name, "group": group, "trained_on": trained_on, "accuracy": value}
                        for group, value in accuracy.items())
            spreads[trained_on].append(max(accuracy.values()) - min(accuracy.values()) if len(accuracy) > 1 else 0.0)
    return Score(float(max(spreads["synthetic"])), details=pd.DataFrame(rows), baseline=float(max(spreads["real"])),
                 notes=run.notes)
