"""The privacy step of Synthesizer.sample: exact n rows, no copies, parity quotas, clear errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import synthloop as sl
from synthloop.errors import ConfigError, PrivacyError
from synthloop.privacy import PARITY_LEVELS, PrivacyReference
from synthloop.schema.constraints import Inequality, Range
from synthloop.synthesizers.base import Synthesizer
from synthloop.tabular.geometry import MixedGeometry, nearest_distances
from synthloop.tabular.hashing import hash_rows


class DonorJitter(Synthesizer):
    """A deliberately leaky test model: resamples training rows and re-draws one column half the time."""

    name = "donor_jitter_test"

    def __init__(self, *, change_rate: float = 0.5, seed: int | None = None):
        self.change_rate = change_rate
        self.seed = seed

    def _fit(self, data: pd.DataFrame, rng: np.random.Generator) -> None:
        self.rows_ = data.reset_index(drop=True)

    def _sample(self, n_rows: int, conditions: pd.DataFrame | None, rng: np.random.Generator) -> pd.DataFrame:
        donors = rng.integers(len(self.rows_), size=n_rows)
        changed_column = np.where(rng.random(n_rows) < self.change_rate, rng.integers(self.rows_.shape[1], size=n_rows), -1)
        out = {}
        for column_index, column in enumerate(self.rows_.columns):
            values = self.rows_[column].to_numpy()
            rows = np.where(changed_column == column_index, rng.integers(len(values), size=n_rows), donors)
            out[column] = values[rows]
        return pd.DataFrame(out)


@pytest.fixture(scope="module")
def repeated() -> pd.DataFrame:
    """Heavy duplication: small integer columns and one label, so random rows often equal training rows."""
    rng = np.random.default_rng(3)
    return pd.DataFrame({"a": rng.integers(0, 3, 400), "b": rng.integers(0, 4, 400),
                         "c": rng.binomial(5, 0.3, 400), "kind": rng.choice(["x", "y"], 400, p=[0.8, 0.2])})


def training_copies(synthetic: pd.DataFrame, train: pd.DataFrame, schema: sl.Schema) -> int:
    """Synthetic rows equal to some training row, compared in the model view."""
    kinds = schema.model_kinds()
    numeric = tuple(n for n, k in kinds.items() if k == "numeric")
    categorical = tuple(n for n, k in kinds.items() if k == "categorical")
    train_hashes = hash_rows(schema.to_model_frame(train), numeric, categorical)
    return int(np.isin(hash_rows(schema.to_model_frame(synthetic), numeric, categorical), train_hashes).sum())


@pytest.mark.parametrize("privacy", ["off", "no-copies", "parity"])
def test_exactly_n_rows_for_every_setting(adult_small, privacy):
    model = DonorJitter(seed=0).fit(adult_small)
    synthetic = model.sample(1500, privacy=privacy, seed=1)
    assert len(synthetic) == 1500
    assert list(synthetic.columns) == list(adult_small.columns)
    assert model.last_sample_info_.n_rows == 1500


def test_no_copies_never_emits_a_training_row_on_repeated_values(repeated):
    model = DonorJitter(seed=0).fit(repeated)
    leaky = model.sample(800, privacy="off", seed=2)
    assert training_copies(leaky, repeated, model.schema_) > 400      # the model does copy
    synthetic = model.sample(800, privacy="no-copies", seed=2)
    assert len(synthetic) == 800
    assert training_copies(synthetic, repeated, model.schema_) == 0
    merged = synthetic.merge(repeated.drop_duplicates(), how="inner", on=list(repeated.columns))
    assert merged.empty
    info = model.last_sample_info_
    assert info.n_copies_returned == 0 and info.n_replaced == info.n_replaced_copies > 0


def test_no_copies_with_independent_marginals_on_repeated_values(repeated):
    model = sl.synthesizers.get("independent", seed=0).fit(repeated)
    synthetic = model.sample(300, privacy="no-copies", seed=0)
    assert len(synthetic) == 300 and training_copies(synthetic, repeated, model.schema_) == 0


def test_parity_keeps_copies_at_the_held_out_rate(adult_small):
    model = DonorJitter(seed=0).fit(adult_small)
    reference = model.privacy_reference_
    assert 0.0 <= reference.copy_rate < 0.02                  # Adult rows rarely repeat (fnlwgt)
    synthetic = model.sample(2000, privacy="parity", seed=3)
    info = model.last_sample_info_
    assert training_copies(synthetic, adult_small, model.schema_) <= np.floor(reference.copy_rate * 2000)
    assert info.n_replaced == info.n_replaced_copies + info.n_replaced_close
    assert info.n_replaced_copies > 500                        # half the rows were verbatim donors
    assert info.n_candidates - info.n_replaced >= 2000
    assert info.max_marginal_shift < 0.1                       # regeneration leaves marginals in place


def test_parity_allows_copies_where_held_out_rows_repeat_training_rows(repeated):
    model = DonorJitter(seed=0).fit(repeated)
    assert model.privacy_reference_.copy_rate > 0.5            # measured by cross-fitting, not assumed
    model.sample(500, privacy="parity", seed=0)
    info = model.last_sample_info_
    assert info.n_copies_returned <= np.floor(model.privacy_reference_.copy_rate * 500)
    assert info.n_copies_returned > 200                        # parity does not distort this table


def test_conditions_and_constraints_hold_after_regeneration(adult_small):
    schema = sl.Schema.infer(adult_small).with_constraints(Range("age", 20, 60), Inequality("education_num", "age"))
    model = DonorJitter(seed=0).fit(adult_small, schema)
    for privacy in ("no-copies", "parity"):
        synthetic = model.sample(400, conditions={"sex": "Female"}, privacy=privacy, seed=4)
        assert len(synthetic) == 400 and (synthetic["sex"] == "Female").all()
        assert synthetic["age"].between(20, 60).all() and (synthetic["education_num"] < synthetic["age"]).all()
        assert model.last_sample_info_.n_replaced > 0
    assert training_copies(synthetic[synthetic.columns], adult_small, model.schema_) <= np.floor(
        model.privacy_reference_.copy_rate * 400)


def test_condition_frame_rows_are_kept_in_order(adult_small):
    model = DonorJitter(seed=0).fit(adult_small)
    wanted = pd.DataFrame({"income": [">50K", "<=50K", ">50K", "<=50K"] * 25})
    synthetic = model.sample(0, conditions=wanted, privacy="no-copies", seed=5)
    assert synthetic["income"].tolist() == wanted["income"].tolist()
    assert training_copies(synthetic, adult_small, model.schema_) == 0


def test_every_possible_row_in_training_raises_privacy_error():
    both = pd.DataFrame({"a": ["x", "x", "y", "y"], "b": ["1", "2", "1", "2"]})
    model = sl.synthesizers.get("independent", seed=0).fit(both)
    with pytest.raises(PrivacyError, match="no-copies"):
        model.sample(10, privacy="no-copies")
    assert len(model.sample(10, privacy="parity", seed=0)) == 10


def test_single_row_table_raises_privacy_error():
    same = pd.DataFrame({"a": ["x", "x"], "b": [1.5, 1.5]})
    model = sl.synthesizers.get("independent", seed=0).fit(same)
    with pytest.raises(PrivacyError, match="cannot be met"):
        model.sample(5, privacy="no-copies")
    assert len(model.sample(5, privacy="off")) == 5


def test_model_that_only_copies_fails_clearly_instead_of_looping(adult_small):
    model = DonorJitter(change_rate=0.0, seed=0).fit(adult_small.head(50))
    with pytest.raises(PrivacyError, match="regenerated because they copied a training row"):
        model.sample(3, privacy="no-copies")


def test_unknown_setting_is_a_config_error(adult_small):
    model = sl.synthesizers.get("independent", seed=0).fit(adult_small)
    with pytest.raises(ConfigError, match="no-copies"):
        model.sample(5, privacy="strict")


def test_off_reports_copies_but_replaces_nothing(repeated):
    model = DonorJitter(seed=0).fit(repeated)
    model.sample(200, privacy="off", seed=0)
    info = model.last_sample_info_
    assert info.privacy == "off" and info.n_replaced == 0 and info.n_copies_returned > 0


def test_reference_is_kept_only_when_asked_and_can_be_left_out(adult_small, tmp_path):
    model = sl.synthesizers.get("independent", seed=0).fit(adult_small)
    model.save(tmp_path / "with", keep_privacy_reference=True)
    assert (tmp_path / "with" / "privacy_reference.safetensors").is_file()
    loaded = Synthesizer.load(tmp_path / "with")
    np.testing.assert_array_equal(loaded.privacy_reference_.hashes, model.privacy_reference_.hashes)
    np.testing.assert_allclose(loaded.privacy_reference_.thresholds, model.privacy_reference_.thresholds)
    assert len(loaded.sample(100, privacy="no-copies", seed=0)) == 100
    model.save(tmp_path / "without")
    assert not (tmp_path / "without" / "privacy_reference.safetensors").exists()
    stripped = Synthesizer.load(tmp_path / "without")
    for privacy in ("parity", "no-copies"):
        with pytest.raises(PrivacyError, match="privacy_reference=DIR"):
            stripped.sample(10, privacy=privacy)
    with pytest.warns(sl.errors.SynthloopWarning, match="privacy='off'"):
        assert len(stripped.sample(10)) == 10
    assert stripped.last_sample_info_.privacy == "off" and stripped.last_sample_info_.n_copies_returned is None
    assert len(stripped.sample(10, privacy="off")) == 10


def test_blocked_search_matches_brute_force():
    rng = np.random.default_rng(0)
    ref_points, query_points = rng.normal(size=(300, 3)).astype("float32"), rng.normal(size=(80, 3)).astype("float32")
    ref_points[rng.random((300, 3)) < 0.1] = np.nan
    ref_codes, query_codes = rng.integers(0, 4, size=(300, 2)), rng.integers(0, 4, size=(80, 2))
    geometry = MixedGeometry(("x", "y", "z"), np.zeros(3), np.ones(3), np.ones(3, dtype=bool), ("a", "b"),
                             (("p", "q"), ("r", "s")))
    exact = nearest_distances(geometry, (query_points, query_codes), (ref_points, ref_codes))
    blocked = nearest_distances(geometry, (query_points, query_codes), (ref_points, ref_codes), cap=0.999)
    close = exact < 1.0
    np.testing.assert_allclose(blocked[close], exact[close], rtol=1e-6, atol=1e-6)
    assert (blocked[~close] >= 1.0).all()


def test_thresholds_come_from_cross_fitted_training_rows(adult_small):
    schema = sl.Schema.infer(adult_small)
    reference = PrivacyReference.build(schema.model_kinds(), schema.to_model_frame(adult_small), np.random.default_rng(0))
    assert reference.n_calibration == 2000
    assert reference.thresholds[0] > 0 and np.all(np.diff(reference.thresholds) >= 0)
    np.testing.assert_allclose(reference.band_rates, PARITY_LEVELS, atol=0.02)   # ties at 0 (copies) round up


def test_cli_sample_privacy_option(tmp_path, repeated):
    from typer.testing import CliRunner

    from synthloop.cli import app

    data, model_dir, out = tmp_path / "data.csv", tmp_path / "model", tmp_path / "out.csv"
    repeated.to_csv(data, index=False)
    runner = CliRunner()
    fitted = runner.invoke(app, ["fit", str(data), "-m", "independent", "-o", str(model_dir), "--keep-privacy-reference"])
    assert fitted.exit_code == 0 and "privacy reference" in fitted.output
    result = runner.invoke(app, ["sample", str(model_dir), "-n", "300", "-o", str(out), "--privacy", "no-copies"])
    assert result.exit_code == 0, result.output
    assert "Privacy no-copies" in result.output and "0 copies returned" in result.output
    synthetic = pd.read_csv(out)
    assert len(synthetic) == 300 and synthetic.merge(repeated.drop_duplicates(), how="inner").empty
    bad = runner.invoke(app, ["sample", str(model_dir), "-n", "5", "-o", str(out), "--privacy", "strict"])
    assert bad.exit_code == 2 and "no-copies" in bad.output


def test_cli_keeps_the_reference_apart_and_a_shared_model_samples_with_privacy_off(tmp_path, repeated):
    import shutil
    import stat

    from typer.testing import CliRunner

    from synthloop.cli import app

    data, model_dir, out = tmp_path / "data.csv", tmp_path / "model", tmp_path / "out.csv"
    repeated.to_csv(data, index=False)
    runner = CliRunner()
    assert runner.invoke(app, ["fit", str(data), "-m", "independent", "-o", str(model_dir)]).exit_code == 0
    assert not (model_dir / "privacy_reference.safetensors").exists()         # the model folder holds no row
    apart = tmp_path / "model.privacy"
    assert (apart / "privacy_reference.safetensors").exists()
    assert stat.S_IMODE(apart.stat().st_mode) == 0o700
    local = runner.invoke(app, ["sample", str(model_dir), "-n", "50", "-o", str(out)])
    assert local.exit_code == 0 and "Privacy parity" in local.output, local.output   # found beside the model
    shared = tmp_path / "elsewhere" / "model"
    shutil.copytree(model_dir, shared)                                         # what a recipient gets
    result = runner.invoke(app, ["sample", str(shared), "-n", "50", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Privacy off" in result.output and "privacy-reference" in result.output
    refused = runner.invoke(app, ["sample", str(shared), "-n", "5", "-o", str(out), "--privacy", "parity"])
    assert refused.exit_code == 2 and "privacy-reference" in refused.output
    given = runner.invoke(app, ["sample", str(shared), "-n", "5", "-o", str(out), "--privacy", "parity",
                                "--privacy-reference", str(apart)])
    assert given.exit_code == 0, given.output


# ---------------------------------------------------------------------- lazy reference, model files
def test_fit_does_not_build_the_reference_until_a_sample_asks(adult_small):
    model = sl.synthesizers.get("independent", seed=0).fit(adult_small)
    assert model._privacy_reference is None
    model.sample(50, privacy="off", seed=0)
    assert model._privacy_reference is None and model.last_sample_info_.n_copies_returned is not None
    model.sample(50, seed=0)
    assert model._privacy_reference is not None
    again = sl.synthesizers.get("independent", seed=0).fit(adult_small)
    np.testing.assert_array_equal(again.privacy_reference_.thresholds, model.privacy_reference_.thresholds)


class NoRows(DonorJitter):
    """A model that declares it must never hold training rows (as a DP model will)."""

    name = "no_rows_test"
    keeps_training_rows = False


def test_a_model_that_keeps_no_training_rows_refuses_privacy_checks(repeated, tmp_path):
    model = NoRows(seed=0).fit(repeated)
    assert model._training_rows is None and model.privacy_reference_ is None
    with pytest.raises(PrivacyError, match="never keeps training rows"):
        model.sample(10, privacy="parity")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(model.sample(10, seed=0)) == 10                 # the default: off, noted, no warning
    assert model.last_sample_info_.privacy == "off" and "never keeps" in model.last_sample_info_.note
    with pytest.raises(PrivacyError, match="holds no training rows"):
        model.save(tmp_path / "m", keep_privacy_reference=True)


def test_a_corrupt_reference_file_is_a_clean_artifact_error(repeated, tmp_path):
    model = sl.synthesizers.get("independent", seed=0).fit(repeated)
    model.save(tmp_path / "m", keep_privacy_reference=True)
    (tmp_path / "m" / "privacy_reference.json").write_text("{not json")
    with pytest.raises(sl.errors.ArtifactError, match="privacy reference"):
        Synthesizer.load(tmp_path / "m")


def relinked_cart_rows(arrays: dict[str, np.ndarray], n_trees: int) -> np.ndarray:
    """The attack on a cart file: read each tree's donors in stored order and undo the leaf ordering."""
    from synthloop.synthesizers import _trees

    columns = [arrays["tree/0/pool"]]
    for position in range(1, n_trees):
        tree = {k.split("/", 2)[2]: v for k, v in arrays.items() if k.startswith(f"tree/{position}/")}
        leaves = _trees.walk(tree, np.column_stack(columns))
        column = np.empty(len(leaves))
        column[np.argsort(leaves, kind="stable")] = tree["pool"]
        columns.append(column)
    return np.column_stack(columns)


