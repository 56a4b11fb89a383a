"""``import synthloop`` and ``synthloop --help`` stay light: torch is imported only by the models that need it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import synthloop as sl

SRC = str(Path(sl.__file__).resolve().parents[1])

# Runs in a fresh interpreter, so modules imported by other tests in this process do not count.
_PROBE = """
import sys
import synthloop
from typer.testing import CliRunner
from synthloop.cli import app

after_import = sorted(m for m in sys.modules if m.split(".")[0] in {"torch", "matplotlib", "optuna", "ray"})
runner = CliRunner()
for args in (["--help"], ["fit", "--help"], ["sample", "--help"], ["schema", "infer", "--help"], ["demo", "--help"]):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (args, result.output)
after_help = sorted(m for m in sys.modules if m.split(".")[0] in {"torch", "matplotlib", "optuna", "ray"})
print(repr((after_import, after_help)))
"""


def _probe() -> tuple[list[str], list[str]]:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return eval(done.stdout.strip().splitlines()[-1])


def test_import_and_help_do_not_import_torch_or_other_heavy_extras():
    after_import, after_help = _probe()
    assert after_import == [], f"import synthloop pulled in {after_import}"
    assert after_help == [], f"synthloop --help pulled in {after_help}"


def test_console_script_help_runs(tmp_path):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-m", "synthloop", "--help"], capture_output=True, text=True, env=env,
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for command in ("schema", "fit", "sample", "models", "datasets", "demo"):
        assert command in done.stdout


def test_import_does_not_open_the_lineage_store_machinery():
    """`import synthloop` needs only the lineage fingerprint (the report's holdout overlap check): sqlite3 and
    the store load when a store is used, one of the few imports the seams work added (issue 12: no slower)."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    probe = ("import sys, synthloop; print(sorted(m for m in sys.modules if m.startswith(('sqlite3', "
             "'synthloop.lineage.store', 'synthloop.lineage.record'))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    from synthloop.lineage import LineageStore, fingerprint

    assert callable(fingerprint) and LineageStore.__module__ == "synthloop.lineage.store"
