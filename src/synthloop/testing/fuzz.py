"""Property-based fuzzing of the whole contract: awkward random tables through fit → sample → save →
load → evaluate for any registered synthesizer (needs ``hypothesis``: ``pip install 'synthloop[dev]'``).

:func:`tables` draws small tables of every kind a user hands us: integers up to the int64/uint64
limits, floats with NaN and many decimals, unicode and formula-like text, booleans, nullable
dtypes, datetimes with and without a time zone, durations and categoricals with integer or text
categories, under awkward column names (``a`` beside ``a.1``, escape codes, markup).
:func:`check_table` states what must hold for any such table: the only exceptions are synthloop's
own (:class:`~synthloop.errors.SynthloopError`), samples keep every column's dtype and stay in the
training domain, and a saved model samples exactly what it sampled before saving.
``tests/test_fuzz.py`` runs a few examples per model in CI; ``benchmarks/fuzz.py`` runs many.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthloop.errors import SynthloopError, require

#: Parameters that keep each model's fit to a fraction of a second on a tiny table.
FAST_PARAMS: dict[str, dict[str, Any]] = {
    "ctgan": {"epochs": 1, "batch_size": 20},
    "tvae": {"epochs": 1, "batch_size": 20},
    "tabddpm": {"epochs": 1, "batch_size": 20, "timesteps": 10, "sample_steps": 5},
    "argn": {"epochs": 1, "batch_size": 20, "hidden": 4},
    "dp_mst": {"iters": 0, "max_bins": 8, "fine_bins": 64, "trust_inferred_schema": True},
    "dp_vae": {"epochs": 1, "batch_size": 20, "hidden": [8], "latent_dim": 4, "trust_inferred_schema": True},
    "dp_argn": {"epochs": 1, "batch_size": 20, "hidden": 4, "fine_bins": 32, "progress": False,
                "trust_inferred_schema": True},
}
_TEXT = ["a", "b", "=1+2", "+cmd|' /C calc'!A0", "@SUM(A1)", "-", "é", "日本", "\x1b[31m", "[bold]x", " ", ""]
_NAMES = ["a", "a.1", "b", "x y", "é", "=f", "\x1b[2J", "[red]c[/red]", "0", "id", "when", "age"]
_ZONES = [None, "UTC", "Asia/Kolkata", "America/New_York"]


def tables(max_rows: int = 24, max_columns: int = 4, last_year: int = 2100):
    """A hypothesis strategy of small DataFrames with awkward values, dtypes and column names.

    Datetimes run from 1900 to ``last_year``: the model view counts float64 seconds since 1970,
    which hold a microsecond only until 2106, so later sub-second times can come back a microsecond
    off (a known limit: ``benchmarks/fuzz.py --last-year 2200`` finds it).
    """
    st = require("hypothesis.strategies", "dev", "Fuzzing")

    @st.composite
    def draw_table(draw) -> pd.DataFrame:
        n_rows = draw(st.integers(2, max_rows))
        names = draw(st.lists(st.sampled_from(_NAMES), min_size=1, max_size=max_columns, unique=True))
        return pd.DataFrame({name: draw(_column(st, n_rows, last_year)) for name in names})

    return draw_table()


def _column(st, n: int, last_year: int):
    def of(values, **kwargs):
        return st.lists(values, min_size=n, max_size=n).map(lambda v: pd.Series(v, **kwargs))

    big = st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from([-(2**63), 2**63 - 1, 2**53 + 1, 0]))
    near_limit = st.integers(-1000, 0).map(lambda k: 2**63 - 1 + k)       # large, within 2**53 of each other
    floats = st.one_of(st.floats(-1e12, 1e12), st.just(float("nan")),
                       st.decimals(-1000, 1000, places=2, allow_nan=False).map(float))
    stamps = st.datetimes(pd.Timestamp("1900-01-01").to_pydatetime(), pd.Timestamp(f"{last_year}-12-31").to_pydatetime())
    return st.one_of(
        of(big, dtype="int64"),
        of(near_limit, dtype="int64"),
        of(st.integers(0, 2**64 - 1), dtype="uint64"),
        of(st.integers(-3, 3), dtype="int8"),
        of(floats, dtype="float64"),
        of(st.sampled_from(_TEXT), dtype=object),
        of(st.one_of(st.none(), st.sampled_from(_TEXT)), dtype="string"),
        of(st.booleans(), dtype="bool"),
        of(st.one_of(st.none(), st.booleans()), dtype="boolean"),
        of(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), dtype="Int64"),
        st.tuples(of(stamps), st.sampled_from(_ZONES)).map(lambda pair: _zoned(*pair)),
        of(st.integers(0, 10**12), dtype="int64").map(lambda s: pd.to_timedelta(s, unit="ms")),
        of(st.sampled_from([1, 2, 30, -7]), dtype="int64").map(lambda s: s.astype("category")),
        of(st.sampled_from(_TEXT), dtype=object).map(lambda s: s.astype("category")),
    )


def _zoned(stamps: pd.Series, zone: str | None) -> pd.Series:
    stamps = pd.to_datetime(stamps)
    return stamps if zone is None else stamps.dt.tz_localize("UTC").dt.tz_convert(zone)


def _forgotten_sample(model: Any, n_rows: int, seed: int) -> pd.DataFrame:
    """What ``model`` samples once it forgot its training rows (as a loaded model without the reference)."""
    import copy

    forgetful = copy.copy(model)
    forgetful.forget_training_rows()
    return forgetful.sample(n_rows, seed=seed, privacy="off")


def check_table(name: str, data: pd.DataFrame, *, seed: int = 0, evaluate: bool = True) -> str:
    """Run the contract on one table; return ``"ok"`` or ``"refused: <Error>"``; raise AssertionError
    (or the unexpected exception itself) when a property fails."""
    from synthloop import synthesizers
    from synthloop.report import evaluate as score
    from synthloop.synthesizers import Synthesizer
    from synthloop.synthesizers.params import run_options

    model = synthesizers.get(name, seed=seed, **FAST_PARAMS.get(name, {}))
    try:
        model.fit(data)
    except SynthloopError as exc:
        return f"refused: {type(exc).__name__}"
    problem = conversion_problem(model.schema_, data)
    assert problem is None, problem
    n_rows = len(data) + 3
    synthetic = model.sample(n_rows, seed=seed, privacy="off")
    assert len(synthetic) == n_rows, f"{len(synthetic)} rows, asked for {n_rows}"
    assert list(synthetic.columns) == list(data.columns), f"columns {list(synthetic.columns)}"
    for column in model.schema_.columns:
        real, fake = data[column.name], synthetic[column.name]
        assert fake.dtype == real.dtype, f"column {column.name!r}: dtype {fake.dtype}, trained on {real.dtype}"
        if column.kind != "id":
            problem = outside_domain(real, fake)
            assert problem is None, f"column {column.name!r} ({column.kind}): {problem}"
    # Run options (sampling steps, threads, ...) are never saved: give the loaded models the fitted one's.
    options = {name: getattr(model, name) for name in run_options(type(model))}
    with tempfile.TemporaryDirectory() as folder:
        loaded = Synthesizer.load(model.save(Path(folder) / "model")).set_params(**options)
        again = loaded.sample(n_rows, seed=seed, privacy="off")
        kept = Synthesizer.load(model.save(Path(folder) / "kept", keep_privacy_reference=model.keeps_training_rows))
        kept_again = kept.set_params(**options).sample(n_rows, seed=seed, privacy="off")
    # Saved with its training-row reference, a model samples as the fitted one does; without it (the
    # default), as the fitted one does once it forgot its rows (cart's own copy avoidance needs them).
    pd.testing.assert_frame_equal(kept_again, synthetic, check_exact=True)
    pd.testing.assert_frame_equal(again, _forgotten_sample(model, n_rows, seed), check_exact=True)
    try:
        model.sample(n_rows, seed=seed)                                    # the default privacy step
        if evaluate:
            score(data, synthetic, model.schema_, metrics="fast", seed=seed)
    except SynthloopError:
        pass
    return "ok"


def conversion_problem(schema, data: pd.DataFrame) -> str | None:
    """Training data → model view → user data must give the training values back: exactly, except
    integers beyond float64's exact range spread over more than 2**53 (then within one float64 step)."""
    back = schema.from_model_frame(schema.to_model_frame(data).reset_index(drop=True))
    for column in schema.modelled():
        real, again = data[column.name].reset_index(drop=True), back[column.name]
        if again.dtype != real.dtype:
            return f"column {column.name!r}: dtype {again.dtype} after the model view, was {real.dtype}"
        if real.isna().to_numpy().tolist() != again.isna().to_numpy().tolist():
            return f"column {column.name!r}: missing values moved in the model view"
        real, again = real.dropna(), again.dropna()
        if real.equals(again):
            continue
        if column.integer and column.origin is None and pd.api.types.is_integer_dtype(real.dtype):
            gap = max(abs(int(a) - int(b)) for a, b in zip(real, again))
            step = np.spacing(float(max(abs(int(v)) for v in real)))
            if gap <= step:
                continue
        return f"column {column.name!r}: values changed in the model view, e.g. {real.iloc[0]!r} → {again.iloc[0]!r}"
    return None


