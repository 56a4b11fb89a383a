"""The one rule that turns a value into a category label, and labels into integer codes.

A category is compared by its text, so ``'1'``, ``1`` and ``1.0`` are the same label; a float that
is a whole number is written without its ``.0`` unless it is beyond 2**53, where the digits an
integer spelling would show were never in the data. Missing values stay missing (never a label).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

MISSING_LABEL = pd.Series(np.array(["label", None], dtype=object)).astype(object).iloc[1]
#: Stands for a missing label where a value is needed (hashing, frequency tables).
MISSING_KEY = "\0<NA>"


def canonical_label(value: object) -> str:
    """The label of one present value."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value)) if abs(value) < 2**53 else str(value)
    return str(value)


def to_labels(values: pd.Series) -> pd.Series:
    """Labels as Python strings, missing values as Series.map leaves them (NaN under pandas 3).

    Each distinct value is labelled once and the labels are spread back by code (fast on long
    columns); object columns holding non-strings, where equal values such as ``True`` and ``1`` have
    different labels, and all-missing columns are labelled value by value.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype=object)
    present = codes >= 0
    if not present.any() or (values.dtype == object and not all(isinstance(v, str) for v in uniques)):
        out = values.astype(object).where(values.notna(), None)
        return out.map(lambda v: v if v is None else canonical_label(v)).astype(object)
    labels = np.array([canonical_label(v) for v in uniques], dtype=object)
    result = labels[np.maximum(codes, 0)]
    result[~present] = MISSING_LABEL
    return pd.Series(result, index=values.index, name=values.name, dtype=object)


def factorized_labels(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, labels)``: each row's index into the distinct canonical labels (-1 where missing).

    Work per distinct value, not per row: the model view repeats a few labels many times.
    """
    objects = pd.Series(values, dtype=object).to_numpy(dtype=object)
    codes, uniques = pd.factorize(objects, use_na_sentinel=True)
    if not all(isinstance(v, str) for v in uniques):     # e.g. True and 1 factorize together: label each value
        codes, uniques = pd.factorize(to_labels(pd.Series(objects, dtype=object)).to_numpy(dtype=object),
                                      use_na_sentinel=True)
    return codes.astype("int64"), np.asarray(uniques, dtype=object)


def label_keys(values: pd.Series) -> np.ndarray:
    """Labels as an object array with missing values as :data:`MISSING_KEY` (for hashing and counting)."""
    codes, uniques = factorized_labels(values)
    return np.append(uniques, MISSING_KEY).astype(object)[codes]


def label_codes(values: pd.Series, categories: Sequence[str]) -> np.ndarray:
    """Position of each label in ``categories``; -1 when missing or absent."""
    codes, uniques = factorized_labels(values)
    positions = pd.Index(list(dict.fromkeys(categories)), dtype=object).get_indexer(uniques).astype("int64")
    return np.append(positions, -1)[codes]


def shares(values: pd.Series) -> pd.Series:
    """Share of each label (missing counted as :data:`MISSING_KEY`)."""
    return pd.Series(label_keys(values)).value_counts(normalize=True)
