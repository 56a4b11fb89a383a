"""Drifts: named, composable changes to a batch of rows, each a loop value (``to_config``/``from_config``).

Every drift is ``apply(frame, intensity, rng) -> frame`` with ``intensity`` in [0, 1] from the
scenario's schedule (0: the batch unchanged). Numeric shifts are in units of the column's standard
deviation in the batch, so one scenario file reads the same on any table.

Kinds, after the drift taxonomy of Moreno-Torres et al. ("A unifying view on dataset shift in
classification", Pattern Recognition 2012) and Gama et al. ("A survey on concept drift adaptation",
ACM CSUR 2014): covariate shift on a numeric column (``mean-shift``, ``scale``, ``outliers``) or a
categorical one (``category-shift``), a ``new-category``, a ``missingness`` shift, a
``correlation`` change (marginals kept), prior shift (``prior-shift``: P(y) moves, P(x | y) kept)
and concept shift (``concept-shift``: P(y | x) moves in a region of x).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from synthloop.errors import ConfigError, DataError
from synthloop.loop.values import LoopValue, register
from synthloop.tabular.labels import to_labels


class Drift(LoopValue):
    """A change to a batch; subclass as a frozen dataclass and ``@register("name")`` it."""

    kind: ClassVar[str] = "drift"

    def apply(self, frame: pd.DataFrame, intensity: float, rng: np.random.Generator) -> pd.DataFrame:
        raise NotImplementedError

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns this drift reads or writes (checked against the table before a stream starts)."""
        return tuple(getattr(self, name) for name in ("column", "target") if hasattr(self, name))

    def check(self, frame: pd.DataFrame) -> None:
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ConfigError(f"drift '{self.name}' names column {', '.join(map(repr, missing))}, which the table "
                              f"does not have (columns: {', '.join(map(str, frame.columns))}).")


def _numeric(frame: pd.DataFrame, column: str, drift: str) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(frame[column].dtype):
        raise DataError(f"drift '{drift}' needs a numeric column; '{column}' holds labels.")
    return frame[column].to_numpy(dtype="float64", na_value=np.nan)


def _rows(n: int, share: float, rng: np.random.Generator) -> np.ndarray:
    """A random set of round(share · n) row positions."""
    return rng.choice(n, size=round(min(max(share, 0.0), 1.0) * n), replace=False)


def _restore_integers(values: np.ndarray, original: pd.Series) -> pd.Series | np.ndarray:
    if pd.api.types.is_integer_dtype(original.dtype) and not np.isnan(values).any():
        return np.round(values).astype(original.dtype)
    return values


@register("mean-shift")
@dataclass(frozen=True)
class MeanShift(Drift):
    """Move a numeric column by ``shift`` standard deviations (covariate shift)."""

    column: str = ""
    shift: float = 0.5

    def apply(self, frame, intensity, rng):
        values = _numeric(frame, self.column, self.name)
        moved = values + intensity * self.shift * np.nanstd(values)
        return frame.assign(**{self.column: _restore_integers(moved, frame[self.column])})


@register("scale")
@dataclass(frozen=True)
class Scale(Drift):
    """Stretch a numeric column about its mean by ``factor`` (its spread changes, its centre does not)."""

    column: str = ""
    factor: float = 1.5

    def __post_init__(self) -> None:
        if self.factor <= 0:
            raise ConfigError(f"drift 'scale' factor must be > 0, got {self.factor}.")

    def apply(self, frame, intensity, rng):
        values = _numeric(frame, self.column, self.name)
        centre = np.nanmean(values)
        moved = centre + (values - centre) * (1.0 + intensity * (self.factor - 1.0))
        return frame.assign(**{self.column: _restore_integers(moved, frame[self.column])})


@register("outliers")
@dataclass(frozen=True)
class Outliers(Drift):
    """Replace a ``share`` of a numeric column by values ``magnitude`` standard deviations above its maximum."""

    column: str = ""
    share: float = 0.05
    magnitude: float = 3.0

    def apply(self, frame, intensity, rng):
        values = _numeric(frame, self.column, self.name).copy()
        rows = _rows(len(values), intensity * self.share, rng)
        spread = np.nanstd(values)
        values[rows] = np.nanmax(values) + self.magnitude * spread * (1.0 + rng.random(len(rows)))
        return frame.assign(**{self.column: _restore_integers(values, frame[self.column])})


