import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from synthloop.cli import app
from synthloop.cli._common import run_safely
from synthloop.lab.config import LabConfig
from synthloop.lineage import LineageStore

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "lab_adult.toml"
SRC = str(Path(__file__).resolve().parents[1] / "src")

TINY = """
[data]
dataset = "adult"
holdout_dataset = "adult"
target = "income"
n_real = 200
n_holdout = 300

[synthesizer]
name = "independent"

[[policies]]
name = "replace"

[[policies]]
name = "mix-real"
fraction = 0.5

[run]
generations = 2
seeds = [0]
n_jobs = 1
measures = ["tail_share", "rare_category_survival"]
"""


def cli(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["synthloop", *map(str, args)])
    code = run_safely(app)
    captured = capsys.readouterr()
    return code, " ".join((captured.out + captured.err).split())


def write_config(tmp_path, text=TINY, **run):
    extra = "".join(f'{key} = "{value}"\n' for key, value in run.items())
    path = tmp_path / "lab.toml"
    path.write_text(text + extra)
    return path


def test_the_shipped_example_is_a_valid_config():
    config = LabConfig.load(EXAMPLE)
    assert [p["name"] for p in config.policies] == ["replace", "accumulate", "mix-real", "filtered"]
    assert config.run.generations == 5 and len(config.run.seeds) == 3


@pytest.mark.slow
def test_lab_run_and_resume(tmp_path, monkeypatch, capsys):
    out, store = tmp_path / "run", tmp_path / "lineage.db"
    config = write_config(tmp_path, out_dir=out, lineage=store)
    code, text = cli(monkeypatch, capsys, "lab", "run", config)
    assert code == 0, text
    assert "replace" in text and "mix-real-0.5" in text and "report.html" in text
    assert len(pd.read_csv(out / "results.csv")) == 4
    code, text = cli(monkeypatch, capsys, "lab", "resume", out)
    assert code == 0, text
    synthetic = [r for r in LineageStore(store).records() if r.kind == "synthetic"]
    # generation 1 is the same fit on the same real data for both policies: one content id
    assert len(synthetic) == 3 and sorted(r.depth for r in synthetic) == [1, 2, 2]

    deepest = max(synthetic, key=lambda r: r.depth)
    code, text = cli(monkeypatch, capsys, "lineage", "show", deepest.id[:8], "--store", store)
    assert code == 0 and "kind synthetic" in text and "depth 2" in text and deepest.id in text
    code, text = cli(monkeypatch, capsys, "lineage", "tree", deepest.id, "--store", store)
    assert code == 0 and "depth 2" in text and "depth 0" in text and "real" in text
    code, text = cli(monkeypatch, capsys, "lineage", "audit", "--store", store)
    assert code == 0 and "5 datasets" in text, text  # the lab's fits are experiments, not guarded production fits


@pytest.mark.parametrize(("change", "message"), [
    (('name = "replace"', 'name = "replace-all"'), "unknown policy 'replace-all'"),
    (('name = "independent"', 'name = "indepndent"'), "Did you mean 'independent'"),
    (("n_jobs = 1", "n_jobs = 1\nbogus = 3"), "run.bogus"),
    (('measures = ["tail_share", "rare_category_survival"]', 'measures = ["tails"]'), "Unknown lab measures"),
])
def test_bad_configs_exit_2_with_a_clear_message(tmp_path, monkeypatch, capsys, change, message):
    store = tmp_path / "lineage.db"
    config = write_config(tmp_path, TINY.replace(*change), out_dir=tmp_path / "run", lineage=store)
    code, text = cli(monkeypatch, capsys, "lab", "run", config)
    assert code == 2 and message in text
    assert not store.exists() and not (tmp_path / "run").exists()


def test_a_holdout_overlapping_training_data_exits_2_and_leaves_the_store_alone(tmp_path, monkeypatch, capsys):
    store = tmp_path / "lineage.db"
    text = TINY.replace('holdout_dataset = "adult"', 'holdout_dataset = "adult"\nholdout_split = "train"')
    code, output = cli(monkeypatch, capsys, "lab", "run", write_config(tmp_path, text, out_dir=tmp_path / "r", lineage=store))
    assert code == 2 and "also appear in the training data" in output and not store.exists()


