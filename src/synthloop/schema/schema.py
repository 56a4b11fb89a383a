"""Schema: the columns of a table, its target and its domain constraints.

``Schema.infer`` reads a DataFrame and decides each column's kind; ``validate`` checks a table
against the schema and raises one :class:`~synthloop.errors.SchemaError` listing every problem;
``to_model_frame`` / ``from_model_frame`` convert between user data and the two-kind view that
synthesizers learn from (float numerics and string categoricals).
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from synthloop.errors import DataError, SchemaError, SynthloopWarning, format_problems
from synthloop.schema.column import KINDS, Column, Kind
from synthloop.schema.constraints import Constraint, constraint_from_dict
from synthloop.schema.values import (
    InfOption,
    datetime_to_float,
    dtype_name,
    float_decimals,
    infinite_to_missing,
    integer_origin,
    json_value,
    make_ids,
    model_numbers,
    natural_key,
    numeric_values,
    parse_datetimes,
    restore_constant,
    restore_labels,
    restore_numeric,
    tick_decimals,
    timezone_of,
    to_labels,
    zone,
)

SCHEMA_VERSION = 1
_ID_NAME = re.compile(r"(^|[_\s-])(id|uuid|guid|key)$|^id[_\s-]", re.IGNORECASE)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?")
_MIN_ROWS_FOR_ID = 20


@dataclass(frozen=True)
class Schema:
    """The columns of a table, an optional target column and domain constraints."""

    columns: tuple[Column, ...]
    target: str | None = None
    constraints: tuple[Constraint, ...] = field(default=())

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise SchemaError(f"Schema has duplicate column names: {duplicates}. Rename them first.")
        if self.target is not None and self.target not in names:
            raise SchemaError(f"Target column '{self.target}' is not in the schema columns {names}.")
        for constraint in self.constraints:
            missing = [c for c in constraint.columns if c not in names]
            if missing:
                raise SchemaError(f"Constraint {constraint!r} names unknown columns {missing}.")

    # ------------------------------------------------------------------ access
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def __getitem__(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"No column '{name}' in schema; columns are {list(self.names)}")

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def of_kind(self, *kinds: Kind) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.kind in kinds)

    def numeric(self) -> tuple[Column, ...]:
        return self.of_kind("numeric")

    def categorical(self) -> tuple[Column, ...]:
        return self.of_kind("categorical", "boolean")

    def sensitive(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.sensitive)

    def modelled(self) -> tuple[Column, ...]:
        """Columns a synthesizer learns (ids are regenerated, constants copied)."""
        return tuple(c for c in self.columns if c.kind not in ("id", "constant"))

    def model_kinds(self) -> dict[str, Literal["numeric", "categorical"]]:
        """Each learned column's kind in the model view: datetimes are numeric, booleans categorical."""
        return {
            c.name: "numeric" if c.kind in ("numeric", "datetime") else "categorical"
            for c in self.modelled()
        }

    def with_columns(self, **changes: Mapping[str, Any]) -> Schema:
        """A copy where ``name={field: value}`` changes a column, e.g. ``sex={"sensitive": True}``."""
        unknown = sorted(set(changes) - set(self.names))
        if unknown:
            raise SchemaError(f"Unknown columns {unknown}; the schema has {list(self.names)}.")
        columns = tuple(c.with_(**changes[c.name]) if c.name in changes else c for c in self.columns)
        return replace(self, columns=columns)

    def with_constraints(self, *constraints: Constraint) -> Schema:
        """A copy with more constraints; each must name columns of this schema."""
        return replace(self, constraints=self.constraints + tuple(constraints))

    # ------------------------------------------------------------------ infer
    @classmethod
    def infer(
        cls,
        data: pd.DataFrame,
        *,
        target: str | None = None,
        kinds: Mapping[str, Kind] | None = None,
        sensitive: Iterable[str] = (),
        constraints: Iterable[Constraint] = (),
        inf: InfOption = "error",
    ) -> Schema:
        """Infer each column's kind, missing values, categories and bounds from a table.

        Parameters
        ----------
        data
            The table to describe. It must have at least one row and unique column names.
        target
            The column a downstream model predicts (used by utility metrics and balanced sampling).
        kinds
            Overrides, e.g. ``{"zip": "categorical"}``.
        sensitive
            Columns to mark for fairness and attribute-inference checks.
        inf
            ``"error"`` (default): infinite numbers refuse the table; ``"missing"``: read them as missing.
        """
        check_frame(data, what="data")
        data = infinite_to_missing(data, inf)
        kinds = dict(kinds or {})
        sensitive = set(sensitive)
        unknown = sorted((set(kinds) | sensitive | ({target} if target else set())) - set(map(str, data.columns)))
        if unknown:
            raise SchemaError(f"Columns {unknown} were named but are not in the data; it has {list(data.columns)}.")
        bad_kinds = {k: v for k, v in kinds.items() if v not in KINDS}
        if bad_kinds:
            raise SchemaError(f"Unknown kinds {bad_kinds}; choose from {list(KINDS)}.")
        problems: list[str] = []
        columns = []
        for name in data.columns:
            column = _infer_column(str(name), data[name], kinds.get(str(name)), problems)
            if column is not None:
                columns.append(column.with_(sensitive=str(name) in sensitive))
        if problems:
            raise SchemaError(format_problems("Cannot infer a schema", problems,
                                               "Clean these values or override the kinds."))
        schema = cls(tuple(columns), target=target)
        return schema.with_constraints(*constraints) if constraints else schema

    # ------------------------------------------------------------------ validate
    def validate(self, data: pd.DataFrame, *, what: str = "data") -> None:
        """Raise one SchemaError listing every way ``data`` does not match this schema."""
        check_frame(data, what=what)
        problems: list[str] = []
        present = set(map(str, data.columns))
        missing = [n for n in self.names if n not in present]
        extra = [c for c in map(str, data.columns) if c not in self.names]
        if missing:
            problems.append(f"columns missing from the {what}: {missing}")
        if extra:
            problems.append(f"columns not in the schema: {extra}")
        for column in self.columns:
            if column.name in present:
                problems.extend(_check_column(column, data[column.name]))
        if problems:
            raise SchemaError(format_problems(f"The {what} does not match the schema", problems,
                                               "Fix the values, or re-infer the schema: "
                                               "synthloop schema infer DATA -o schema.json"))

    # ------------------------------------------------------------------ model view
    def to_model_frame(self, data: pd.DataFrame) -> pd.DataFrame:
        """Learned columns only: numerics and datetimes as float, categoricals as str (NaN kept)."""
        out = {}
        for column in self.modelled():
            values = data[column.name]
            if column.kind in ("numeric", "datetime"):
                out[column.name] = model_numbers(column, values)
            else:
                out[column.name] = to_labels(values)
        return pd.DataFrame(out, index=data.index)

    def from_model_frame(self, model_frame: pd.DataFrame, rng: np.random.Generator | None = None) -> pd.DataFrame:
        """Back to user data: restores ids, constants, dtypes, integer rounding and bounds."""
        n_rows = len(model_frame)
        out = {}
        for column in self.columns:
            if column.kind == "id":
                out[column.name] = make_ids(column, n_rows)
            elif column.kind == "constant":
                out[column.name] = restore_constant(column, n_rows)
            elif column.kind in ("numeric", "datetime"):
                out[column.name] = restore_numeric(column, model_frame[column.name].to_numpy(dtype="float64"))
            else:
                out[column.name] = restore_labels(column, model_frame[column.name])
        return pd.DataFrame(out, index=pd.RangeIndex(n_rows))

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "target": self.target,
            "columns": [c.to_dict() for c in self.columns],
            "constraints": [c.to_dict() for c in self.constraints],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=_json_default)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        try:
            parsed = _SchemaFile.model_validate(data)
        except ValidationError as exc:
            lines = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            fix = "Re-create it with: synthloop schema infer"
            raise SchemaError(format_problems("Invalid schema file", lines, fix)) from None
        if parsed.schema_version > SCHEMA_VERSION:
            raise SchemaError(f"Schema version {parsed.schema_version} is newer than this synthloop "
                              f"understands ({SCHEMA_VERSION}); upgrade synthloop.")
        columns = tuple(Column.from_dict(c.model_dump()) for c in parsed.columns)
        constraints = tuple(constraint_from_dict(c.model_dump(exclude_unset=True)) for c in parsed.constraints)
        return cls(columns, target=parsed.target, constraints=constraints)

    @classmethod
    def from_json(cls, text: str) -> Schema:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"Schema file is not valid JSON (line {exc.lineno}): {exc.msg}") from None
        except (RecursionError, ValueError) as exc:     # nesting thousands deep; a 5,000-digit number
            raise SchemaError(f"Schema file is not valid JSON: {type(exc).__name__}.") from None
        if not isinstance(data, dict):
            raise SchemaError("Schema file must hold a JSON object with 'columns'.")
        return cls.from_dict(data)


