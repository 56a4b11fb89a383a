"""Synthetic environments: scenarios from TOML (bad keys named), byte-reproducible streams with ground
truth, each drift doing what it says, and the monitor detecting every shipped scenario within two
windows of its change point without alarming before it."""

from __future__ import annotations

import json
import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from synthloop.cli import app
from synthloop.errors import ConfigError
from synthloop.monitor import Monitor
from synthloop.simulate import (
    ConceptShift,
    Correlation,
    Gradual,
    MeanShift,
    PriorShift,
    Recurring,
    Scenario,
    Seasonal,
    Sudden,
    available,
    stream,
    write_stream,
)

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "examples" / "scenarios").glob("*.toml"))
runner = CliRunner()


@pytest.fixture(scope="module")
def pool(adult_train):
    return adult_train.sample(12000, random_state=3).reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(adult_train):
    return adult_train.sample(6000, random_state=4).reset_index(drop=True)


def test_at_least_eight_scenarios_ship_and_read_back_equal():
    assert len(SCENARIOS) >= 8
    assert {"sudden", "gradual", "incremental", "recurring", "seasonal"} <= set(available()["schedule"])
    for path in SCENARIOS:
        scenario = Scenario.from_toml(path)
        again = Scenario.from_config(Scenario.from_config(scenario.to_config()).to_config())
        assert again == scenario
        assert Scenario.from_config(tomllib.loads(scenario.to_toml())) == scenario


def test_schedules_give_the_change_point_and_shape():
    assert Sudden(start=3).intensity(2) == 0 and Sudden(start=3).intensity(3) == 1
    assert [Gradual(start=2, width=4).intensity(t) for t in range(2, 7)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    assert [Recurring(start=1, period=2).intensity(t) for t in range(7)] == [0, 1, 1, 0, 0, 1, 1]
    assert Seasonal(start=0, period=4).intensity(1) == pytest.approx(1.0)
    scenario = Scenario("s", (MeanShift(column="age"),), Gradual(start=5), windows=12)
    assert scenario.change_point == 5


@pytest.mark.parametrize("config, needle", [
    ({"drift": [{"name": "mean-shfit", "column": "age"}]}, "did you mean 'mean-shift'"),
    ({"drift": [{"name": "mean-shift", "colum": "age"}]}, "unknown setting 'colum'"),
    ({"drift": [{"name": "mean-shift", "column": "age", "shift": "big"}]}, "'shift' must be a number"),
    ({"drift": [{"name": "scale", "column": "age"}], "windos": 3}, "unknown key 'windos'"),
    ({"drift": [{"name": "scale", "column": "age"}], "schedule": {"name": "sudden", "start": -1}}, "start must be"),
    ({"drift": []}, "no drift"),
])
def test_bad_scenarios_name_the_key(config, needle):
    with pytest.raises(ConfigError, match=needle):
        Scenario.from_config(config)


def test_a_drift_on_a_column_the_table_lacks_is_refused(pool):
    scenario = Scenario("s", (MeanShift(column="salary"),), windows=2, rows=50)
    with pytest.raises(ConfigError, match="'salary'"):
        list(stream(pool, scenario))


def test_streams_are_seeded_and_written_whole_with_truth(pool, tmp_path):
    scenario = Scenario("s", (MeanShift(column="age", shift=1.0),), Sudden(start=2), windows=4, rows=300, seed=5)
    first, second = list(stream(pool, scenario)), list(stream(pool, scenario))
    assert all(a.frame.equals(b.frame) for a, b in zip(first, second, strict=True))
    assert not first[0].frame.equals(next(stream(pool, replace(scenario, seed=6))).frame)
    assert [w.drifted for w in first] == [False, False, True, True]
    assert next(stream(pool, scenario, first=3)).frame.equals(first[3].frame)
    out = write_stream(pool, scenario, tmp_path / "stream")
    truth = json.loads((out / "truth.json").read_text())
    assert truth["change_point"] == 2 and len(truth["windows"]) == 4
    again = write_stream(pool, scenario, tmp_path / "again")
    assert (out / "window-003.csv").read_bytes() == (again / "window-003.csv").read_bytes()


def test_drifts_change_what_they_say_and_keep_the_rest(pool):
    rng = np.random.default_rng(0)
    base = pool.iloc[:4000].reset_index(drop=True)
    moved = MeanShift(column="age", shift=1.0).apply(base, 1.0, rng)
    assert moved["age"].mean() - base["age"].mean() == pytest.approx(base["age"].std(), abs=0.5)  # whole years
    shuffled = Correlation(column="education_num", share=1.0).apply(base, 1.0, rng)
    assert sorted(shuffled["education_num"]) == sorted(base["education_num"])
    assert abs(shuffled["education_num"].corr(shuffled["age"])) < abs(base["education_num"].corr(base["age"]))
    prior = PriorShift(target="income", category=">50K", share=0.2).apply(base, 1.0, rng)
    assert (prior["income"] == ">50K").mean() == pytest.approx((base["income"] == ">50K").mean() + 0.2, abs=0.03)
    concept = ConceptShift(target="income", column="age", rate=1.0).apply(base, 1.0, rng)
    young = base["age"] <= base["age"].median()
    assert concept["income"][young].equals(base["income"][young])
    assert (concept["income"][~young] != base["income"][~young]).all()


@pytest.mark.slow
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_the_monitor_detects_every_shipped_scenario_in_time(path, pool, reference):
    scenario = Scenario.from_toml(path)
    start = scenario.change_point
    scenario = replace(scenario, windows=start + 3, rows=2000)
    monitor = _monitor(reference)
    windows = list(stream(pool, scenario, first=start - 1))
    assert not monitor.check(windows[0].frame).drifted
    assert any(monitor.check(w.frame).drifted for w in windows[1:]), path.stem


_MONITORS: dict[int, Monitor] = {}


def _monitor(reference: pd.DataFrame) -> Monitor:
    if id(reference) not in _MONITORS:
        _MONITORS[id(reference)] = Monitor(reference, target="income", seed=0)
    return _MONITORS[id(reference)]


def test_cli_writes_a_stream_and_refuses_bad_scenarios(pool, tmp_path):
    data = tmp_path / "pool.csv"
    pool.iloc[:2000].to_csv(data, index=False)
    scenario = tmp_path / "s.toml"
    scenario.write_text(Scenario("s", (MeanShift(column="age"),), Sudden(start=1), windows=2, rows=100).to_toml())
    result = runner.invoke(app, ["simulate", str(scenario), "--data", str(data), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["truth.json", "window-000.csv", "window-001.csv"]
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[[drift]]\nname = "mean-shift"\ncolumn = "age"\nshfit = 1.0\n')
    refused = runner.invoke(app, ["simulate", str(bad), "--data", str(data), "-o", str(tmp_path / "none")])
    assert refused.exit_code == 2 and "shfit" in refused.output
    assert not (tmp_path / "none").exists()