@pytest.mark.parametrize("name", ["independent", "gaussian_copula", "cart", pytest.param("tabddpm", marks=pytest.mark.slow)])
def test_a_default_model_folder_gives_back_no_training_row(name, tmp_path):
    """Rebuild nothing: no row hash, no stored row, no re-linkable donors, no exact continuous values."""
    from safetensors.numpy import load_file

    rng = np.random.default_rng(0)
    train = pd.DataFrame({"x": rng.normal(size=400).round(9), "y": rng.gamma(2.0, size=400).round(9),
                          "k": rng.integers(0, 3, 400)})
    params = {"tabddpm": {"epochs": 1, "hidden": (16,), "time_dim": 8, "timesteps": 5, "progress": False},
              "cart": {"order": "data", "min_leaf": 20}}.get(name, {})
    model = sl.synthesizers.get(name, seed=0, **params).fit(train)
    model.sample(100, seed=0)                                      # the reference now exists in memory
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "schema.json", "weights.safetensors"]
    arrays = load_file(str(tmp_path / "m" / "weights.safetensors"))
    training_hashes = set(hash_rows(train.astype("float64"), ["x", "y", "k"], []).tolist())
    for key, values in arrays.items():
        if values.dtype.kind in "iu" and values.itemsize == 8:
            assert not training_hashes & set(values.view(np.uint64).ravel().tolist()), key
        if values.ndim == 2 and values.shape[0] >= 10:
            assert not (values[:, None, :3] == train.to_numpy()[None, :, :values.shape[1]]).all(axis=2).any(), key
    if name == "cart":
        rebuilt = relinked_cart_rows(arrays, 3)
        assert pd.DataFrame(rebuilt, columns=["x", "y", "k"]).merge(train.astype("float64")).shape[0] < 20
    else:
        stored = np.concatenate([v.ravel() for v in arrays.values() if v.dtype.kind == "f"])
        for column in ("x", "y"):
            assert np.isin(train[column], stored).sum() <= 2, column   # at most the min and max (schema bounds)


