"""Content fingerprint of a table: the same data always gets the same id.

Decision: a table is treated as a *multiset of rows over named columns*. The id therefore does
not depend on row order, column order or the index, and survives a CSV or Parquet round trip:

- numeric values (ints, floats, decimals) are compared as float64, so ``3`` and ``3.0`` agree;
  ``NaN``, ``None`` and ``pd.NA`` are one missing value;
- everything else (strings, categoricals, booleans, datetimes) is compared by its text, so a
  pandas ``category``, ``string`` or ``object`` column with the same labels gives the same id;
- duplicated rows count: a table and the same table with one row repeated differ.

Each row is hashed (pandas' vectorised 64-bit row hash), the row hashes are sorted, and the sorted
hashes plus the sorted column names are hashed with BLAKE2b. Two tables that differ only in row
order share an id; reordering *values within a column* changes it. Ids are 16 hex characters.

This is the provenance idea of content-addressed datasets (as in DVC or git): registering the same
file twice is idempotent, and a re-saved synthetic file is recognised.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from synthloop.tabular.labels import canonical_label

ID_LENGTH = 16
MAX_HOLDOUT_OVERLAP = 0.01      # a few shared rows happen by chance in real data (Adult train/test: 0.1%)
_MISSING = "\0<missing>"


def check_unseen(real: pd.DataFrame, holdout: pd.DataFrame, *, max_overlap: float = MAX_HOLDOUT_OVERLAP) -> None:
    """Refuse a holdout that shares more than ``max_overlap`` of its rows with the training data.

    A holdout is the "as good as real" reference only when the synthesizer never saw it: the
    training file passed again as ``--holdout`` makes every privacy attack look harmless.
    """
    from synthloop.errors import DataError

    shared = [c for c in real.columns if c in holdout.columns]
    overlap = np.isin(row_hashes(holdout[shared]), row_hashes(real[shared]))
    allowed = max_overlap + chance_overlap(real[shared], len(holdout))
    if len(overlap) and overlap.mean() > allowed:
        raise DataError(f"{int(overlap.sum()):,} of the holdout's {len(holdout):,} rows ({overlap.mean():.1%}) also "
                        f"appear in the training data (more than {allowed:.0%}: what two real samples share by "
                        f"chance plus {max_overlap:.0%}); the holdout must be "
                        "real data that is never trained on. Split the data first, e.g. "
                        "synthloop.datasets.split_frame(data, target=...), or "
                        "synthloop datasets export adult --split test.")


def chance_overlap(real: pd.DataFrame, n_holdout: int) -> float:
    """Share of a fresh real sample expected to repeat a training row by content alone.

    Tables of a few categorical columns have few distinct rows, so an honest holdout shares many
    of them with the training data; estimated by splitting ``real`` in two and counting the rows of
    one part found in the other (0 for tables with continuous columns).
    """
    hashes = row_hashes(real)
    half = min(len(hashes) // 2, max(n_holdout, 1))
    order = np.random.default_rng(0).permutation(len(hashes))
    share = float(np.isin(hashes[order[:half]], hashes[order[half:]]).mean()) if half else 0.0
    return share + 3 * np.sqrt(share * (1 - share) / max(half, 1))  # 3 standard errors of sampling noise


def row_hashes(data: pd.DataFrame) -> np.ndarray:
    """One uint64 per row, from canonicalised values in sorted column order (row order kept)."""
    names = sorted(map(str, data.columns))
    canonical = pd.DataFrame({name: _canonical(data[_original(data, name)]) for name in names},
                             index=pd.RangeIndex(len(data)))
    if not names:
        return np.zeros(len(data), dtype=np.uint64)
    return pd.util.hash_pandas_object(canonical, index=False, categorize=True).to_numpy(dtype=np.uint64)


def fingerprint(data: pd.DataFrame) -> str:
    """The content id of a table (order of rows and columns does not matter).

    >>> import pandas as pd
    >>> a = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    >>> fingerprint(a) == fingerprint(a.iloc[::-1][["y", "x"]])
    True
    """
    digest = hashlib.blake2b(digest_size=ID_LENGTH // 2)
    digest.update(repr(sorted(map(str, data.columns))).encode())
    digest.update(np.sort(row_hashes(data)).tobytes())
    return digest.hexdigest()


def _original(data: pd.DataFrame, name: str) -> object:
    for column in data.columns:
        if str(column) == name:
            return column
    raise KeyError(name)


def _canonical(values: pd.Series) -> pd.Series:
    """float64 for numbers; text (missing as one sentinel) for everything else."""
    values = values.reset_index(drop=True)
    missing = values.isna().to_numpy()
    if pd.api.types.is_bool_dtype(values.dtype) or not pd.api.types.is_numeric_dtype(values.dtype):
        if isinstance(values.dtype, pd.CategoricalDtype):
            categories = np.array([_text(c) for c in values.cat.categories], dtype=object)
            text = pd.Series(categories[np.maximum(values.cat.codes.to_numpy(), 0)], dtype=object)
        elif pd.api.types.is_datetime64_any_dtype(values.dtype):
            text = values.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").astype(object)
        elif pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
            text = values.astype(object)
        else:
            text = values.astype(object).map(_text, na_action="ignore")
        return text.where(~missing, _MISSING).astype(object)
    return values.astype("float64").where(~missing, np.nan)


def _text(value: object) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    return canonical_label(value)  # a categorical code read back as 1.0 is "1"
