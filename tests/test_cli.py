"""The ``synthloop`` command line on small real data: the happy paths, exit codes and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import synthloop as sl
from synthloop.cli import app

runner = CliRunner()
SRC = str(Path(sl.__file__).resolve().parents[1])


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def assert_bad_input(result, *needles: str) -> None:
    """Exit 2, one message naming what went wrong, and no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for needle in needles:
        assert needle in result.output, result.output


@pytest.fixture
def fitted(tmp_path, penguins_csv) -> Path:
    out = tmp_path / "model"
    result = invoke("fit", penguins_csv, "-m", "independent", "-p", "seed=3", "-o", out)
    assert result.exit_code == 0, result.output
    return out


# ---------------------------------------------------------------------- happy paths
def test_schema_infer_writes_json_with_overrides(tmp_path, penguins_csv):
    out = tmp_path / "schema.json"
    result = invoke("schema", "infer", penguins_csv, "-o", out, "--target", "species",
                    "--kind", "year=categorical", "--sensitive", "sex")
    assert result.exit_code == 0, result.output
    schema = sl.Schema.from_json(out.read_text())
    assert schema.target == "species"
    assert schema["year"].kind == "categorical"
    assert [c.name for c in schema.sensitive()] == ["sex"]
    assert "bill_length_mm" in result.output


def test_schema_infer_without_out_prints_json(penguins_csv):
    result = invoke("schema", "infer", penguins_csv)
    assert result.exit_code == 0, result.output
    assert sl.Schema.from_json(result.stdout).names[0] == "species"


def test_fit_then_sample_csv_and_parquet(tmp_path, fitted, penguins):
    config = json.loads((fitted / "config.json").read_text())
    assert config["synthesizer"] == "independent" and config["params"] == {"seed": 3}
    csv_out, parquet_out = tmp_path / "s.csv", tmp_path / "s.parquet"
    assert invoke("sample", fitted, "-n", 500, "-o", csv_out).exit_code == 0
    assert invoke("sample", fitted, "-n", 200, "-o", parquet_out).exit_code == 0
    synthetic = pd.read_csv(csv_out)
    assert len(synthetic) == 500 and list(synthetic.columns) == list(penguins.columns)
    assert set(synthetic["island"].dropna()) <= set(penguins["island"].dropna())
    assert len(pd.read_parquet(parquet_out)) == 200


def test_sample_where_and_seed(tmp_path, fitted):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    for out in (first, second):
        result = invoke("sample", fitted, "-n", 50, "-o", out, "--where", "island=Dream", "-w", "sex=female",
                        "--seed", 7)
        assert result.exit_code == 0, result.output
    synthetic = pd.read_csv(first)
    assert len(synthetic) == 50
    assert set(synthetic["island"]) == {"Dream"} and set(synthetic["sex"]) == {"female"}
    assert first.read_bytes() == second.read_bytes()


def test_fit_with_schema_file(tmp_path, penguins_csv):
    schema_path = tmp_path / "schema.json"
    assert invoke("schema", "infer", penguins_csv, "-o", schema_path, "--kind", "year=categorical").exit_code == 0
    result = invoke("fit", penguins_csv, "-m", "independent", "--schema", schema_path, "-o", tmp_path / "m")
    assert result.exit_code == 0, result.output
    assert sl.synthesizers.Synthesizer.load(tmp_path / "m").schema_["year"].kind == "categorical"


def test_models_lists_parameters_and_defaults():
    result = invoke("models")
    assert result.exit_code == 0, result.output
    assert "independent" in result.output and "seed=None" in result.output


def test_datasets_list_and_export(tmp_path):
    listing = invoke("datasets")
    assert listing.exit_code == 0, listing.output
    assert "adult" in listing.output and "penguins" in listing.output
    out = tmp_path / "penguins_train.csv"
    result = invoke("datasets", "export", "penguins", "--split", "train", "-o", out)
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == len(sl.datasets.load("penguins", split="train"))


def test_demo_small_run(tmp_path):
    out = tmp_path / "demo"
    result = invoke("demo", "--rows", 300, "--out", out, "-m", "independent", "--no-score")
    assert result.exit_code == 0, result.output
    assert (out / "models" / "independent" / "config.json").is_file()
    assert len(pd.read_csv(out / "synthetic" / "independent.csv")) == 300
    assert json.loads((out / "summary.json").read_text())["runs"][0]["model"] == "independent"
    assert "independent" in result.output and "fit (s)" in result.output


