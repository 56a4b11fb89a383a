"""fit_table / sample_table: everything ``synthloop fit`` / ``sample`` do, in one library call each."""

from __future__ import annotations

import contextlib
import dataclasses
import json

import pandas as pd
import pytest

from synthloop.errors import ArtifactError, ConfigError
from synthloop.io.tables import read_metadata
from synthloop.lineage import LineageStore
from synthloop.workflows import FitResult, default_checkpoint, fit_table, sample_table


class Display:
    """A display that records the messages it was entered with."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def __call__(self, message: str):
        self.messages.append(message)
        return contextlib.nullcontext()


def test_fit_then_sample_records_lineage_and_keeps_the_reference_apart(tmp_path, penguins_csv, penguins):
    store_path, out = tmp_path / "lineage.db", tmp_path / "m"
    shown = Display()
    fitted = fit_table(penguins_csv, "independent", out, params={"seed": 0}, lineage=store_path, display=shown)

    assert isinstance(fitted, FitResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fitted.n_rows = 1  # type: ignore[misc]
    assert (fitted.n_rows, fitted.n_columns) == penguins.shape
    assert shown.messages == [f"Fitting independent on {len(penguins):,} rows × {penguins.shape[1]} columns "
                              "of penguins.csv"]
    assert fitted.size_bytes > 0 and fitted.seconds >= 0
    store = LineageStore(store_path)
    assert fitted.training_id in store and (fitted.training_kind, fitted.training_depth) == ("real", 0)
    assert json.loads((out / "lineage.json").read_text())["training_id"] == fitted.training_id
    # The training rows live beside the model, not in it: OUT alone can be shared.
    assert fitted.privacy_reference == tmp_path / "m.privacy" and fitted.privacy_reference.is_dir()
    assert not fitted.privacy_reference_inside and not list(out.glob("privacy_reference.*"))
    assert any("m.privacy" in note for note in fitted.privacy_notes)

    sampled = sample_table(out, 60, tmp_path / "s.csv", seed=1, lineage=store_path)
    assert sampled.n_rows == 60 and len(pd.read_csv(sampled.out)) == 60 and sampled.size_bytes > 0
    assert sampled.privacy.privacy == "parity"          # found the reference at OUT.privacy
    assert sampled.sample_depth == 1 and sampled.sample_id in store
    assert [p.id for p in store.parents(sampled.sample_id)] == [fitted.training_id]
    assert read_metadata(sampled.out)["lineage"]["id"] == sampled.sample_id


def test_a_bad_target_is_refused_before_fitting(tmp_path, penguins_csv):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.txt").write_text("not a model")
    shown = Display()
    with pytest.raises(ArtifactError, match="not a synthloop model folder"):
        fit_table(penguins_csv, "independent", busy, force=True, display=shown)
    (tmp_path / "ref").write_text("a file")
    with pytest.raises(ArtifactError):
        fit_table(penguins_csv, "independent", tmp_path / "m", privacy_reference=tmp_path / "ref", display=shown)
    with pytest.raises(ConfigError, match="epochs"):
        fit_table(penguins_csv, "tvae", tmp_path / "m", params={"epochs": "ten"}, params_as_text=True, display=shown)
    assert shown.messages == [] and not (tmp_path / "m").exists()
    assert (busy / "thesis.txt").read_text() == "not a model"


def test_a_table_in_memory_keeping_the_reference_inside(tmp_path, penguins):
    out = tmp_path / "m"
    fitted = fit_table(penguins, "independent", out, keep_privacy_reference=True)
    assert fitted.privacy_reference is None and fitted.privacy_reference_inside
    assert list(out.glob("privacy_reference.*")) and not (tmp_path / "m.privacy").exists()
    assert fitted.training_kind == "real" and fitted.lineage is None
    sampled = sample_table(out, 20, tmp_path / "s.parquet", conditions={"species": "Gentoo"}, seed=0)
    assert (pd.read_parquet(sampled.out)["species"] == "Gentoo").all()
    assert sampled.conditions == {"species": "Gentoo"} and sampled.privacy.privacy == "parity"


def test_no_reference_samples_off_with_a_note_and_formulas_neutralised(tmp_path):
    data = pd.DataFrame({"cell": ["=1+1", "@SUM(A1)", "plain"] * 40, "x": range(120)})
    out = tmp_path / "m"
    fitted = fit_table(data, "independent", out, params={"seed": 0}, no_privacy_reference=True)
    assert fitted.privacy_reference is None and not fitted.privacy_notes
    safe = sample_table(out, 30, tmp_path / "safe.csv", seed=0)
    assert safe.privacy.privacy == "off" and safe.notes and "privacy reference" in safe.notes[0]
    assert not any(cell.startswith(("=", "@")) for cell in pd.read_csv(safe.out)["cell"])
    raw = sample_table(out, 30, tmp_path / "raw.csv", seed=0, keep_formulas=True)
    assert any(cell.startswith(("=", "@")) for cell in pd.read_csv(raw.out)["cell"])


def test_sample_refuses_a_bad_output_name_before_loading(tmp_path):
    with pytest.raises(Exception, match="format"):
        sample_table(tmp_path / "no-model", 5, tmp_path / "s.xlsx")


def test_neural_checkpoints_beside_the_model_never_inside_its_config(tmp_path, penguins):
    seen = []

    def checkpoint(synthesizer, out):
        seen.append(default_checkpoint(synthesizer, out))
        return seen[-1]

    out = tmp_path / "tvae"
    fit_table(penguins, "tvae", out, params={"epochs": 1, "seed": 0}, checkpoint=checkpoint)
    assert seen == [tmp_path / ".tvae.checkpoint"] and not seen[0].exists()
    config = (out / "config.json").read_text()
    assert "checkpoint" not in config and str(tmp_path) not in config
