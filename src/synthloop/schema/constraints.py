"""Domain constraints that a domain expert declares and every sample must satisfy.

Each constraint answers ``is_valid(frame) -> bool array`` row by row, on user-space values.
Synthesizers regenerate invalid rows (rather than clipping them, which would pile probability mass on
the bounds) until every row is valid, and raise :class:`~synthloop.errors.ConstraintError` when the acceptance rate shows the
request is (nearly) impossible rather than looping.

Constraints are values (frozen dataclasses) and serialise to JSON in the schema, so a constraint
file never holds code: ``Predicate`` takes an expression string that is parsed into an
allow-listed syntax tree when the constraint is built (see :mod:`synthloop.schema.expressions`) and
evaluated without ``eval``, so a tampered ``schema.json`` is refused on load. A Python callable is
accepted too, for use from the API, but such a schema cannot be saved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from synthloop.errors import ConstraintError, SchemaError
from synthloop.schema.expressions import ParsedExpression, parse_predicate


class Constraint:
    """Base class: a rule over some columns, checked row by row."""

    type: ClassVar[str]

    @property
    def columns(self) -> tuple[str, ...]:
        raise NotImplementedError

    def fitted(self, data: pd.DataFrame) -> Constraint:
        """A copy that has learned what it needs from training data (most need nothing)."""
        return self

    def is_valid(self, data: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True)
class Range(Constraint):
    """``low <= column <= high`` (either bound may be None)."""

    column: str
    low: float | None = None
    high: float | None = None
    type: ClassVar[str] = "range"

    def __post_init__(self) -> None:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise SchemaError(f"Range on '{self.column}': low {self.low} is above high {self.high}.")

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def is_valid(self, data: pd.DataFrame) -> np.ndarray:
        values = pd.to_numeric(data[self.column], errors="coerce").to_numpy(dtype="float64")
        ok = np.ones(len(values), dtype=bool)
        if self.low is not None:
            ok &= ~(values < self.low)
        if self.high is not None:
            ok &= ~(values > self.high)
        return ok

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "column": self.column, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Inequality(Constraint):
    """``low_column < high_column`` (or ``<=`` when ``strict=False``); rows with a missing side pass."""

    low_column: str
    high_column: str
    strict: bool = False
    type: ClassVar[str] = "inequality"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.low_column, self.high_column)

    def is_valid(self, data: pd.DataFrame) -> np.ndarray:
        low = _as_number(data[self.low_column])
        high = _as_number(data[self.high_column])
        with np.errstate(invalid="ignore"):
            ok = low < high if self.strict else low <= high
        return ok | np.isnan(low) | np.isnan(high)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "low_column": self.low_column, "high_column": self.high_column,
                "strict": self.strict}


@dataclass(frozen=True)
class FixedCombinations(Constraint):
    """Only combinations of these columns' values seen in the training data may appear."""

    column_names: tuple[str, ...]
    combinations: tuple[tuple[str, ...], ...] | None = None
    type: ClassVar[str] = "fixed_combinations"

    def __post_init__(self) -> None:
        if len(self.column_names) < 2:
            raise SchemaError("FixedCombinations needs at least two columns.")
        object.__setattr__(self, "column_names", tuple(self.column_names))

    @property
    def columns(self) -> tuple[str, ...]:
        return self.column_names

    def fitted(self, data: pd.DataFrame) -> FixedCombinations:
        keys = _row_keys(data, self.column_names)
        return FixedCombinations(self.column_names, tuple(sorted(set(keys))))

    def is_valid(self, data: pd.DataFrame) -> np.ndarray:
        if self.combinations is None:
            raise ConstraintError("FixedCombinations has not seen training data; fit a synthesizer first.")
        allowed = set(self.combinations)
        return np.fromiter((key in allowed for key in _row_keys(data, self.column_names)), bool, len(data))

    def to_dict(self) -> dict[str, Any]:
        combos = None if self.combinations is None else [list(c) for c in self.combinations]
        return {"type": self.type, "column_names": list(self.column_names), "combinations": combos}


