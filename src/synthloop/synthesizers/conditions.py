"""Range and set conditions for ``sample(n, conditions=...)``, and the checks every condition gets up front.

A condition value is a label or number (equality, met natively by models that can), a :class:`Range`
or a :class:`OneOf`. Ranges and sets are met by the sampling pipeline for every model: a
:class:`FilterStep` keeps the drawn rows that fall inside them, and ``draw_until`` draws again until
enough did. A model with ``native_predicates`` (``argn``) also meets them while it draws, from each
column's :class:`ModelPredicate`, so a rare segment costs no more than a common one; the filter still
checks every row. Everything is checked before any row is drawn, so a request no row can meet fails at once
with a :class:`~synthloop.errors.ConditionError` naming the column's range or type, instead of after
the draw budget (or, as equality on numbers used to, by returning the nearest value).

``synthloop sample --where`` accepts ``col=v``, ``col>=v``, ``col<=v``, ``col>v``, ``col<v`` and
``col in (a,b,c)``; see :func:`parse_where`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthloop.errors import ConditionError, SynthloopError
from synthloop.schema.values import model_numbers
from synthloop.synthesizers.sampling import Candidates
from synthloop.tabular.labels import to_labels


@dataclass(frozen=True)
class Range:
    """Values between ``low`` and ``high`` (None: unbounded), each end inclusive unless said otherwise."""

    low: Any = None
    high: Any = None
    low_inclusive: bool = True
    high_inclusive: bool = True

    def __str__(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>=' if self.low_inclusive else '>'}{self.low}")
        if self.high is not None:
            parts.append(f"{'<=' if self.high_inclusive else '<'}{self.high}")
        return " and ".join(parts) or "any value"


@dataclass(frozen=True, init=False)
class OneOf:
    """Values in a set: ``OneOf(["Sales", "Tech-support"])``."""

    values: tuple[Any, ...]

    def __init__(self, values: Sequence[Any]):
        if isinstance(values, str) or not len(values):
            raise ConditionError(f"OneOf needs a non-empty list of values, got {values!r}.")
        object.__setattr__(self, "values", tuple(values))

    def __str__(self) -> str:
        return f"in ({','.join(map(str, self.values))})"


Predicate = Range | OneOf
_OPERATORS = {">=": ("low", True), ">": ("low", False), "<=": ("high", True), "<": ("high", False)}


def parse_where(text: str) -> tuple[str, object]:
    """``"age>=30"`` → ``("age", Range(low="30"))``; ``"occupation in (Sales,Tech-support)"`` →
    ``("occupation", OneOf(...))``; ``"income=>50K"`` → ``("income", ">50K")`` (the first operator wins)."""
    found = re.fullmatch(r"\s*(.+?)\s+in\s*\((.*)\)\s*", text, flags=re.IGNORECASE | re.DOTALL)
    if found:
        values = [v.strip() for v in found.group(2).split(",") if v.strip()]
        if not values:
            raise ConditionError(f"--where {text!r} lists no values; example: --where \"occupation in (Sales,Tech-support)\"")
        return found.group(1).strip(), OneOf(values)
    position = re.search(r"[<>=]", text)
    if position is None or not text[:position.start()].strip():
        raise ConditionError(f"--where expects KEY=VALUE, KEY>=VALUE (also <=, >, <) or \"KEY in (A,B)\", "
                             f"got {text!r}. Example: --where age>=30")
    name, rest = text[:position.start()].strip(), text[position.start():]
    if rest.startswith("="):
        return name, rest[1:]
    operator = rest[:2] if rest[1:2] == "=" else rest[:1]
    value = rest[len(operator):].strip()
    if not value:
        raise ConditionError(f"--where {text!r} has no value after {operator!r}.")
    end, inclusive = _OPERATORS[operator]
    return name, Range(**{end: value, f"{end}_inclusive": inclusive})


def split_conditions(conditions: Mapping[str, object]) -> tuple[dict[str, object], dict[str, Predicate]]:
    """Equality conditions (a model may meet them natively) apart from ranges and sets (filtered)."""
    equal = {str(k): v for k, v in conditions.items() if not isinstance(v, Range | OneOf)}
    return equal, {str(k): v for k, v in conditions.items() if isinstance(v, Range | OneOf)}


def describe(equal: Mapping[str, object], predicates: Mapping[str, Predicate]) -> str:
    """``age>=30, sex='Female'``: how the CLI and the messages show a segment."""
    return ", ".join([f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in equal.items()]
                     + [f"{k} {p}" for k, p in predicates.items()])


def _bounds(column: Any) -> tuple[float, float] | None:
    """A numeric column's training range in the model view (None when unknown)."""
    if column.low is None or column.high is None:
        return None
    if column.kind == "datetime":                    # bounds are stored in the model view (seconds)
        return float(column.low), float(column.high)
    low, high = model_numbers(column, pd.Series([column.low, column.high], dtype=object if column.origin else None))
    return float(low), float(high)


