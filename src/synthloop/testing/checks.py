"""The synthesizer contract as runnable checks (the scikit-learn ``check_estimator`` pattern).

Each ``check_*`` function takes an unfitted synthesizer (it is cloned, never modified) and small real
data, and raises :class:`ContractError` naming what broke. :func:`check_synthesizer` runs them all
and reports every failure at once.
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from synthloop.errors import (
    ConditionError,
    ConfigError,
    ConstraintError,
    DataError,
    NotFittedError,
    PrivacyError,
    SynthloopError,
)
from synthloop.schema import FixedCombinations, Inequality, Predicate, Range, Schema
from synthloop.schema.constraints import valid_mask
from synthloop.synthesizers.base import Synthesizer

_N_ROWS = 300
_SAMPLE = 60
_IMPOSSIBLE_SECONDS = 30.0


class ContractError(AssertionError):
    """A synthesizer broke the synthloop contract."""


@functools.lru_cache(maxsize=1)
def _adult_rows() -> pd.DataFrame:
    from synthloop import datasets

    return datasets.load("adult", split="train").sample(_N_ROWS, random_state=0).reset_index(drop=True)


def default_data() -> pd.DataFrame:
    """A few hundred real Adult rows (numeric, categorical and missing labels)."""
    return _adult_rows().copy()


def _fresh(synthesizer: Synthesizer, seed: int = 0) -> Synthesizer:
    return synthesizer.clone().set_params(seed=seed)


def _fail(check: str, message: str) -> None:
    raise ContractError(f"{check}: {message}")


def _categorical_column(data: pd.DataFrame, schema: Schema) -> str:
    for column in schema.categorical():
        if column.categories and len(column.categories) >= 2:
            return column.name
    raise ContractError("the check data needs a categorical column with two or more labels")


# ---------------------------------------------------------------------- checks
def check_params(synthesizer: Synthesizer, data: pd.DataFrame) -> None:
    """get_params/set_params/clone agree; unknown parameters raise ConfigError; a seed parameter exists."""
    params = synthesizer.get_params()
    if "seed" not in params:
        _fail("check_params", "the constructor must take a keyword-only 'seed'")
    if synthesizer.clone().get_params() != params:
        _fail("check_params", "clone() changed the parameters")
    try:
        synthesizer.clone().set_params(no_such_parameter=1)
    except ConfigError:
        pass
    else:
        _fail("check_params", "set_params accepted an unknown parameter")


def check_round_trip(synthesizer: Synthesizer, data: pd.DataFrame) -> None:
    """Samples have the training columns, dtypes and only labels seen in training."""
    schema = Schema.infer(data)
    synthetic = _fresh(synthesizer).fit(data, schema).sample(_SAMPLE, seed=0)
    if list(synthetic.columns) != list(data.columns) or len(synthetic) != _SAMPLE:
        _fail("check_round_trip", f"sample has columns {list(synthetic.columns)} and {len(synthetic)} rows")
    wrong = {c: (str(data[c].dtype), str(synthetic[c].dtype)) for c in data.columns
             if str(data[c].dtype) != str(synthetic[c].dtype)}
    if wrong:
        _fail("check_round_trip", f"dtypes changed (training, sampled): {wrong}")
    for column in schema.categorical():
        unseen = set(synthetic[column.name].dropna().astype(str)) - set(data[column.name].dropna().astype(str))
        if unseen:
            _fail("check_round_trip", f"column '{column.name}' has labels never seen in training: {sorted(unseen)[:5]}")
    for column in schema.numeric():
        values = synthetic[column.name].dropna()
        if len(values) and (values.min() < column.low or values.max() > column.high):
            _fail("check_round_trip", f"column '{column.name}' left its training range")


def check_reproducible(synthesizer: Synthesizer, data: pd.DataFrame) -> None:
    """The same seed gives the same fit and samples; a sample seed overrides the call count."""
    first = _fresh(synthesizer, seed=7).fit(data)
    second = _fresh(synthesizer, seed=7).fit(data)
    try:
        first_arrays, second_arrays = first.to_state()[0], second.to_state()[0]
    except NotImplementedError:
        first_arrays = second_arrays = {}
    different = sorted(k for k in first_arrays if not np.array_equal(first_arrays[k], second_arrays.get(k), equal_nan=True))
    if different or set(first_arrays) != set(second_arrays):
        _fail("check_reproducible", f"two fits with seed 7 learned different arrays: {different[:5]}")
    _same_frames("check_reproducible", first.sample(_SAMPLE), second.sample(_SAMPLE), "first unseeded sample")
    _same_frames("check_reproducible", first.sample(_SAMPLE, seed=3), second.sample(_SAMPLE, seed=3), "sample(seed=3)")


def check_save_load(synthesizer: Synthesizer, data: pd.DataFrame) -> None:
    """A saved and loaded model gives identical samples for the same sample seed.

    Saved with its privacy reference, it samples identically with the default privacy setting; saved
    by default (no training rows in the folder), it samples like the fitted model once that forgot its
    training rows, with ``privacy="off"``.
    """
    model = _fresh(synthesizer).fit(data)
    with tempfile.TemporaryDirectory() as folder:
        model.save(f"{folder}/model")
        loaded = Synthesizer.load(f"{folder}/model")
        kept = None
        if type(model).keeps_training_rows:
            model.save(f"{folder}/kept", keep_privacy_reference=True)
            kept = Synthesizer.load(f"{folder}/kept")
    if type(loaded) is not type(model) or loaded.hyperparameters() != model.hyperparameters():
        _fail("check_save_load", f"loaded {loaded!r}, saved {model!r}")
    if kept is not None:
        _same_frames("check_save_load", model.sample(_SAMPLE, seed=11), kept.sample(_SAMPLE, seed=11),
                     "after load with the privacy reference kept")
    model.forget_training_rows()
    _same_frames("check_save_load", model.sample(_SAMPLE, seed=11, privacy="off"),
                 loaded.sample(_SAMPLE, seed=11, privacy="off"), "after load (no training rows on either side)")


def check_special_columns(synthesizer: Synthesizer, data: pd.DataFrame) -> None:
    """All-NaN, partly missing, constant and single-category columns; unicode and spaces in column names."""
    n_rows = min(len(data), 120)
    frame = data.iloc[:n_rows].reset_index(drop=True).copy()
    frame = frame.rename(columns={frame.columns[0]: "âge en années", frame.columns[-1]: "Größe / 身長"})
    frame["all missing"] = np.nan
    frame["some missing"] = np.where(np.arange(n_rows) % 4 == 0, np.nan, np.linspace(0.5, 9.5, n_rows))
    frame["constant"] = 3
    frame["one label"] = "only"
    frame.loc[frame.index[::3], "one label"] = None
    synthetic = _fresh(synthesizer).fit(frame).sample(_SAMPLE, seed=0)
    if list(synthetic.columns) != list(frame.columns):
        _fail("check_special_columns", f"columns changed: {list(synthetic.columns)}")
    if synthetic["all missing"].notna().any() or (synthetic["constant"] != 3).any():
        _fail("check_special_columns", "the all-NaN or constant column was not restored")
    if not set(synthetic["one label"].dropna()) <= {"only"}:
        _fail("check_special_columns", "the single-category column produced another label")
    if synthetic["some missing"].dropna().between(0.5, 9.5).mean() < 1 or synthetic["some missing"].notna().sum() == 0:
        _fail("check_special_columns", "the partly missing numeric column came back out of range or all missing")


def check_bad_input(synthesizer: Synthesizer, data: pd.DataFrame) -> None:
    """0- and 1-row input, sampling before fit and an unseen condition raise synthloop errors."""
    for n_rows, expected in ((0, DataError), (1, DataError)):
        _expect("check_bad_input", expected, lambda n=n_rows: _fresh(synthesizer).fit(data.iloc[:n]), f"{n_rows}-row input")
    _expect("check_bad_input", NotFittedError, lambda: _fresh(synthesizer).sample(5), "sample before fit")
    model = _fresh(synthesizer).fit(data)
    column = _categorical_column(data, model.schema_)
    _expect("check_bad_input", ConditionError, lambda: model.sample(5, conditions={column: "never seen ✗"}),
            "an unseen condition value")
    _expect("check_bad_input", ConditionError, lambda: model.sample(5, conditions={"no such column": 1}),
            "a condition on an unknown column")


def check_conditions(synthesizer: Synthesizer, data: pd.DataFrame) -> None:
    """Conditions as a dict and as a frame give exactly the rows asked for, in order."""
    model = _fresh(synthesizer).fit(data)
    column = _categorical_column(data, model.schema_)
    labels = data[column].dropna().value_counts().index[:2].tolist()
    rows = model.sample(40, conditions={column: labels[0]}, seed=0)
    if len(rows) != 40 or (rows[column].astype(str) != str(labels[0])).any():
        _fail("check_conditions", f"dict condition {column}={labels[0]!r} not met in every row")
    wanted = pd.DataFrame({column: [labels[i % 2] for i in range(30)]})
    rows = model.sample(0, conditions=wanted, seed=0)
    if len(rows) != 30 or (rows[column].astype(str).to_numpy() != wanted[column].astype(str).to_numpy()).any():
        _fail("check_conditions", f"frame conditions on '{column}' not met row by row")


def check_constraints(synthesizer: Synthesizer, data: pd.DataFrame) -> None:
    """Range, Inequality, FixedCombinations and Predicate hold in every sampled row."""
    numeric = [c.name for c in Schema.infer(data).numeric()]
    categorical = [c.name for c in Schema.infer(data).categorical()]
    if len(numeric) < 2 or len(categorical) < 2:
        _fail("check_constraints", "the check data needs two numeric and two categorical columns")
    first, second = numeric[:2]
    middle = float(data[first].median())
    schema = Schema.infer(data).with_constraints(
        Range(first, low=float(data[first].min()), high=middle),
        Inequality(first, second) if (data[first] <= data[second]).mean() > 0.5 else Inequality(second, first),
        FixedCombinations(tuple(categorical[:2])),
        Predicate(lambda frame: frame[second].notna() | frame[first].notna()),
    )
    if not type(synthesizer).keeps_training_rows:
        # A DP model must refuse a constraint that learns its values from the data (outside the budget).
        _expect("check_constraints", PrivacyError, lambda: _fresh(synthesizer).fit(data, schema),
                "FixedCombinations (learned from the data) on a model that keeps no training rows")
        schema = replace(schema, constraints=tuple(c for c in schema.constraints if not isinstance(c, FixedCombinations)))
    synthetic = _fresh(synthesizer).fit(data, schema).sample(100, seed=0)
    fitted = tuple(c.fitted(data) for c in schema.constraints)
    for constraint in fitted:
        if not constraint.is_valid(synthetic).all():
            _fail("check_constraints", f"{type(constraint).__name__}{list(constraint.columns)} broken in samples")
    if not valid_mask(fitted, synthetic).all():
        _fail("check_constraints", "some rows break the constraints")


def check_impossible_constraint(synthesizer: Synthesizer, data: pd.DataFrame) -> None:
    """A constraint no row can meet raises ConstraintError quickly instead of looping."""
    column = Schema.infer(data).numeric()[0].name
    high = float(data[column].max())
    schema = Schema.infer(data).with_constraints(Range(column, low=high + 1, high=high + 2))
    model = _fresh(synthesizer).fit(data, schema)
    started = time.perf_counter()
    _expect("check_impossible_constraint", ConstraintError, lambda: model.sample(20, seed=0), "an impossible Range")
    if time.perf_counter() - started > _IMPOSSIBLE_SECONDS:
        _fail("check_impossible_constraint", f"took over {_IMPOSSIBLE_SECONDS:.0f} s to give up")


CHECKS: tuple[Callable[[Synthesizer, pd.DataFrame], None], ...] = (
    check_params, check_round_trip, check_reproducible, check_save_load, check_special_columns,
    check_bad_input, check_conditions, check_constraints, check_impossible_constraint,
)


def check_synthesizer(synthesizer: Synthesizer, data: pd.DataFrame | None = None, *,
                      fast_params: Mapping[str, Any] | None = None) -> list[str]:
    """Run every contract check; raise one ContractError listing all failures, else return the check names.

    Parameters
    ----------
    synthesizer
        An instance (fitted or not; it is cloned for each check).
    data
        Small real data with at least two numeric and two categorical columns; default: 300 Adult rows.
    fast_params
        Parameters that make fitting quick (e.g. ``{"epochs": 2}``), applied to every clone; default:
        the class's ``test_params``, so a new model never runs the suite at full epochs by accident.
    """
    fast = type(synthesizer).test_params if fast_params is None else fast_params
    model = synthesizer.clone().set_params(**dict(fast))
    data = default_data() if data is None else data
    failures = []
    for check in CHECKS:
        try:
            check(model, data)
        except ContractError as exc:
            failures.append(str(exc))
        except Exception as exc:  # a crash is a contract failure too; report it with the check's name
            failures.append(f"{check.__name__}: raised {type(exc).__name__}: {exc}")
    if failures:
        raise ContractError(f"{type(synthesizer).__name__} broke the contract ({len(failures)} checks):\n"
                            + "\n".join(f"  - {f}" for f in failures))
    return [check.__name__ for check in CHECKS]


def _same_frames(check: str, left: pd.DataFrame, right: pd.DataFrame, what: str) -> None:
    try:
        pd.testing.assert_frame_equal(left, right)
    except AssertionError as exc:
        _fail(check, f"samples differ ({what}): {str(exc).splitlines()[0]}")


def _expect(check: str, error: type[SynthloopError], action: Callable[[], object], what: str) -> None:
    try:
        action()
    except error:
        return
    except Exception as exc:
        _fail(check, f"{what} raised {type(exc).__name__} ({exc}), expected {error.__name__}")
    _fail(check, f"{what} raised nothing, expected {error.__name__}")