# The JSON form, checked strictly (no type coercion, no unknown keys, no NaN bounds) before anything
# is built: schema.json may come from someone else, inside a model folder.
_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, defer_build=True)  # built on first load


class _ColumnFile(BaseModel):
    model_config = _STRICT
    name: str
    kind: Literal["numeric", "categorical", "boolean", "datetime", "id", "constant"]
    nullable: bool = False
    categories: list[str] | None = None
    low: int | float | None = None
    high: int | float | None = None
    integer: bool = False
    dtype: str = "object"
    sensitive: bool = False
    value: str | int | float | bool | None = None
    decimals: int | None = None
    timezone: str | None = None
    origin: int | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is not None:
            try:
                pd.Timestamp(0, tz=zone(name))
            except (ValueError, TypeError, KeyError, LookupError) as exc:
                raise ValueError(f"unknown time zone {name!r}") from exc
        return name


class _RangeFile(BaseModel):
    model_config = _STRICT
    type: Literal["range"]
    column: str
    low: float | None = None
    high: float | None = None


class _InequalityFile(BaseModel):
    model_config = _STRICT
    type: Literal["inequality"]
    low_column: str
    high_column: str
    strict: bool = False


class _FixedCombinationsFile(BaseModel):
    model_config = _STRICT
    type: Literal["fixed_combinations"]
    column_names: list[str]
    combinations: list[list[str]] | None = None