@dataclass(frozen=True)
class Predicate(Constraint):
    """A user rule: an expression string such as ``"age >= 18 or relationship != 'Husband'"``,
    or (API only, not saveable) a callable taking the frame and returning a bool array.

    The string may use column names (in backticks when they hold spaces), literals, comparisons,
    arithmetic, ``and``/``or``/``not``, ``&``/``|``/``~``, ``in [...]``, ``isin([...])``, ``isna()`` and
    ``notna()``; anything else raises :class:`~synthloop.errors.SchemaError` naming the construct.
    """

    expression: str | Callable[[pd.DataFrame], Any]
    column_names: tuple[str, ...] = field(default=())
    type: ClassVar[str] = "predicate"
    parsed: ParsedExpression | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_names", tuple(self.column_names))
        if not callable(self.expression):
            object.__setattr__(self, "parsed", parse_predicate(self.expression))

    @property
    def columns(self) -> tuple[str, ...]:
        read = self.parsed.columns if self.parsed is not None else ()
        return tuple(dict.fromkeys((*self.column_names, *read)))

    def is_valid(self, data: pd.DataFrame) -> np.ndarray:
        if self.parsed is not None:
            return self.parsed.evaluate(data)
        try:
            result = self.expression(data)                              # type: ignore[operator]
        except Exception as exc:  # a user function can fail in many ways; report it, never swallow
            raise ConstraintError(f"Predicate {self.expression!r} failed on the data: {exc}") from None
        result = np.asarray(result)
        if result.shape != (len(data),):
            raise ConstraintError(f"Predicate {self.expression!r} must give one True/False per row, "
                                  f"got shape {result.shape}.")
        return result.astype(bool)

    def to_dict(self) -> dict[str, Any]:
        if callable(self.expression):
            raise SchemaError("A Predicate built from a Python function cannot be saved; "
                              "use an expression string such as \"age >= 18\".")
        return {"type": self.type, "expression": self.expression, "column_names": list(self.column_names)}


_TYPES: dict[str, type[Constraint]] = {c.type: c for c in (Range, Inequality, FixedCombinations, Predicate)}


def constraint_from_dict(data: dict[str, Any]) -> Constraint:
    """Build a constraint from its JSON form, with a clear error for unknown types or fields."""
    data = dict(data)
    kind = data.pop("type", None)
    if kind not in _TYPES:
        raise SchemaError(f"Unknown constraint type {kind!r}; choose from {sorted(_TYPES)}.")
    for key in ("column_names",):
        if key in data and data[key] is not None:
            data[key] = tuple(data[key])
    if data.get("combinations") is not None:
        data["combinations"] = tuple(tuple(c) for c in data["combinations"])
    try:
        return _TYPES[kind](**data)
    except TypeError as exc:
        raise SchemaError(f"Invalid '{kind}' constraint {data}: {exc}") from None


def valid_mask(constraints: Sequence[Constraint], data: pd.DataFrame) -> np.ndarray:
    """Rows that satisfy every constraint."""
    ok = np.ones(len(data), dtype=bool)
    for constraint in constraints:
        ok &= constraint.is_valid(data)
    return ok


def _as_number(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.astype("int64").to_numpy(dtype="float64")
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().sum() > values.isna().sum():  # strings such as dates
        stamps = pd.to_datetime(values, errors="coerce", format="mixed")
        return stamps.astype("int64").where(stamps.notna()).to_numpy(dtype="float64")
    return numbers.to_numpy(dtype="float64")


def _row_keys(data: pd.DataFrame, columns: Sequence[str]) -> list[tuple[str, ...]]:
    parts = [data[c].astype(object).where(data[c].notna(), None).map(lambda v: "<NA>" if v is None else _key(v))
             for c in columns]
    return list(zip(*parts, strict=True))


def _key(value: object) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)
