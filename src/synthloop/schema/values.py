"""Value conversions between user data and the model view: labels, datetimes, durations, restored dtypes.

The model view holds numerics, datetimes and durations as float64 (seconds for the latter two).
The way back is exact wherever the data allows, because a value that silently changes is worse
than an error:

- integer columns are rounded and clipped in the integer domain, so int64/uint64 values at the
  type's limits come back as themselves, never as a wrapped ``-2**63`` or ``0``; bounds are stored
  as exact integers; values within 2**53 of zero are exact, beyond it a generated value is the
  nearest float64 integer, clipped to the training range;
- datetimes and durations come back from integer ticks at the resolution the training data had
  (whole days, seconds, ms, µs or ns), in the time zone it had;
- floats come back with the number of decimals the training data had (``Column.decimals``);
- categorical columns come back with their pandas dtype: ``category`` with its categories' own type
  (``category[int64]``), nullable ``Int64``/``boolean``/``string``, plain ``int``/``uint``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any, Literal

import numpy as np
import pandas as pd

from synthloop.schema.column import Column
from synthloop.tabular.labels import to_labels  # noqa: F401  (re-exported: the one label rule lives in tabular)

_MISSING_LABEL = pd.Series(np.array(["label", None], dtype=object)).astype(object).iloc[1]
_UNIT_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}
_MOST_DECIMALS = 12
_OFFSET = re.compile(r"^UTC([+-])(\d\d):(\d\d)$")
InfOption = Literal["error", "missing"]
INF_OPTIONS: tuple[str, ...] = ("error", "missing")


def natural_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


# ---------------------------------------------------------------------- user data → model view
def parse_datetimes(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values
    try:
        return pd.to_datetime(values, errors="coerce", format="mixed")
    except (ValueError, TypeError):  # mixed UTC offsets (summer and winter time): the same instants, in UTC
        return pd.to_datetime(values, errors="coerce", format="mixed", utc=True)


def datetime_to_float(values: pd.Series) -> pd.Series:
    stamps = _naive_utc(parse_datetimes(values))
    seconds = (stamps - pd.Timestamp("1970-01-01")).dt.total_seconds()
    return seconds.astype("float64")


def numeric_values(values: pd.Series) -> pd.Series:
    """A numeric column as float64 (durations in seconds); unreadable entries NaN."""
    if pd.api.types.is_timedelta64_dtype(values.dtype):
        return values.dt.total_seconds().astype("float64")
    return pd.to_numeric(values, errors="coerce").astype("float64")


def model_numbers(column: Column, values: pd.Series) -> pd.Series:
    """A numeric or datetime column in the model view: float64, shifted by ``column.origin`` in the
    integer domain where it has one (so large integers stay exact)."""
    if column.kind == "datetime":
        return datetime_to_float(values)
    if column.origin is None:
        return numeric_values(values)
    present = values.notna().to_numpy()
    dtype = np.dtype(str(values.dtype).lower()) if pd.api.types.is_integer_dtype(values.dtype) else None
    numbers = None if dtype is None else values.to_numpy(dtype=dtype, na_value=0)
    if numbers is None or (present.any() and not column.origin <= int(numbers[present].min())
                           <= int(numbers[present].max()) < column.origin + 2**53):
        return numeric_values(values) - float(column.origin)      # e.g. a condition given as a float
    offsets = (numbers - np.array(column.origin, dtype=dtype)).astype("float64")   # exact: the span is < 2**53
    return pd.Series(np.where(present, offsets, np.nan), index=values.index)


def integer_origin(low: int, high: int) -> int | None:
    """Where large integers need a shifted model view to stay exact in float64 (see ``Column.origin``)."""
    return low if max(abs(low), abs(high)) > 2**53 and high - low < 2**53 else None


def check_inf(inf: str) -> InfOption:
    if inf not in INF_OPTIONS:
        from synthloop.errors import ConfigError

        raise ConfigError(f"inf must be one of {list(INF_OPTIONS)}, got {inf!r}.")
    return inf  # type: ignore[return-value]


def infinite_to_missing(data: pd.DataFrame, inf: InfOption = "error") -> pd.DataFrame:
    """With ``inf="missing"``, ±inf in numeric columns become missing values (a copy); ``"error"`` leaves
    them for validation to refuse with a message naming this option."""
    if check_inf(inf) == "error":
        return data
    out = data.copy()
    for name in out.columns:
        values = out[name]
        if pd.api.types.is_float_dtype(values.dtype) or values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            numbers = pd.to_numeric(values, errors="coerce") if not pd.api.types.is_float_dtype(values.dtype) else values
            infinite = np.isinf(numbers.to_numpy(dtype="float64", na_value=np.nan))
            if infinite.any():
                out[name] = values.where(~infinite)
    return out


def timezone_of(stamps: pd.Series) -> str | None:
    """The zone of tz-aware datetimes ('Asia/Kolkata', 'UTC+05:30'), None for naive ones."""
    tz = getattr(stamps.dt, "tz", None)
    return None if tz is None else str(tz)


def tick_decimals(values: pd.Series) -> int:
    """The decimals of a second that non-missing datetimes or durations use: 0 whole seconds … 9 ns."""
    array = _naive_utc(values).dropna().to_numpy()
    digits = _UNIT_DIGITS.get(np.datetime_data(array.dtype)[0], 0)
    ticks = array.view("int64")
    for decimals in range(digits):
        if np.all(ticks % 10 ** (digits - decimals) == 0):
            return decimals
    return digits


def float_decimals(values: np.ndarray) -> int | None:
    """The fewest decimals that write every finite value exactly (as a CSV gave it), None beyond 12."""
    finite = values[np.isfinite(values)]
    for decimals in range(_MOST_DECIMALS + 1):
        if np.array_equal(np.round(finite, decimals), finite):
            return decimals
    return None


def dtype_name(values: pd.Series) -> str:
    """The dtype to restore: ``category[int64]`` where a categorical's categories are not strings."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        inner = str(dtype.categories.dtype)
        return "category" if inner == "object" else f"category[{inner}]"
    return str(dtype)


