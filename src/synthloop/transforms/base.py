"""Column transforms and the layout they publish.

A :class:`ColumnTransform` turns one column of the model view into a block of encoded columns and
back. Each block is made of *spans*: a ``continuous`` span is one scalar (neural heads put a tanh on
it), a ``categorical`` span is a one-hot block whose argmax decodes (heads apply a softmax or
Gumbel-softmax per span). :class:`Layout` lists every span of the table with its position, which is
all a neural synthesizer needs to know about the data (the SDV/CTGAN "output info", made explicit).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

import numpy as np
import pandas as pd

SpanKind = Literal["continuous", "categorical"]
#: ``value``: a numeric scalar; ``mode``: which mode / point mass / missing a numeric value is in;
#: ``category``: the one-hot of a categorical column (the spans CTGAN conditions on).
SpanRole = Literal["value", "mode", "category"]


@dataclass(frozen=True)
class Span:
    """One block of the encoded matrix: which column it encodes, how, and where it sits."""

    column: str
    kind: SpanKind
    slice: slice
    role: SpanRole = "value"

    @property
    def width(self) -> int:
        return self.slice.stop - self.slice.start


@dataclass(frozen=True)
class Layout:
    """Every span of an encoded table, in order; ``width`` is the number of encoded columns."""

    spans: tuple[Span, ...]
    width: int

    def categorical(self) -> tuple[Span, ...]:
        """One-hot spans (category and mode blocks)."""
        return tuple(s for s in self.spans if s.kind == "categorical")

    def continuous(self) -> tuple[Span, ...]:
        """Scalar spans of numeric columns."""
        return tuple(s for s in self.spans if s.kind == "continuous")

    def for_column(self, column: str) -> tuple[Span, ...]:
        """The spans that encode one column (empty if the column is not encoded)."""
        return tuple(s for s in self.spans if s.column == column)

    def with_role(self, role: SpanRole) -> tuple[Span, ...]:
        return tuple(s for s in self.spans if s.role == role)


@dataclass(frozen=True)
class SpanSpec:
    """A span before it has a position: what a column transform contributes to the layout."""

    kind: SpanKind
    role: SpanRole
    width: int


class ColumnTransform(ABC):
    """Reversible encoding of one model-view column into a block of float columns.

    Subclasses learn in ``fit`` (state ends in ``_``), publish ``spans()``, and serialise their state
    as numeric arrays (for safetensors) plus JSON-compatible metadata, never as pickles.
    """

    type: ClassVar[str]

    def __init__(self, column: str):
        self.column = column

    @abstractmethod
    def fit(self, values: pd.Series, rng: np.random.Generator) -> Self: ...

    @abstractmethod
    def transform(self, values: pd.Series, rng: np.random.Generator) -> np.ndarray:
        """Encode ``values`` into a float32 array of shape ``(n_rows, self.width)``."""

    @abstractmethod
    def inverse_transform(self, block: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Decode a block (n_rows, width) back to float64 values (numerics) or object labels."""

    @abstractmethod
    def spans(self) -> tuple[SpanSpec, ...]: ...

    @abstractmethod
    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Learned arrays and JSON metadata (the column name is kept by the table encoder as ``"name"``)."""

    @classmethod
    @abstractmethod
    def from_state(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Self:
        """Rebuild a fitted transform from :meth:`to_state` output plus ``meta["name"]``, the column."""

    @property
    def width(self) -> int:
        return sum(spec.width for spec in self.spans())


def one_hot(indices: np.ndarray, width: int) -> np.ndarray:
    """Rows of a float32 identity: ``indices`` (n_rows,) -> (n_rows, width)."""
    out = np.zeros((len(indices), width), dtype=np.float32)
    out[np.arange(len(indices)), indices] = 1.0
    return out
