"""The join round: one common schema and encoder from what each party shares about its table, never rows.

Two exchanges, both summary statistics of the model view (``Schema.to_model_frame``):

1. **Schemas.** Each party infers its schema locally (or all use a shared, public one) and sends it:
   column names and kinds, category labels, bounds. :func:`merge_schemas` checks that every party
   has the same columns and compatible kinds (a mismatch is one :class:`~synthloop.errors.SchemaError`
   naming the parties), then unions categories and widens bounds. A column constant at one party
   (a label-skewed split) takes the kind the others give it.
2. **Sketches.** Under the merged schema each party sends, per numeric column, ``n_quantiles``
   evenly spaced quantiles and its count of missing values, and per categorical column the count of
   each label (:func:`sketch_table`). :func:`sketch_frame` draws a stand-in table from the pooled
   sketches, each column on its own, which is all the per-column :class:`TableEncoder` fit reads:
   the mode-specific mixtures see the pooled distribution, point masses (a flat run of quantiles)
   included, and every category seen by any party has a slot.

What the server learns is listed in docs/federated.md (the trust model): the columns, the labels
and how often each occurs per party, and per numeric column its quantiles (minimum and maximum
included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from synthloop.errors import SchemaError, format_problems
from synthloop.schema import Column, Schema

#: Rows of the stand-in table the encoder is fitted on (the encoder reads at most 5,000 values per column).
SKETCH_ROWS = 5000
_MISSING = "\0missing"


def merge_schemas(schemas: Mapping[str, Schema], *, target: str | None = None) -> Schema:
    """One schema for all parties (``name → its schema``); mismatches raise one SchemaError listing them."""
    names = list(schemas)
    first = schemas[names[0]]
    problems = []
    for name in names[1:]:
        missing = [c for c in first.names if c not in schemas[name]]
        extra = [c for c in schemas[name].names if c not in first]
        if missing:
            problems.append(f"party '{name}' lacks columns {missing} that party '{names[0]}' has")
        if extra:
            problems.append(f"party '{name}' has columns {extra} that party '{names[0]}' lacks")
    if problems:
        raise SchemaError(format_problems("The parties' tables do not have the same columns", problems,
                                          "Give every party the same columns (a shared schema: --schema)."))
    columns = []
    for column_name in first.names:
        per_party = {name: schemas[name][column_name] for name in names}
        merged = _merge_column(per_party, problems)
        if merged is not None:
            columns.append(merged)
    if problems:
        raise SchemaError(format_problems("The parties' columns do not agree", problems,
                                          "Pass one shared schema to every party (--schema schema.json)."))
    target = target if target is not None else first.target
    return Schema(tuple(columns), target=target if target in first else None)


def _merge_column(per_party: Mapping[str, Column], problems: list[str]) -> Column | None:
    learned = {name: c for name, c in per_party.items() if c.kind != "constant"}
    if not learned:                                  # constant everywhere: constant if the value agrees
        values = {repr(c.value) for c in per_party.values()}
        if len(values) == 1:
            return next(iter(per_party.values()))
        learned = {name: _from_constant(c) for name, c in per_party.items()}
    kinds = {c.kind for c in learned.values()}
    if len(kinds) > 1:
        shown = ", ".join(f"{c.kind} at '{name}'" for name, c in learned.items())
        problems.append(f"column '{next(iter(per_party.values())).name}' is {shown}")
        return None
    base = next(iter(learned.values()))
    columns = list(learned.values()) + [_as_kind(_from_constant(c), base) for name, c in per_party.items()
                                        if name not in learned]
    nullable = any(c.nullable for c in per_party.values())
    sensitive = any(c.sensitive for c in per_party.values())
    if base.kind in ("categorical", "boolean"):
        categories: list[str] = []
        for column in columns:
            categories.extend(label for label in column.categories or () if label not in categories)
        return replace(base, categories=tuple(categories), nullable=nullable, sensitive=sensitive)
    lows = [c.low for c in columns if c.low is not None]
    highs = [c.high for c in columns if c.high is not None]
    decimals = [c.decimals for c in columns]
    return replace(base, low=min(lows, default=None), high=max(highs, default=None), nullable=nullable,
                   integer=all(c.integer for c in columns), sensitive=sensitive,
                   decimals=None if None in decimals else max(decimals))


def _from_constant(column: Column) -> Column:
    if column.kind != "constant":
        return column
    if isinstance(column.value, int | float) and not isinstance(column.value, bool):
        return Column(column.name, "numeric", low=column.value, high=column.value,
                      integer=float(column.value).is_integer(), dtype=column.dtype)
    return Column(column.name, "categorical", categories=(str(column.value),), dtype=column.dtype)


def _as_kind(column: Column, like: Column) -> Column:
    """A constant column read as the kind the other parties gave it."""
    if like.kind in ("categorical", "boolean") and column.kind == "numeric":
        return Column(column.name, like.kind, categories=(str(column.low),))
    return column


# ---------------------------------------------------------------------------------------------- sketches
def sketch_table(data: pd.DataFrame, schema: Schema, *, n_quantiles: int = 201) -> dict[str, Any]:
    """One party's summary of its table under the common schema (JSON-compatible; no rows)."""
    schema.validate(data, what="party's data")
    model_frame = schema.to_model_frame(data)
    columns: dict[str, Any] = {}
    for name, kind in schema.model_kinds().items():
        values = model_frame[name]
        missing = int(values.isna().sum())
        if kind == "numeric":
            present = values.dropna().to_numpy(dtype=np.float64)
            levels = np.linspace(0.0, 1.0, n_quantiles)
            quantiles = np.quantile(present, levels).tolist() if len(present) else []
            columns[name] = {"quantiles": quantiles, "present": len(present), "missing": missing}
        else:
            counts = values.dropna().astype(str).value_counts()
            columns[name] = {"counts": {str(k): int(v) for k, v in counts.items()}, "missing": missing}
    return {"n_rows": len(data), "columns": columns}


