"""Value conversions between user data and the model view: labels, datetimes, restored dtypes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthloop.schema.column import Column
from synthloop.tabular.labels import to_labels  # noqa: F401  (re-exported: the one label rule lives in tabular)


def natural_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def parse_datetimes(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values
    return pd.to_datetime(values, errors="coerce", format="mixed")


def datetime_to_float(values: pd.Series) -> pd.Series:
    stamps = parse_datetimes(values)
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    seconds = (stamps - pd.Timestamp("1970-01-01")).dt.total_seconds()
    return seconds.astype("float64")


def restore_numeric(column: Column, values: np.ndarray) -> pd.Series:
    values = values.copy()
    finite = np.isfinite(values)
    if column.low is not None or column.high is not None:
        values[finite] = np.clip(values[finite], column.low if column.low is not None else -np.inf,
                                 column.high if column.high is not None else np.inf)
    if column.kind == "datetime":
        unit = 86400.0 if column.integer else 1.0
        values[finite] = np.round(values[finite] / unit) * unit
        stamps = pd.to_datetime(pd.Series(values), unit="s", errors="coerce")
        if not column.nullable:
            stamps = stamps.fillna(pd.Timestamp(column.low, unit="s") if column.low is not None else pd.NaT)
        if column.dtype.startswith("datetime64"):
            return stamps
        return stamps.dt.strftime("%Y-%m-%d" if column.integer else "%Y-%m-%d %H:%M:%S").astype(object)
    if column.integer:
        values[finite] = np.round(values[finite])
    if not column.nullable and not finite.all():
        values[~finite] = np.nanmedian(values) if finite.any() else (column.low or 0.0)
    series = pd.Series(values)
    if column.integer and not np.isnan(values).any() and column.dtype.startswith(("int", "uint", "Int", "UInt")):
        return series.astype(column.dtype)
    if column.dtype.startswith(("Int", "UInt", "Float")):
        return series.astype(column.dtype)
    return series.astype("float64") if column.dtype.startswith(("int", "uint")) else series.astype(_numeric_dtype(column.dtype))


def _numeric_dtype(dtype: str) -> str:
    return dtype if dtype.startswith("float") else "float64"


def restore_labels(column: Column, labels: pd.Series) -> pd.Series:
    labels = labels.astype(object).where(labels.notna(), None).reset_index(drop=True)
    if column.kind == "boolean":
        mapped = labels.map(lambda v: None if v is None else str(v).lower() == "true")
        return mapped.astype("bool") if mapped.notna().all() and column.dtype == "bool" else mapped.astype(object)
    dtype = column.dtype
    try:
        if dtype.startswith(("int", "uint")) and labels.notna().all():
            return labels.astype("float64").astype(dtype)
        if dtype.startswith(("int", "uint", "float", "Int", "UInt", "Float")):
            return pd.to_numeric(labels, errors="coerce").astype(dtype if not dtype.startswith(("int", "uint")) else "float64")
        if dtype == "category":
            return labels.astype(pd.CategoricalDtype(list(column.categories or ())))
        if dtype.startswith("str") or dtype == "string":
            return labels.astype(dtype)
    except (TypeError, ValueError):
        pass
    return labels.astype(object)


def make_ids(column: Column, n_rows: int) -> pd.Series:
    if column.integer:
        start = int(column.low or 0)
        dtype = column.dtype if column.dtype.startswith(("int", "uint")) else "int64"
        return pd.Series(np.arange(start, start + n_rows), dtype=dtype)
    width = max(6, len(str(n_rows)))
    return pd.Series([f"syn-{i:0{width}d}" for i in range(n_rows)], dtype=object)


def safe_dtype(dtype: str, value: Any) -> str | None:
    if value is None:
        return "float64" if dtype.startswith(("float", "int")) else None
    return dtype if dtype != "object" else None


def json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value