# ---------------------------------------------------------------------- limits and degradation
def test_default_parity_degrades_on_a_single_float_column_and_explicit_parity_says_what_works():
    plain = pd.DataFrame({"x": np.random.default_rng(0).normal(size=30)})
    model = sl.synthesizers.get("cart", seed=0, calibrate=False).fit(plain)   # uncalibrated donors: training values only
    with pytest.warns(sl.errors.SynthloopWarning, match="parity could not be met"):
        synthetic = model.sample(30, seed=0)
    info = model.last_sample_info_
    assert len(synthetic) == 30 and info.n_below_parity > 0 and info.privacy == "parity"
    with pytest.raises(PrivacyError) as raised:
        model.sample(30, privacy="parity", seed=0)
    message = str(raised.value)
    assert "privacy='off'" in message and "use privacy='parity'" not in message


def test_a_parity_refusal_never_recommends_the_setting_that_just_failed():
    plain = pd.DataFrame({"x": np.random.default_rng(0).normal(size=30)})
    model = sl.synthesizers.get("cart", seed=0, smoothing=0.5, calibrate=False).fit(plain)  # jitter on the support: still copies
    with pytest.raises(PrivacyError) as raised:
        model.sample(30, privacy="parity", seed=0)
    advice = str(raised.value).split("cannot be met", 1)[1]
    assert "privacy='off'" in advice and "independent" in advice
    assert "privacy='parity'" not in advice and "cart" not in advice, advice


