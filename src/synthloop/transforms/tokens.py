"""Every column as categorical tokens: what an auto-regressive model over discrete columns learns.

A categorical column is one token per label. A numeric column keeps its frequent exact values as
tokens of their own (``capital_gain == 0``, ``hours_per_week == 40``: point masses come back exactly,
never smeared across a bin); when few distinct values remain (``max_exact``), each is a token. Otherwise
the rest go to quantile bins in two levels, as in TabularARGN's binned numerics (Tiwald et al., 2025):
a coarse bin, then a fine bin inside it, and decoding draws uniformly inside the fine bin. With the
defaults (64 × 16, what ``argn`` uses from 32,768 training rows on; it sizes them to smaller tables,
see ``argn.size_rule``) a continuous column is resolved to 1/1,024 of its mass. A missing value is one
more token of the first level.

Each column gives one or two *sub-columns* (the levels); a model predicts them in order. The whole
state is a few arrays and a JSON list (``to_state() -> (arrays, meta)`` / ``from_state(arrays, meta)``,
the protocol of every transform), so a model file holds no pickle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from synthloop.errors import ArtifactError


@dataclass
class ColumnTokens:
    """The token code of one column.

    ``values``: the labels (categorical) or the exact values with a token (numeric), in token order;
    ``edges``: coarse bin edges ``(n_bins + 1,)``; ``fine``: fine edges per coarse bin
    ``(n_bins, n_fine + 1)`` (both empty when every value is exact). First-level tokens: the exact
    values, then the coarse bins, then ``missing`` when the column has missing values.
    """

    name: str
    kind: Literal["numeric", "categorical"]
    values: np.ndarray
    has_missing: bool
    edges: np.ndarray = field(default_factory=lambda: np.zeros(0))
    fine: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    @property
    def n_bins(self) -> int:
        return max(len(self.edges) - 1, 0)

    @property
    def missing_token(self) -> int:
        return len(self.values) + self.n_bins

    @property
    def cardinalities(self) -> tuple[int, ...]:
        """Tokens of each sub-column: one level, or coarse and fine."""
        first = self.missing_token + int(self.has_missing)
        return (first,) if self.n_bins == 0 else (first, self.fine.shape[1] - 1)

    # ------------------------------------------------------------------ fit
    @classmethod
    def fit(cls, name: str, kind: str, values: pd.Series, *, categories: tuple | None = None,
            max_exact: int = 100, spike_share: float = 0.01, bins: int = 64, fine_bins: int = 16) -> ColumnTokens:
        missing = values.isna().to_numpy()
        if kind != "numeric":
            labels = list(categories) if categories else sorted(set(values.dropna()))
            return cls(name, "categorical", np.array(labels, dtype=object), bool(missing.any()))
        present = values.to_numpy(dtype="float64")[~missing]
        unique, counts = np.unique(present, return_counts=True)
        if len(unique) <= max_exact:
            return cls(name, "numeric", unique, bool(missing.any()))
        spikes = unique[counts >= spike_share * len(present)]
        rest = present[~np.isin(present, spikes)]
        edges = _quantile_edges(rest, bins)
        coarse = _bin_of(edges, rest)
        fine = np.stack([_padded(_inner_edges(rest[coarse == b], fine_bins, edges[b:b + 2]), fine_bins + 1,
                                 edges[b:b + 2]) for b in range(len(edges) - 1)])
        return cls(name, "numeric", spikes, bool(missing.any()), edges, fine)

    # ------------------------------------------------------------------ encode / decode
    def encode(self, values: pd.Series) -> np.ndarray:
        """``(n_rows, n_sub_columns)`` int64 tokens; values outside the code map to the nearest token."""
        missing = values.isna().to_numpy()
        out = np.zeros((len(values), len(self.cardinalities)), dtype=np.int64)
        if self.kind == "categorical":
            lookup = {label: i for i, label in enumerate(self.values)}
            out[:, 0] = [lookup.get(v, 0) for v in values.to_numpy(dtype=object)]
        else:
            numbers = values.to_numpy(dtype="float64")
            exact = np.zeros(len(numbers), dtype=bool)
            if len(self.values):
                position = np.clip(np.searchsorted(self.values, numbers), 0, len(self.values) - 1)
                exact = self.values[position] == numbers
                if self.n_bins == 0:                         # every value is a token: the nearest one
                    left = np.clip(position - 1, 0, len(self.values) - 1)
                    nearer_left = np.abs(self.values[left] - numbers) < np.abs(self.values[position] - numbers)
                    position = np.where(nearer_left, left, position)
                    exact = np.ones(len(numbers), dtype=bool)
                out[exact, 0] = position[exact]
            if self.n_bins:
                binned = ~exact & ~missing
                coarse = _bin_of(self.edges, numbers[binned])
                out[binned, 0] = len(self.values) + coarse
                out[binned, 1] = _fine_bin_of(self.fine[coarse], numbers[binned])
        if self.has_missing:
            out[missing, 0] = self.missing_token
        return out

    # ------------------------------------------------------------------ ranges and sets
    def admissible(self, *, low: float = -np.inf, high: float = np.inf, low_inclusive: bool = True,
                   high_inclusive: bool = True, values: tuple | None = None) -> list[np.ndarray] | None:
        """How much of each token a range ``low..high`` or a set of ``values`` admits, per sub-column.

        First level ``(c_0,)``: 1 for a label or exact value inside, 1 for a coarse bin that overlaps the
        range, 0 otherwise (the missing token: 0). Fine level ``(c_0, c_1)``, by first-level token: the
        share of each fine bin's width inside the range (so a bin cut by a bound keeps its share of the
        mass), 1 where the first-level token is no bin. A sampler multiplies the probabilities by these
        and draws inside the range (``decode(within=...)``). None when the tokens cannot express the
        condition (a numeric set whose values fall inside bins): the caller then tests the rows instead.
        """
        if values is not None:
            if self.kind == "numeric":
                wanted = np.asarray(values, dtype="float64")
                if self.n_bins and not np.isin(wanted, self.values).all():
                    return None
                inside = np.isin(self.values, wanted)
            else:
                inside = np.isin(self.values.astype(object), np.asarray(values, dtype=object))
            first = np.zeros(self.cardinalities[0])
            first[:len(self.values)] = inside
            return [first]
        exact = self.values.astype("float64") if self.kind == "numeric" else np.zeros(0)
        with np.errstate(invalid="ignore"):
            exact_in = ((exact >= low if low_inclusive else exact > low)
                        & (exact <= high if high_inclusive else exact < high))
        first = np.zeros(self.cardinalities[0])
        first[:len(self.values)] = exact_in
        if not self.n_bins:
            return [first]
        a, b = self.fine[:, :-1], self.fine[:, 1:]                               # (n_bins, n_fine)
        width = b - a
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.clip((np.minimum(b, high) - np.maximum(a, low)) / width, 0.0, 1.0)
            point = ((a >= low if low_inclusive else a > low) & (a <= high if high_inclusive else a < high))
        share = np.where(width > 0, share, point.astype("float64"))
        first[len(self.values):self.missing_token] = share.max(axis=1) > 0
        fine = np.ones((self.cardinalities[0], self.cardinalities[1]))
        fine[len(self.values):self.missing_token] = share
        return [first, fine]

    def decode(self, tokens: np.ndarray, rng: np.random.Generator,
               within: tuple[float, float] | None = None) -> np.ndarray:
        """Values for ``(n_rows, n_sub_columns)`` tokens: labels, exact values, or uniform inside a fine bin
        (inside its overlap with ``within = (low, high)`` when given: rows drawn under a range)."""
        first = tokens[:, 0]
        missing = first == self.missing_token if self.has_missing else np.zeros(len(first), dtype=bool)
        if self.kind == "categorical":
            out = self.values[np.minimum(first, len(self.values) - 1)].astype(object)
            out[missing] = np.nan
            return out
        out = np.full(len(first), np.nan)
        exact = (first < len(self.values)) & ~missing
        out[exact] = self.values[first[exact]]
        binned = ~exact & ~missing
        if self.n_bins:
            coarse = first[binned] - len(self.values)
            fine = tokens[binned, 1]
            low, high = self.fine[coarse, fine], self.fine[coarse, fine + 1]
            if within is not None:
                cut_low, cut_high = np.maximum(low, within[0]), np.minimum(high, within[1])
                overlap = cut_low <= cut_high
                low, high = np.where(overlap, cut_low, low), np.where(overlap, cut_high, high)
            out[binned] = low + rng.random(len(low)) * (high - low)
        return out

    # ------------------------------------------------------------------ state
    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Learned arrays and JSON metadata (the transform state protocol; labels live in the JSON)."""
        arrays = {"edges": self.edges.astype("float64"), "fine": self.fine.astype("float64")}
        meta: dict[str, Any] = {"name": self.name, "kind": self.kind, "has_missing": self.has_missing}
        if self.kind == "categorical":
            meta["labels"] = [str(v) for v in self.values]
        else:
            arrays["values"] = self.values.astype("float64")
        return arrays, meta

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> ColumnTokens:
        """Rebuild from :meth:`to_state` output; a corrupt state raises ArtifactError naming the column."""
        try:
            values = (np.array(meta["labels"], dtype=object) if meta["kind"] == "categorical"
                      else np.asarray(arrays["values"], dtype="float64"))
            edges = np.asarray(arrays["edges"], dtype="float64")
            fine = np.asarray(arrays["fine"], dtype="float64")
            fine = fine.reshape(len(edges) - 1, -1) if fine.size else np.zeros((0, 0))
            column = cls(meta["name"], meta["kind"], values, bool(meta["has_missing"]), edges, fine)
        except (KeyError, ValueError, TypeError) as exc:
            raise ArtifactError(f"the token state of column {meta.get('name')!r} is corrupt ({exc!r})") from None
        if column.kind == "numeric" and np.any(np.diff(values) <= 0):
            raise ArtifactError(f"the token state of column {column.name!r} is corrupt (exact values not sorted)")
        if np.any(np.diff(edges) < 0) or (fine.size and np.any(np.diff(fine, axis=1) < 0)):
            raise ArtifactError(f"the token state of column {column.name!r} is corrupt (bin edges not sorted)")
        if min(column.cardinalities) < 1:
            raise ArtifactError(f"the token state of column {column.name!r} is corrupt (a level with no tokens)")
        return column


