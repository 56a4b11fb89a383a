"""The privacy step of Synthesizer.sample: exact n rows, no copies, parity quotas, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import synthloop as sl
from synthloop.errors import ConfigError, PrivacyError
from synthloop.privacy import PrivacyReference
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
        with pytest.raises(PrivacyError, match="keep_privacy_reference=True"):
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
    assert 0 < reference.thresholds[0] <= reference.thresholds[1]
    np.testing.assert_allclose(reference.band_rates, [0.01, 0.05], atol=0.005)


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


def test_cli_sample_without_reference_says_privacy_was_off(tmp_path, repeated):
    from typer.testing import CliRunner

    from synthloop.cli import app

    data, model_dir, out = tmp_path / "data.csv", tmp_path / "model", tmp_path / "out.csv"
    repeated.to_csv(data, index=False)
    runner = CliRunner()
    assert runner.invoke(app, ["fit", str(data), "-m", "independent", "-o", str(model_dir)]).exit_code == 0
    assert not (model_dir / "privacy_reference.safetensors").exists()
    result = runner.invoke(app, ["sample", str(model_dir), "-n", "50", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Privacy off" in result.output and "--keep-privacy-reference" in result.output
    refused = runner.invoke(app, ["sample", str(model_dir), "-n", "5", "-o", str(out), "--privacy", "parity"])
    assert refused.exit_code == 2 and "keep-privacy-reference" in refused.output
