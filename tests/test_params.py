"""Parameters checked in the library: one validator for get, set_params, fit, load and the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from synthloop import synthesizers
from synthloop.cli import app
from synthloop.errors import ArtifactError, ConfigError
from synthloop.synthesizers.params import available_devices, check_params, run_options
from synthloop.testing import default_data

# Values that make no sense for the parameter named: each must be a clean ConfigError from get(),
# naming the parameter (found by probing every parameter of every model; many crashed mid-fit).
BAD_VALUES = {
    "independent": {"seed": [-1, 1.5, "abc", [1]]},
    "gaussian_copula": {"shrinkage": [-0.1, 1.5, math.nan, math.inf, "x"], "seed": [-3]},
    "cart": {"min_leaf": [0, -1, 2.5], "max_depth": [0, -2], "order": ["sideways", 3], "smoothing": [-1, math.nan],
             "atom_share": [-0.5, 2.0], "avoid_copies": ["yes", 1], "calibrate": ["yes", 1]},
    "ctgan": {"embedding_dim": [0, -1, 10**12], "generator_dim": [[0], [-5], "64", [10**12]], "critic_dim": [[0]],
              "pac": [0, -1], "critic_steps": [0, -1, 1.5], "gradient_penalty": [-1.0, math.inf], "tau": [0, -0.2, math.nan],
              "epochs": [0, -1, math.inf], "batch_size": [0, -10], "lr": [0, -1e-3, math.nan, math.inf],
              "device": ["cuda:7", "gpu", "", 3], "checkpoint_every": [0], "patience": [0, -1], "progress": ["no"],
              "threads": [0, -1, 2.5], "seed": [-1]},
    "tvae": {"latent_dim": [0, -1], "hidden": [[], [0], [64, -1]], "loss_factor": [0, -1.0, math.nan]},
    "tabddpm": {"timesteps": [0, 1, -5], "sample_steps": [0, -1], "hidden": [[0]], "time_dim": [0, 1]},
    "argn": {"hidden": [0, -1, 2.5, (32,)], "embedding": [0], "dropout": [-0.1, 1.0, math.nan], "bins": [0],
             "fine_bins": [0, 1.5], "max_exact": [-1], "spike_share": [1.0, -0.01], "table_order_share": [1.5, -1],
             "validation_share": [0.5, -0.1, math.inf], "patience": [0], "threads": [0]},
    "dp_mst": {"epsilon": [0, -1.0, math.inf, math.nan], "delta": [0, 1.0, -1e-5], "max_bins": [1, 0], "fine_bins": [1],
               "iters": [-1, 1.5], "trust_inferred_schema": ["yes"]},
    "dp_vae": {"epsilon": [0, math.nan], "delta": [1.0], "max_grad_norm": [0, -1.0], "hidden": [[], [0]], "epochs": [0],
               "batch_size": [0], "lr": [0, math.inf]},
    "dp_argn": {"epsilon": [0, -1.0, math.nan], "delta": [1.0, 0], "max_grad_norm": [0], "hidden": [0, 2.5],
                "embedding": [0], "fine_bins": [1], "split_above": [1], "epochs": [0, -1], "batch_size": [0],
                "lr": [0], "threads": [0]},
}
CASES = [(model, param, value) for model, params in BAD_VALUES.items() for param, values in params.items()
         for value in values]


@pytest.mark.parametrize(("model", "param", "value"), CASES, ids=lambda v: repr(v)[:20])
def test_nonsense_values_are_one_clean_config_error(model, param, value):
    with pytest.raises(ConfigError, match=f"'{param}' must"):
        synthesizers.get(model, **{param: value})


def test_every_model_and_parameter_is_probed():
    assert set(BAD_VALUES) == set(synthesizers.available())


def test_every_problem_is_listed_at_once():
    with pytest.raises(ConfigError, match=r"\(3 problems\)") as info:
        synthesizers.get("ctgan", epochs=0, lr=-1, epoch=5)
    assert "'epochs' must be ≥ 1, got 0" in str(info.value) and "Did you mean 'epochs'" in str(info.value)


def test_values_are_normalised_so_a_clone_has_equal_params():
    model = synthesizers.get("tvae", hidden=[64, 64], loss_factor=2)
    assert model.hidden == (64, 64) and isinstance(model.loss_factor, float)
    assert model.clone().get_params() == model.get_params()
    assert synthesizers.get("cart", min_leaf=np.int64(5)).min_leaf == 5


def test_set_params_and_fit_check_too():
    data = default_data().iloc[:60]
    with pytest.raises(ConfigError, match="'critic_steps' must be ≥ 1"):
        synthesizers.get("ctgan").set_params(critic_steps=0)
    direct = synthesizers.get_class("ctgan")(critic_steps=0, epochs=1, progress=False)   # __init__ only stores
    with pytest.raises(ConfigError, match="'critic_steps' must be ≥ 1"):                 # was UnboundLocalError
        direct.fit(data)
    listed = synthesizers.get_class("tvae")(hidden=[16], epochs=1, progress=False, seed=0).fit(data)
    assert listed.hidden == (16,)


def test_a_device_that_is_not_here_says_what_is(tmp_path, penguins):
    if "cuda" in available_devices():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="available: auto, cpu"):
        synthesizers.get("tvae", device="cuda")
    penguins.to_csv(tmp_path / "p.csv", index=False)
    for device in ("cuda", "gpu"):
        result = CliRunner().invoke(app, ["fit", str(tmp_path / "p.csv"), "-m", "tvae", "-o", str(tmp_path / "m"),
                                          "-p", f"device={device}"])
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        assert "available: auto, cpu" in result.output


def test_cli_text_values_go_through_the_same_validator():
    cls = synthesizers.get_class("cart")
    assert check_params(cls, {"order": "data", "min_leaf": "5", "max_depth": "null"}, text=True) == {
        "order": "data", "min_leaf": 5, "max_depth": None}
    with pytest.raises(ConfigError, match="'min_leaf' must be a whole number or None, got 'ten'"):
        check_params(cls, {"min_leaf": "ten"}, text=True)


def test_run_options_are_never_saved(tmp_path):
    model = synthesizers.get("tvae", **synthesizers.get_class("tvae").test_params, seed=0,
                             checkpoint_dir=str(tmp_path / ".m.checkpoint"), threads=1)
    model.fit(default_data().iloc[:80]).save(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "config.json").read_text())["params"]
    assert not set(saved) & {"checkpoint_dir", "checkpoint_every", "device", "progress", "threads"}
    assert set(saved) == set(model.get_params()) - run_options(type(model))
    loaded = synthesizers.Synthesizer.load(tmp_path / "m")
    assert loaded.checkpoint_dir is None and loaded.hyperparameters() == model.hyperparameters()


def test_tampered_params_in_a_model_file_are_an_artifact_error(tmp_path):
    synthesizers.get("independent", seed=0).fit(default_data().iloc[:50]).save(tmp_path / "m")
    config_path = tmp_path / "m" / "config.json"
    config = json.loads(config_path.read_text())
    config["params"]["seed"] = -5
    config_path.write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match=r"(?i)invalid parameters"):
        synthesizers.Synthesizer.load(tmp_path / "m")


def test_models_lists_every_model_without_importing_torch():
    import subprocess
    import sys

    code = ("import sys; from typer.testing import CliRunner; from synthloop.cli import app; "
            "result = CliRunner().invoke(app, ['models'], terminal_width=200); "
            "print(result.exit_code, 'torch' in sys.modules, 'tabddpm' in result.output, 'critic_steps=1' in result.output)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "False", "True", "True"]


@pytest.mark.parametrize("name", synthesizers.available())
def test_defaults_read_from_the_source_match_the_class(name):
    from synthloop.synthesizers.params import read_signature

    summary, defaults = read_signature(synthesizers.REGISTRY.target(name))
    cls = synthesizers.get_class(name)
    assert defaults == cls().get_params() and summary == cls.__doc__.strip().splitlines()[0]


def test_registry_says_did_you_mean_for_every_kind():
    from synthloop import datasets
    from synthloop.metrics.registry import get_metric

    for call, needle in ((lambda: synthesizers.get("ctgn"), "Did you mean 'ctgan'"),
                         (lambda: datasets.load("adlt"), "Did you mean 'adult'"),
                         (lambda: get_metric("detection_acu"), "Did you mean 'detection_auc'")):
        with pytest.raises(ConfigError, match=needle):
            call()