class TableTokens:
    """The token codes of every learned column of a model frame, in schema order."""

    def __init__(self, columns: list[ColumnTokens]):
        self.columns = columns

    @classmethod
    def fit(cls, frame: pd.DataFrame, kinds: dict[str, str], categories: dict[str, tuple | None],
            **options: Any) -> TableTokens:
        return cls([ColumnTokens.fit(name, kinds[name], frame[name], categories=categories.get(name), **options)
                    for name in kinds])

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def cardinalities(self) -> list[int]:
        """Tokens of every sub-column, column by column."""
        return [card for column in self.columns for card in column.cardinalities]

    @property
    def column_of(self) -> list[int]:
        """The column index of every sub-column."""
        return [i for i, column in enumerate(self.columns) for _ in column.cardinalities]

    def encode(self, frame: pd.DataFrame, columns: list[str] | None = None) -> np.ndarray:
        """``(n_rows, n_sub_columns)`` tokens of ``columns`` (default: all) side by side."""
        wanted = [c for c in self.columns if columns is None or c.name in columns]
        return np.concatenate([c.encode(frame[c.name]) for c in wanted], axis=1)

    def decode(self, tokens: np.ndarray, rng: np.random.Generator,
               within: dict[str, tuple[float, float]] | None = None) -> pd.DataFrame:
        """Rows of values; ``within`` bounds the binned values of some columns (see ``ColumnTokens.decode``)."""
        out, start = {}, 0
        within = within or {}
        for column in self.columns:
            width = len(column.cardinalities)
            out[column.name] = column.decode(tokens[:, start:start + width], rng, within.get(column.name))
            start += width
        return pd.DataFrame(out)

    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays: dict[str, np.ndarray] = {}
        metas = []
        for i, column in enumerate(self.columns):
            column_arrays, meta = column.to_state()
            arrays.update({f"{i}/{key}": np.ascontiguousarray(value) for key, value in column_arrays.items()})
            metas.append(meta)
        return arrays, {"columns": metas}

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> TableTokens:
        """Rebuild from :meth:`to_state` output; corrupt state raises ArtifactError naming the column."""
        try:
            columns = list(meta["columns"])
        except (KeyError, TypeError) as exc:
            raise ArtifactError(f"the token state is corrupt ({exc!r})") from None
        return cls([ColumnTokens.from_state({k.removeprefix(f"{i}/"): v for k, v in arrays.items()
                                             if k.startswith(f"{i}/")}, column) for i, column in enumerate(columns)])


