"""Fuzz: random awkward tables through fit → sample → save → load → evaluate for every registered model.

A few derandomized examples per model keep CI fast (the torch models are marked slow); the longer
run is ``python benchmarks/fuzz.py``. See ``synthloop.testing.fuzz`` for the properties.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

import synthloop as sl
from synthloop.testing.fuzz import check_table, outside_domain, tables

CHEAP = ("independent", "gaussian_copula", "cart", "dp_mst")
NEURAL = tuple(name for name in sl.synthesizers.available() if name not in CHEAP)
FAST = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _fuzz(name: str, max_examples: int):
    @settings(FAST, max_examples=max_examples)
    @given(tables())
    def run(data: pd.DataFrame) -> None:
        check_table(name, data)

    run()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", CHEAP)
def test_cheap_models_survive_awkward_tables(name):
    _fuzz(name, 20)


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", NEURAL)
def test_neural_models_survive_awkward_tables(name):
    pytest.importorskip("torch")
    _fuzz(name, 8)


def test_every_registered_model_is_fuzzed():
    assert set(CHEAP) | set(NEURAL) == set(sl.synthesizers.available())


def test_the_domain_check_catches_what_the_audit_found():
    ints = pd.Series([-(2**63), 2**63 - 1], dtype="int64")
    assert "outside the training range" not in str(outside_domain(ints, ints))
    stamps = pd.Series(pd.date_range("2024-01-01", periods=3, tz="Asia/Kolkata"))
    assert outside_domain(stamps, stamps) is None
    grades = pd.Series([1, 2, 30]).astype("category")
    assert "never seen" in outside_domain(grades, pd.Series([1, 2, 5]).astype("category"))
    assert "missing" in outside_domain(ints, pd.Series([1, None], dtype="Int64"))
    shifted = pd.Series(pd.date_range("2023-12-31", periods=3))
    assert "outside the training range" in outside_domain(pd.Series(pd.date_range("2024-01-01", periods=3)), shifted)


def test_the_fuzz_check_fails_on_a_model_that_corrupts_values(monkeypatch):
    from synthloop.schema import values

    def float_cast(column, model_values):                  # the pre-fix conversion: a float64 clip then astype
        clipped = np.clip(model_values, column.low, column.high)
        return pd.Series(np.round(clipped)).astype(column.dtype)

    monkeypatch.setattr(values, "_restore_integers", float_cast)
    data = pd.DataFrame({"n": np.array([2**63 - 1, 0] * 10, dtype="int64")})
    with pytest.raises(AssertionError, match=r"changed in the model view|outside the training range"):
        check_table("independent", data)
