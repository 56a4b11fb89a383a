import json

import numpy as np
import pandas as pd
import pytest

import synthloop as sl
from synthloop.errors import ConfigError, DataError
from synthloop.lab import run_lab
from synthloop.lab.measures import MEASURES
from synthloop.lineage import LineageStore
from synthloop.loop import Accumulate, DensityRatioVerifier, Filtered, MixReal, NaiveFilter, Replace
from synthloop.metrics import METRICS
from synthloop.synthesizers import get

CHEAP = ["tail_share", "variance_ratio", "category_coverage", "rare_category_survival"]


@pytest.fixture(scope="module")
def adult_pair():
    real = sl.datasets.load("adult", split="train").sample(400, random_state=1).reset_index(drop=True)
    holdout = sl.datasets.load("adult", split="test").sample(600, random_state=1).reset_index(drop=True)
    return real, holdout, sl.Schema.infer(real, target="income")


# ---------------------------------------------------------------- policies
def _frames(n_real=100, n_synthetic=80):
    real = pd.DataFrame({"x": np.arange(n_real, dtype=float), "source": "real"})
    history = [pd.DataFrame({"x": np.arange(n_synthetic, dtype=float) + 1000 * g, "source": f"gen{g}"})
               for g in (1, 2)]
    return real, history


def test_replace_and_accumulate_build_their_training_sets():
    real, history = _frames()
    rng = np.random.default_rng(0)
    assert Replace().training_set(real, [], rng) is real
    assert Replace().training_set(real, history, rng) is history[-1]
    accumulated = Accumulate().training_set(real, history, rng)
    assert len(accumulated) == 100 + 2 * 80 and set(accumulated["source"]) == {"real", "gen1", "gen2"}


def test_mix_real_keeps_fraction_fresh_or_preserved():
    real, history = _frames()
    fresh = [MixReal(0.25).training_set(real, history, np.random.default_rng(s)) for s in (0, 1)]
    assert len(fresh[0]) == 80 and (fresh[0]["source"] == "real").sum() == 20
    assert set(fresh[0]["source"]) == {"real", "gen2"}
    assert set(fresh[0].loc[fresh[0]["source"] == "real", "x"]) != set(fresh[1].loc[fresh[1]["source"] == "real", "x"])
    kept = [MixReal(0.25, fresh=False).training_set(real, history, np.random.default_rng(s)) for s in (0, 1)]
    assert set(kept[0].loc[kept[0]["source"] == "real", "x"]) == set(kept[1].loc[kept[1]["source"] == "real", "x"])
    with pytest.raises(ConfigError):
        MixReal(0.0)


def test_naive_filter_throws_the_tails_away():
    rng = np.random.default_rng(0)
    synthetic = pd.DataFrame({"x": rng.standard_normal(1000)})
    kept = NaiveFilter(keep=0.7).training_set(synthetic, [synthetic], rng)
    assert len(kept) == 700 and kept["x"].abs().max() < 1.2 < synthetic["x"].abs().max()


def test_density_ratio_verifier_keeps_rows_that_look_real():
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"x": rng.standard_normal(2000), "c": rng.choice(["a", "b"], 2000)})
    # half the generated rows are realistic, half come from a shifted, collapsed distribution
    synthetic = pd.concat([pd.DataFrame({"x": rng.standard_normal(500), "c": rng.choice(["a", "b"], 500)}),
                           pd.DataFrame({"x": 3 + 0.1 * rng.standard_normal(500), "c": "a"})], ignore_index=True)
    accept = DensityRatioVerifier().fit(real, synthetic, rng).accept_probability(synthetic, 0.5)
    assert accept.mean() == pytest.approx(0.5, abs=0.02)
    assert accept[:500].mean() > 3 * accept[500:].mean()


def test_filtered_policy_returns_a_full_size_verified_set():
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"x": rng.standard_normal(1000)})
    synthetic = pd.DataFrame({"x": 0.5 * rng.standard_normal(800)})  # tails missing
    kept = Filtered(sample_factor=2.0, with_real=False).training_set(real, [synthetic], rng)
    assert 300 <= len(kept) <= 400
    assert kept["x"].std() > synthetic["x"].std()  # the real-anchored verifier restores spread
    guarded = Filtered(sample_factor=2.0).training_set(real, [synthetic], np.random.default_rng(0))
    assert 1300 <= len(guarded) <= 1400 and guarded["x"].iloc[:1000].equals(real["x"])


# ---------------------------------------------------------------- measures
def test_tail_mass_and_variance_ratio_see_collapse(adult_pair):
    real, holdout, schema = adult_pair
    squeezed = real.copy()
    for column in schema.numeric():
        values = squeezed[column.name].astype(float)
        squeezed[column.name] = values.median() + 0.3 * (values - values.median())
    tail_share, variance_ratio = METRICS["tail_share"], METRICS["variance_ratio"]
    assert tail_share(holdout, real, schema).value > 0.005 > tail_share(holdout, squeezed, schema).value
    assert variance_ratio(holdout, squeezed, schema).value < 0.2 < variance_ratio(holdout, real, schema).value


