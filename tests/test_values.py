"""Exact values: integers at any magnitude, time zones, resolutions, categorical and nullable dtypes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import synthloop as sl
from synthloop.errors import SchemaError
from synthloop.synthesizers import Synthesizer

CHEAP = ("independent", "gaussian_copula", "cart")
N = 60


def fit_sample(name: str, data: pd.DataFrame, n: int = 200, **infer) -> pd.DataFrame:
    model = sl.synthesizers.get(name, seed=0).fit(data, sl.Schema.infer(data, **infer) if infer else None)
    return model.sample(n, privacy="off")


@pytest.fixture(scope="module")
def extremes() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "i64": rng.choice(np.array([-2**63, 2**63 - 1], dtype="int64"), N),
        "u64": rng.choice(np.array([0, 2**64 - 1], dtype="uint64"), N),
        "small": rng.integers(-5, 5, N).astype("int8"),
        "x": rng.normal(size=N),
    })


@pytest.mark.parametrize("name", CHEAP)
def test_integers_at_the_type_limits_come_back_as_themselves(name, extremes, tmp_path):
    model = sl.synthesizers.get(name, seed=0).fit(extremes)
    assert model.schema_["i64"].high == 2**63 - 1 and isinstance(model.schema_["i64"].high, int)
    loaded = Synthesizer.load(model.save(tmp_path / "m"))
    assert loaded.schema_["u64"].high == 2**64 - 1                     # exact through schema.json
    out = loaded.sample(300, privacy="off")
    assert out.dtypes.to_dict() == extremes.dtypes.to_dict()
    assert (out["i64"] > 2**62).mean() > 0.2                          # was wrapped to -2**63
    assert (out["u64"] > 2**63 + 2**62).mean() > 0.2                  # was 0 or 2**63
    assert out["small"].between(-5, 4).all()
    if name == "cart":                                                 # draws training values: exactly them
        assert set(out["i64"].tolist()) == {-2**63, 2**63 - 1} and set(out["u64"].tolist()) == {0, 2**64 - 1}


@pytest.mark.parametrize("name", CHEAP)
def test_large_integers_in_a_narrow_range_round_trip_exactly(name, tmp_path):
    base = 2**62 + 1                                     # float64 cannot tell base from base + 1
    values = np.array([base, base + 1, base + 3, base + 1000], dtype="int64")
    data = pd.DataFrame({"id_like": np.tile(values, 15), "u": np.tile(values.astype("uint64") * 3, 15),
                         "g": ["a", "b", "c"] * 20})
    model = sl.synthesizers.get(name, seed=0).fit(data)
    assert model.schema_["id_like"].origin == base
    out = Synthesizer.load(model.save(tmp_path / "m")).sample(200, privacy="off")
    assert out["id_like"].between(base, base + 1000).all() and out["u"].between(3 * base, 3 * (base + 1000)).all()
    if name == "cart":
        assert set(out["id_like"]) == set(values.tolist())


def test_integers_are_clipped_in_the_integer_domain():
    from synthloop.schema.values import restore_numeric

    column = sl.Column("n", "numeric", low=2**63 - 10, high=2**63 - 1, integer=True, dtype="int64")
    out = restore_numeric(column, np.array([1e30, -1e30, 2.0**63, np.nan, 9.223372036854775e18]))
    assert out.dtype == "int64"
    assert out.tolist()[:3] == [2**63 - 1, 2**63 - 10, 2**63 - 1]
    assert (out >= 2**63 - 10).all()


def test_integer_categories_are_parsed_exactly():
    values = np.array([2**62 + 1, 2**62 + 3, -(2**63)], dtype="int64")
    data = pd.DataFrame({"code": np.tile(values, 20)})
    out = fit_sample("independent", data, kinds={"code": "categorical"})
    assert out["code"].dtype == "int64" and set(out["code"]) <= set(values.tolist())


@pytest.mark.parametrize("name", CHEAP)
def test_timezone_aware_datetimes_keep_their_zone_and_resolution(name):
    stamps = pd.date_range("2024-03-01 09:00", periods=N, freq="37min", tz="Asia/Kolkata") + pd.Timedelta("250ms")
    data = pd.DataFrame({"when": stamps, "v": np.arange(N) % 3})
    out = fit_sample(name, data)
    assert out["when"].dtype == data["when"].dtype
    assert out["when"].between(stamps.min(), stamps.max()).all()
    assert (out["when"].dt.microsecond % 1000 == 0).all()              # milliseconds, as trained
    assert (out["when"].dt.microsecond > 0).any()                      # not rounded to whole seconds


def test_cli_keeps_utc_offsets_in_csv_text(tmp_path):
    from typer.testing import CliRunner

    from synthloop.cli import app

    times = pd.date_range("2024-01-01 10:00", periods=N, freq="h").strftime("%Y-%m-%d %H:%M:%S+05:30")
    pd.DataFrame({"t": times, "g": ["a", "b", "c"] * (N // 3)}).to_csv(tmp_path / "d.csv", index=False)
    runner = CliRunner()
    # uncalibrated cart draws only training times (a calibrated one gives continuous columns fresh values)
    assert runner.invoke(app, ["fit", str(tmp_path / "d.csv"), "-m", "cart", "-p", "calibrate=false",
                               "-o", str(tmp_path / "m")]).exit_code == 0
    result = runner.invoke(app, ["sample", str(tmp_path / "m"), "-n", "50", "-o", str(tmp_path / "s.csv"),
                                 "--privacy", "off"])
    assert result.exit_code == 0, result.output
    out = pd.read_csv(tmp_path / "s.csv")["t"]
    assert out.str.endswith("+05:30").all(), out.head()
    assert set(out) <= set(times)                                       # cart draws training times: not shifted


def test_mixed_utc_offsets_are_read_as_instants():
    data = pd.DataFrame({"t": ["2024-03-01 10:00:00+01:00", "2024-07-01 10:00:00+02:00"] * 10})
    schema = sl.Schema.infer(data)
    assert schema["t"].kind == "datetime" and schema["t"].timezone == "UTC"
    seconds = schema.to_model_frame(data)["t"]
    assert seconds.iloc[0] == pd.Timestamp("2024-03-01 09:00", tz="UTC").timestamp()


@pytest.mark.parametrize("name", CHEAP)
def test_categories_with_integer_values_stay_categorical(name):
    data = pd.DataFrame({"grade": pd.Series(np.tile([1, 2, 30], N // 3)).astype("category"),
                         "x": np.arange(N, dtype="float64")})
    assert sl.Schema.infer(data)["grade"].kind == "categorical"       # was numeric
    out = fit_sample(name, data)
    assert out["grade"].dtype == data["grade"].dtype
    assert set(out["grade"]) <= {1, 2, 30}


@pytest.mark.parametrize("name", CHEAP)
def test_durations_and_nullable_dtypes_are_restored(name):
    rng = np.random.default_rng(1)
    data = pd.DataFrame({
        "took": pd.to_timedelta(rng.integers(1, 10_000, N), unit="ms"),
        "flag": pd.Series(rng.choice([True, False, None], N), dtype="boolean"),
        "count": pd.Series(rng.choice([1, 2, None], N), dtype="Int64"),
        "label": pd.Series(rng.choice(["a", "b", None], N), dtype="string"),
    })
    out = fit_sample(name, data)
    assert out.dtypes.to_dict() == data.dtypes.to_dict()
    assert out["took"].between(data["took"].min(), data["took"].max()).all()
    assert (out["took"].dt.microseconds % 1000 == 0).all()
    assert out["flag"].isna().any() and out["count"].isna().any()


def test_sampled_floats_keep_the_data_decimals():
    rng = np.random.default_rng(2)
    data = pd.DataFrame({"price": np.round(rng.gamma(2.0, 10.0, 300), 2), "rate": rng.normal(size=300)})
    schema = sl.Schema.infer(data)
    assert schema["price"].decimals == 2 and schema["rate"].decimals is None
    out = fit_sample("gaussian_copula", data, n=500)
    assert np.array_equal(np.round(out["price"], 2), out["price"])
    assert not np.array_equal(np.round(out["rate"], 6), out["rate"])   # full precision kept


def test_an_unknown_stored_time_zone_is_a_schema_error():
    with pytest.raises(SchemaError, match="unknown time zone"):
        sl.Schema.from_dict({"columns": [{"name": "t", "kind": "datetime", "timezone": "Mars/Olympus"}]})


@pytest.mark.parametrize("dtype", [object, "str"])
def test_numbers_given_as_text_come_back_as_text_of_the_same_dtype(dtype):
    # breast_cancer's 0/1 target read as text was sampled back as float64 (found by the parity benchmark)
    data = pd.DataFrame({"x": [1.5, 2.5, 3.5, 4.5] * 10,
                         "label": pd.Series(["0", "1", "1", "0"] * 10, dtype=dtype),
                         "price": pd.Series(["1.25", "2.50", None, "3.75"] * 10, dtype=dtype)})
    sample = sl.synthesizers.get("independent", seed=0).fit(data).sample(200)
    assert sample["label"].dtype == data["label"].dtype and sample["price"].dtype == data["price"].dtype
    assert set(sample["label"].dropna()) <= {"0", "1"}
    assert all(len(v.split(".")[1]) == 2 for v in sample["price"].dropna())      # the data's two decimals