def _numbers(column: Any, values: Sequence[object], what: str) -> np.ndarray:
    """Condition values of a numeric column in the model view; text that is no number raises."""
    try:
        series = pd.Series(list(values))
        if column.kind == "numeric" and not pd.api.types.is_numeric_dtype(series.dtype):
            series = pd.to_numeric(series)
        return model_numbers(column, series).to_numpy(dtype="float64")
    except (TypeError, ValueError) as error:
        raise ConditionError(f"{what}: '{column.name}' is {column.kind}, and {list(values)!r} is not "
                             f"({error}).") from None


def check_numeric_values(column: Any, values: np.ndarray) -> str | None:
    """Why equality with ``values`` (model view) cannot be met on a numeric column, or None.

    Out of the training range: the model clips to it; a fraction on an integer column: the model
    rounds. Both used to return the nearest value silently while the CLI printed the one asked for.
    """
    present = values[~np.isnan(values)]
    bounds = _bounds(column)
    if bounds is not None and len(present) and ((present < bounds[0]) | (present > bounds[1])).any():
        bad = present[(present < bounds[0]) | (present > bounds[1])][0]
        return (f"'{column.name}'={_shown(column, bad)} is outside the training range "
                f"{column.low}..{column.high}; the model cannot generate it")
    if column.integer and len(present) and (present != np.round(present)).any():
        bad = present[present != np.round(present)][0]
        return f"'{column.name}'={bad:g} is not a whole number, but '{column.name}' holds integers only"
    return None


def _range_text(column: Any) -> str:
    if column.kind == "datetime":
        return f"{pd.to_datetime(column.low, unit='s')}..{pd.to_datetime(column.high, unit='s')}"
    return f"{column.low}..{column.high}"


def _shown(column: Any, value: float) -> str:
    return f"{value + (column.origin or 0):g}"


class FilterStep:
    """Rows must fall inside every range and set (checked on the rows as they come out: rounded, clipped)."""

    def __init__(self, schema: Any, predicates: Mapping[str, Predicate]):
        self.predicates = dict(predicates)
        self.tests = {name: _compile(schema[name], schema.model_kinds()[name], p) for name, p in predicates.items()}
        """Each column's :class:`ModelPredicate` (a row test; models with ``native_predicates`` read it)."""

    def start(self, n_rows: int) -> None:
        pass

    def keep(self, candidates: Candidates) -> np.ndarray:
        return self.matches(candidates.canonical)

    def matches(self, rows: pd.DataFrame) -> np.ndarray:
        """Which model-view rows meet every range and set."""
        ok = np.ones(len(rows), dtype=bool)
        for name, test in self.tests.items():
            ok &= test(rows[name])
        return ok

    def impossible(self, n_rows: int, n_accepted: int, n_drawn: int, n_rejected: int) -> SynthloopError:
        return ConditionError(
            f"Only {n_accepted:,} of {n_drawn:,} generated rows satisfied {describe({}, self.predicates)}, but "
            f"{n_rows:,} were asked for: this model generates such rows too rarely. Widen the range or set, or "
            "check that the training data contains enough such rows.")


@dataclass(frozen=True)
class ModelPredicate:
    """A range or set in the model view, checked against the column: what a row test and a model that meets
    ranges and sets while it draws (``native_predicates``) both read.

    A numeric range: ``low``..``high`` (either end ±inf when open), each end inclusive or not. A set:
    ``values``, numbers in the model view on a numeric column, labels otherwise. Calling it on a
    column's values tells which meet it.
    """

    numeric: bool
    low: float = -np.inf
    high: float = np.inf
    low_inclusive: bool = True
    high_inclusive: bool = True
    values: tuple[Any, ...] | None = None

    def __call__(self, values: pd.Series) -> np.ndarray:
        if self.values is not None and not self.numeric:
            return values.astype(object).isin(set(self.values)).to_numpy()
        x = values.to_numpy(dtype="float64")
        if self.values is not None:
            return np.isin(x, np.asarray(self.values, dtype="float64"))
        with np.errstate(invalid="ignore"):
            return ((x >= self.low if self.low_inclusive else x > self.low)
                    & (x <= self.high if self.high_inclusive else x < self.high))


