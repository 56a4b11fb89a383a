"""argn meets ranges and sets while it draws (``native_predicates``): masked tokens, weighted rows, no rejection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import synthloop as sl
from synthloop.errors import ConditionError
from synthloop.synthesizers import OneOf, Range
from synthloop.transforms.tokens import ColumnTokens

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def model(adult_small):
    return sl.synthesizers.get("argn", epochs=3, batch_size=200, hidden=8, seed=0, progress=False).fit(adult_small)


def _count_draws(model, monkeypatch) -> list[int]:
    drawn: list[int] = []
    generate = model._generate_rows

    def counting(n_rows, *args, **kwargs):
        drawn.append(n_rows)
        return generate(n_rows, *args, **kwargs)
    monkeypatch.setattr(model, "_generate_rows", counting)
    return drawn


def test_a_rare_segment_costs_about_as_many_draws_as_rows(model, adult_small, monkeypatch):
    where = {"age": Range(low=60), "fnlwgt": Range(low=100_000, high=200_000, high_inclusive=False),
             "occupation": OneOf(["Sales", "Tech-support"]), "sex": "Female"}
    share = ((adult_small["age"] >= 60) & adult_small["fnlwgt"].between(100_000, 199_999)
             & adult_small["occupation"].isin(["Sales", "Tech-support"]) & (adult_small["sex"] == "Female")).mean()
    assert share < 0.01                                   # rejection would need > 100 draws per row
    drawn = _count_draws(model, monkeypatch)
    with pytest.warns(sl.errors.SynthloopWarning, match="very few real people"):
        rows = model.sample(300, conditions=where, seed=0, privacy="off")
    assert len(rows) == 300 and sum(drawn) <= 4 * 300, drawn
    assert (rows["age"] >= 60).all() and rows["fnlwgt"].between(100_000, 199_999).all()
    assert set(rows["occupation"]) <= {"Sales", "Tech-support"} and (rows["sex"] == "Female").all()
    # a binned column keeps fresh values inside the range, not only the bins' edges
    assert rows["fnlwgt"].nunique() > 250


def test_later_conditions_reweight_earlier_ones():
    """x decides y (y = "hi" exactly when x >= 8): inside x >= 5 and y = "hi", x must be 8 or 9. Masking each
    column on its own (x first, table order) would give x = 5..9 evenly; the rows' kept mass corrects it."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 10, 1500)
    frame = pd.DataFrame({"x": x, "y": np.where(x >= 8, "hi", "lo"), "z": rng.normal(size=1500).round(3)})
    model = sl.synthesizers.get("argn", epochs=15, batch_size=100, hidden=8, seed=0, progress=False).fit(frame)
    rows = model.sample(400, conditions={"x": Range(low=5), "y": OneOf(["hi"])}, seed=0, privacy="off")
    assert (rows["y"] == "hi").all() and (rows["x"] >= 5).all()
    assert rows["x"].isin([8, 9]).mean() > 0.8, rows["x"].value_counts()     # masking alone: about 0.4


def test_range_conditions_follow_the_model_as_rejection_in_the_same_order_would(model):
    """Native draws inside age <= 30, hours <= 40 against the same model's draws over the whole range (the same
    column order) filtered afterwards: the same distribution up to noise."""
    where = {"age": Range(high=30), "hours_per_week": Range(high=40)}
    native = model.sample(3000, conditions=where, seed=0, privacy="off")
    whole = model.sample(12000, conditions={"age": Range(low=0), "hours_per_week": Range(low=0)}, seed=1,
                         privacy="off")
    filtered = whole[(whole["age"] <= 30) & (whole["hours_per_week"] <= 40)]
    assert len(filtered) > 1000
    for name in ("age", "hours_per_week", "education_num"):
        noise = np.hypot(native[name].std() / np.sqrt(len(native)), filtered[name].std() / np.sqrt(len(filtered)))
        assert abs(native[name].mean() - filtered[name].mean()) < 4 * noise, name
    female = [(part["sex"] == "Female").mean() for part in (native, filtered)]
    assert abs(female[0] - female[1]) < 0.05


def test_token_shares_of_a_range_and_a_set():
    values = pd.Series(np.r_[np.zeros(300), np.linspace(1, 100, 700), [np.nan] * 10])
    column = ColumnTokens.fit("v", "numeric", values, max_exact=5, bins=4, fine_bins=2)
    first, fine = column.admissible(low=1, high=float(column.fine[0, 1]) / 2 + 0.5)
    assert first[0] == 0 and first[column.missing_token] == 0          # the zero spike and missing: outside
    assert first[1] == 1 and not first[2:column.missing_token].any()   # only the first bin overlaps
    assert 0.4 < fine[1, 0] < 0.6 and fine[1, 1] == 0                 # its first fine bin is cut in half
    (first,) = column.admissible(values=(0.0,))
    assert first.tolist() == [1, 0, 0, 0, 0, 0]
    assert column.admissible(values=(37.0,)) is None                   # inside a bin: tested on rows instead
    tokens = np.tile([1, 0], (500, 1))
    inside = column.decode(tokens, np.random.default_rng(0), within=(1.0, 2.0))
    assert inside.min() >= 1.0 and inside.max() <= 2.0


@pytest.mark.filterwarnings("ignore:The segment")
def test_a_range_between_the_values_the_model_knows_is_refused():
    frame = pd.DataFrame({"v": np.tile([1.5, 2.5, 3.5], 100), "c": np.repeat(["a", "b", "c"], 100)})
    model = sl.synthesizers.get("argn", epochs=1, hidden=8, seed=0, progress=False).fit(frame)
    with pytest.raises(ConditionError, match="never generates"):
        model.sample(5, conditions={"v": Range(low=1.6, high=2.4)}, privacy="off")
    assert (model.sample(20, conditions={"v": Range(low=2)}, seed=0, privacy="off")["v"] >= 2.5).all()


def test_cli_where_ranges_and_sets_on_argn(tmp_path, adult_small):
    from typer.testing import CliRunner

    from synthloop.cli import app

    runner = CliRunner()
    data, folder, out = tmp_path / "adult.csv", tmp_path / "model", tmp_path / "out.csv"
    adult_small.to_csv(data, index=False)
    fit = runner.invoke(app, ["fit", str(data), "-m", "argn", "-p", "epochs=1", "-p", "hidden=8", "-o", str(folder)])
    assert fit.exit_code == 0, fit.output
    result = runner.invoke(app, ["sample", str(folder), "-n", "200", "-o", str(out), "--where", "age>=60",
                                 "--where", "occupation in (Sales,Tech-support)"])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out)
    assert len(rows) == 200 and (rows["age"] >= 60).all() and set(rows["occupation"]) <= {"Sales", "Tech-support"}
    refused = runner.invoke(app, ["sample", str(folder), "-n", "5", "-o", str(out), "--where", "age=200"])
    assert refused.exit_code == 2 and "outside the training range" in refused.output, refused.output
