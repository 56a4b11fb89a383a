"""Samples in Parquet partitions (exact rows, seeded per partition, resumable) and evaluate over a folder (issue 20)."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import synthloop as sl
from synthloop.errors import ArtifactError, ConfigError
from synthloop.partitions import (
    MANIFEST,
    evaluate_partitions,
    partition_files,
    partition_sizes,
    sample_partitions,
    stream_counts,
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    real = sl.datasets.load("penguins")
    folder = tmp_path_factory.mktemp("model") / "copula"
    model = sl.synthesizers.get("gaussian_copula", seed=0).fit(real)
    model.save(folder)
    model.save_privacy_reference(folder.with_name("copula.privacy"))
    return folder


def _read(folder) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(f) for f in partition_files(folder)], ignore_index=True)


def test_partition_sizes_add_up_exactly():
    assert partition_sizes(2500, 1000) == [1000, 1000, 500]
    assert partition_sizes(2000, 1000) == [1000, 1000] and partition_sizes(0, 10) == []
    with pytest.raises(ConfigError):
        partition_sizes(10, 0)


def test_partitions_hold_exactly_n_rows_and_do_not_depend_on_the_worker_count(model_dir, tmp_path):
    one = sample_partitions(model_dir, 2500, tmp_path / "one", partition_rows=1000, chunk_rows=400, seed=3, n_jobs=1)
    two = sample_partitions(model_dir, 2500, tmp_path / "two", partition_rows=1000, chunk_rows=400, seed=3, n_jobs=2)
    assert one.n_partitions == two.n_partitions == 3 and one.written == 3
    assert [len(pd.read_parquet(f)) for f in partition_files(tmp_path / "one")] == [1000, 1000, 500]
    first, second = _read(tmp_path / "one"), _read(tmp_path / "two")
    assert len(first) == 2500
    pd.testing.assert_frame_equal(first, second)
    other = sample_partitions(model_dir, 2500, tmp_path / "other", partition_rows=1000, chunk_rows=400, seed=4, n_jobs=2)
    assert other.n_rows == 2500 and not _read(tmp_path / "other").equals(first)
    # partitions differ from each other (their own seeds), not one stream repeated
    parts = [pd.read_parquet(f) for f in partition_files(tmp_path / "one")]
    assert not parts[0].reset_index(drop=True).equals(parts[1].reset_index(drop=True))
    assert one.peak_rss_mb > 0


def test_an_interrupted_sample_resumes_and_another_request_is_refused(model_dir, tmp_path):
    out = tmp_path / "parts"
    sample_partitions(model_dir, 1500, out, partition_rows=500, seed=1, n_jobs=2)
    before = _read(out)
    (out / "part-00001.parquet").unlink()                 # as if killed before that partition finished
    again = sample_partitions(model_dir, 1500, out, partition_rows=500, seed=1, n_jobs=2)
    assert again.written == 1
    pd.testing.assert_frame_equal(_read(out), before)
    with pytest.raises(ConfigError, match="seed"):
        sample_partitions(model_dir, 1500, out, partition_rows=500, seed=2)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ArtifactError, match="not a partition folder"):
        sample_partitions(model_dir, 10, tmp_path / "busy")
    assert json.loads((out / MANIFEST).read_text())["n_rows"] == 1500


def test_streamed_counts_are_exact_over_every_row(model_dir, tmp_path):
    real = sl.datasets.load("penguins")
    out = tmp_path / "parts"
    sample_partitions(model_dir, 1200, out, partition_rows=500, seed=0, n_jobs=1)
    schema = sl.Schema.infer(real)
    sample, counts = stream_counts(out, real, schema, sample_rows=300, seed=5, batch_rows=128)
    whole = _read(out)
    assert counts["rows"] == 1200 and counts["partitions"] == 3 and len(sample) == 300
    assert counts["columns"]["island"]["labels"] == whole["island"].value_counts().to_dict()
    expected_copies = int(sl.metrics.get_metric("exact_copy_rate")(real, whole, schema).value * len(whole) + 0.5)
    assert counts["copies"] == expected_copies
    # the sample is drawn from the rows (every sampled row occurs in the folder), seeded
    again, _ = stream_counts(out, real, schema, sample_rows=300, seed=5, batch_rows=500)
    pd.testing.assert_frame_equal(sample, again)
    assert set(map(tuple, sample.astype(str).to_numpy())) <= set(map(tuple, whole.astype(str).to_numpy()))
    report = evaluate_partitions(real, out, schema, sample_rows=300, metrics="fast")
    assert report.meta["streamed"]["rows"] == 1200 and np.isfinite(report.value("tv_complement"))


def test_cli_samples_a_folder_and_evaluates_it(model_dir, penguins_csv, tmp_path):
    from synthloop.cli import app

    runner = CliRunner()
    out = tmp_path / "parts"
    done = runner.invoke(app, ["sample", str(model_dir), "-n", "1100", "-o", str(out), "--partition-rows", "500",
                               "-j", "2", "--seed", "7"])
    assert done.exit_code == 0, done.output
    assert "1,100 rows in 3 partitions" in done.output and len(_read(out)) == 1100
    scored = runner.invoke(app, ["evaluate", str(penguins_csv), str(out), "--metrics", "fast", "--json",
                                 str(tmp_path / "r.json")])
    assert scored.exit_code == 0, scored.output
    assert json.loads((tmp_path / "r.json").read_text())["meta"]["streamed"]["rows"] == 1100
    bad = runner.invoke(app, ["sample", str(model_dir), "-n", "10", "-o", str(out), "--backend", "spark"])
    assert bad.exit_code == 2 and "Unknown backend" in bad.output


@pytest.mark.slow
def test_ray_writes_the_same_partitions_as_the_local_pool(model_dir, tmp_path):
    ray = pytest.importorskip("ray")
    local = sample_partitions(model_dir, 1500, tmp_path / "local", partition_rows=500, seed=9, n_jobs=2)
    try:
        on_ray = sample_partitions(model_dir, 1500, tmp_path / "ray", partition_rows=500, seed=9, backend="ray",
                                   n_jobs=2)
    finally:
        ray.shutdown()
    assert local.n_rows == on_ray.n_rows == 1500 and on_ray.written == 3
    pd.testing.assert_frame_equal(_read(tmp_path / "local"), _read(tmp_path / "ray"))


@pytest.mark.slow
def test_cli_samples_on_ray_and_searches_on_ray(model_dir, penguins_csv, tmp_path):
    ray = pytest.importorskip("ray")
    from synthloop.cli import app

    runner = CliRunner()
    try:
        # the CLI starts a local Ray with --jobs CPUs (a cluster: ray.init(address=...) or RAY_ADDRESS first)
        done = runner.invoke(app, ["sample", str(model_dir), "-n", "1100", "-o", str(tmp_path / "ray"),
                                   "--partition-rows", "500", "-j", "2", "--seed", "7", "--backend", "ray"])
        assert done.exit_code == 0, done.output
        found = runner.invoke(app, ["search", str(penguins_csv), "-o", str(tmp_path / "s"), "--budget", "300s",
                                    "--trials", "1", "--target", "species", "-m", "gaussian_copula",
                                    "--backend", "ray", "--trial-timeout", "200s"])
        assert found.exit_code == 0, found.output
        assert "Chose gaussian_copula" in found.output
    finally:
        ray.shutdown()
    local = runner.invoke(app, ["sample", str(model_dir), "-n", "1100", "-o", str(tmp_path / "local"),
                                "--partition-rows", "500", "-j", "1", "--seed", "7"])
    assert local.exit_code == 0, local.output
    pd.testing.assert_frame_equal(_read(tmp_path / "ray"), _read(tmp_path / "local"))   # the backend changes nothing
    scored = runner.invoke(app, ["evaluate", str(penguins_csv), str(tmp_path / "ray"), "--metrics", "fast", "--json",
                                 str(tmp_path / "r.json")])
    assert scored.exit_code == 0, scored.output
    assert json.loads((tmp_path / "r.json").read_text())["meta"]["streamed"]["rows"] == 1100
