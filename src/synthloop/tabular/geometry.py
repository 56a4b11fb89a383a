"""The one distance between rows of a mixed table, used by the privacy metrics and the privacy step.

Numerics are standardised by the reference (training) mean and standard deviation; a missing number
sits at the mean plus a 0/1 missing indicator (for columns that have missing values). Each
categorical column is one-hot over its ``POOLED_LEVELS`` most frequent labels, then "other" (rarer
or unseen labels) and "missing", scaled by 1/√2, so two rows that differ in one label are at
distance 1, like rows one standard deviation apart. Pooling bounds memory: a 200,000-level column
costs 32 dense features, not 200,000 (a full one-hot made the privacy calibration ask for 298 GiB).

The privacy step checks that synthetic rows sit no closer to training rows than held-out rows do,
and the ``dcr_*`` metrics measure the same thing; sharing this geometry makes the step act on what
the metrics report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from synthloop.tabular.labels import label_codes

#: Labels kept per categorical column before the rest are pooled into "other".
POOLED_LEVELS = 30
_QUERY_CHUNK = 1_024
_CHUNK_CELLS = 2**24          # query × reference distances computed at a time (128 MiB of float64)


@dataclass(frozen=True)
class MixedGeometry:
    """Column statistics of the reference rows; see the module docstring."""

    numeric: tuple[str, ...]
    center: np.ndarray            # (n_numeric,) reference means
    scale: np.ndarray             # (n_numeric,) reference standard deviations (1 where constant)
    nullable: np.ndarray          # (n_numeric,) bool: the column gets a missing indicator
    categorical: tuple[str, ...]
    labels: tuple[tuple[str, ...], ...]   # kept labels per categorical column, most frequent first

    @classmethod
    def fit(cls, frame: pd.DataFrame, kinds: Mapping[str, str]) -> MixedGeometry:
        """Statistics of a model-view frame (numerics float, labels str) for the given column kinds."""
        numeric = tuple(n for n, k in kinds.items() if k == "numeric")
        categorical = tuple(n for n, k in kinds.items() if k != "numeric")
        center, scale, nullable = [], [], []
        for name in numeric:
            values = frame[name].to_numpy(dtype="float64")
            finite = values[np.isfinite(values)]
            center.append(float(finite.mean()) if len(finite) else 0.0)
            std = float(finite.std()) if len(finite) else 0.0
            scale.append(std if std > 1e-12 else 1.0)
            nullable.append(len(finite) < len(values))
        labels = tuple(tuple(map(str, frame[name].dropna().value_counts().index[:POOLED_LEVELS]))
                       for name in categorical)
        return cls(numeric, np.array(center, dtype="float64"), np.array(scale, dtype="float64"),
                   np.array(nullable, dtype=bool), categorical, labels)

    def without(self, *names: str) -> MixedGeometry:
        """The same geometry with some columns left out."""
        keep = np.array([n not in names for n in self.numeric], dtype=bool)
        kept_labels = tuple(lab for n, lab in zip(self.categorical, self.labels) if n not in names)
        return replace(self, numeric=tuple(n for n in self.numeric if n not in names),
                       center=self.center[keep], scale=self.scale[keep], nullable=self.nullable[keep],
                       categorical=tuple(n for n in self.categorical if n not in names), labels=kept_labels)

    # ------------------------------------------------------------------ encodings
    def points(self, frame: pd.DataFrame) -> np.ndarray:
        """Standardised numerics (n_rows, n_numeric), float64, NaN where missing or infinite."""
        if not self.numeric:
            return np.zeros((len(frame), 0))
        values = np.column_stack([frame[n].to_numpy(dtype="float64") for n in self.numeric])
        values = np.where(np.isfinite(values), values, np.nan)
        return (values - self.center) / self.scale

    def codes(self, frame: pd.DataFrame) -> np.ndarray:
        """Pooled label codes (n_rows, n_categorical), int32: kept label position, then other, then missing."""
        if not self.categorical:
            return np.zeros((len(frame), 0), dtype="int32")
        columns = []
        for name, labels in zip(self.categorical, self.labels):
            codes = label_codes(frame[name], labels)
            codes = np.where(codes < 0, len(labels), codes)                 # other
            codes[frame[name].isna().to_numpy()] = len(labels) + 1          # missing
            columns.append(codes)
        return np.column_stack(columns).astype("int32")

    def embed(self, points: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Dense float64 features: numerics (missing → 0, plus indicators) and scaled one-hot labels."""
        missing = np.isnan(points)
        parts = [np.where(missing, 0.0, points), missing[:, self.nullable].astype("float64")]
        if codes.shape[1]:
            widths = np.array([len(labels) + 2 for labels in self.labels])
            offsets = np.concatenate([[0], np.cumsum(widths)[:-1]])
            one_hot = np.zeros((len(codes), int(widths.sum())))
            one_hot[np.arange(len(codes))[:, None], offsets[None, :] + codes] = np.sqrt(0.5)
            parts.append(one_hot)
        return np.concatenate(parts, axis=1)

    def dense(self, frame: pd.DataFrame) -> np.ndarray:
        return self.embed(self.points(frame), self.codes(frame))

    def dense_owners(self) -> list[str]:
        """For each dense feature, the table column it came from (in ``embed`` order)."""
        owners = list(self.numeric) + [n for n, nullable in zip(self.numeric, self.nullable) if nullable]
        for name, labels in zip(self.categorical, self.labels):
            owners.extend([name] * (len(labels) + 2))
        return owners

    # ------------------------------------------------------------------ persistence
    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {"center": self.center, "scale": self.scale, "nullable": self.nullable.astype(np.uint8)}
        meta = {"numeric": list(self.numeric), "categorical": list(self.categorical),
                "labels": [list(labels) for labels in self.labels]}
        return arrays, meta

    @classmethod
    def from_state(cls, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> MixedGeometry:
        numeric, categorical = tuple(map(str, meta["numeric"])), tuple(map(str, meta["categorical"]))
        labels = tuple(tuple(map(str, labels)) for labels in meta["labels"])
        center, scale = np.asarray(arrays["center"], "float64"), np.asarray(arrays["scale"], "float64")
        nullable = np.asarray(arrays["nullable"]).astype(bool)
        if not (len(center) == len(scale) == len(nullable) == len(numeric)) or len(labels) != len(categorical):
            raise ValueError("distance geometry arrays do not match its columns")
        return cls(numeric, center, scale, nullable, categorical, labels)


def nearest_distances(geometry: MixedGeometry, query: tuple[np.ndarray, np.ndarray],
                      reference: tuple[np.ndarray, np.ndarray], *, cap: float | None = None) -> np.ndarray:
    """Distance from each query row to its closest reference row; rows are ``(points, codes)``.

    With ``cap`` below 1, a row that close must share every (pooled) label, so only rows with the
    same labels are compared (fast on wide tables): distances below 1 are exact, larger ones are upper
    bounds (``inf`` where no row has the same labels). Memory stays bounded: distances are computed
    in chunks of at most 2**24 pairs.
    """
    (query_points, query_codes), (ref_points, ref_codes) = query, reference
    if len(ref_points) == 0:
        return np.full(len(query_points), np.inf)
    if cap is not None and cap < 1.0 and query_codes.shape[1]:
        return _nearest_within_blocks(geometry, query, reference)
    return np.sqrt(min_squared_distances(geometry.embed(query_points, query_codes),
                                         geometry.embed(ref_points, ref_codes)))


def _nearest_within_blocks(geometry: MixedGeometry, query: tuple[np.ndarray, np.ndarray],
                           reference: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Exact nearest numeric distance among reference rows with the same labels (inf if none)."""
    (query_points, query_codes), (ref_points, ref_codes) = query, reference
    codes = np.concatenate([ref_codes, query_codes]).astype("int64")       # (n_ref + n_query, n_labels) ≥ 0
    group_ids = np.zeros(len(codes), dtype="int64")
    for column in codes.T:                                                 # mixed radix, renumbered per column
        group_ids = np.unique(group_ids * (int(column.max()) + 1) + column, return_inverse=True)[1].astype("int64")
    ref_groups, query_groups = group_ids[:len(ref_codes)], group_ids[len(ref_codes):]
    no_labels = replace(geometry, categorical=(), labels=())
    ref_embedded = no_labels.embed(ref_points, ref_codes[:, :0])
    query_embedded = no_labels.embed(query_points, query_codes[:, :0])
    ref_order = np.argsort(ref_groups, kind="stable")
    ref_starts = np.searchsorted(ref_groups[ref_order], np.arange(group_ids.max() + 2))
    query_order = np.argsort(query_groups, kind="stable")
    query_starts = np.searchsorted(query_groups[query_order], np.arange(group_ids.max() + 2))
    out = np.full(len(query_points), np.inf)
    for group in np.unique(query_groups):
        members = ref_order[ref_starts[group]:ref_starts[group + 1]]
        if len(members):
            rows = query_order[query_starts[group]:query_starts[group + 1]]
            out[rows] = np.sqrt(min_squared_distances(query_embedded[rows], ref_embedded[members]))
    return out


def min_squared_distances(query: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """min_j ||query_i - ref_j||², in float64 chunks (|a|² + |b|² - 2ab, clipped at 0)."""
    ref_sq = np.einsum("ij,ij->i", ref, ref)
    out = np.empty(len(query))
    chunk = max(1, min(_QUERY_CHUNK, _CHUNK_CELLS // max(len(ref), 1)))
    for start in range(0, len(query), chunk):
        block = query[start:start + chunk]
        squared = np.einsum("ij,ij->i", block, block)[:, None] + ref_sq[None, :] - 2.0 * (block @ ref.T)
        out[start:start + chunk] = np.maximum(squared.min(axis=1), 0.0)
    return out
