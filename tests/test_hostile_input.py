"""Awkward tables: look-alike column names, infinities, spreadsheet formulas and terminal escape codes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import synthloop as sl
from synthloop.cli import app
from synthloop.errors import DataError, SchemaError
from synthloop.io import read_table, write_table

runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def test_a_column_named_like_a_pandas_duplicate_is_not_a_duplicate(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,a.1,b.2\n1,2,3\n4,5,6\n")
    assert list(read_table(path).columns) == ["a", "a.1", "b.2"]
    path.write_text("a,b,a\n1,2,3\n")
    with pytest.raises(DataError, match=r"duplicate column names \['a'\]"):
        read_table(path)


def test_infinities_are_refused_with_the_option_named_or_read_as_missing(tmp_path):
    data = pd.DataFrame({"x": [1.0, np.inf, 3.0, -np.inf, 5.0, 6.0], "g": list("aabbcc")})
    for call in (lambda: sl.Schema.infer(data), lambda: sl.synthesizers.get("independent").fit(data)):
        with pytest.raises(SchemaError, match="inf='missing'"):
            call()
    schema = sl.Schema.infer(data, inf="missing")
    assert schema["x"].nullable and schema["x"].high == 6.0
    out = sl.synthesizers.get("independent", seed=0).fit(data, inf="missing").sample(50, privacy="off")
    assert np.isfinite(out["x"].dropna()).all()
    data.to_csv(tmp_path / "d.csv", index=False)
    refused = invoke("fit", tmp_path / "d.csv", "-m", "independent", "-o", tmp_path / "m")
    assert refused.exit_code == 2 and "--inf missing" in refused.output
    assert invoke("fit", tmp_path / "d.csv", "-m", "independent", "-o", tmp_path / "m", "--inf", "missing").exit_code == 0
    assert invoke("schema", "infer", tmp_path / "d.csv", "--inf", "missing").exit_code == 0
    assert invoke("fit", tmp_path / "d.csv", "-m", "independent", "-o", tmp_path / "m2", "--inf", "nan").exit_code == 2


def test_csv_output_neutralises_formula_cells_unless_asked(tmp_path):
    data = pd.DataFrame({"=HYPERLINK(1)": ["=1+2", "+cmd|' /C calc'!A0", "@SUM(A1)", "-2+3+cmd|x", "-5", "plain"],
                         "n": [-1, 2, 3, 4, 5, 6]})
    write_table(data, tmp_path / "safe.csv")
    text = (tmp_path / "safe.csv").read_text()
    lines = text.splitlines()
    assert lines[0] == "'=HYPERLINK(1),n"
    assert [line.split(",")[0] for line in lines[1:]] == ["'=1+2", "'+cmd|' /C calc'!A0", "'@SUM(A1)",
                                                          "'-2+3+cmd|x", "-5", "plain"]
    assert "-1" in lines[1]                                              # numbers are not touched
    write_table(data, tmp_path / "raw.csv", keep_formulas=True)
    assert pd.read_csv(tmp_path / "raw.csv").equals(data)
    write_table(data, tmp_path / "t.parquet")
    assert pd.read_parquet(tmp_path / "t.parquet").equals(data)          # not a spreadsheet format


def test_cli_sample_neutralises_formulas_by_default(tmp_path):
    data = pd.DataFrame({"cell": ["=1+2", "@x", "ok"] * 20, "v": np.arange(60) % 4})
    data.to_csv(tmp_path / "d.csv", index=False)
    assert invoke("fit", tmp_path / "d.csv", "-m", "independent", "-o", tmp_path / "m").exit_code == 0
    assert invoke("sample", tmp_path / "m", "-n", 100, "-o", tmp_path / "s.csv", "--privacy", "off").exit_code == 0
    assert set(pd.read_csv(tmp_path / "s.csv")["cell"]) <= {"'=1+2", "'@x", "ok"}
    assert invoke("sample", tmp_path / "m", "-n", 100, "-o", tmp_path / "k.csv", "--privacy", "off",
                  "--keep-formulas").exit_code == 0
    assert set(pd.read_csv(tmp_path / "k.csv")["cell"]) <= {"=1+2", "@x", "ok"}


def test_terminal_output_shows_escape_codes_and_markup_instead_of_running_them(tmp_path):
    evil = "\x1b[2J\x1b]0;owned\x07[bold red]x[/bold red]"
    data = pd.DataFrame({evil: ["a", "b"] * 15, "v\x1b[31m": np.arange(30) % 2 * 1.5, "k": [evil] * 30})
    data.to_csv(tmp_path / "d.csv", index=False)
    result = runner.invoke(app, ["schema", "infer", str(tmp_path / "d.csv"), "-o", str(tmp_path / "s.json")],
                           env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\\x1b[2J" in result.output and "[bold red]x[/bold red]" in result.output
    result = invoke("fit", tmp_path / "d.csv", "-m", "independent", "-o", tmp_path / "m")   # notes name the columns
    assert result.exit_code == 0 and "\x1b" not in result.output and "\\x1b" in result.output
    bad = invoke("fit", tmp_path / "d.csv", "-m", "independent", "-o", tmp_path / "m2", "-p", "seeed\x1b[31m=1")
    assert bad.exit_code == 2 and "\x1b" not in bad.output and "\\x1b[31m" in bad.output


def test_paths_with_markup_are_printed_literally(tmp_path):
    data = pd.DataFrame({"g": ["a", "b"] * 10, "v": np.arange(20) % 3})
    data.to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "[red]m"
    result = runner.invoke(app, ["fit", str(tmp_path / "d.csv"), "-m", "independent", "-o", str(out)], env={"COLUMNS": "400"})
    assert result.exit_code == 0 and "[red]m" in result.output, result.output
    result = runner.invoke(app, ["sample", str(out), "-n", "5", "-o", str(tmp_path / "[b]s.csv"), "--where", "g=a"],
                           env={"COLUMNS": "400"})
    assert result.exit_code == 0 and "[b]s.csv" in result.output, result.output


@pytest.mark.parametrize("name", ["ctgan", "tvae", "tabddpm"])
def test_neural_models_refuse_a_table_with_nothing_to_learn(name):
    pytest.importorskip("torch")
    data = pd.DataFrame({"k": [7] * 10, "id": [f"row-{i}" for i in range(10)]})
    with pytest.raises(DataError, match="nothing to learn"):        # was a raw RuntimeError from torch
        sl.synthesizers.get(name, epochs=1).fit(data, sl.Schema.infer(data, kinds={"id": "id"}))