class _PredicateFile(BaseModel):
    model_config = _STRICT
    type: Literal["predicate"]
    expression: str
    column_names: list[str] = []


class _SchemaFile(BaseModel):
    model_config = _STRICT
    schema_version: int = SCHEMA_VERSION
    target: str | None = None
    columns: list[_ColumnFile]
    constraints: list[Annotated[_RangeFile | _InequalityFile | _FixedCombinationsFile | _PredicateFile,
                                Field(discriminator="type")]] = []


# ---------------------------------------------------------------------- helpers
def check_frame(data: object, *, what: str = "data") -> None:
    """Reject non-DataFrames, empty tables and duplicate column names with a clear message."""
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"The {what} must be a pandas DataFrame, got {type(data).__name__}.")
    if data.shape[1] == 0:
        raise DataError(f"The {what} has no columns. Check the file's delimiter and header.")
    names = [str(c) for c in data.columns]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DataError(f"The {what} has duplicate column names {duplicates}; rename them so each is unique.")
    if len(data) == 0:
        raise DataError(f"The {what} has no rows; synthloop needs at least one row to learn from.")




def _examples(values: pd.Series, limit: int = 3) -> str:
    return ", ".join(repr(v) for v in pd.unique(values)[:limit])


def _infer_column(name: str, values: pd.Series, kind: Kind | None, problems: list[str]) -> Column | None:
    non_null = values.dropna()
    nullable = bool(values.isna().any())
    dtype = dtype_name(values)
    if kind is None:
        kind = _guess_kind(name, values, non_null, problems)
        if kind is None:
            return None
    if kind == "constant":
        value = json_value(non_null.iloc[0]) if len(non_null) else None
        return Column(name, "constant", nullable=nullable, dtype=dtype, value=value)
    if kind == "id":
        integer = pd.api.types.is_integer_dtype(values.dtype)
        low = float(non_null.min()) if integer and len(non_null) else None
        return Column(name, "id", nullable=False, dtype=dtype, integer=integer, low=low)
    if kind == "numeric":
        numbers = numeric_values(non_null)
        bad = non_null[numbers.isna()]
        if len(bad):
            problems.append(f"column '{name}' is numeric but has {len(bad)} non-numeric values, e.g. {_examples(bad)}")
            return None
        finite = numbers.to_numpy(dtype="float64")
        if not np.isfinite(finite).all():
            problems.append(_infinite_problem(name, int((~np.isfinite(finite)).sum())))
            return None
        if not len(finite):  # all missing, declared numeric: nothing to bound
            return Column(name, "numeric", nullable=True, dtype=dtype)
        if pd.api.types.is_integer_dtype(non_null.dtype):  # exact bounds: float64 would round 2**63 - 1 up
            low, high = int(non_null.min()), int(non_null.max())
            return Column(name, "numeric", nullable=nullable, low=low, high=high, integer=True, dtype=dtype,
                          origin=integer_origin(low, high))
        integer = bool(np.all(np.mod(finite, 1) == 0))
        if pd.api.types.is_timedelta64_dtype(non_null.dtype):
            decimals = tick_decimals(non_null)
        else:
            decimals = None if integer else float_decimals(finite)
        return Column(name, "numeric", nullable=nullable, low=float(finite.min()), high=float(finite.max()),
                      integer=integer, dtype=dtype, decimals=decimals)
    if kind == "datetime":
        stamps = parse_datetimes(non_null)
        if stamps.isna().any():
            problems.append(f"column '{name}' is datetime but has unparseable values, e.g. {_examples(non_null[stamps.isna()])}")
            return None
        seconds = datetime_to_float(stamps)
        date_only = bool(np.all(np.mod(seconds.to_numpy(), 86400) == 0))
        return Column(name, "datetime", nullable=nullable, low=float(seconds.min()), high=float(seconds.max()),
                      integer=date_only, dtype=dtype, decimals=None if date_only else tick_decimals(stamps),
                      timezone=timezone_of(stamps))
    labels = to_labels(non_null)
    categories = tuple(sorted(pd.unique(labels).tolist(), key=natural_key))
    return Column(name, kind, nullable=nullable, categories=categories, dtype=dtype)