def outside_domain(real: pd.Series, fake: pd.Series) -> str | None:
    """Why sampled values leave the training domain (range, labels, missing values), or None."""
    if fake.isna().any() and not real.isna().any():
        return f"{int(fake.isna().sum())} missing values; training had none"
    real, fake = real.dropna(), fake.dropna()
    if not len(fake):
        return None
    ordered = (pd.api.types.is_numeric_dtype(real.dtype) and not pd.api.types.is_bool_dtype(real.dtype)
               and not isinstance(real.dtype, pd.CategoricalDtype)) or pd.api.types.is_datetime64_any_dtype(real.dtype) \
        or pd.api.types.is_timedelta64_dtype(real.dtype)
    if ordered:
        low, high = real.min(), real.max()
        if fake.min() < low or fake.max() > high:
            return f"values {fake.min()!r} … {fake.max()!r} outside the training range {low!r} … {high!r}"
        return None
    unseen = set(fake.tolist()) - set(real.tolist())
    return f"labels never seen in training: {sorted(map(repr, unseen))[:3]}" if unseen else None


def fuzz(names: list[str], *, examples: int, seed: int = 0, max_rows: int = 24,
         last_year: int = 2100) -> dict[str, dict[str, Any]]:
    """Run :func:`check_table` on ``examples`` random tables per model; the outcome counts and the
    first failure (its table and message) of each model."""
    hypothesis = require("hypothesis", "dev", "Fuzzing")
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        outcomes: dict[str, int] = {}
        failure: dict[str, Any] = {}

        def one(data: pd.DataFrame, name: str = name, outcomes: dict[str, int] = outcomes) -> None:
            outcome = check_table(name, data, seed=seed, evaluate=False)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

        run = hypothesis.settings(max_examples=examples, deadline=None, database=None,
                                  suppress_health_check=list(hypothesis.HealthCheck))(
            hypothesis.seed(seed)(hypothesis.given(tables(max_rows=max_rows, last_year=last_year))(lambda data: one(data))))
        try:
            run()
        except Exception as exc:  # the shrunk failing example: reported, not raised
            failure = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                       "example": "\n".join(getattr(exc, "__notes__", []))}
        results[name] = {"outcomes": outcomes, "failure": failure}
    return results
