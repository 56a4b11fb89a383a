"""The drift monitor on Adult: no alarm on fresh real rows, alarms on each kind of shift, the gate's
exit codes, label-free performance, lineage timeline, HTML, and bad input refused with exit 2."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from synthloop.cli import app
from synthloop.errors import ConfigError, DataError
from synthloop.monitor import Monitor, MonitorSettings, expected_auc, holm, timeline

runner = CliRunner()


@pytest.fixture(scope="module")
def split(adult_train):
    shuffled = adult_train.sample(frac=1.0, random_state=1).reset_index(drop=True)
    return shuffled.iloc[:8000].reset_index(drop=True), shuffled.iloc[8000:16000].reset_index(drop=True)


@pytest.fixture(scope="module")
def monitor(split):
    return Monitor(split[0], target="income", seed=0)


def window(split, i: int, n: int = 2000) -> pd.DataFrame:
    return split[1].iloc[i * n:(i + 1) * n].reset_index(drop=True)


def test_holm_matches_the_step_down_definition():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted: 0.005·4, 0.01·3, 0.03·2, 0.04·1 → 0.02, 0.03, 0.06, max(0.06, 0.04)
    assert np.allclose(holm(p), [0.03, 0.06, 0.06, 0.02])


def test_expected_auc_equals_the_realised_auc_when_probabilities_are_certain():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 500)
    score = truth + rng.normal(scale=0.8, size=500)
    from synthloop.monitor.joint import rank_auc

    assert expected_auc(score, truth.astype(float)) == pytest.approx(rank_auc(truth, score), abs=1e-12)
    assert expected_auc(score, np.full(500, 0.3)) == pytest.approx(0.5, abs=1e-9)


def test_fresh_real_windows_raise_no_alarm(monitor, split):
    reports = [monitor.check(window(split, i)) for i in range(3)]
    assert [r.drifted for r in reports] == [False, False, False], [r.alarms for r in reports]
    assert all(r.exit_code == 0 for r in reports)
    performance = reports[0].performance
    assert abs(performance.estimated_auc - performance.realised_auc) < 0.03


@pytest.mark.parametrize("change, column", [
    (lambda w: w.assign(age=w["age"] + 6), "age"),
    (lambda w: w.assign(workclass=np.where(np.arange(len(w)) % 3 == 0, "Self-emp-inc", w["workclass"])),
     "workclass"),
    (lambda w: w.assign(occupation=np.where(np.arange(len(w)) % 10 == 0, "Drone-pilot", w["occupation"])),
     "occupation"),
    (lambda w: w.assign(hours_per_week=w["hours_per_week"].where(np.arange(len(w)) % 5 != 0)), "hours_per_week"),
])
def test_each_kind_of_column_shift_is_named(monitor, split, change, column):
    report = monitor.check(change(window(split, 0)))
    assert report.drifted and report.exit_code == 1
    assert column in report.drifted_columns, report.alarms


def test_a_new_category_is_named_in_the_alarm(monitor, split):
    shifted = window(split, 0).assign(
        occupation=lambda w: np.where(np.arange(len(w)) % 10 == 0, "Drone-pilot", w["occupation"]))
    found = monitor.check(shifted).column("occupation")
    assert found.new_categories == ("Drone-pilot",)
    assert any("Drone-pilot" in reason for reason in found.reasons)


def test_a_correlation_change_is_caught_jointly_with_its_drivers(monitor, split):
    # Shuffle education_num against the other columns: every marginal stays the same, the joint moves.
    shifted = window(split, 1).copy()
    shifted["education_num"] = shifted["education_num"].sample(frac=1.0, random_state=0).to_numpy()
    report = monitor.check(shifted)
    assert report.drifted_columns == ()
    assert report.joint.drifted and report.joint.auc > 0.55
    assert report.joint.drivers[0][0] in ("education_num", "education")


def test_covariate_shift_estimate_tracks_the_realised_auc(monitor, split):
    older = split[1][split[1]["age"] > 40].iloc[:2000]
    performance = monitor.check(older).performance
    assert abs(performance.estimated_auc - performance.realised_auc) < 0.03
    unlabelled = monitor.check(older.drop(columns="income")).performance
    assert unlabelled.realised_auc is None and unlabelled.estimated_auc == pytest.approx(performance.estimated_auc)


def test_report_is_json_and_checks_are_kept_as_a_lineage_timeline(split, tmp_path):
    store = tmp_path / "lineage.db"
    watcher = Monitor(split[0], lineage=store, settings=MonitorSettings(multivariate=False))
    quiet = watcher.check(window(split, 0), name="w1")
    loud = watcher.check(window(split, 1).assign(age=lambda w: w["age"] + 8), name="w2")
    assert json.loads(loud.to_json())["drifted_columns"] == ["age"]
    events = timeline(store)
    assert list(events["window"]) == ["w1", "w2"]
    assert list(events["drifted"]) == [quiet.drifted, loud.drifted] == [False, True]
    assert set(events["reference"]) == {watcher.reference_id}


@pytest.mark.parametrize("change, needle", [
    (lambda w: w.drop(columns="age"), "missing column age"),
    (lambda w: w.assign(extra=1), "not in the reference: extra"),
    (lambda w: w.assign(age="old"), "column age is numeric"),
    (lambda w: w.iloc[:0], "no rows"),
])
def test_bad_windows_are_refused_naming_the_column(monitor, split, change, needle):
    with pytest.raises(DataError, match=needle):
        monitor.check(change(window(split, 0)))


def test_settings_are_checked():
    with pytest.raises(ConfigError, match="alpha"):
        MonitorSettings(alpha=2.0)


def test_cli_gates_with_exit_codes_and_writes_json_html_only_on_good_input(split, tmp_path):
    reference, fresh, shifted = tmp_path / "ref.csv", tmp_path / "w1.csv", tmp_path / "w2.csv"
    split[0].to_csv(reference, index=False)
    window(split, 0).to_csv(fresh, index=False)
    window(split, 1).assign(age=lambda w: w["age"] + 8).to_csv(shifted, index=False)
    ok = runner.invoke(app, ["monitor", str(reference), str(fresh), "--no-joint"])
    assert ok.exit_code == 0, ok.output
    out_json, out_html = tmp_path / "drift.json", tmp_path / "drift.html"
    drift = runner.invoke(app, ["monitor", str(reference), str(fresh), str(shifted), "--target", "income",
                                "--json", str(out_json), "--html", str(out_html)])
    assert drift.exit_code == 1, drift.output
    assert "1 of 2 windows drifted" in drift.output
    assert [r["drifted"] for r in json.loads(out_json.read_text())] == [False, True]
    page = out_html.read_text()
    assert "<svg" in page and "age: ks" in page
    broken = tmp_path / "w3.csv"
    window(split, 2).drop(columns="sex").to_csv(broken, index=False)
    out_json.unlink()
    bad = runner.invoke(app, ["monitor", str(reference), str(fresh), str(broken), "--json", str(out_json)])
    assert bad.exit_code == 2 and "missing column sex" in bad.output and "w3.csv" in bad.output
    assert not out_json.exists()