def _naive_utc(stamps: pd.Series) -> pd.Series:
    if getattr(getattr(stamps, "dt", None), "tz", None) is not None:
        return stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps


# ---------------------------------------------------------------------- model view → user data
def restore_numeric(column: Column, values: np.ndarray) -> pd.Series:
    """Model-view floats back to the column's values: bounds, rounding, missing values, dtype."""
    if column.kind == "datetime":
        return _restore_datetimes(column, values)
    if column.dtype.startswith("timedelta64"):
        ticks, unit = _ticks(column, _filled(column, _clipped(column, values)), column.decimals or 0)
        return pd.Series(ticks.view(f"timedelta64[{unit}]")).astype(column.dtype)
    if _is_integer(column.dtype):
        return _restore_integers(column, values)
    values = _clipped(column, values)
    finite = np.isfinite(values)
    if column.integer:
        values[finite] = np.round(values[finite])
    elif column.decimals is not None:
        values[finite] = np.round(values[finite], column.decimals)
    values = _filled(column, values)
    if column.dtype == "object" or column.dtype.startswith("str") or column.dtype == "string":
        return _as_text(column, values)          # numbers that came as text go back as text
    return pd.Series(values).astype(column.dtype if column.dtype.startswith(("float", "Float")) else "float64")


def _as_text(column: Column, values: np.ndarray) -> pd.Series:
    def text(value: float) -> str | None:
        if not np.isfinite(value):
            return None
        if column.integer:
            return str(int(value))
        return f"{value:.{column.decimals}f}" if column.decimals is not None else repr(float(value))

    labels = pd.Series([text(v) for v in values], dtype=object)
    return labels if column.dtype == "object" else labels.astype(column.dtype)


def _clipped(column: Column, values: np.ndarray) -> np.ndarray:
    values = np.array(values, dtype="float64")
    finite = np.isfinite(values)
    values[finite] = np.clip(values[finite], *_bounds(column))
    return values


def _bounds(column: Column) -> tuple[float, float]:
    return (-np.inf if column.low is None else float(column.low),
            np.inf if column.high is None else float(column.high))


