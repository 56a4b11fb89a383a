"""Saving never deletes what it did not write, and bad targets are refused before any fitting."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import synthloop as sl
from synthloop.cli import app
from synthloop.errors import ArtifactError
from synthloop.io.artifacts import model_folder_problem
from synthloop.synthesizers import Synthesizer
from synthloop.synthesizers.independent import IndependentMarginals

runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def assert_bad_input(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and (result.exception is None or isinstance(result.exception, SystemExit))
    for needle in needles:
        assert needle in result.output, result.output


@pytest.fixture
def model(penguins):
    return sl.synthesizers.get("independent", seed=0).fit(penguins)


@pytest.fixture
def no_fitting(monkeypatch):
    """Fitting fails loudly: a test that passes with it proves the target was checked first."""
    def refuse(self, data, rng):
        raise AssertionError("fitted before the output folder was checked")

    monkeypatch.setattr(IndependentMarginals, "_fit", refuse)


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_folder_with_a_config_json_among_other_files_is_never_replaced(tmp_path, model, penguins_csv):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "config.json").write_text('{"synthesizer": "cart", "format_version": 1}')
    (folder / "thesis.tex").write_text("three years of work")
    before = contents(folder)
    with pytest.raises(ArtifactError, match=r"not a synthloop model folder.*thesis\.tex"):
        model.save(folder, overwrite=True)
    assert_bad_input(invoke("fit", penguins_csv, "-m", "independent", "-o", folder, "--force"), "thesis.tex")
    assert contents(folder) == before


def test_a_model_folder_with_an_added_file_is_never_replaced(tmp_path, model):
    folder = model.save(tmp_path / "m")
    (folder / "notes.md").write_text("mine")
    assert model_folder_problem(folder) == "it also holds notes.md"
    with pytest.raises(ArtifactError, match=r"notes\.md"):
        model.save(folder, overwrite=True)
    assert (folder / "notes.md").read_text() == "mine"


def test_replacing_a_model_needs_overwrite_or_force(tmp_path, model, penguins_csv):
    folder = model.save(tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    assert config["format"] == "synthloop-model"
    assert config["files"] == ["config.json", "schema.json", "weights.safetensors"]
    with pytest.raises(ArtifactError, match=r"overwrite=True \(CLI: --force\)"):
        model.save(folder)
    model.save(folder, overwrite=True)
    assert_bad_input(invoke("fit", penguins_csv, "-m", "independent", "-o", folder), "--force")
    result = invoke("fit", penguins_csv, "-m", "independent", "-o", folder, "--force", "--lineage", tmp_path / "l.db")
    assert result.exit_code == 0, result.output
    assert (folder / "lineage.json").is_file()          # the lineage link synthloop adds later is part of a model
    assert invoke("fit", penguins_csv, "-m", "independent", "-o", folder, "--force").exit_code == 0


def test_a_model_saved_before_the_format_marker_can_still_be_replaced(tmp_path, model):
    folder = model.save(tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    del config["format"], config["files"]
    (folder / "config.json").write_text(json.dumps(config))
    assert model_folder_problem(folder) is None
    model.save(folder, overwrite=True)


def test_an_empty_folder_is_a_fine_target(tmp_path, model):
    (tmp_path / "empty").mkdir()
    assert Synthesizer.load(model.save(tmp_path / "empty")).is_fitted


def test_the_current_folder_is_refused_before_fitting(tmp_path, penguins_csv, monkeypatch, model, no_fitting):
    monkeypatch.chdir(tmp_path)
    for target in (".", "..", str(tmp_path)):
        assert_bad_input(invoke("fit", penguins_csv, "-m", "independent", "-o", target), "current folder")
    with pytest.raises(ArtifactError, match="current folder"):
        model.save(".")


def test_a_parent_that_is_a_file_is_found_before_fitting(tmp_path, penguins_csv, model, no_fitting):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    assert_bad_input(invoke("fit", penguins_csv, "-m", "independent", "-o", blocker / "sub" / "m"), "file.txt")
    with pytest.raises(ArtifactError, match=r"file\.txt"):
        model.save(blocker / "m")


def test_missing_parents_are_created(tmp_path, model):
    assert Synthesizer.load(model.save(tmp_path / "a" / "b" / "m")).is_fitted


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_folder_is_found_before_fitting(tmp_path, penguins_csv, no_fitting):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert_bad_input(invoke("fit", penguins_csv, "-m", "independent", "-o", locked / "m"), "locked")
    finally:
        locked.chmod(0o700)


def test_an_unwritable_folder_is_found_before_fitting_even_as_root(tmp_path, penguins_csv, no_fitting, monkeypatch):
    import tempfile

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied", kwargs.get("dir"))

    monkeypatch.setattr(tempfile, "mkdtemp", read_only)   # what a read-only mount answers, whoever asks
    assert_bad_input(invoke("fit", penguins_csv, "-m", "independent", "-o", tmp_path / "m"), "Permission denied")


def test_saving_through_a_symlink_replaces_the_link_and_leaves_nothing_behind(tmp_path, model):
    real = model.save(tmp_path / "real")
    before = contents(real)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    model.save(link, overwrite=True)
    assert link.is_dir() and not link.is_symlink()
    assert contents(real) == before                       # the folder the link pointed to is untouched
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_symlink_to_a_folder_that_is_not_a_model_is_refused(tmp_path, model):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data.csv").write_text("a\n1\n")
    (tmp_path / "link").symlink_to(precious, target_is_directory=True)
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    for target in ("link", "dangling"):
        with pytest.raises(ArtifactError, match="symbolic link"):
            model.save(tmp_path / target, overwrite=True)
    assert (precious / "data.csv").read_text() == "a\n1\n"


def test_sample_checks_its_output_folder_before_sampling(tmp_path, model, monkeypatch):
    folder = model.save(tmp_path / "m")

    def refuse(self, n_rows, conditions, rng):
        raise AssertionError("sampled before the output was checked")

    monkeypatch.setattr(IndependentMarginals, "_sample", refuse)
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    assert_bad_input(invoke("sample", folder, "-n", 5, "-o", blocker / "s.csv"), "file.txt")
    (tmp_path / "dir.csv").mkdir()
    assert_bad_input(invoke("sample", folder, "-n", 5, "-o", tmp_path / "dir.csv"), "is a folder")