@register("category-shift")
@dataclass(frozen=True)
class CategoryShift(Drift):
    """Give ``share`` more of the rows to ``category`` of a categorical column (covariate shift on labels)."""

    column: str = ""
    category: str = ""
    share: float = 0.2

    def apply(self, frame, intensity, rng):
        labels = to_labels(frame[self.column])
        if self.category not in set(labels.dropna()):
            raise DataError(f"drift 'category-shift': '{self.category}' is not a label of column '{self.column}' "
                            f"(labels: {', '.join(sorted(labels.dropna().unique())[:10])}); use 'new-category' "
                            "for a label the data never had.")
        others = np.flatnonzero((labels != self.category).to_numpy())
        rows = others[_rows(len(others), intensity * self.share * len(frame) / max(len(others), 1), rng)]
        values = frame[self.column].copy()
        values.iloc[rows] = values[labels == self.category].iloc[0]
        return frame.assign(**{self.column: values})


@register("new-category")
@dataclass(frozen=True)
class NewCategory(Drift):
    """A label the data never had takes over a ``share`` of a categorical column."""

    column: str = ""
    category: str = "new"
    share: float = 0.05

    def apply(self, frame, intensity, rng):
        values = frame[self.column].astype(object).copy()
        values.iloc[_rows(len(values), intensity * self.share, rng)] = self.category
        return frame.assign(**{self.column: values})


@register("missingness")
@dataclass(frozen=True)
class Missingness(Drift):
    """Blank a further ``share`` of a column's cells (a broken feed, a form field made optional)."""

    column: str = ""
    share: float = 0.2

    def apply(self, frame, intensity, rng):
        values = frame[self.column].copy()
        if pd.api.types.is_integer_dtype(values.dtype):
            values = values.astype("float64")
        values.iloc[_rows(len(values), intensity * self.share, rng)] = np.nan
        return frame.assign(**{self.column: values})


@register("correlation")
@dataclass(frozen=True)
class Correlation(Drift):
    """Shuffle a ``share`` of a column's values across rows: its marginal stays, its links to other columns weaken."""

    column: str = ""
    share: float = 0.6

    def apply(self, frame, intensity, rng):
        values = frame[self.column].copy()
        rows = np.sort(_rows(len(values), intensity * self.share, rng))
        values.iloc[rows] = values.iloc[rng.permutation(rows)].to_numpy()
        return frame.assign(**{self.column: values})


@register("prior-shift")
@dataclass(frozen=True)
class PriorShift(Drift):
    """Raise label ``category`` of the target by ``share`` of the rows, resampling whole rows (P(x | y) kept)."""

    target: str = ""
    category: str = ""
    share: float = 0.2

    def apply(self, frame, intensity, rng):
        labels = to_labels(frame[self.target])
        chosen = (labels == self.category).to_numpy()
        if not chosen.any():
            raise DataError(f"drift 'prior-shift': '{self.category}' is not a label of target '{self.target}'.")
        current = chosen.mean()
        wanted = min(current + intensity * self.share, 0.99)
        weights = np.where(chosen, wanted / current, (1 - wanted) / max(1 - current, 1e-9))
        rows = rng.choice(len(frame), size=len(frame), replace=True, p=weights / weights.sum())
        return frame.iloc[np.sort(rows)].reset_index(drop=True)


@register("concept-shift")
@dataclass(frozen=True)
class ConceptShift(Drift):
    """Flip the binary ``target`` with probability ``rate`` where ``column`` is above its median: P(y | x) moves
    in one region of x while P(x) stays the same."""

    target: str = ""
    column: str = ""
    rate: float = 0.5

    def apply(self, frame, intensity, rng):
        labels = to_labels(frame[self.target])
        present = sorted(labels.dropna().unique())
        if len(present) != 2:
            raise DataError(f"drift 'concept-shift' needs a binary target; '{self.target}' has {len(present)} labels.")
        values = frame[self.column]
        region = (values > values.median()).to_numpy() if pd.api.types.is_numeric_dtype(values.dtype) \
            else (to_labels(values) == to_labels(values).mode().iloc[0]).to_numpy()
        flip = region & labels.notna().to_numpy() & (rng.random(len(frame)) < intensity * self.rate)
        column = frame[self.target].copy()
        first = column[labels == present[0]].iloc[0]
        second = column[labels == present[1]].iloc[0]
        column.iloc[np.flatnonzero(flip)] = np.where(labels.iloc[np.flatnonzero(flip)] == present[0], second, first)
        return frame.assign(**{self.target: column})