def _compile(column: Any, kind: str, predicate: Predicate) -> ModelPredicate:
    """The model-view form of one column's range or set, after checking that some value can meet it."""
    name = column.name
    if isinstance(predicate, OneOf):
        if kind == "numeric":
            wanted = _numbers(column, predicate.values, "Cannot sample with these conditions")
            problem = check_numeric_values(column, wanted)
            if problem:
                raise ConditionError(f"Cannot sample with these conditions: {problem}.")
            return ModelPredicate(numeric=True, values=tuple(float(v) for v in wanted))
        labels = to_labels(pd.Series(list(predicate.values), dtype=object))
        unseen = sorted(set(labels.dropna()) - set(column.categories or ()))
        if unseen:
            shown = ", ".join(map(repr, (column.categories or ())[:10]))
            raise ConditionError(f"Cannot sample with these conditions: '{name}' has no category "
                                 f"{', '.join(map(repr, unseen[:3]))} in training; seen: {shown}.")
        return ModelPredicate(numeric=False, values=tuple(dict.fromkeys(labels.dropna())))
    if kind != "numeric":
        raise ConditionError(f"Cannot sample with these conditions: '{name}' is {kind}; a range ({predicate}) needs "
                             f"a numeric or datetime column; use a set instead: --where \"{name} in (A,B)\".")
    low, high = (fallback if v is None else float(_numbers(column, [v], "Cannot sample with these conditions")[0])
                 for v, fallback in ((predicate.low, -np.inf), (predicate.high, np.inf)))
    lo_ok, hi_ok = predicate.low_inclusive, predicate.high_inclusive
    bounds = _bounds(column)
    if bounds is not None:
        lo, lo_in = (bounds[0], True) if bounds[0] > low else (low, lo_ok)
        hi, hi_in = (bounds[1], True) if bounds[1] < high else (high, hi_ok)
        whole = column.integer and column.kind == "numeric"      # (a datetime's "integer" means whole days)
        if whole:
            lo, hi = (np.ceil(lo) if lo_in else np.floor(lo) + 1), (np.floor(hi) if hi_in else np.ceil(hi) - 1)
            lo_in = hi_in = True
        if lo > hi or (lo == hi and not (lo_in and hi_in)):
            raise ConditionError(f"Cannot sample with these conditions: no value of '{name}' {predicate} lies in its "
                                 f"training range {_range_text(column)}"
                                 f"{' (integers only)' if whole else ''}; the model cannot generate it.")
    return ModelPredicate(numeric=True, low=low, high=high, low_inclusive=lo_ok, high_inclusive=hi_ok)


def segment_rows(training: pd.DataFrame, equal: pd.DataFrame, step: FilterStep | None) -> int:
    """How many training rows (model view) meet the equality conditions (first row) and the filters."""
    ok = np.ones(len(training), dtype=bool)
    for name in equal.columns:
        wanted = equal[name].iloc[0]
        values = training[name].to_numpy(dtype=object)
        ok &= pd.isna(values) if pd.isna(wanted) else values == wanted
    if step is not None:
        ok &= step.matches(training)
    return int(ok.sum())


def reference_rows(reference: Any, schema: Any, equal: pd.DataFrame,
                   predicates: Mapping[str, Predicate]) -> pd.DataFrame | None:
    """The condition columns of the training rows, rebuilt from a loaded privacy reference (model view).

    The reference keeps standardised numerics (float32) and pooled label codes, not the rows: numerics
    come back exact when the column is integer or has known decimals, labels when they were not pooled.
    None when a condition needs what the reference cannot tell (then the segment is not counted).
    """
    geometry, columns = reference.geometry, {}
    for name in [*equal.columns, *predicates]:
        column = schema[name]
        if name in geometry.numeric:
            i = geometry.numeric.index(name)
            values = reference.points[:, i].astype("float64") * geometry.scale[i] + geometry.center[i]
            if column.integer:
                values = np.round(values)
            elif column.decimals is not None:
                values = np.round(values, column.decimals)
            elif name in equal.columns:
                return None
            columns[name] = values
        elif name in geometry.categorical:
            labels = geometry.labels[geometry.categorical.index(name)]
            wanted = list(equal[name].iloc[:1]) if name in equal.columns else list(predicates[name].values)
            if any(not pd.isna(w) and str(w) not in labels for w in wanted):
                return None                               # a pooled label: not countable from the reference
            codes = reference.codes[:, geometry.categorical.index(name)]
            table = np.array([*labels, object(), np.nan], dtype=object)
            columns[name] = table[codes]
        else:
            return None
    return pd.DataFrame(columns)
