"""What a new user hit (issue 14), each pinned by a test: separators, a holdout that is the training
data, file modes, ``--version``, one name for the lineage option, ids printed by fit and sample,
skipped families said in the terminal, progress as plain lines and full-width output in logs."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import synthloop as sl
from synthloop.cli import app
from synthloop.errors import DataError
from synthloop.io import read_table
from synthloop.io.atomic import atomic_dir, atomic_write

runner = CliRunner()
SRC = str(Path(sl.__file__).resolve().parents[1])


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


# ---------------------------------------------------------------------- separators
@pytest.mark.parametrize("separator", [";", "\t", "|"])
def test_a_csv_separated_otherwise_is_read_by_its_separator(tmp_path, penguins, separator):
    path = tmp_path / "semicolons.csv"
    penguins.to_csv(path, index=False, sep=separator)
    table = read_table(path)
    assert list(table.columns) == list(penguins.columns)
    assert table.shape == penguins.shape


def test_a_comma_csv_with_semicolons_in_cells_stays_comma_separated(tmp_path):
    path = tmp_path / "notes.csv"
    pd.DataFrame({"a": [1, 2, 3], "note": ["x;y", "y;z", "z;w"]}).to_csv(path, index=False)
    assert list(read_table(path).columns) == ["a", "note"]


def test_one_column_with_separators_inside_is_a_clear_error(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a;b;c\n1;x;2.5\n2;y;3.5;4\n3;z\n4;w;1;2;3\n")
    with pytest.raises(DataError, match=r"one column.*semicolons \(';'\)"):
        read_table(path)


def test_fit_on_a_semicolon_csv_learns_every_column(tmp_path, penguins):
    path = tmp_path / "penguins.csv"
    penguins.to_csv(path, index=False, sep=";")
    result = invoke("fit", path, "-m", "independent", "-o", tmp_path / "m")
    assert result.exit_code == 0, result.output
    schema = sl.Schema.from_json((tmp_path / "m" / "schema.json").read_text())
    assert [c.name for c in schema.columns] == list(penguins.columns)


# ---------------------------------------------------------------------- holdout overlap
def test_evaluate_refuses_the_training_data_as_holdout(adult_small):
    real = adult_small.iloc[:600]
    with pytest.raises(DataError, match=r"also appear in the training data"):
        sl.evaluate(real, adult_small.iloc[600:1200], holdout=real.iloc[:300], metrics=["ks_complement"])


def test_evaluate_cli_refuses_an_overlapping_holdout(tmp_path, penguins_csv):
    result = invoke("evaluate", penguins_csv, penguins_csv, "--holdout", penguins_csv, "--metrics", "ks_complement")
    assert result.exit_code == 2, result.output
    assert "appear in the training data" in result.output


# ---------------------------------------------------------------------- file modes
@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_outputs_follow_the_umask(tmp_path, umask_022):
    with atomic_write(tmp_path / "table.csv") as tmp:
        tmp.write_text("a\n1\n")
    with atomic_dir(tmp_path / "folder") as tmp:
        (tmp / "x").write_text("x")
    assert stat.S_IMODE((tmp_path / "table.csv").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "folder").stat().st_mode) == 0o755


def test_a_model_that_keeps_training_rows_is_private_and_fit_says_so(tmp_path, penguins_csv, penguins, umask_022):
    result = invoke("fit", penguins_csv, "-m", "independent", "-o", tmp_path / "m", "--keep-privacy-reference")
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((tmp_path / "m").stat().st_mode) == 0o700
    assert "readable by you only" in result.output
    shared = invoke("fit", penguins_csv, "-m", "independent", "-o", tmp_path / "shared")   # the default keeps no rows
    assert shared.exit_code == 0, shared.output
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o755
    assert "readable by you only" not in shared.output


# ---------------------------------------------------------------------- version, lineage option
def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"synthloop {sl.__version__}"


def test_fit_and_sample_print_the_ids_the_lineage_commands_take(tmp_path, penguins_csv):
    store = tmp_path / "lineage.db"
    fitted = invoke("fit", penguins_csv, "-m", "independent", "-o", tmp_path / "m", "--lineage", store)
    assert fitted.exit_code == 0, fitted.output
    training_id = fitted.output.split("Recorded the training data as ")[1].split()[0]
    sampled = invoke("sample", tmp_path / "m", "-n", 50, "-o", tmp_path / "s.csv", "--lineage", store)
    assert sampled.exit_code == 0, sampled.output
    sample_id = sampled.output.split("Recorded the sample as ")[1].split()[0]
    tree = invoke("lineage", "tree", sample_id, "--lineage", store)
    assert tree.exit_code == 0 and training_id in tree.output, tree.output
    alias = invoke("lineage", "show", training_id, "--store", store)          # the old name still works
    assert alias.exit_code == 0, alias.output
    help_text = invoke("lineage", "audit", "--help").output
    assert "--lineage" in help_text and "--store" not in help_text


def test_an_unknown_id_suggests_a_command_that_works(tmp_path, penguins_csv):
    store = tmp_path / "lineage.db"
    invoke("fit", penguins_csv, "-m", "independent", "-o", tmp_path / "m", "--lineage", store)
    result = invoke("lineage", "show", "ffffffffffffffff", "--lineage", store)
    assert result.exit_code == 2
    suggested = result.output.split("List them with: ")[1].split()
    assert suggested[:4] == ["synthloop", "lineage", "audit", "--lineage"]
    assert invoke(*suggested[1:]).exit_code == 0


def test_metavars_share_one_style():
    import re

    for command in (["fit"], ["sample"], ["evaluate"], ["schema", "infer"], ["lineage", "tree"], ["lineage", "audit"],
                    ["datasets", "export"], ["lab", "run"], ["demo"]):
        text = invoke(*command, "--help").output
        assert not re.search(r"<[a-z]", text), (command, text)             # no "<path>" / "<list[str]>" labels
        assert "PATH" not in text and "TEXT" not in text, (command, text)


# ---------------------------------------------------------------------- terminal output
def test_evaluate_says_which_families_were_skipped_and_takes_a_target(tmp_path, adult_small):
    real, synthetic = tmp_path / "real.csv", tmp_path / "synthetic.csv"
    adult_small.iloc[:500].to_csv(real, index=False)
    adult_small.iloc[500:1000].to_csv(synthetic, index=False)
    plain = invoke("evaluate", real, synthetic, "--metrics", "ks_complement,tstr_auc")
    assert plain.exit_code == 0, plain.output
    assert "Skipped utility: no target column" in plain.output and "--target" in plain.output
    targeted = invoke("evaluate", real, synthetic, "--metrics", "ks_complement,tstr_auc", "--target", "income")
    assert targeted.exit_code == 0, targeted.output
    assert "Skipped utility" not in targeted.output and "tstr_auc" in targeted.output


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": ""}
    return subprocess.run([sys.executable, "-m", "synthloop", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_logs_get_progress_lines_full_width_tables_and_unwrapped_commands(tmp_path, adult_small):
    adult_small.iloc[:500].to_csv(tmp_path / "real.csv", index=False)
    adult_small.iloc[500:1000].to_csv(tmp_path / "synthetic.csv", index=False)
    done = _run("evaluate", "real.csv", "synthetic.csv", "--metrics", "ks_complement,tv_complement", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Scoring [1/3] ks_complement" in done.stderr and "Scoring [2/3] tv_complement" in done.stderr
    header = next(line for line in done.stdout.splitlines() if "metric" in line and "value" in line)
    assert "95% interval" in header and "vs real" in header                # not cut at 80 columns
    fitted = _run("fit", "real.csv", "-m", "independent", "-o", "a-model-folder-with-a-rather-long-name/", cwd=tmp_path)
    assert fitted.returncode == 0, fitted.stderr
    hint = next(line for line in fitted.stdout.splitlines() if line.startswith("Next:"))
    assert hint.endswith("-o synthetic.csv")                              # one line, not wrapped mid-argument
