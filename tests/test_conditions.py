"""Range and set conditions, up-front refusal of numeric conditions no row can meet, the segment warning."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import synthloop as sl
from synthloop.cli import app
from synthloop.errors import ConditionError, ConfigError, SynthloopWarning
from synthloop.synthesizers.conditions import OneOf, Range, parse_where

CHEAP = ("independent", "gaussian_copula", "cart")


@pytest.fixture(scope="module")
def models(adult_small):
    return {name: sl.synthesizers.get(name, seed=0).fit(adult_small) for name in CHEAP}


@pytest.mark.parametrize("name", CHEAP)
def test_ranges_and_sets_are_met_by_every_cheap_model(models, name):
    rows = models[name].sample(200, conditions={"age": Range(low=30), "occupation": OneOf(["Sales", "Tech-support"]),
                                                "sex": "Female"}, seed=0)
    assert len(rows) == 200
    assert (rows["age"] >= 30).all() and set(rows["occupation"]) <= {"Sales", "Tech-support"}
    assert (rows["sex"] == "Female").all()
    band = models[name].sample(100, conditions={"age": Range(low=40, high=50, high_inclusive=False)}, seed=1)
    assert band["age"].between(40, 49).all()


@pytest.mark.parametrize("condition, needle", [
    ({"age": 200}, "outside the training range"),
    ({"age": 35.5}, "not a whole number"),
    ({"age": Range(low=200)}, "training range"),
    ({"age": Range(low=35.2, high=35.8)}, "integers only"),
    ({"age": OneOf([200, 300])}, "outside the training range"),
    ({"occupation": OneOf(["Astronaut"])}, "no category 'Astronaut'"),
    ({"occupation": Range(low="A")}, "use a set instead"),
])
def test_conditions_no_row_can_meet_are_refused_up_front(models, condition, needle):
    for model in (models["cart"], models["gaussian_copula"]):
        with pytest.raises(ConditionError, match=needle):
            model.sample(10, conditions=condition, seed=0)


def test_in_range_numeric_equality_still_works(models):
    assert (models["cart"].sample(20, conditions={"age": 37}, seed=0)["age"] == 37).all()
    assert (models["cart"].sample(20, conditions={"age": "37"}, seed=0)["age"] == 37).all()   # CLI text


def test_a_small_segment_gets_a_privacy_warning(models, adult_small):
    model = models["cart"]
    rare = {"age": Range(low=75), "sex": "Female"}
    n_real = int(((adult_small["age"] >= 75) & (adult_small["sex"] == "Female")).sum())
    assert n_real < 10
    with pytest.warns(SynthloopWarning, match=f"only {n_real} of 2,000 training rows"):
        model.sample(5, conditions=rare, seed=0)
    assert "very few real people" in model.last_sample_info_.note
    with warnings.catch_warnings():
        warnings.simplefilter("error", SynthloopWarning)
        model.sample(5, conditions={"sex": "Female"}, seed=0, privacy="off")
        model.sample(5, conditions=rare, seed=0, privacy="off", min_segment_rows=n_real)


def test_parse_where():
    assert parse_where("age>=30") == ("age", Range(low="30"))
    assert parse_where("age < 30") == ("age", Range(high="30", high_inclusive=False))
    assert parse_where("income=>50K") == ("income", ">50K")
    assert parse_where("occupation in (Sales, Tech-support)") == ("occupation", OneOf(["Sales", "Tech-support"]))
    for bad in ("age", ">=3", "age>=", "x in ()"):
        with pytest.raises(ConditionError):
            parse_where(bad)


def test_cli_where_ranges_sets_and_refusals(tmp_path, adult_small):
    runner = CliRunner()
    data, model = tmp_path / "adult.csv", tmp_path / "model"
    adult_small.to_csv(data, index=False)
    assert runner.invoke(app, ["fit", str(data), "-m", "cart", "-o", str(model)]).exit_code == 0
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["sample", str(model), "-n", "50", "-o", str(out), "--where", "age>=30",
                                 "--where", "occupation in (Sales,Tech-support)"])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out)
    assert (rows["age"] >= 30).all() and set(rows["occupation"]) <= {"Sales", "Tech-support"}
    assert "age >=30" in result.output
    # the loaded model counts the segment from its privacy reference (fit keeps it in OUT.privacy)
    n_real = int(((adult_small["age"] >= 75) & (adult_small["sex"] == "Female")).sum())
    result = runner.invoke(app, ["sample", str(model), "-n", "5", "-o", str(out), "--where", "age>=75",
                                 "--where", "sex=Female"])
    assert result.exit_code == 0, result.output
    assert f"holds only {n_real} of 2,000 training rows" in " ".join(result.output.split()), result.output
    result = runner.invoke(app, ["sample", str(model), "-n", "5", "-o", str(out), "--where", "sex=Female"])
    assert "very few" not in result.output
    for where, needle in (("age=200", "outside the training range"), ("age=35.5", "not a whole number")):
        result = runner.invoke(app, ["sample", str(model), "-n", "5", "-o", str(out), "--where", where])
        assert result.exit_code == 2 and needle in result.output and "Traceback" not in result.output, result.output


# ---------------------------------------------------------------------- imputation
def test_argn_imputes_exactly_on_the_given_cells(adult_small):
    pytest.importorskip("torch")
    model = sl.synthesizers.get("argn", epochs=15, batch_size=200, hidden=16, seed=0, progress=False).fit(adult_small)
    partial = adult_small.head(60).copy().reset_index(drop=True)
    rng = np.random.default_rng(0)
    holes = rng.random(partial.shape) < 0.4                     # each row its own missing cells
    partial = partial.mask(holes)
    filled = model.impute(partial, seed=0)
    assert len(filled) == len(partial) and list(filled.columns) == list(adult_small.columns)
    for name in partial.columns:
        given = partial[name].notna().to_numpy()             # (Adult has missing cells of its own)
        got, want = filled.loc[given, name], partial.loc[given, name]
        if pd.api.types.is_numeric_dtype(adult_small[name]):
            np.testing.assert_array_equal(got.astype(float), want.astype(float), err_msg=name)
        else:
            assert (got.astype(str) == want.astype(str)).all(), name
        assert filled.loc[~given, name].notna().mean() > 0.8, name     # missing cells were drawn
    # the given cells steer the others: husbands come back male
    husbands = pd.DataFrame({"relationship": ["Husband"] * 200})
    assert (model.impute(husbands, seed=1)["sex"] == "Male").mean() > 0.8
    with pytest.raises(ConditionError, match="outside the training range"):
        model.impute(pd.DataFrame({"age": [200]}))


def test_models_that_cannot_impute_say_which_can(models):
    with pytest.raises(ConfigError, match="models that can: argn"):
        models["cart"].impute(pd.DataFrame({"age": [30, None]}))


def test_cli_seed_data_imputes_one_row_per_input_row(tmp_path, adult_small):
    pytest.importorskip("torch")
    runner = CliRunner()
    data, model = tmp_path / "adult.csv", tmp_path / "model"
    adult_small.to_csv(data, index=False)
    fit = runner.invoke(app, ["fit", str(data), "-m", "argn", "-p", "epochs=1", "-p", "hidden=8", "-p", "batch_size=500",
                              "-o", str(model)])
    assert fit.exit_code == 0, fit.output
    partial, out = tmp_path / "partial.csv", tmp_path / "out.csv"
    pd.DataFrame({"age": [25, 60, None], "sex": ["Female", None, "Male"]}).to_csv(partial, index=False)
    result = runner.invoke(app, ["sample", str(model), "--seed-data", str(partial), "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out)
    assert len(rows) == 3 and rows["age"].iloc[:2].tolist() == [25, 60] and rows["sex"].iloc[[0, 2]].tolist() == [
        "Female", "Male"]
    assert rows.shape[1] == adult_small.shape[1] and rows["income"].notna().all() and rows["age"].notna().all()
    fit = runner.invoke(app, ["fit", str(data), "-m", "independent", "-o", str(tmp_path / "m2")])
    result = runner.invoke(app, ["sample", str(tmp_path / "m2"), "--seed-data", str(partial), "-o", str(out)])
    assert result.exit_code == 2 and "models that can" in result.output, result.output


def test_datetime_ranges_and_text_that_is_no_number(models):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"day": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, 300), unit="D"),
                          "x": rng.normal(size=300).round(2)})
    model = sl.synthesizers.get("gaussian_copula", seed=0).fit(frame)
    rows = model.sample(30, conditions={"day": Range(low="2020-06-01"), "x": Range(high=0.5)}, seed=0)
    assert (rows["day"] >= pd.Timestamp("2020-06-01")).all() and (rows["x"] <= 0.5).all()
    with pytest.raises(ConditionError, match="2020-12"):
        model.sample(5, conditions={"day": Range(low="2030-01-01")})
    for condition in ({"x": "abc"}, {"x": Range(low="zz")}):
        with pytest.raises(ConditionError, match="not"):
            model.sample(5, conditions=condition)