def _guess_kind(name: str, values: pd.Series, non_null: pd.Series, problems: list[str]) -> Kind | None:
    n_unique = non_null.nunique()
    if n_unique == 0 or (n_unique == 1 and len(non_null) == len(values) and len(values) > 1):
        return "constant"
    if isinstance(values.dtype, pd.CategoricalDtype):  # a declared category, whatever its categories' type
        return "categorical"
    if pd.api.types.is_bool_dtype(values.dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(values.dtype):
        return "numeric"
    if pd.api.types.is_numeric_dtype(values.dtype):
        finite = non_null.to_numpy(dtype="float64")
        if not np.isfinite(finite).all():
            problems.append(_infinite_problem(name, int((~np.isfinite(finite)).sum())))
            return None
        unique = n_unique == len(values) and len(values) >= _MIN_ROWS_FOR_ID
        if unique and pd.api.types.is_integer_dtype(values.dtype) and _ID_NAME.search(name):
            return "id"
        return "numeric"
    strings = non_null.astype(str)
    if _mostly_numeric(strings, name):
        return "numeric"
    if len(strings) and strings.str.match(_ISO_DATE).all():
        return "datetime"
    if n_unique == len(values) and len(values) >= _MIN_ROWS_FOR_ID:
        return "id"
    if n_unique == 2 and set(strings.str.lower().unique()) == {"true", "false"}:
        return "boolean"
    return "categorical"


def _mostly_numeric(strings: pd.Series, name: str) -> bool:
    if not len(strings):
        return False
    codes, uniques = pd.factorize(strings)
    parsed = pd.Series(pd.to_numeric(pd.Series(uniques), errors="coerce").to_numpy()[codes],
                       index=strings.index)
    share = float(parsed.notna().mean())
    if share == 1.0:
        return True
    if share >= 0.95:
        bad = strings[parsed.isna()]
        warnings.warn(
            f"Column '{name}' is {share:.0%} numbers but has {len(bad)} non-numeric values, e.g. {_examples(bad)}; "
            "treating it as categorical. Clean those values, or declare its kind in the schema.",
            SynthloopWarning, stacklevel=4)
    return False


def _infinite_problem(name: str, count: int) -> str:
    return (f"column '{name}' has {count} infinite value{'s' if count != 1 else ''}; replace them with NaN or a "
            "bound, or read them as missing with inf='missing' (CLI: --inf missing)")


def _check_column(column: Column, values: pd.Series) -> list[str]:
    problems = []
    non_null = values.dropna()
    if not column.nullable and column.kind not in ("id", "constant") and len(non_null) < len(values):
        problems.append(f"column '{column.name}' has {len(values) - len(non_null)} missing values "
                        "but the schema says it has none (set nullable: true)")
    if column.kind == "numeric":
        numbers = numeric_values(non_null)
        bad = non_null[numbers.isna()]
        if len(bad):
            problems.append(f"column '{column.name}' is numeric but has {len(bad)} non-numeric values, e.g. {_examples(bad)}")
        elif len(numbers) and not np.isfinite(numbers.to_numpy(dtype="float64")).all():
            problems.append(_infinite_problem(column.name, int((~np.isfinite(numbers.to_numpy())).sum())))
    elif column.kind in ("categorical", "boolean") and column.categories is not None:
        unseen = sorted(set(to_labels(non_null).unique()) - set(column.categories), key=natural_key)
        if unseen:
            problems.append(f"column '{column.name}' has labels not in the schema: {unseen[:5]}"
                            f"{' …' if len(unseen) > 5 else ''}")
    elif column.kind == "datetime":
        stamps = parse_datetimes(non_null)
        if stamps.isna().any():
            problems.append(f"column '{column.name}' is datetime but has unparseable values, "
                            f"e.g. {_examples(non_null[stamps.isna()])}")
    return problems


# What Series.map leaves for a missing entry among string labels: NaN where pandas infers its str dtype
# (pandas >= 3), None before.
def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
