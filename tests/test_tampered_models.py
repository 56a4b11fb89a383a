"""Tampered model folders: each loads to one clean ArtifactError, and nothing in them runs.

A model folder may come from someone else. Every registered synthesizer is saved once (tiny
settings), copied per test and damaged one way: the predicate payload in ``schema.json``, arrays
that are oversized, of the wrong dtype or shape, missing or extra, JSON of the wrong types or with
missing or unknown keys, names with path traversal, symlinks out of the folder, truncated or
padded safetensors, files that are not JSON, special files and files over the size limit.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file, save_file
from typer.testing import CliRunner

import synthloop as sl
from synthloop.cli import app
from synthloop.errors import ArtifactError, SchemaError
from synthloop.io.artifacts import read_member, save_artifact
from synthloop.schema import Predicate
from synthloop.synthesizers import Synthesizer

TINY = {
    "ctgan": {"epochs": 1, "batch_size": 50, "generator_dim": (8,), "critic_dim": (8,), "embedding_dim": 4,
              "pac": 5, "progress": False},
    "tvae": {"epochs": 1, "batch_size": 50, "hidden": (8,), "latent_dim": 4, "progress": False},
    "tabddpm": {"epochs": 1, "batch_size": 50, "hidden": (8,), "time_dim": 4, "timesteps": 10, "sample_steps": 5,
                "progress": False},
    "argn": {"epochs": 1, "batch_size": 50, "hidden": 4, "embedding": 4, "progress": False},
    "dp_mst": {"iters": 0, "max_bins": 8, "fine_bins": 64, "trust_inferred_schema": True},
    "dp_vae": {"epochs": 1, "batch_size": 50, "hidden": (8,), "latent_dim": 4, "trust_inferred_schema": True},
    "dp_argn": {"epochs": 1, "batch_size": 50, "hidden": 4, "embedding": 4, "progress": False,
                "trust_inferred_schema": True},
}
NAMES = sl.synthesizers.available()
# An array each model has whose shape the config and schema fix, to damage.
_FLOAT_ARRAY = {"independent": "1/probs", "gaussian_copula": "correlation", "cart": "tree/0/threshold",
                "ctgan": "cond/frequency", "tvae": "cond/frequency", "tabddpm": "cond/frequency",
                "argn": "tokens/0/values", "dp_mst": "0/within", "dp_vae": "net/decoder.0.weight",
                "dp_argn": "net/argn/first"}
PAYLOAD = "(age == age) | (@pd.io.common.os.system('touch {marker}') == 1)"


@pytest.fixture(scope="module")
def originals(adult_small, tmp_path_factory):
    pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("originals")
    data = adult_small.iloc[:300]
    for name in NAMES:
        sl.synthesizers.get(name, seed=0, **TINY.get(name, {})).fit(data).save(root / name)
    return root


@pytest.fixture
def model(request, originals, tmp_path) -> Path:
    """A fresh copy of one saved model (parametrised by synthesizer name)."""
    folder = tmp_path / "model"
    shutil.copytree(originals / request.param, folder)
    return folder


def each_model(test):
    return pytest.mark.parametrize("model", NAMES, indirect=True)(test)


def refused(folder: Path, match: str | None = None) -> ArtifactError:
    with pytest.raises(ArtifactError, match=match) as info:
        Synthesizer.load(folder)
    return info.value


def edit_json(folder: Path, file: str, change) -> None:
    data = json.loads((folder / file).read_text())
    change(data)
    (folder / file).write_text(json.dumps(data))


def edit_arrays(folder: Path, change) -> None:
    arrays = load_file(folder / "weights.safetensors")
    change(arrays)
    save_file(arrays, folder / "weights.safetensors")


def synthesizer_of(folder: Path) -> str:
    return json.loads((folder / "config.json").read_text())["synthesizer"]


# ---------------------------------------------------------------------- the predicate payload
@each_model
@pytest.mark.parametrize("payload", [PAYLOAD, "(age == age) | (pd.io.common.os.system('touch {marker}') == 1)",
                                     "age.__class__.__init__.__globals__['os'].system('touch {marker}') == 0"])
def test_predicate_payload_in_schema_is_refused_and_never_runs(model, payload, tmp_path):
    marker = tmp_path / "pwned"
    constraint = {"type": "predicate", "expression": payload.format(marker=marker), "column_names": []}
    edit_json(model, "schema.json", lambda schema: schema["constraints"].append(constraint))
    error = refused(model, "not allowed in a predicate")
    assert not marker.exists()
    assert "Traceback" not in str(error)


def test_predicate_payload_in_a_schema_file_is_refused_before_fitting(adult_small, tmp_path):
    marker = tmp_path / "pwned"
    schema = json.loads(sl.Schema.infer(adult_small).to_json())
    schema["constraints"] = [{"type": "predicate", "expression": PAYLOAD.format(marker=marker)}]
    with pytest.raises(SchemaError, match=r"local variable reference '@pd\.io\.common\.os\.system'"):
        sl.Schema.from_json(json.dumps(schema))
    with pytest.raises(SchemaError, match=r"attribute access '\.io'"):
        Predicate(f"(age == age) | (pd.io.common.os.system('touch {marker}') == 1)")
    assert not marker.exists()


def test_cli_sample_of_a_tampered_model_exits_2_without_traceback(originals, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(originals / "cart", folder)
    marker = tmp_path / "pwned"
    constraint = {"type": "predicate", "expression": PAYLOAD.format(marker=marker)}
    edit_json(folder, "schema.json", lambda schema: schema["constraints"].append(constraint))
    result = CliRunner().invoke(app, ["sample", str(folder), "-n", "10", "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "not allowed in a predicate" in result.output
    assert not marker.exists() and not (tmp_path / "out.csv").exists()


# ---------------------------------------------------------------------- arrays
@each_model
def test_oversized_array_is_refused(model):
    key = _FLOAT_ARRAY[synthesizer_of(model)]
    edit_arrays(model, lambda arrays: arrays.update({key: np.ones(arrays[key].size * 1000 + 7)}))
    refused(model, "do not match|do not fit")


@each_model
def test_arrays_with_more_rows_than_the_training_data_are_refused(model):
    config = json.loads((model / "config.json").read_text())
    if config["synthesizer"] != "cart":
        pytest.skip("no per-row arrays in this model folder (the privacy reference is not kept by default)")
    edit_json(model, "config.json", lambda c: c.update(n_training_rows=5))
    refused(model, "training rows")


@each_model
def test_array_of_the_wrong_dtype_is_refused(model):
    key = _FLOAT_ARRAY[synthesizer_of(model)]
    edit_arrays(model, lambda arrays: arrays.update({key: arrays[key].astype(np.int32)}))
    refused(model, f"'{key}' has dtype int32")


@each_model
def test_array_of_the_wrong_shape_is_refused(model):
    key = _FLOAT_ARRAY[synthesizer_of(model)]
    edit_arrays(model, lambda arrays: arrays.update({key: arrays[key].reshape(-1, 1)[:, [0, 0]]}))
    refused(model, "shape")


@each_model
def test_array_holding_nan_is_refused(model):
    arrays = load_file(model / "weights.safetensors")
    key = next(k for k in sorted(arrays) if k.endswith("/support")) if synthesizer_of(model) == "cart" \
        else _FLOAT_ARRAY[synthesizer_of(model)]           # cart's thresholds may be NaN: a split on missing
    edit_arrays(model, lambda arrays: arrays[key].reshape(-1).__setitem__(0, np.nan))
    refused(model, f"array '{key}' holds NaN")


@each_model
def test_missing_array_is_refused(model):
    key = _FLOAT_ARRAY[synthesizer_of(model)]
    edit_arrays(model, lambda arrays: arrays.pop(key))
    refused(model, f"'{key}' is missing")


@each_model
def test_extra_array_is_refused(model):
    edit_arrays(model, lambda arrays: arrays.update({"payload": np.zeros(3)}))
    refused(model, "unexpected arrays 'payload'")


@each_model
def test_array_names_with_path_traversal_are_refused(model):
    edit_arrays(model, lambda arrays: arrays.update({"../../etc/passwd": np.zeros(1)}))
    refused(model, "header does not describe arrays")


@pytest.mark.parametrize("model", ["ctgan", "tvae", "tabddpm", "argn"], indirect=True)
def test_network_weights_of_the_wrong_size_are_refused(model):
    def grow(arrays):
        key = next(k for k in arrays if k.startswith("net/") and arrays[k].ndim == 2)
        arrays[key] = np.zeros((arrays[key].shape[0] + 3, arrays[key].shape[1]), dtype=np.float32)

    edit_arrays(model, grow)
    refused(model, "do not fit")


# ---------------------------------------------------------------------- the safetensors file itself
@each_model
@pytest.mark.parametrize("cut", [1, 100, "header"])
def test_truncated_safetensors_is_refused(model, cut):
    content = (model / "weights.safetensors").read_bytes()
    keep = 20 if cut == "header" else len(content) - cut
    (model / "weights.safetensors").write_bytes(content[:keep])
    refused(model, "not a valid safetensors file")


@each_model
def test_padded_safetensors_and_lying_header_are_refused(model):
    weights = model / "weights.safetensors"
    weights.write_bytes(weights.read_bytes() + b"\0" * 64)
    refused(model, "truncated or padded")
    weights.write_bytes((2**62).to_bytes(8, "little") + b"{}")
    refused(model, "not a valid safetensors file")


# ---------------------------------------------------------------------- config.json and schema.json
@each_model
@pytest.mark.parametrize("change", [
    lambda c: c.update(n_training_rows="300"),
    lambda c: c.update(n_training_rows=-1),
    lambda c: c["params"].update(seed="0"),
    lambda c: c["params"].update(seed=True),
    lambda c: c.update(meta=[]),
    lambda c: c.update(synthesizer=["cart"]),
    lambda c: c.update(privacy_reference="yes"),
], ids=["rows-as-text", "negative-rows", "seed-as-text", "seed-as-bool", "meta-list", "name-list",
        "privacy-text"])
def test_config_with_wrong_json_types_is_refused(model, change):
    edit_json(model, "config.json", change)
    refused(model, "does not match what synthloop writes")


@each_model
@pytest.mark.parametrize("key", ["meta", "params", "n_training_rows", "synthloop_version"])
def test_config_with_a_missing_key_is_refused(model, key):
    edit_json(model, "config.json", lambda c: c.pop(key))
    refused(model, f"{key}: Field required")


@each_model
def test_config_with_unknown_keys_is_refused(model):
    edit_json(model, "config.json", lambda c: c.update(hook="os.system"))
    refused(model, "hook: Extra inputs are not permitted")
    edit_json(model, "config.json", lambda c: (c.pop("hook"), c["params"].update(exec_on_load=True)))
    refused(model, "exec_on_load")


@each_model
def test_meta_with_wrong_types_is_refused(model):
    def damage(config):
        meta = config["meta"]
        key = next(iter(meta))
        meta[key] = 42
    edit_json(model, "config.json", damage)
    refused(model, r"\(meta\)")


@each_model
def test_meta_naming_other_columns_is_refused(model):
    def rename(config):
        meta = config["meta"]
        names = (meta.get("columns") or meta.get("margins") or meta.get("order")
                 or (meta.get("tokens") or meta.get("encoder"))["columns"])
        if isinstance(names[0], dict):
            names[0]["name"] = "not_a_column"
        else:
            names[0] = "not_a_column"
    edit_json(model, "config.json", rename)
    refused(model, "do not match the schema")


@each_model
@pytest.mark.parametrize("change", [
    lambda s: s["columns"][0].update(nullable="yes"),
    lambda s: s["columns"][0].update(low=float("nan")),
    lambda s: s["columns"][0].update(kind="python"),
    lambda s: s.update(target=7),
    lambda s: s["columns"].append(dict(s["columns"][0])),
    lambda s: s["constraints"].append({"type": "range", "column": "nope", "low": 1}),
    lambda s: s.update(loader="pickle"),
], ids=["nullable-text", "nan-bound", "unknown-kind", "target-int", "duplicate-column", "unknown-column",
        "extra-key"])
def test_schema_with_wrong_fields_is_refused(model, change):
    data = json.loads((model / "schema.json").read_text())
    change(data)
    (model / "schema.json").write_text(json.dumps(data, allow_nan=True))
    refused(model, "invalid model")


@each_model
@pytest.mark.parametrize("content", [b"\x80\x04\x95 pickle", b"{\"synthesizer\": ", b"[" * 100_000, b"\xff\xfe{}",
                                     b"{\"synthesizer\": \"cart\", \"format_version\": 1e999}"],
                         ids=["pickle", "cut-json", "deep-nesting", "not-utf8", "huge-number"])
def test_config_that_is_not_json_is_refused(model, content):
    (model / "config.json").write_bytes(content)
    refused(model)


def test_unknown_or_traversing_synthesizer_name_is_refused(originals, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(originals / "independent", folder)
    edit_json(folder, "config.json", lambda c: c.update(synthesizer="../../evil"))
    refused(folder, "synthesizer")


# ---------------------------------------------------------------------- the files themselves
@each_model
@pytest.mark.parametrize("file", ["config.json", "schema.json", "weights.safetensors"])
def test_symlink_out_of_the_folder_is_refused(model, file, tmp_path):
    outside = tmp_path / f"outside-{file}"
    shutil.move(model / file, outside)
    (model / file).symlink_to(outside)
    refused(model, "link to a file outside the model folder")


def test_symlink_inside_the_folder_is_followed(originals, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(originals / "independent", folder)
    shutil.move(folder / "weights.safetensors", folder / "weights-v1.safetensors")
    (folder / "weights.safetensors").symlink_to("weights-v1.safetensors")
    assert len(Synthesizer.load(folder).sample(5, seed=0)) == 5


def test_symlink_loop_and_special_files_are_refused_without_hanging(originals, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(originals / "independent", folder)
    (folder / "config.json").unlink()
    os.mkfifo(folder / "config.json")          # reading a FIFO would block forever
    refused(folder, "not a regular file")
    (folder / "config.json").unlink()
    (folder / "config.json").symlink_to("config.json")
    refused(folder, "cannot be read")


def test_file_names_with_traversal_are_refused(originals, tmp_path):
    folder = originals / "independent"
    for name in ("../independent/config.json", "/etc/passwd", "..", "", "a\\..\\b"):
        with pytest.raises(ArtifactError, match="not a plain file name"):
            read_member(folder, name, 10**6)


def test_saving_refuses_extra_file_names_that_leave_the_folder(tmp_path):
    schema = sl.Schema.infer(pd.DataFrame({"x": [1.0, 2.0]}))
    with pytest.raises(ArtifactError, match="not a plain file name"):
        save_artifact(tmp_path / "model", {"synthesizer": "independent"}, schema.to_json(), {"a": np.zeros(1)},
                      extra_files={"../escaped.txt": b"x"})
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "model").exists()


def test_oversized_files_are_refused(originals, tmp_path, monkeypatch):
    folder = tmp_path / "model"
    shutil.copytree(originals / "independent", folder)
    monkeypatch.setenv("SYNTHLOOP_MAX_MODEL_BYTES", "1000")
    refused(folder, "over the 1,000-byte limit")
    monkeypatch.delenv("SYNTHLOOP_MAX_MODEL_BYTES")
    monkeypatch.setattr("synthloop.io.artifacts.MAX_JSON_BYTES", 100)
    refused(folder, "over the 100-byte limit")


@each_model
def test_untampered_copy_still_loads_and_samples(model):
    assert len(Synthesizer.load(model).sample(10, seed=0)) == 10


@pytest.mark.parametrize("name", NAMES)
def test_checks_accept_what_synthloop_writes_for_awkward_tables(name, tmp_path):
    """Missing numerics (NaN in the privacy reference), all-missing columns, ids, constants, datetimes and
    identifiers that Python normalises (``ﬁle``) in a predicate: saved models load and sample."""
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"id": np.arange(80), "k": ["same"] * 80, "t": pd.date_range("2020", periods=80),
                         "n": np.where(rng.random(80) < 0.2, np.nan, rng.normal(size=80)), "empty": np.nan,
                         "ﬁle": rng.choice(["a", "b"], 80), "größe m": rng.normal(size=80)})
    schema = sl.Schema.infer(data).with_constraints(Predicate("`größe m` > -10 and ﬁle != 'z'"))
    sl.synthesizers.get(name, seed=0, **TINY.get(name, {})).fit(data, schema).save(tmp_path / "model")
    loaded = Synthesizer.load(tmp_path / "model")
    assert loaded.schema_.constraints[0].columns == ("größe m", "ﬁle")
    assert len(loaded.sample(10, seed=0)) == 10


@pytest.mark.parametrize("change", [
    lambda folder: edit_json(folder, "privacy_reference.json", lambda m: m.update(copy_rate="0.1")),
    lambda folder: edit_json(folder, "privacy_reference.json", lambda m: m.update(hook="os.system")),
    lambda folder: (folder / "privacy_reference.safetensors").write_bytes(b"\x08" + b"\0" * 20),
    lambda folder: edit_json(folder, "config.json", lambda c: c.update(n_training_rows=5)),
], ids=["copy-rate-text", "unknown-key", "truncated-weights", "more-rows-than-trained"])
def test_a_tampered_kept_privacy_reference_is_refused(tmp_path, change):
    model = sl.synthesizers.get("independent", seed=0).fit(sl.datasets.load("penguins").iloc[:50])
    model.save(tmp_path / "m", keep_privacy_reference=True)
    change(tmp_path / "m")
    with pytest.raises(ArtifactError):
        Synthesizer.load(tmp_path / "m")