_MANY_LEVELS = """
import resource, sys
import numpy as np, pandas as pd, synthloop as sl
resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))   # a dense level matrix would need 6.4 GB
n = 40_000
rng = np.random.default_rng(0)
table = pd.DataFrame({"zip": [f"z{i}" for i in range(n)], "x": rng.normal(size=n), "k": rng.choice(list("ab"), n)})
model = sl.synthesizers.get("cart", seed=0).fit(table, sl.Schema.infer(table, kinds={"zip": "categorical"}))
synthetic = model.sample(300, seed=0)                              # default parity: calibration + reference
print(len(synthetic), model.last_sample_info_.privacy, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.slow
def test_cart_and_parity_fit_a_40000_level_categorical_in_bounded_memory():
    """A one-hot (rows × levels) matrix of this column is 40,000² cells: the audit's 200,000 levels asked for
    298 GiB. Levels beyond the pooled ones share one coordinate, so the run stays under a 3 GB address space."""
    import os
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _MANY_LEVELS], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    n_rows, privacy, max_rss_kb = done.stdout.split()
    assert (n_rows, privacy) == ("300", "parity") and int(max_rss_kb) < 1_500_000


def test_no_copies_counts_date_only_columns_in_days():
    import time

    days = pd.date_range("2024-01-01", periods=40, freq="D")
    dates = pd.DataFrame({"day": np.repeat(days, 2), "flag": np.tile(["y", "n"], 40)})
    model = sl.synthesizers.get("independent", seed=0).fit(dates)
    assert model.schema_["day"].integer
    started = time.perf_counter()
    with pytest.raises(PrivacyError, match="allows only 80 distinct"):
        model.sample(10, privacy="no-copies")
    assert time.perf_counter() - started < 5


def test_draw_until_bounds_batches_by_memory_and_says_so(monkeypatch):
    from synthloop.synthesizers import sampling

    monkeypatch.setattr(sampling, "MAX_BATCH_CELLS", 50_000)
    sizes = []

    def draw(batch):
        sizes.append(batch)
        return pd.DataFrame(np.zeros((batch, 500)))

    class RejectsAlmostAll:
        def start(self, n_rows):
            pass

        def keep(self, candidates):
            return np.arange(len(candidates.rows)) % 1000 == 0

        def impossible(self, n_rows, n_accepted, n_drawn, n_rejected):
            return PrivacyError(f"blocked after {n_drawn}")

    views = lambda rows: sampling.Candidates(rows, lambda r: r, lambda r: r)   # noqa: E731
    with pytest.raises(PrivacyError, match="limited to 100 rows by memory"):
        sampling.draw_until(500, draw, [RejectsAlmostAll()], views=views, n_columns=500)
    assert max(sizes) == 100


def test_with_no_row_step_exactly_the_rows_asked_are_drawn():
    from synthloop.synthesizers import sampling

    sizes = []

    def draw(batch):
        sizes.append(batch)
        return pd.DataFrame({"a": np.zeros(batch)})

    views = lambda rows: sampling.Candidates(rows, lambda r: r, lambda r: r)   # noqa: E731
    assert len(sampling.draw_until(39_073, draw, [], views=views, n_columns=1)) == 39_073
    assert sizes == [39_073]                                       # not 46,887: nothing can be refused
    model = sl.synthesizers.get("independent", seed=0).fit(pd.DataFrame({"x": np.arange(50.0)}))
    asked = []
    model._sample = lambda n, conditions, rng, draw=model._sample: asked.append(n) or draw(n, conditions, rng)
    model.sample(300, privacy="off", seed=0)
    assert asked == [300]


def test_draw_until_blames_the_step_that_passes_the_smallest_share():
    from synthloop.synthesizers import sampling

    class Step:
        def __init__(self, share, name):
            self.share, self.name = share, name

        def start(self, n_rows):
            pass

        def keep(self, candidates):
            return np.arange(len(candidates.rows)) < self.share * len(candidates.rows)

        def impossible(self, n_rows, n_accepted, n_drawn, n_rejected):
            return ConfigError(self.name)

    views = lambda rows: sampling.Candidates(rows, lambda r: r, lambda r: r)   # noqa: E731
    draw = lambda batch: pd.DataFrame({"a": np.zeros(batch)})                 # noqa: E731
    with pytest.raises(ConfigError, match="second"):
        sampling.draw_until(100, draw, [Step(0.5, "first"), Step(0.0, "second")], views=views, n_columns=1)
    assert len(sampling.draw_until(100, draw, [Step(0.5, "first")], views=views, n_columns=1)) == 100


def test_parity_controls_the_bulk_of_the_distance_distribution_not_only_its_tails():
    """Few continuous columns and memorising leaves: rows sit closer than held-out rows across the
    whole distribution (median ratio far below 1). The default step brings the median to parity."""
    from synthloop.datasets import split_frame
    from synthloop.metrics.privacy import dcr_median

    data = sl.datasets.load("breast_cancer")[["mean radius", "mean texture", "target"]]
    train, holdout = split_frame(data, target="target")
    schema = sl.Schema.infer(train, target="target")
    held = dcr_median(train, holdout, schema).value
    model = sl.synthesizers.get("cart", min_leaf=5, calibrate=False, seed=0).fit(train, schema)
    n_rows = 4 * len(train)
    assert dcr_median(train, model.sample(n_rows, seed=0, privacy="off"), schema).value / held < 0.6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        checked = model.sample(n_rows, seed=0)
    assert dcr_median(train, checked, schema).value / held >= 0.95
