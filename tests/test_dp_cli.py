"""DP models from the CLI: `models show` with the ledger, `fit` printing it, bad input (exit 2, nothing written)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

import synthloop as sl
from synthloop import synthesizers
from synthloop.cli import app
from synthloop.errors import ArtifactError
from synthloop.schema import FixedCombinations
from synthloop.synthesizers.card import describe
from synthloop.testing import default_data

FAST = ["-p", "iters=0", "-p", "max_bins=8", "-p", "fine_bins=64"]
runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dp_cli")
    data = default_data()
    schema = sl.Schema.infer(data)
    data.to_csv(folder / "adult.csv", index=False)
    (folder / "schema.json").write_text(schema.to_json())
    (folder / "no_bounds.json").write_text(schema.with_columns(age={"low": None}).to_json())
    (folder / "learned.json").write_text(schema.with_constraints(FixedCombinations(("sex", "race"))).to_json())
    return folder


def test_fit_prints_the_ledger_and_models_show_prints_every_entry(files, tmp_path):
    fitted = runner.invoke(app, ["fit", str(files / "adult.csv"), "-m", "dp_mst", "--schema", str(files / "schema.json"),
                                 *FAST, "-p", "epsilon=2", "-o", str(tmp_path / "m")])
    assert fitted.exit_code == 0, fitted.output
    # fit: one row per mechanism, with what it bought and the summary's epsilon and delta
    for words in ("Privacy ledger", "gaussian", "exponential", "public schema", "1-way counts of", "epsilon = ",
                  "delta = 1e-05"):
        assert words in fitted.output, words
    shown = runner.invoke(app, ["models", "show", str(tmp_path / "m")])
    assert shown.exit_code == 0, shown.output
    for words in ("dp_mst", "Differentially private MST", "epsilon", "fine_bins", "64", "1-way counts of age",
                  "tree edge", "sigma=", "public schema", "of 2 at delta = 1e-05"):
        assert words in shown.output, words
    card = describe(tmp_path / "m")
    loaded = synthesizers.Synthesizer.load(tmp_path / "m")
    assert card.kind == "dp_mst" and card.private and card.params["epsilon"] == 2
    assert card.ledger.rows() == loaded.ledger_.rows() and card.n_training_rows == loaded.n_training_rows_
    listing = runner.invoke(app, ["models"])                  # the group still lists the registry
    assert listing.exit_code == 0 and "dp_mst" in listing.output and "argn" in listing.output


def test_models_show_of_a_plain_model_says_it_is_not_dp(files, tmp_path):
    assert runner.invoke(app, ["fit", str(files / "adult.csv"), "-m", "independent", "-o", str(tmp_path / "ind"),
                               "--no-privacy-reference"]).exit_code == 0
    shown = runner.invoke(app, ["models", "show", str(tmp_path / "ind")])
    assert shown.exit_code == 0 and "Not differentially private" in shown.output and "holds no training row" in shown.output
    assert describe(tmp_path / "ind").ledger is None


def test_models_show_refuses_a_missing_folder_and_a_tampered_ledger(files, tmp_path):
    missing = runner.invoke(app, ["models", "show", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "No model directory" in missing.output
    model = synthesizers.get("dp_mst", iters=0, max_bins=8, fine_bins=64, seed=0)
    model.fit(default_data(), sl.Schema.infer(default_data())).save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["meta"]["ledger"]["entries"][-1]["rho"] = 5.0          # claims to spend more than its budget
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match="over its budget"):
        describe(tmp_path / "m")
    tampered = runner.invoke(app, ["models", "show", str(tmp_path / "m")])
    assert tampered.exit_code == 2 and "invalid privacy ledger" in tampered.output


@pytest.mark.parametrize(("options", "message"), [
    (["-p", "epsilon=0"], "'epsilon' must be > 0"),
    (["-p", "epsilon=-1"], "'epsilon' must be > 0"),
    (["-p", "delta=0.01"], "≥ 1/n"),                                    # 300 rows: 1/n = 0.0033
    (["-p", "delta=1"], "'delta' must be"),
    (["--schema-file", "no_bounds.json"], "has no bounds in the schema"),
    (["--schema-file", "learned.json"], "FixedCombinations learn their allowed values"),
    (["--no-schema"], "public schema"),
    (["--keep-privacy-reference"], "keeps no training row"),
    (["--adapt-to", "ADULT"], "repeats target rows"),                 # one person could count several times
])
@pytest.mark.parametrize("model", ["dp_mst", "dp_vae", "dp_argn"])
def test_bad_dp_input_exits_2_and_writes_nothing(files, tmp_path, model, options, message):
    if model != "dp_mst":
        pytest.importorskip("opacus")
    schema = ["--schema", str(files / "schema.json")]
    if options[0] == "--schema-file":
        schema, options = ["--schema", str(files / options[1])], []
    elif options[0] == "--no-schema":
        schema, options = [], []
    options = [str(files / "adult.csv") if o == "ADULT" else o for o in options]
    fast = {"dp_mst": FAST, "dp_vae": ["-p", "epochs=1", "-p", "hidden=[8]", "-p", "latent_dim=2"],
            "dp_argn": ["-p", "epochs=1", "-p", "hidden=4", "-p", "progress=false"]}[model]
    result = runner.invoke(app, ["fit", str(files / "adult.csv"), "-m", model, *schema, *fast, *options,
                                 "-o", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert message in result.output.replace("\n", " ") and "Traceback" not in result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.privacy").exists()


def test_dp_argn_from_the_cli_fit_show_and_conditioned_sample(files, tmp_path):
    pytest.importorskip("opacus")
    fitted = runner.invoke(app, ["fit", str(files / "adult.csv"), "-m", "dp_argn", "--schema", str(files / "schema.json"),
                                 "-p", "epochs=1", "-p", "hidden=4", "-p", "batch_size=100", "-p", "seed=0",
                                 "-o", str(tmp_path / "m")])
    assert fitted.exit_code == 0, fitted.output
    assert "dp-sgd" in fitted.output and "public schema" in fitted.output and "row count" in fitted.output
    shown = runner.invoke(app, ["models", "show", str(tmp_path / "m")])
    assert shown.exit_code == 0, shown.output
    assert "noise_multiplier=" in shown.output and "steps=" in shown.output and "of 1 at delta = 1e-05" in shown.output
    sampled = runner.invoke(app, ["sample", str(tmp_path / "m"), "-n", "40", "--where", "sex=Female",
                                  "-o", str(tmp_path / "women.csv")])
    assert sampled.exit_code == 0, sampled.output
    assert (pd.read_csv(tmp_path / "women.csv")["sex"] == "Female").all()