def _filled(column: Column, values: np.ndarray) -> np.ndarray:
    """A column without missing values gets none: NaN becomes the median (or the lower bound)."""
    finite = np.isfinite(values)
    if not column.nullable and not finite.all():
        values[~finite] = np.median(values[finite]) if finite.any() else float(column.low or 0.0)
    return values


def _ticks(column: Column, seconds: np.ndarray, decimals: int) -> tuple[np.ndarray, str]:
    """Seconds → integer ticks of the coarsest numpy unit that holds ``decimals``; NaN → NaT."""
    digits = min(d for d in (0, 3, 6, 9) if d >= decimals)
    finite = np.isfinite(seconds)
    ticks = np.full(len(seconds), np.iinfo("int64").min, dtype="int64")   # int64 min is NaT
    scale = 10.0**decimals
    low, high = _bounds(column)          # bounds in whole steps too: rounding must not step outside them
    steps = np.clip(np.rint(seconds[finite] * scale), np.rint(low * scale), np.rint(high * scale))
    ticks[finite] = steps.astype("int64") * 10 ** (digits - decimals)
    return ticks, next(unit for unit, d in _UNIT_DIGITS.items() if d == digits)


def _restore_datetimes(column: Column, values: np.ndarray) -> pd.Series:
    seconds = _filled(column, _clipped(column, values))
    if column.integer:  # date-only: whole days
        seconds = np.round(seconds / 86400.0) * 86400.0
    ticks, unit = _ticks(column, seconds, 0 if column.integer or column.decimals is None else column.decimals)
    stamps = pd.Series(ticks.view(f"datetime64[{unit}]"))
    if column.timezone:
        stamps = stamps.dt.tz_localize("UTC").dt.tz_convert(zone(column.timezone))
    if column.dtype.startswith("datetime64"):
        match = re.match(r"datetime64\[(\w+)", column.dtype)
        return stamps.dt.as_unit(match.group(1)) if match and match.group(1) in _UNIT_DIGITS else stamps
    text = stamps.dt.strftime(_datetime_format(column))
    if column.timezone:
        text = text.str.replace(r"([+-]\d\d)(\d\d)$", r"\1:\2", regex=True)
    if column.decimals and column.decimals % 3:
        text = text.str.replace(rf"(\.\d{{{column.decimals}}})\d+", r"\1", regex=True)
    return text.astype(column.dtype if column.dtype in ("str", "string") else object)


def _datetime_format(column: Column) -> str:
    if column.integer:
        return "%Y-%m-%d"
    fraction = ".%f" if column.decimals else ""
    return "%Y-%m-%d %H:%M:%S" + fraction + ("%z" if column.timezone else "")


def zone(name: str) -> dt.tzinfo | str:
    """A stored zone name as pandas takes it: 'UTC+05:30' (a fixed offset) or an IANA name."""
    match = _OFFSET.match(name)
    if match is None:
        return name
    sign = -1 if match.group(1) == "-" else 1
    return dt.timezone(sign * dt.timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))


def _is_integer(dtype: str) -> bool:
    return dtype.startswith(("int", "uint", "Int", "UInt"))


def _restore_integers(column: Column, values: np.ndarray) -> pd.Series:
    """Round and clip in the integer domain: exact at the type's limits, never via a float64 cast."""
    dtype = np.dtype(column.dtype.lower())
    info = np.iinfo(dtype)
    low = info.min if column.low is None else max(info.min, math.ceil(column.low))
    high = info.max if column.high is None else min(info.max, math.floor(column.high))
    rounded = np.rint(np.asarray(values, dtype="float64"))
    finite = np.isfinite(rounded)
    if column.origin is not None:  # offsets from the origin: exact floats, clipped and added as integers
        out = np.clip(np.where(finite, rounded, 0.0), float(low - column.origin), float(high - column.origin))
        return _integer_series(column, out.astype(dtype) + np.array(column.origin, dtype=dtype), finite)
    below, above = finite & (rounded <= float(low)), finite & (rounded >= float(high))
    inside = finite & ~below & ~above
    out = np.zeros(len(rounded), dtype=dtype)
    out[inside] = rounded[inside].astype(dtype)
    out[below], out[above] = low, high
    out = np.clip(out, np.array(low, dtype=dtype), np.array(high, dtype=dtype))
    return _integer_series(column, out, finite)


