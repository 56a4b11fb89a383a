"""Contract checks for the other pluggable parts: column transforms and metrics.

``check_transform(transform, values)`` and ``check_metric(metric, real, holdout)`` raise one
:class:`~synthloop.testing.checks.ContractError` listing every broken rule, as
:func:`~synthloop.testing.check_synthesizer` does for models.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from synthloop.errors import format_problems
from synthloop.schema import Schema
from synthloop.testing.checks import ContractError
from synthloop.transforms.base import ColumnTransform


def check_transform(transform: ColumnTransform, values: pd.Series) -> None:
    """A column transform fits, encodes to its published width, decodes within the data, and its
    ``to_state``/``from_state`` (through JSON) rebuilds one that encodes and decodes identically."""
    problems: list[str] = []
    fitted = transform.fit(values, np.random.default_rng(0))
    width = sum(spec.width for spec in fitted.spans())
    block = fitted.transform(values, np.random.default_rng(1))
    if block.shape != (len(values), width):
        problems.append(f"transform gave shape {block.shape}, its spans say ({len(values)}, {width})")
    if not np.isfinite(block).all():
        problems.append("transform gave NaN or infinite values (missing values need their own span)")
    decoded = pd.Series(fitted.inverse_transform(block, np.random.default_rng(2)))
    present = values.dropna()
    if pd.api.types.is_numeric_dtype(present) and len(present):
        # Decoding may overshoot a little (the schema clips on output), never by a whole range: that is a scale bug.
        got = pd.to_numeric(decoded, errors="coerce").dropna()
        low, high = present.min(), present.max()
        if len(got) and (got.min() < low - (high - low) or got.max() > high + (high - low)):
            problems.append(f"decoded values [{got.min()}, {got.max()}] are far outside the data's [{low}, {high}]")
    elif len(present):
        unseen = set(decoded.dropna().astype(str)) - set(present.astype(str))
        if unseen:
            problems.append(f"decoded labels never seen: {sorted(unseen)[:3]}")
    if values.isna().any() != decoded.isna().any():
        problems.append(f"missing values {'lost' if values.isna().any() else 'invented'} in a round trip")
    arrays, meta = fitted.to_state()
    meta = json.loads(json.dumps({**meta, "name": fitted.column}))
    rebuilt = type(fitted).from_state({k: np.array(v) for k, v in arrays.items()}, meta)
    again = rebuilt.transform(values, np.random.default_rng(1))
    if again.shape != block.shape or not np.array_equal(again, block):
        problems.append("the transform rebuilt from to_state() encodes differently")
    if problems:
        raise ContractError(format_problems(f"{type(transform).__name__} broke the transform contract", problems))


def check_metric(metric, real: pd.DataFrame, holdout: pd.DataFrame, schema: Schema | None = None) -> None:
    """A registered metric (name or :class:`~synthloop.metrics.registry.MetricInfo`) returns a Score
    within its declared bounds on the holdout and on a copy of the real data, the same value for the same
    ``rng`` seed, and, when it does not apply, raises ``NotApplicable``, nothing else."""
    from synthloop.metrics.registry import NotApplicable, Score, get_metric

    info = get_metric(metric) if isinstance(metric, str) else metric
    schema = schema if schema is not None else Schema.infer(real)
    problems: list[str] = []
    for label, synthetic in (("the holdout", holdout), ("a copy of the real data", real.copy())):
        kwargs = {"holdout": holdout} if info.uses_holdout else {}
        try:
            first = info(real, synthetic, schema, rng=np.random.default_rng(0), **kwargs)
            second = info(real, synthetic, schema, rng=np.random.default_rng(0), **kwargs)
        except NotApplicable:
            return
        if not isinstance(first, Score):
            problems.append(f"on {label}: returned {type(first).__name__}, not a Score")
            continue
        low, high = info.bounds
        if not math.isnan(first.value) and not low <= first.value <= high:
            problems.append(f"on {label}: value {first.value} is outside its bounds [{low}, {high}]")
        if not (first.value == second.value or (math.isnan(first.value) and math.isnan(second.value))):
            problems.append(f"on {label}: {first.value} then {second.value} with the same rng seed")
    if problems:
        raise ContractError(format_problems(f"metric '{info.name}' broke the metric contract", problems))