@pytest.mark.slow
def test_run_demo_scores_each_model_next_to_the_real_holdout(tmp_path):
    from synthloop.demo import run_demo

    result = run_demo(dataset="penguins", models=("independent", "gaussian_copula"), out_dir=tmp_path,
                      metrics=["ks_complement", "detection_auc"], seed=0)
    assert [run.model for run in result.runs] == ["independent", "gaussian_copula"]
    for run in result.runs:
        assert set(run.scores) == {"ks_complement", "detection_auc"}
        assert 0.0 <= run.scores["ks_complement"] <= 1.0
        assert run.report_path is not None and run.report_path.is_file()
    assert result.score_goals == {"ks_complement": "max", "detection_auc": "min"}
    # real unseen rows are hard to tell from real training rows: the reference sits near chance
    assert result.holdout_scores["detection_auc"] < 0.7
    assert json.loads(result.summary_path.read_text())["n_train_rows"] == result.n_train_rows


def test_run_demo_reports_models_it_cannot_build():
    from synthloop.demo import run_demo

    with pytest.raises(sl.errors.ConfigError, match="nope"):
        run_demo(dataset="penguins", models=("nope",), out_dir=None, evaluate=False)


# ---------------------------------------------------------------------- bad input → exit 2, no partial output
def _write(tmp_path: Path, name: str, frame: pd.DataFrame | str) -> Path:
    path = tmp_path / name
    if isinstance(frame, str):
        path.write_text(frame)
    else:
        frame.to_csv(path, index=False)
    return path


def test_empty_file(tmp_path):
    data = _write(tmp_path, "empty.csv", "")
    out = tmp_path / "m"
    assert_bad_input(invoke("fit", data, "-m", "independent", "-o", out), "empty.csv", "empty")
    assert not out.exists()


def test_header_only_file(tmp_path):
    data = _write(tmp_path, "header.csv", "a,b\n")
    assert_bad_input(invoke("schema", "infer", data, "-o", tmp_path / "s.json"), "header.csv", "no data rows")
    assert not (tmp_path / "s.json").exists()


def test_duplicate_column_names(tmp_path):
    data = _write(tmp_path, "dup.csv", "age,age,sex\n1,2,F\n3,4,M\n")
    assert_bad_input(invoke("fit", data, "-m", "independent", "-o", tmp_path / "m"), "dup.csv", "'age'", "rename")
    assert not (tmp_path / "m").exists()


def test_infinite_values_name_the_column(tmp_path, penguins):
    frame = penguins.assign(body_mass_g=penguins["body_mass_g"].where(penguins.index % 7 != 0, np.inf))
    data = _write(tmp_path, "inf.csv", frame)
    assert_bad_input(invoke("fit", data, "-m", "independent", "-o", tmp_path / "m"), "'body_mass_g'", "infinite")
    assert not (tmp_path / "m").exists()


def test_mixed_type_column_against_a_schema(tmp_path, penguins_csv, penguins):
    schema_path = tmp_path / "schema.json"
    assert invoke("schema", "infer", penguins_csv, "-o", schema_path).exit_code == 0
    mixed = penguins.astype({"bill_length_mm": object})
    mixed.loc[:4, "bill_length_mm"] = "abc"
    data = _write(tmp_path, "mixed.csv", mixed)
    result = invoke("fit", data, "-m", "independent", "--schema", schema_path, "-o", tmp_path / "m")
    assert_bad_input(result, "'bill_length_mm'", "non-numeric", "'abc'")
    assert not (tmp_path / "m").exists()


def test_mostly_numeric_column_warns_with_the_fix(tmp_path, penguins):
    mixed = penguins.dropna().astype({"flipper_length_mm": object}).reset_index(drop=True)
    mixed.loc[0, "flipper_length_mm"] = "oops"
    data = _write(tmp_path, "mostly.csv", mixed)
    result = invoke("fit", data, "-m", "independent", "-o", tmp_path / "m")
    assert result.exit_code == 0, result.output
    assert "Warning" in result.output and "'flipper_length_mm'" in result.output and "'oops'" in result.output


def test_all_missing_and_many_level_columns_are_explained(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"empty": np.nan, "code": [f"c{i}" for i in rng.integers(0, 5000, 12_000)],
                          "value": rng.normal(size=12_000)})
    data = _write(tmp_path, "odd.csv", frame)
    result = invoke("fit", data, "-m", "independent", "-o", tmp_path / "m")
    assert result.exit_code == 0, result.output
    assert "'empty' is entirely missing" in result.output
    assert "'code' has" in result.output and "categories" in result.output


def test_wrong_path(tmp_path):
    assert_bad_input(invoke("fit", tmp_path / "nope.csv", "-m", "independent", "-o", tmp_path / "m"), "nope.csv")
    assert_bad_input(invoke("sample", tmp_path / "no_model", "-n", 5, "-o", tmp_path / "s.csv"), "no_model")
    assert not (tmp_path / "s.csv").exists()


def test_unknown_model_suggests(tmp_path, penguins_csv):
    assert_bad_input(invoke("fit", penguins_csv, "-m", "independant", "-o", tmp_path / "m"), "'independant'",
                     "Did you mean 'independent'")