def sketch_frame(sketches: Sequence[Mapping[str, Any]], schema: Schema, rng: np.random.Generator,
                 n_rows: int = SKETCH_ROWS) -> pd.DataFrame:
    """A stand-in model frame whose columns each follow the pooled sketches (joint structure: none)."""
    sizes = np.array([s["n_rows"] for s in sketches], dtype=np.float64)
    shares = sizes / sizes.sum()
    out = {}
    for name, kind in schema.model_kinds().items():
        parts = [s["columns"][name] for s in sketches]
        if kind == "numeric":
            out[name] = _draw_numeric(parts, shares, n_rows, rng)
        else:
            out[name] = _draw_labels(parts, n_rows, rng)
    return pd.DataFrame(out)


def _draw_numeric(parts: Sequence[Mapping[str, Any]], shares: np.ndarray, n_rows: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Values from the mixture of the parties' quantile functions, with their missing shares."""
    party = rng.choice(len(parts), size=n_rows, p=shares)
    values = np.full(n_rows, np.nan)
    for index, part in enumerate(parts):
        rows = np.flatnonzero(party == index)
        quantiles = np.asarray(part["quantiles"], dtype=np.float64)
        if not len(quantiles):                       # every value missing at this party
            continue
        missing_share = part["missing"] / max(part["missing"] + part["present"], 1)
        draws = np.interp(rng.random(len(rows)), np.linspace(0.0, 1.0, len(quantiles)), quantiles)
        draws[rng.random(len(rows)) < missing_share] = np.nan
        values[rows] = draws
    return values


def _draw_labels(parts: Sequence[Mapping[str, Any]], n_rows: int, rng: np.random.Generator) -> np.ndarray:
    """Labels by pooled frequency (missing as NaN), each label at least once so every one gets a slot."""
    pooled: dict[str, int] = {}
    for part in parts:
        for label, count in part["counts"].items():
            pooled[label] = pooled.get(label, 0) + int(count)
        pooled[_MISSING] = pooled.get(_MISSING, 0) + int(part["missing"])
    labels = [label for label, count in pooled.items() if count > 0]
    counts = np.array([pooled[label] for label in labels], dtype=np.float64)
    drawn = np.array(labels, dtype=object)[rng.choice(len(labels), size=n_rows, p=counts / counts.sum())]
    drawn[: len(labels)] = labels[: n_rows]
    drawn[drawn == _MISSING] = np.nan
    return drawn