# ---------------------------------------------------------------- run_lab
@pytest.mark.slow
def test_run_lab_measures_every_generation_and_writes_results(adult_pair, tmp_path):
    real, holdout, schema = adult_pair
    result = run_lab(real, get("independent"), [Replace(), Accumulate()], generations=2, holdout=holdout,
                     schema=schema, out_dir=tmp_path / "run", seed=0, n_jobs=1, n_rows=300)
    assert len(result.results) == 2 * 2
    assert set(MEASURES) <= set(result.results.columns) and set(MEASURES) == set(result.reference)
    assert result.results["detection_auc_split"].between(0.0, 1.0).all()
    assert (result.results["privacy"] == "parity").all()
    accumulate = result.results[result.results["policy"] == "accumulate"]
    assert accumulate.loc[accumulate["generation"] == 2, "train_synthetic_share"].tolist() == pytest.approx([300 / 700])
    page = (tmp_path / "run" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(MEASURES)
    assert len(pd.read_csv(tmp_path / "run" / "results.csv")) == 4
    assert json.loads((tmp_path / "run" / "results.json").read_text())["reference"].keys() == set(MEASURES)


@pytest.mark.slow
def test_a_killed_run_resumes_at_the_next_generation(adult_pair, tmp_path):
    real, holdout, schema = adult_pair
    kwargs = dict(holdout=holdout, schema=schema, seed=0, n_jobs=1, n_rows=200, metrics=CHEAP)
    whole = run_lab(real, get("independent"), Replace(), generations=2, out_dir=tmp_path / "whole", **kwargs)
    run_lab(real, get("independent"), Replace(), generations=2, out_dir=tmp_path / "killed", **kwargs)
    chain = tmp_path / "killed" / "chains" / "replace" / "seed-0"
    finished = (chain / "gen-001" / "metrics.json").stat().st_mtime_ns
    # simulate a kill during generation 2: only a half-written temporary folder is left
    (chain / "gen-002").rename(chain / ".gen-002.partial")
    resumed = run_lab(real, get("independent"), Replace(), generations=2, out_dir=tmp_path / "killed", **kwargs)
    assert (chain / "gen-001" / "metrics.json").stat().st_mtime_ns == finished
    assert (chain / "gen-002" / "metrics.json").is_file()
    pd.testing.assert_frame_equal(resumed.results, whole.results)


def test_resume_refuses_a_folder_from_another_experiment(adult_pair, tmp_path):
    real, holdout, schema = adult_pair
    kwargs = dict(holdout=holdout, schema=schema, n_jobs=1, n_rows=100, metrics=CHEAP, out_dir=tmp_path / "run")
    run_lab(real, get("independent"), Replace(), generations=1, **kwargs)
    with pytest.raises(ConfigError, match="different lab run"):
        run_lab(real.head(300), get("independent"), Replace(), generations=1, **kwargs)


def test_lab_records_lineage_of_every_generation(adult_pair, tmp_path):
    real, holdout, schema = adult_pair
    store = LineageStore(tmp_path / "lineage.db")
    result = run_lab(real, get("independent"), [Replace(), Accumulate()], generations=3, holdout=holdout, schema=schema,
                     store=store, seed=0, n_jobs=1, n_rows=150, metrics=CHEAP)
    replace = result.results[result.results["policy"] == "replace"].sort_values("generation")
    assert [store.depth(i) for i in replace["synthetic_id"]] == [1, 2, 3]
    accumulate = result.results[result.results["policy"] == "accumulate"].sort_values("generation")
    last = store.get(accumulate["synthetic_id"].iloc[-1])
    training = store.get(last.parents[0])
    assert training.kind == "mixed" and training.depth == 2
    assert training.synthetic_share == pytest.approx(300 / 700)


def test_bad_lab_input_is_refused(adult_pair, tmp_path):
    real, holdout, _schema = adult_pair
    store_path = tmp_path / "lineage.db"
    with pytest.raises(DataError, match="also appear in the training data"):
        run_lab(real, get("independent"), Replace(), holdout=real.head(100), store=store_path, n_jobs=1)
    assert not store_path.exists()
    with pytest.raises(ConfigError, match="Unknown lab measures"):
        run_lab(real, get("independent"), Replace(), holdout=holdout, metrics=["tails"], n_jobs=1)
    with pytest.raises(ConfigError, match="not a lab policy"):
        run_lab(real, get("independent"), "replace", holdout=holdout, n_jobs=1)
    with pytest.raises(ConfigError, match="share a label"):
        run_lab(real, get("independent"), [Replace(), Replace()], holdout=holdout, n_jobs=1)


@pytest.mark.slow
def test_process_pool_matches_the_serial_run_and_shares_one_store(adult_pair, tmp_path):
    real, holdout, schema = adult_pair
    kwargs = dict(holdout=holdout, schema=schema, seed=[0, 1], n_rows=150, generations=2, metrics=CHEAP)
    serial = run_lab(real, get("independent"), [Replace(), MixReal(0.5)], n_jobs=1, **kwargs)
    store = LineageStore(tmp_path / "lineage.db")
    pooled = run_lab(real, get("independent"), [Replace(), MixReal(0.5)], n_jobs=2, store=store, **kwargs)
    pd.testing.assert_frame_equal(pooled.results.drop(columns="synthetic_id"), serial.results.drop(columns="synthetic_id"))
    assert {r.id for r in store.records()} >= set(pooled.results["synthetic_id"])


@pytest.mark.slow
def test_ray_backend_runs_the_chains(adult_pair):
    ray = pytest.importorskip("ray")
    real, holdout, schema = adult_pair
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        result = run_lab(real, get("independent"), [Replace(), Accumulate()], generations=2, holdout=holdout,
                         schema=schema, seed=0, n_rows=150, metrics=CHEAP, backend="ray")
    finally:
        ray.shutdown()
    serial = run_lab(real, get("independent"), [Replace(), Accumulate()], generations=2, holdout=holdout,
                     schema=schema, seed=0, n_rows=150, metrics=CHEAP, n_jobs=1)
    pd.testing.assert_frame_equal(result.results, serial.results)
