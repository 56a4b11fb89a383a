"""One 64-bit row hash: equal rows hash equal wherever rows are compared.

The ``exact_copy_rate`` metric, the ``no-copies``/``parity`` privacy step and ``cart``'s copy
avoidance all ask "is this row a training row?", so they must agree on what equal means:

- numbers are compared exactly as numbers: ``-0.0`` equals ``0.0``, every NaN equals every NaN, and
  a whole number has one key whether it arrives as ``int64`` or ``float64`` (``3 == 3.0``), so large
  integers keep their exact value when their column holds integers;
- labels are compared by their canonical text (:mod:`synthloop.tabular.labels`); missing is a label
  of its own.

No rounding: two floats that differ in the 7th decimal are different rows (rounding would call
rows copies that the privacy step lets through, or the reverse).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from synthloop.tabular.labels import MISSING_KEY, factorized_labels

_SEED = np.uint64(0xCBF29CE484222325)
_PRIME = np.uint64(0x100000001B3)
_FLOAT_TAG = np.uint64(0x9E3779B97F4A7C15)   # keeps a non-integral float's bits apart from integers
_NAN_KEY = np.uint64(0x7FF8DEADBEEF0001)


def number_keys(values: np.ndarray) -> np.ndarray:
    """A uint64 key per number: equal numbers (any dtype; NaN = NaN; -0.0 = 0.0) get equal keys."""
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        return values.astype(np.int64, copy=False).view(np.uint64) if values.dtype.kind == "i" else values.astype(np.uint64)
    floats = values.astype(np.float64) + 0.0
    finite = np.isfinite(floats)
    integral = finite & (np.floor(floats) == floats) & (np.abs(floats) < 2.0**63)
    keys = (floats.view(np.uint64) ^ _FLOAT_TAG)
    keys = np.where(integral, np.where(integral, floats, 0.0).astype(np.int64).view(np.uint64), keys)
    return np.where(np.isnan(floats), _NAN_KEY, keys)


def label_hashes(values: pd.Series) -> np.ndarray:
    """A uint64 per label (canonical text; missing is its own label)."""
    codes, uniques = factorized_labels(values)
    return np.append(pd.util.hash_array(uniques), pd.util.hash_array(np.array([MISSING_KEY], dtype=object)))[codes]


def combine(column_keys: Sequence[np.ndarray], n_rows: int) -> np.ndarray:
    """Mix per-column uint64 keys into one hash per row (FNV-style, with an avalanche step)."""
    hashes = np.full(n_rows, _SEED, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for keys in column_keys:
            hashes = (hashes ^ keys) * _PRIME
            hashes ^= hashes >> np.uint64(29)
    return hashes


def hash_rows(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> np.ndarray:
    """One uint64 per row over ``numeric`` then ``categorical`` columns (model view or user view)."""
    keys = [number_keys(_numbers(frame[name])) for name in numeric]
    keys += [label_hashes(frame[name]) for name in categorical]
    return combine(keys, len(frame))


def _numbers(values: pd.Series) -> np.ndarray:
    """Exact integers where the column holds them (int64, uint64, or nullable without gaps), else float64."""
    if values.dtype.kind in "iu":
        return values.to_numpy()
    if pd.api.types.is_integer_dtype(values.dtype) and not values.isna().any():
        return values.to_numpy(dtype="int64")
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