@pytest.mark.parametrize(("param", "needles"), [
    ("sed=1", ("'sed'", "Did you mean 'seed'")),
    ("seed=abc", ("'seed'", "abc")),
    ("seed", ("KEY=VALUE",)),
])
def test_bad_params(tmp_path, penguins_csv, param, needles):
    result = invoke("fit", penguins_csv, "-m", "independent", "-p", param, "-o", tmp_path / "m")
    assert_bad_input(result, *needles)
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(("where", "needles"), [
    ("island=Atlantis", ("'island'", "'Atlantis'")),
    ("colour=red", ("'colour'",)),
    ("island", ("KEY=VALUE",)),
])
def test_bad_where(tmp_path, fitted, where, needles):
    out = tmp_path / "s.csv"
    assert_bad_input(invoke("sample", fitted, "-n", 10, "-o", out, "--where", where), *needles)
    assert not out.exists()


def test_unknown_output_format_fails_before_sampling(tmp_path, fitted):
    assert_bad_input(invoke("sample", fitted, "-n", 10, "-o", tmp_path / "s.xlsx"), "s.xlsx", ".csv")


def test_unwritable_output_path(tmp_path, fitted):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    assert_bad_input(invoke("sample", fitted, "-n", 10, "-o", blocker / "s.csv"), "file.txt")


def test_fit_refuses_to_replace_a_folder_that_is_not_a_model(tmp_path, penguins_csv):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    assert_bad_input(invoke("fit", penguins_csv, "-m", "independent", "-o", precious), "precious")
    assert (precious / "notes.txt").read_text() == "keep me"


def test_usage_errors_exit_2(tmp_path):
    assert invoke("fit").exit_code == 2
    assert invoke("sample", tmp_path, "-n", -1, "-o", tmp_path / "s.csv").exit_code == 2
    assert invoke("no-such-command").exit_code == 2


def test_ctrl_c_leaves_nothing_behind(tmp_path, penguins_csv, monkeypatch):
    from synthloop.synthesizers.independent import IndependentMarginals

    def interrupted(self, data, rng):
        raise KeyboardInterrupt

    monkeypatch.setattr(IndependentMarginals, "_fit", interrupted)
    out = tmp_path / "m"
    result = invoke("fit", penguins_csv, "-m", "independent", "-o", out)
    assert result.exit_code == 130
    assert "Interrupted" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_ctrl_c_while_sampling_writes_no_file(tmp_path, fitted, monkeypatch):
    from synthloop.synthesizers.independent import IndependentMarginals

    def interrupted(self, n_rows, conditions, rng):
        raise KeyboardInterrupt

    monkeypatch.setattr(IndependentMarginals, "_sample", interrupted)
    out = tmp_path / "s.csv"
    result = invoke("sample", fitted, "-n", 100, "-o", out)
    assert result.exit_code == 130 and not out.exists()
    assert list(tmp_path.glob(".s.csv*")) == []


@pytest.mark.parametrize(("args", "needles"), [
    (("--kind", "island=colour"), ("'island'", "colour", "numeric")),
    (("--target", "wingspan"), ("'wingspan'",)),
    (("--sensitive", "wingspan"), ("'wingspan'",)),
    (("--target", "[red]wing"), ("'[red]wing'",)),  # names are printed as they are, never as markup
    (("--kind", "island"), ("KEY=VALUE",)),
])
def test_schema_infer_bad_overrides(tmp_path, penguins_csv, args, needles):
    out = tmp_path / "schema.json"
    assert_bad_input(invoke("schema", "infer", penguins_csv, "-o", out, *args), *needles)
    assert not out.exists()


def test_export_unknown_dataset(tmp_path):
    out = tmp_path / "x.csv"
    assert_bad_input(invoke("datasets", "export", "adultt", "-o", out), "'adultt'", "adult")
    assert not out.exists()


# ---------------------------------------------------------------------- the real entry points
def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "synthloop", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def test_python_m_synthloop_help_and_bad_input(tmp_path):
    help_run = _run("--help")
    assert help_run.returncode == 0 and "fit" in help_run.stdout
    bad = _run("fit", str(tmp_path / "missing.csv"), "-m", "independent", "-o", str(tmp_path / "m"))
    assert bad.returncode == 2
    assert "missing.csv" in bad.stderr and "Traceback" not in bad.stderr


def test_fit_neural_model_checkpoints_beside_the_output_and_cleans_up(tmp_path, penguins_csv, monkeypatch):
    from synthloop.cli import fit as fit_module

    seen = {}
    original = fit_module.default_checkpoint

    def spy(synthesizer, out):
        seen["path"] = original(synthesizer, out)
        return seen["path"]

    monkeypatch.setattr(fit_module, "default_checkpoint", spy)
    out = tmp_path / "tvae"
    result = invoke("fit", penguins_csv, "-m", "tvae", "-p", "epochs=2", "-p", "seed=0", "-o", out)
    assert result.exit_code == 0, result.output
    assert seen["path"] == tmp_path / ".tvae.checkpoint"
    assert (out / "weights.safetensors").exists() and not seen["path"].exists()