def test_lineage_commands_refuse_bad_input(tmp_path, monkeypatch, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database")
    code, text = cli(monkeypatch, capsys, "lineage", "audit", "--store", notes)
    assert code == 2 and "not a synthloop lineage store" in text and notes.read_text() == "not a database"
    code, text = cli(monkeypatch, capsys, "lineage", "show", "abc", "--store", tmp_path / "none.db")
    assert code == 2 and "No lineage store" in text and not (tmp_path / "none.db").exists()
    store = LineageStore(tmp_path / "lineage.db")
    store.add(pd.DataFrame({"x": [1.0, 2.0]}), kind="real")
    code, text = cli(monkeypatch, capsys, "lineage", "tree", "0123456789abcdef", "--store", store.path)
    assert code == 2 and "No dataset '0123456789abcdef'" in text
    code, text = cli(monkeypatch, capsys, "lab", "resume", tmp_path)
    assert code == 2 and "not a lab run folder" in text


def test_fit_and_sample_record_lineage_and_the_guard_fires(tmp_path, monkeypatch, capsys, penguins):
    from synthloop.lineage import provenance_of

    penguins.to_csv(tmp_path / "real.csv", index=False)
    store = tmp_path / "lineage.db"
    code, text = cli(monkeypatch, capsys, "fit", tmp_path / "real.csv", "-m", "independent", "-o", tmp_path / "m1",
                     "--lineage", store)
    assert code == 0, text
    code, text = cli(monkeypatch, capsys, "sample", tmp_path / "m1", "-n", 200, "-o", tmp_path / "gen1.parquet",
                     "--lineage", store)
    assert code == 0, text
    assert provenance_of(tmp_path / "gen1.parquet")["depth"] == 1
    code, text = cli(monkeypatch, capsys, "fit", tmp_path / "gen1.parquet", "-m", "independent", "-o", tmp_path / "m2",
                     "--lineage", store)
    assert code == 0 and "Warning" in text and "max_synthetic_share=50%" in text and "mix-real" in text
    before = LineageStore(store).events()
    code, text = cli(monkeypatch, capsys, "fit", tmp_path / "gen1.parquet", "-m", "independent", "-o", tmp_path / "m3",
                     "--lineage", store, "--strict")
    assert code == 2 and "strict mode" in text and not (tmp_path / "m3").exists()
    assert LineageStore(store).events() == before
    code, text = cli(monkeypatch, capsys, "lineage", "audit", "--store", store)
    assert code == 1  # a fit was recorded on data beyond the thresholds


def _tiny_example(tmp_path, **run) -> Path:
    """The shipped example with its policies and settings, at a size that runs in seconds."""
    text = EXAMPLE.read_text()
    sizes = {r"n_real = \d+": "n_real = 200", r"n_holdout = \d+": "n_holdout = 300", r"generations = \d+": "generations = 2",
             r"seeds = \[.*\]": "seeds = [0]", r"n_rows = \d+": "n_rows = 150", r"n_jobs = \d+": "n_jobs = 1",
             r'lineage = ".*"': f'lineage = "{tmp_path / "lineage.db"}"', r'out_dir = ".*"': f'out_dir = "{tmp_path / "run"}"'}
    for pattern, value in {**sizes, **run}.items():
        text, count = re.subn(pattern, value, text)
        assert count == 1, pattern
    path = tmp_path / "lab_adult.toml"
    path.write_text(text.replace("[run]", '[run]\nmeasures = ["tail_share", "rare_category_survival"]'))
    return path


@pytest.mark.slow
def test_the_shipped_example_runs_twice_into_one_folder_and_resumes(tmp_path, monkeypatch, capsys):
    config = _tiny_example(tmp_path)
    assert [p["name"] for p in LabConfig.load(config).policies] == ["replace", "accumulate", "mix-real", "filtered"]
    code, text = cli(monkeypatch, capsys, "lab", "run", config)
    assert code == 0, text
    assert "[1/8]" in text and "[8/8]" in text and "generation 2 done" in text  # plain progress lines off a terminal
    assert "sampled with privacy='parity'" in text and "fresh real sample" in text
    first = pd.read_csv(tmp_path / "run" / "results.csv")
    code, text = cli(monkeypatch, capsys, "lab", "run", config)  # the same command again: nothing differs
    assert code == 0, text
    shutil.rmtree(tmp_path / "run" / "chains" / "filtered" / "seed-0" / "gen-002")
    code, text = cli(monkeypatch, capsys, "lab", "resume", tmp_path / "run")
    assert code == 0, text
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "run" / "results.csv"), first)
    page = (tmp_path / "run" / "report.html").read_text()
    assert 'id="final"' in page and 'privacy="parity"' in page and page.count("data:image/png;base64,") == 2


@pytest.mark.slow
def test_sigterm_stops_the_lab_and_its_workers(tmp_path):
    config = write_config(tmp_path, TINY.replace("generations = 2", "generations = 400").replace("n_jobs = 1", "n_jobs = 2")
                          .replace('seeds = [0]', 'seeds = [0, 1]'), out_dir=tmp_path / "run")
    process = subprocess.Popen([sys.executable, "-m", "synthloop", "lab", "run", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": SRC})

    def generations() -> set[Path]:
        return set((tmp_path / "run").glob("chains/*/seed-*/gen-*"))

    deadline = time.monotonic() + 120
    while len(generations()) < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert len(generations()) >= 2, process.stderr.read().decode()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) != 0
    stopped = generations()
    time.sleep(4)  # orphaned workers would go on writing a generation every fraction of a second
    assert generations() == stopped
    assert len(stopped) < 4 * 400