def _quantile_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Distinct quantile edges (at most ``n_bins + 1``) spanning ``values``; two edges at least."""
    if len(values) == 0:
        return np.array([0.0, 0.0])
    edges = np.unique(np.quantile(values, np.linspace(0, 1, n_bins + 1)))
    return edges if len(edges) > 1 else np.repeat(edges, 2)


def _inner_edges(values: np.ndarray, n_bins: int, span: np.ndarray) -> np.ndarray:
    """Fine edges of one coarse bin: quantiles of its values, the outer two (the bin's own min and max)
    replaced by the coarse edges ``span``, which bound them.

    A bin's min and max are training values: a saved model held 144 of a 400-row column's values, two
    per coarse bin. The coarse edges are interpolated quantiles (the column's min and max aside, which
    the schema holds anyway); inner fine edges interpolate between neighbours.
    """
    if len(values) == 0:
        return _quantile_edges(values, n_bins)
    inner = _quantile_edges(values, n_bins)[1:-1]
    return np.concatenate([span[:1], inner, span[1:]]).astype("float64")


def _padded(edges: np.ndarray, size: int, span: np.ndarray) -> np.ndarray:
    """Edges padded to ``size`` by repeating the last (never-used tokens); empty bins span the coarse bin."""
    if len(edges) == 2 and edges[0] == edges[1] == 0.0 and span[0] != span[1]:
        edges = span.astype("float64")
    return np.concatenate([edges, np.repeat(edges[-1:], size - len(edges))])


def _bin_of(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of the bin ``[edges[i], edges[i+1])`` of each value (the last bin closed; outside values clipped)."""
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


def _fine_bin_of(fine: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per row, the fine bin of its value among that row's own edges ``fine`` ``(n_rows, n_fine + 1)``."""
    n_used = np.maximum((np.diff(fine, axis=1) > 0).sum(axis=1), 1)    # padded bins have zero width
    position = (values[:, None] >= fine[:, 1:]).sum(axis=1)
    return np.minimum(position, n_used - 1)