def _integer_series(column: Column, out: np.ndarray, finite: np.ndarray) -> pd.Series:
    missing = ~finite
    if missing.any() and not column.nullable:
        out[missing] = np.sort(out[finite])[finite.sum() // 2] if finite.any() else out.dtype.type(
            max(np.iinfo(out.dtype).min, math.ceil(column.low or 0)))
        missing[:] = False
    if missing.any() or column.dtype[0].isupper():
        return pd.Series(pd.arrays.IntegerArray(out, missing))
    return pd.Series(out)


def restore_labels(column: Column, labels: pd.Series) -> pd.Series:
    labels = labels.astype(object).where(labels.notna(), None).reset_index(drop=True)
    if column.kind == "boolean":
        mapped = labels.map(lambda v: None if v is None else str(v).lower() == "true")
        if column.dtype == "boolean":
            return mapped.astype("boolean")
        return mapped.astype("bool") if mapped.notna().all() and column.dtype == "bool" else mapped.astype(object)
    dtype = column.dtype
    try:
        if dtype.startswith("category"):
            inner = dtype[len("category["):-1] if dtype.startswith("category[") else "object"
            categories = _typed(pd.Series(list(column.categories or ()), dtype=object), inner)
            return pd.Series(pd.Categorical(_typed(labels, inner), categories=categories))
        if _is_integer(dtype) or dtype.startswith(("float", "Float")):
            return _typed(labels, dtype)
        if dtype.startswith("str") or dtype == "string":
            return labels.astype(dtype)
    except (TypeError, ValueError, OverflowError):
        pass
    return labels.astype(object)


def _typed(labels: pd.Series, dtype: str) -> pd.Series:
    """String labels back to values of ``dtype``; integers parsed exactly (never through float64)."""
    if _is_integer(dtype):
        numbers = [None if v is None else int(v) for v in labels]
        if None in numbers or dtype[0].isupper():
            nullable = ("UInt" + dtype[4:]) if dtype.lower().startswith("uint") else ("Int" + dtype[3:])
            return pd.Series(pd.array(numbers, dtype=nullable))
        return pd.Series(np.array(numbers, dtype=dtype))
    if dtype.startswith(("float", "Float")):
        return pd.to_numeric(labels, errors="coerce").astype(dtype)
    if dtype == "bool":
        return labels.map(lambda v: None if v is None else v == "True").astype(object)
    if dtype.startswith("datetime64"):
        return pd.to_datetime(labels).astype(dtype)
    if dtype in ("str", "string"):
        return labels.astype(dtype)
    return labels.astype(object)


def make_ids(column: Column, n_rows: int) -> pd.Series:
    if column.integer:
        start = int(column.low or 0)
        dtype = column.dtype if column.dtype.startswith(("int", "uint")) else "int64"
        return pd.Series(np.arange(start, start + n_rows), dtype=dtype)
    width = max(6, len(str(n_rows)))
    return pd.Series([f"syn-{i:0{width}d}" for i in range(n_rows)], dtype=object)


def restore_constant(column: Column, n_rows: int) -> pd.Series:
    """The one value of a ``constant`` column, repeated, in the column's dtype where it can hold it."""
    values = pd.Series([column.value] * n_rows, dtype=object)
    dtype = column.dtype
    try:
        if dtype.startswith("category"):
            inner = dtype[len("category["):-1] if dtype.startswith("category[") else "object"
            labels = values.map(lambda v: None if v is None else str(v))
            return pd.Series(pd.Categorical(_typed(labels, inner)))
        if dtype.startswith("datetime64") and column.value is not None:
            try:
                return values.astype(dtype)
            except (TypeError, ValueError):
                return pd.to_datetime(values)
        return values.astype(dtype)
    except (TypeError, ValueError, OverflowError):
        return values


def json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value

