"""What a saved model's ``config.json`` may hold, as strict pydantic models, and checks of its arrays.

A model folder may come from someone else. ``Synthesizer.load`` checks the constructor params, each
model's ``meta`` and the privacy reference against these models (no coercion, no unknown keys, no
NaN), and each model's arrays (names, dtypes, shapes against what the schema and meta declare)
with :class:`ArrayCheck`, before any object is built from them.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model

from synthloop.errors import ArtifactError

STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, defer_build=True)  # built on first load
Count = Annotated[int, Field(ge=0)]


class IndependentMeta(BaseModel):
    model_config = STRICT
    columns: list[str]


class CopulaMeta(BaseModel):
    model_config = STRICT
    margins: list[str]
    labels: dict[str, list[str | None]]
    score_names: list[str]


class CartMeta(BaseModel):
    model_config = STRICT
    order: list[str]
    min_leaf: Annotated[int, Field(ge=1)]                       # the leaf the fit used (calibrated or given)
    copy_allowance: Annotated[float, Field(ge=0, le=1)]        # share of sampled rows that may equal a training row
    fresh_share: list[Annotated[float, Field(ge=0, le=1)]] | None = None   # per column: share of draws given a new value
    jitter: Annotated[float, Field(ge=0, le=1e6)] = 0.0        # spread of those new values, in local spacings


class _EncoderParams(BaseModel):
    model_config = STRICT
    numeric: Literal["mode_specific", "quantile"]
    max_modes: Annotated[int, Field(ge=1)]
    max_categories: Annotated[int, Field(ge=2)]
    seed: int | None
    point_mass_share: Annotated[float, Field(ge=0, le=1)]
    fit_sample_size: Annotated[int, Field(ge=1)]


class _NumericColumn(BaseModel):
    model_config = STRICT
    name: str
    nullable: bool
    has_missing: bool
    point_mass_share: Annotated[float, Field(ge=0, le=1)]
    max_point_masses: Count
    fit_sample_size: Annotated[int, Field(ge=1)]


class _ModeSpecificColumn(_NumericColumn):
    type: Literal["mode_specific"]
    max_modes: Annotated[int, Field(ge=1)]


class _QuantileColumn(_NumericColumn):
    type: Literal["quantile"]
    n_quantiles: Annotated[int, Field(ge=2)]


class _OneHotColumn(BaseModel):
    model_config = STRICT
    name: str
    type: Literal["one_hot"]
    categories: list[str]
    nullable: bool
    max_categories: Annotated[int, Field(ge=2)]
    has_missing: bool
    kept: list[str]
    rare: list[str]


class _EncoderMeta(BaseModel):
    model_config = STRICT
    version: Annotated[int, Field(ge=1)]
    params: _EncoderParams
    columns: list[Annotated[_ModeSpecificColumn | _QuantileColumn | _OneHotColumn, Field(discriminator="type")]]


class NeuralMeta(BaseModel):
    model_config = STRICT
    encoder: _EncoderMeta
    history: list[dict[str, float | int | bool | str | None]]
    fit_threads: int | None = None
    seeded: bool | None = None


class _TokenColumn(BaseModel):
    model_config = STRICT
    name: str
    kind: Literal["numeric", "categorical"]
    has_missing: bool
    labels: list[str] | None = None


class _TokensMeta(BaseModel):
    model_config = STRICT
    columns: list[_TokenColumn]


class ArgnMeta(BaseModel):
    model_config = STRICT
    tokens: _TokensMeta
    history: list[dict[str, float | int | bool | str | None]]
    fit_threads: int | None = None
    seeded: bool | None = None


def params_model(cls: type) -> type[BaseModel]:
    """A strict model of ``cls.__init__``'s keyword-only parameters, from their type hints."""
    try:
        hints = typing.get_type_hints(cls.__init__)
    except (NameError, TypeError):          # a plug-in's hints that do not resolve: check names, not types
        hints = {}
    fields: dict[str, Any] = {}
    for parameter in inspect.signature(cls.__init__).parameters.values():
        if parameter.kind is parameter.KEYWORD_ONLY:
            annotation = hints.get(parameter.name, Any)
            fields[parameter.name] = (annotation, parameter.default)
    return create_model(f"{cls.__name__}Params", __config__=STRICT, **fields)


class ArrayCheck:
    """Checks a model file's arrays one expected name at a time, then refuses any name left over.

    ``take`` returns the array when it has the declared dtype kind and shape (``None`` in a shape is
    any length) and records a problem otherwise; :meth:`done` raises one ArtifactError listing them.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], what: str):
        self.arrays, self.what = arrays, what
        self.seen: set[str] = set()
        self.problems: list[str] = []

    def take(self, key: str, kinds: str, shape: tuple[int | None, ...], *, finite: bool = True) -> np.ndarray | None:
        self.seen.add(key)
        value = self.arrays.get(key)
        if value is None:
            self.problems.append(f"array '{key}' is missing")
            return None
        if value.dtype.kind not in kinds:
            self.problems.append(f"array '{key}' has dtype {value.dtype}, expected {_kind_names(kinds)}")
            return None
        if len(value.shape) != len(shape) or any(want is not None and got != want
                                                 for got, want in zip(value.shape, shape, strict=True)):
            expected = "(" + ", ".join("any" if d is None else str(d) for d in shape) + ")"
            self.problems.append(f"array '{key}' has shape {value.shape}, expected {expected}")
            return None
        if finite and value.dtype.kind == "f" and not np.isfinite(value).all():
            self.problems.append(f"array '{key}' holds NaN or infinite values")
            return None
        return value

    def take_prefix(self, prefix: str, kinds: str) -> None:
        """Names under ``prefix`` that another check validates whole (e.g. torch's strict state dict)."""
        for key, value in self.arrays.items():
            if key.startswith(prefix):
                self.seen.add(key)
                if value.dtype.kind not in kinds:
                    self.problems.append(f"array '{key}' has dtype {value.dtype}, expected {_kind_names(kinds)}")

    def require(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)

    def done(self) -> None:
        extra = sorted(set(self.arrays) - self.seen)
        if extra:
            shown = ", ".join(repr(k) for k in extra[:5]) + (" …" if len(extra) > 5 else "")
            self.problems.append(f"unexpected arrays {shown}")
        if self.problems:
            lines = "\n".join(f"  - {p}" for p in self.problems[:10])
            more = f"\n  - … and {len(self.problems) - 10} more" if len(self.problems) > 10 else ""
            raise ArtifactError(f"The arrays of {self.what} do not match its config and schema; refused:\n"
                                f"{lines}{more}\nIt was damaged or edited; re-train the model.")


def check_names(check: ArrayCheck, stored: Iterable[str], expected: Iterable[str], what: str) -> None:
    """The stored column names must be exactly the schema's (in any order)."""
    stored, expected = list(stored), list(expected)
    check.require(sorted(stored) == sorted(expected) and len(set(stored)) == len(stored),
                  f"{what} {stored[:5]}… do not match the schema's learned columns")


def _kind_names(kinds: str) -> str:
    names = {"f": "float", "i": "signed int", "u": "unsigned int", "b": "bool"}
    return " or ".join(names[k] for k in kinds)


