"""evaluate() and Report: baselines, gates, JSON round trip, bad input, the CLI's exit codes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthloop as sl
from synthloop.errors import ConfigError, DataError, SchemaError
from synthloop.report import Report


@pytest.fixture(scope="module")
def train(adult_small):
    return adult_small.iloc[:1000].reset_index(drop=True)


@pytest.fixture(scope="module")
def holdout():
    return sl.datasets.load("adult", split="test").sample(600, random_state=5).reset_index(drop=True)


@pytest.fixture(scope="module")
def schema(train):
    return sl.Schema.infer(train, target="income", sensitive=["sex"])


@pytest.fixture(scope="module")
def synthetic(train, schema):
    return sl.synthesizers.get("independent", seed=0).fit(train, schema).sample(len(train))


@pytest.fixture(scope="module")
def report(train, synthetic, schema, holdout):
    return sl.evaluate(train, synthetic, schema, holdout=holdout, seed=0)


@pytest.mark.slow
def test_default_report_has_every_family_with_holdout_baselines(report):
    assert list(report.scores.columns) == list(Report.SCORE_COLUMNS)
    assert set(report.scores["family"]) == {"fidelity", "collapse", "detection", "utility", "privacy", "fairness"}
    assert report.scores["baseline"].notna().all()
    detection = report.scores.set_index("metric").loc["detection_auc"]
    assert detection["value"] > 0.8 > detection["baseline"]
    assert {"marginals", "associations", "detection_slices", "dcr_share"} <= set(report.details)
    assert report.meta["skipped"] == {"tstr_r2": "the target is categorical; see tstr_auc"}
    assert any("subsampled" in note or "attack" in note for note in report.meta["notes"])


def test_same_seed_gives_the_same_scores(train, synthetic, schema):
    first = sl.evaluate(train, synthetic, schema, metrics="fast", seed=3)
    second = sl.evaluate(train, synthetic, schema, metrics="fast", seed=3)
    pd.testing.assert_frame_equal(first.scores, second.scores)
    assert first.scores["baseline"].isna().all()     # no holdout: no baseline


@pytest.mark.slow
def test_json_round_trip_keeps_the_numbers(report, tmp_path):
    path = tmp_path / "r.json"
    report.to_json(path)
    loaded = Report.from_json(path)
    pd.testing.assert_frame_equal(loaded.scores, report.scores)
    data = json.loads(path.read_text())
    assert data["scores"][0]["metric"] == report.scores["metric"].iloc[0]
    assert len(loaded.details["marginals"]) == len(report.details["marginals"])


@pytest.mark.slow
def test_gates(report):
    auc = report.value("detection_auc")
    assert report.check([f"detection_auc<={auc + 0.01}"]).passed
    failed = report.check({"detection_auc": "<= 0.65", "ks_complement": ">= 0.5"})
    assert not failed and failed.failed == ["detection_auc<= 0.65"]
    assert report.check("dcr_share<=baseline+0.5").passed
    with pytest.raises(ConfigError, match="Cannot read gate"):
        report.check("detection_auc => 0.6")
    with pytest.raises(ConfigError, match="Did you mean 'detection_auc'"):
        report.check("detection_aux<=0.6")
    skipped = report.check("tstr_r2>=0.5")
    assert not skipped and "not computed" in skipped.results["reason"].iloc[0]


def test_unknown_metric_name_suggests_a_fix(train):
    with pytest.raises(ConfigError, match="Did you mean 'ks_complement'"):
        sl.evaluate(train, train, metrics=["ks_complment"])


def test_bad_input_is_reported_clearly(train, schema):
    with pytest.raises(DataError, match=r"lacks columns \['age'\]"):
        sl.evaluate(train, train.drop(columns="age"))
    with pytest.raises(DataError, match="'age' is numeric in the real data but text"):
        sl.evaluate(train, train.assign(age="old"))
    with pytest.raises(DataError, match="no rows"):
        sl.evaluate(train, train.iloc[:0])
    with pytest.raises(DataError, match="target column 'income' has only"):
        sl.evaluate(train.assign(income="<=50K"), train, sl.Schema.infer(train.assign(income="<=50K"), target="income"))
    with pytest.raises(SchemaError):
        sl.evaluate(train.drop(columns="age"), train.drop(columns="age"), schema)


def test_rich_table_lists_every_score(report_fast):
    from rich.console import Console

    console = Console(width=120, record=True)
    console.print(report_fast.rich_table())
    text = console.export_text()
    assert all(name in text for name in report_fast.scores["metric"])


@pytest.fixture(scope="module")
def report_fast(train, synthetic, schema, holdout):
    return sl.evaluate(train, synthetic, schema, holdout=holdout, metrics="fast")


def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(Path(sl.__file__).parents[1]), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "synthloop", "evaluate", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def csv_files(train, synthetic, holdout, schema, tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluate_cli")
    train.to_csv(folder / "real.csv", index=False)
    synthetic.to_csv(folder / "synth.csv", index=False)
    holdout.to_csv(folder / "holdout.csv", index=False)
    (folder / "schema.json").write_text(schema.to_json())
    (folder / "empty.csv").write_text("")
    train.drop(columns="age").to_csv(folder / "fewer.csv", index=False)
    return folder


@pytest.mark.slow
def test_cli_writes_outputs_and_gates_set_the_exit_code(csv_files):
    folder = csv_files
    ok = _cli("real.csv", "synth.csv", "--holdout", "holdout.csv", "--schema", "schema.json", "--metrics", "fast",
              "--json", "r.json", "--html", "r.html", "--gate", "ks_complement>=0.5", cwd=folder)
    assert ok.returncode == 0, ok.stderr
    assert "ks_complement" in ok.stdout and (folder / "r.json").exists() and (folder / "r.html").exists()
    failed = _cli("real.csv", "synth.csv", "--metrics", "fast", "--gate", "ks_complement>=0.9999", cwd=folder)
    assert failed.returncode == 1
    assert "FAIL" in failed.stdout


@pytest.mark.slow
@pytest.mark.parametrize(("args", "message"), [
    (("real.csv", "empty.csv"), "empty"),
    (("real.csv", "fewer.csv"), "lacks columns"),
    (("real.csv", "synth.csv", "--gate", "nonsense"), "Cannot read gate"),
])
def test_cli_bad_input_exits_2_without_traceback(csv_files, args, message):
    result = _cli(*args, "--metrics", "fast", cwd=csv_files)
    assert result.returncode == 2
    assert message in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_import_stays_light():
    code = "import sys, synthloop; print(sorted(m for m in ('torch', 'matplotlib', 'sklearn', 'lightgbm') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]"
    assert sorted(sl.__all__) == sl.__all__ and {"evaluate", "Report"} <= set(sl.__all__)


def test_evaluate_takes_column_names_that_are_not_strings():
    # the audit: sl.evaluate raised KeyError('2.5') when the real table's column names were numbers
    rng = np.random.default_rng(0)
    data = pd.DataFrame({0: rng.normal(size=300), 1: rng.choice(["a", "b"], 300), 2.5: rng.integers(0, 5, 300)})
    synthetic = sl.synthesizers.get("independent", seed=0).fit(data.iloc[:200]).sample(200)
    report = sl.evaluate(data.iloc[:200], synthetic, holdout=data.iloc[200:], metrics=["ks_complement", "tv_complement"])
    assert 0.0 <= report.value("ks_complement") <= 1.0
