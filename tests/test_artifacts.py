"""Model files are data, not code: planted pickles are refused and never run; saves are atomic."""

import json
import os
import pickle

import pytest

import synthloop as sl
from synthloop.errors import ArtifactError
from synthloop.io.artifacts import FORMAT_VERSION
from synthloop.synthesizers import Synthesizer


class _Payload:
    """Unpickling this would create the marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


@pytest.fixture
def saved(adult_small, tmp_path):
    model = sl.synthesizers.get("cart", seed=0).fit(adult_small.iloc[:300])
    model.save(tmp_path / "model")
    return model, tmp_path / "model"


def test_planted_pickle_is_refused_and_never_executed(saved, tmp_path):
    _, folder = saved
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Payload(marker))
    (folder / "weights.safetensors").write_bytes(payload)
    (folder / "model.pkl").write_bytes(payload)
    with pytest.raises(ArtifactError, match="refused, not executed"):
        Synthesizer.load(folder)
    assert not marker.exists()


def test_stray_pickle_beside_a_valid_model_is_never_opened(saved, tmp_path):
    model, folder = saved
    marker = tmp_path / "pwned"
    (folder / "model.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    loaded = Synthesizer.load(folder)
    assert not marker.exists()
    assert loaded.sample(20, seed=0, privacy="off").equals(model.sample(20, seed=0, privacy="off"))


def test_config_that_is_not_json_is_refused(saved):
    _, folder = saved
    (folder / "config.json").write_bytes(pickle.dumps({"synthesizer": "cart"}))
    with pytest.raises(ArtifactError, match="not valid JSON"):
        Synthesizer.load(folder)


def test_format_version_is_stored_and_checked(saved):
    _, folder = saved
    config = json.loads((folder / "config.json").read_text())
    assert config["format_version"] == FORMAT_VERSION and config["synthesizer"] == "cart"
    config["format_version"] = FORMAT_VERSION + 1
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match="Upgrade synthloop"):
        Synthesizer.load(folder)


def test_failing_save_leaves_the_old_model_intact(saved, monkeypatch):
    model, folder = saved
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def broken_state():
        raise RuntimeError("disk full")

    monkeypatch.setattr(model, "to_state", broken_state)
    with pytest.raises(RuntimeError, match="disk full"):
        model.save(folder, overwrite=True)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".model")]   # no temp dirs left
    monkeypatch.undo()
    assert Synthesizer.load(folder).sample(10, seed=0, privacy="off").equals(model.sample(10, seed=0, privacy="off"))


def test_failing_write_inside_the_directory_leaves_the_old_model_intact(saved, monkeypatch):
    import synthloop.io.artifacts as artifacts

    model, folder = saved
    before = (folder / "weights.safetensors").read_bytes()

    def failing_save_file(*args, **kwargs):
        raise OSError("write failed half way")

    monkeypatch.setattr("safetensors.numpy.save_file", failing_save_file)
    with pytest.raises(OSError, match="half way"):
        artifacts.save_artifact(folder, {"synthesizer": "cart"}, model.schema_.to_json(), {}, overwrite=True)
    assert (folder / "weights.safetensors").read_bytes() == before


def test_save_refuses_to_replace_a_folder_that_is_not_a_model(tmp_path, penguins):
    folder = tmp_path / "my_data"
    folder.mkdir()
    (folder / "precious.csv").write_text("a,b\n1,2\n")
    model = sl.synthesizers.get("independent", seed=0).fit(penguins)
    with pytest.raises(ArtifactError, match="not a synthloop model"):
        model.save(folder)
    assert (folder / "precious.csv").read_text() == "a,b\n1,2\n"
    model.save(tmp_path / "model")
    model.save(tmp_path / "model", overwrite=True)  # replacing an existing model is fine when asked
