"""Alignment to a target sample, refinement against real rows, adaptation: synthloop.align and its CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import synthloop as sl
from synthloop.align import adapt, align_step, align_table, discrepancy, refine_step
from synthloop.align.table import systematic_resample
from synthloop.cli import app
from synthloop.errors import AlignmentError


def _normal(mean: float, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(mean, 1.0, n), "c": rng.choice(["a", "b"], n)})


def _correlated(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """y follows x and c is x's sign: a table the independent model gets visibly wrong."""
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    return pd.DataFrame({"x": x, "y": x + rng.normal(0, 0.3, n), "c": np.where(x > 0, "hi", "lo")})


def test_weights_recover_a_known_mean_shift():
    result = align_table(_normal(0.0, 4000, 0), _normal(1.0, 400, 1), seed=0, holdout=_normal(1.0, 400, 2))
    assert abs(result.table["x"].mean() - 1.0) < 0.15          # N(0,1) reweighted toward N(1,1)
    assert len(result.table) == 4000
    assert 0.05 < result.ess_share < 1.0
    assert result.after.detection_auc < result.before.detection_auc - 0.1
    assert result.weights.shape == (4000,) and np.isclose(result.weights.mean(), 1.0)


@pytest.mark.slow      # importing POT imports its torch backend: 5-20 s on a busy machine
def test_transport_moves_numbers_inside_the_target_support():
    target = _normal(1.0, 400, 1)
    result = align_table(_normal(0.0, 2000, 0), target, method="transport", n_rows=500, seed=0)
    assert len(result.table) == 500 and result.weights is None
    assert abs(result.table["x"].mean() - 1.0) < 0.15
    assert result.table["x"].between(target["x"].min(), target["x"].max()).all()


def test_same_seed_same_rows_and_another_seed_differs():
    synthetic, target = _normal(0.0, 2000, 0), _normal(0.5, 300, 1)
    first = align_table(synthetic, target, seed=3, measure=False)
    again = align_table(synthetic, target, seed=3, measure=False)
    other = align_table(synthetic, target, seed=4, measure=False)
    pd.testing.assert_frame_equal(first.table, again.table)
    assert not first.table.equals(other.table)


def test_systematic_resampling_draws_rows_in_proportion_to_weights():
    rows = systematic_resample(np.array([1.0, 3.0, 0.0]), 400, np.random.default_rng(0))
    assert np.bincount(rows, minlength=3).tolist() == [100, 300, 0]


@pytest.mark.parametrize(("target", "message"), [
    (pd.DataFrame({"x": np.zeros(50), "z": np.ones(50)}), "lacks: 'z'"),
    (pd.DataFrame({"x": [0.0, 1.0, 2.0]}), "3 row(s)"),
    (pd.DataFrame({"x": np.zeros(100), "c": ["never"] * 100}), "never has: 'never'"),
    (pd.DataFrame({"x": np.full(100, 40.0)}), "outside the synthetic range"),
    (pd.DataFrame({"x": ["many"] * 50}), "non-numbers such as 'many'"),
    (pd.DataFrame({"x": np.zeros(50), "c": [None] * 50}), "never has a missing value"),
])
def test_unreachable_targets_raise_a_clear_error(target, message):
    with pytest.raises(AlignmentError, match=message.replace("(", r"\(").replace(")", r"\)")):
        align_table(_normal(0.0, 1000, 0), target)


def test_weights_that_collapse_onto_a_few_rows_raise():
    rng = np.random.default_rng(0)
    synthetic = pd.DataFrame({"x": rng.uniform(0, 100, 2000)})
    target = pd.DataFrame({"x": np.r_[rng.normal(50, 0.05, 200), 0.0, 100.0]})     # a needle inside the support
    with pytest.raises(AlignmentError, match="collapse"):
        align_table(synthetic, target, seed=0)


def test_refinement_lowers_detection_of_a_weak_generator():
    real = _correlated(3000, 0)
    model = sl.synthesizers.get("independent", seed=0).fit(real)
    step = refine_step(model, real, seed=0)
    plain = model.sample(2000, seed=5, privacy="off")
    refined = model.sample(2000, seed=5, steps=[step])          # privacy (parity) still runs, after the step
    assert model.last_sample_info_.privacy == "parity"
    held_out = _correlated(2000, 1)
    kinds = model.schema_.model_kinds()

    def auc(table):
        view = model.schema_.to_model_frame
        return discrepancy(view(held_out), view(table), kinds, rng=np.random.default_rng(0)).detection_auc

    before, after = auc(plain), auc(refined)
    assert step.report.detection_auc > 0.85 and before > 0.85
    assert after < before - 0.2


def test_align_step_shifts_a_model_toward_the_target():
    model = sl.synthesizers.get("independent", seed=0).fit(_normal(0.0, 3000, 0))
    target = _normal(0.7, 400, 1).assign(c=lambda t: np.where(np.arange(400) % 4 == 0, "a", "b"))    # 25% a
    rows = model.sample(1500, seed=1, steps=[align_step(model, target, seed=0)])
    assert abs(rows["x"].mean() - 0.7) < 0.15
    assert abs((rows["c"] == "a").mean() - 0.25) < 0.07


def test_align_step_refuses_columns_the_model_does_not_generate():
    model = sl.synthesizers.get("independent", seed=0).fit(_correlated(500, 0))
    with pytest.raises(AlignmentError, match="does not generate: 'z'"):
        align_step(model, _correlated(100, 1).assign(z=1.0))


def test_adapt_refits_with_the_target_up_weighted():
    source, target = _correlated(2000, 0), _correlated(200, 1, shift=2.0)
    model = sl.synthesizers.get("independent", seed=0)
    adapted = adapt(model, source, target, target_share=0.5)
    assert abs(adapted.sample(4000, seed=0, privacy="off")["x"].mean() - 1.0) < 0.2     # half source, half target


def test_cli_align_and_sample_with_alignment_end_to_end(tmp_path):
    runner = CliRunner()
    _normal(0.0, 2000, 0).to_csv(tmp_path / "real.csv", index=False)
    _normal(0.7, 300, 1).to_csv(tmp_path / "target.csv", index=False)
    _normal(0.7, 300, 2).to_csv(tmp_path / "holdout.csv", index=False)
    model = tmp_path / "model"
    assert runner.invoke(app, ["fit", str(tmp_path / "real.csv"), "--model", "independent", "-o", str(model)]).exit_code == 0
    done = runner.invoke(app, ["sample", str(model), "-n", "500", "-o", str(tmp_path / "s.csv"), "--seed", "1",
                               "--align-to", str(tmp_path / "target.csv"), "--refine", str(tmp_path / "real.csv")])
    assert done.exit_code == 0, done.output
    assert "align: a detector" in done.output and "refine: a detector" in done.output
    params = json.loads((tmp_path / "s.csv.meta.json").read_text())["lineage"]["params"]
    assert set(params) >= {"align_to", "refine"}
    # What was aligned to what: the target's and the real rows' fingerprints.
    assert params["align_to"]["reference_id"] == sl.lineage.fingerprint(pd.read_csv(tmp_path / "target.csv"))
    assert params["refine"]["reference_id"] == sl.lineage.fingerprint(pd.read_csv(tmp_path / "real.csv"))
    done = runner.invoke(app, ["sample", str(model), "-n", "2000", "-o", str(tmp_path / "plain.csv"), "--seed", "1"])
    assert done.exit_code == 0, done.output
    done = runner.invoke(app, ["align", str(tmp_path / "plain.csv"), "--to", str(tmp_path / "target.csv"),
                               "-o", str(tmp_path / "aligned.csv"), "--holdout", str(tmp_path / "holdout.csv"),
                               "--label", "c", "-n", "1000", "--lineage", str(tmp_path / "lineage.db")])
    assert done.exit_code == 0, done.output
    assert "Effective sample size" in done.output and "detection AUC" in done.output
    aligned = pd.read_csv(tmp_path / "aligned.csv")
    assert len(aligned) == 1000 and abs(aligned["x"].mean() - 0.7) < 0.15
    lineage = json.loads((tmp_path / "aligned.csv.meta.json").read_text())["lineage"]
    assert lineage["params"]["action"] == "align" and lineage["parents"]
    record = sl.LineageStore(tmp_path / "lineage.db").get(lineage["id"])
    assert record.kind == "synthetic" and record.parents == tuple(lineage["parents"])
    assert record.params["aligned_to"] == lineage["params"]["aligned_to"]


def test_cli_align_refuses_a_tiny_target_and_writes_nothing(tmp_path):
    _correlated(500, 0).to_csv(tmp_path / "synthetic.csv", index=False)
    _correlated(3, 1).to_csv(tmp_path / "target.csv", index=False)
    done = CliRunner().invoke(app, ["align", str(tmp_path / "synthetic.csv"), "--to", str(tmp_path / "target.csv"),
                                    "-o", str(tmp_path / "out.csv")])
    assert done.exit_code == 2
    assert "at least 20" in done.output
    assert not (tmp_path / "out.csv").exists()


def test_a_step_built_with_the_same_seed_gives_the_same_rows():
    model = sl.synthesizers.get("independent", seed=0).fit(_normal(0.0, 1000, 0))
    target = _normal(0.5, 200, 1)
    first = model.sample(300, seed=2, steps=[align_step(model, target, seed=7, n_fit=2000)])
    again = model.sample(300, seed=2, steps=[align_step(model, target, seed=7, n_fit=2000)])
    pd.testing.assert_frame_equal(first, again)


def test_marginals_are_met_by_raking():
    rng = np.random.default_rng(0)
    synthetic = pd.DataFrame({"sex": rng.choice(["F", "M"], 3000), "band": rng.choice(["young", "old"], 3000, p=[.7, .3])})
    result = align_table(synthetic, {"sex": {"F": 0.3, "M": 0.7}, "band": {"young": 0.5, "old": 0.5}}, seed=0)
    assert abs((result.table["sex"] == "F").mean() - 0.3) < 0.01
    assert abs((result.table["band"] == "old").mean() - 0.5) < 0.01
    assert result.after.divergences["divergence"].max() < 0.01 < result.before.divergences["divergence"].max()
    with pytest.raises(AlignmentError, match="never has label"):
        align_table(synthetic, {"sex": {"X": 1.0}})


def test_cli_align_to_marginals_in_json(tmp_path):
    _normal(0.0, 1000, 0).to_csv(tmp_path / "synthetic.csv", index=False)
    (tmp_path / "shares.json").write_text(json.dumps({"c": {"a": 0.8, "b": 0.2}}))
    done = CliRunner().invoke(app, ["align", str(tmp_path / "synthetic.csv"), "--to", str(tmp_path / "shares.json"),
                                    "-o", str(tmp_path / "out.csv")])
    assert done.exit_code == 0, done.output
    assert abs((pd.read_csv(tmp_path / "out.csv")["c"] == "a").mean() - 0.8) < 0.01


def test_adapt_keeps_each_training_row_once_in_the_privacy_reference():
    source, target = _correlated(1000, 0), _correlated(50, 1, shift=2.0)
    adapted = adapt(sl.synthesizers.get("independent", seed=0), source, target, target_share=0.5)
    assert adapted.n_training_rows_ == 1000 + 50 * 20                 # the repeats are what it learned from
    reference = adapted.privacy_reference_
    assert len(reference.points) == 1050                               # ... but each row is checked once
    assert reference.copy_rate < 0.05                                  # not the repeats' ~50 %
    rows = adapted.sample(500, seed=0)                                 # parity counts copies of target rows too
    assert adapted.last_sample_info_.privacy == "parity"
    assert len(rows) == 500


@pytest.mark.parametrize(("target", "share", "message"), [
    (_correlated(3, 1), 0.5, "3 row(s)"),
    (_correlated(100, 1).assign(z=1.0), 0.5, "the source lacks: 'z'"),
    (_correlated(100, 1).drop(columns="c"), 0.5, "lacks column(s) of the source: 'c'"),
    (_correlated(100, 1), 1.0, "between 0 and 1"),
])
def test_adapt_refuses_bad_targets(target, share, message):
    with pytest.raises(AlignmentError, match=message.replace("(", r"\(").replace(")", r"\)")):
        adapt(sl.synthesizers.get("independent", seed=0), _correlated(500, 0), target, target_share=share)


def test_adapting_first_gives_the_align_step_gentler_ratios():
    source, target = _normal(0.0, 3000, 0), _normal(1.5, 300, 1)
    model = sl.synthesizers.get("independent", seed=0).fit(source)
    adapted = adapt(model, source, target, target_share=0.5)
    on_source = align_step(model, target, seed=0, n_fit=3000)
    on_adapted = align_step(adapted, target, seed=0, n_fit=3000)
    assert on_adapted.report.ess_share > on_source.report.ess_share + 0.1
    assert on_adapted.report.detection_auc < on_source.report.detection_auc
    rows = adapted.sample(1000, seed=1, steps=[on_adapted])
    assert abs(rows["x"].mean() - 1.5) < 0.15


def test_align_step_refuses_ratios_that_collapse():
    rng = np.random.default_rng(0)
    model = sl.synthesizers.get("independent", seed=0).fit(pd.DataFrame({"x": rng.uniform(0, 100, 3000)}))
    needle = pd.DataFrame({"x": np.r_[rng.normal(50, 0.05, 200), 0.0, 100.0]})
    with pytest.raises(AlignmentError, match="collapse"):
        align_step(model, needle, seed=0, n_fit=2000)


def test_cli_fit_adapt_to_records_what_was_adapted_to_what(tmp_path):
    runner = CliRunner()
    _correlated(1500, 0).to_csv(tmp_path / "source.csv", index=False)
    _correlated(150, 1, shift=2.0).to_csv(tmp_path / "target.csv", index=False)
    store = tmp_path / "lineage.db"
    done = runner.invoke(app, ["fit", str(tmp_path / "source.csv"), "-m", "independent", "-o", str(tmp_path / "m"),
                               "--adapt-to", str(tmp_path / "target.csv"), "--target-share", "0.5",
                               "--lineage", str(store)])
    assert done.exit_code == 0, done.output
    assert "Adapted to the rows of" in done.output
    done = runner.invoke(app, ["sample", str(tmp_path / "m"), "-n", "1000", "-o", str(tmp_path / "s.csv"),
                               "--seed", "1", "--lineage", str(store)])
    assert done.exit_code == 0, done.output
    assert abs(pd.read_csv(tmp_path / "s.csv")["x"].mean() - 1.0) < 0.2          # half source, half target
    lineage = sl.LineageStore(store)
    sample = lineage.get(json.loads((tmp_path / "s.csv.meta.json").read_text())["lineage"]["id"])
    (training,) = lineage.parents(sample.id)
    source_id = sl.lineage.fingerprint(pd.read_csv(tmp_path / "source.csv"))
    target_id = sl.lineage.fingerprint(pd.read_csv(tmp_path / "target.csv"))
    assert training.params["action"] == "adapt" and training.params["adapted_to"] == target_id
    assert {p.id for p in lineage.parents(training.id)} == {source_id, target_id}
    assert training.kind == "real" and training.n_rows == 1500 + 150 * 10
    assert any(e["action"] == "fit" for e in lineage.events(training.id))


@pytest.mark.parametrize(("target", "message"), [
    (_correlated(3, 1), "3 row(s)"),
    (_correlated(100, 1).assign(z=1.0), "the source lacks: 'z'"),
])
def test_cli_fit_adapt_to_refuses_a_bad_target_and_writes_nothing(tmp_path, target, message):
    _correlated(500, 0).to_csv(tmp_path / "source.csv", index=False)
    target.to_csv(tmp_path / "target.csv", index=False)
    done = CliRunner().invoke(app, ["fit", str(tmp_path / "source.csv"), "-m", "independent", "-o", str(tmp_path / "m"),
                                    "--adapt-to", str(tmp_path / "target.csv"), "--lineage", str(tmp_path / "l.db")])
    assert done.exit_code == 2, done.output
    assert message in " ".join(done.output.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source.csv", "target.csv"]


@pytest.mark.parametrize(("target", "message"), [
    (_correlated(3, 1), "3 row(s)"),
    (_correlated(100, 1).assign(z=1.0), "does not generate: 'z'"),
])
def test_cli_sample_align_to_refuses_a_bad_target_and_writes_nothing(tmp_path, target, message):
    runner = CliRunner()
    _correlated(500, 0).to_csv(tmp_path / "real.csv", index=False)
    target.to_csv(tmp_path / "target.csv", index=False)
    assert runner.invoke(app, ["fit", str(tmp_path / "real.csv"), "-m", "independent", "-o",
                               str(tmp_path / "m")]).exit_code == 0
    done = runner.invoke(app, ["sample", str(tmp_path / "m"), "-n", "100", "-o", str(tmp_path / "s.csv"),
                               "--align-to", str(tmp_path / "target.csv")])
    assert done.exit_code == 2, done.output
    assert message in " ".join(done.output.split())
    assert not (tmp_path / "s.csv").exists()


def test_cli_align_refuses_target_columns_the_synthetic_table_lacks(tmp_path):
    _correlated(500, 0).to_csv(tmp_path / "synthetic.csv", index=False)
    _correlated(100, 1).assign(z=1.0).to_csv(tmp_path / "target.csv", index=False)
    done = CliRunner().invoke(app, ["align", str(tmp_path / "synthetic.csv"), "--to", str(tmp_path / "target.csv"),
                                    "-o", str(tmp_path / "out.csv")])
    assert done.exit_code == 2
    assert "lacks: 'z'" in " ".join(done.output.split())
    assert not (tmp_path / "out.csv").exists()


def _selected(n: int, seed: int, old: bool) -> pd.DataFrame:
    """A population where y follows age; the target is the old tail (selection on age only)."""
    rng = np.random.default_rng(seed)
    age = rng.integers(50, 90, n) if old else rng.integers(18, 90, n)
    return pd.DataFrame({"age": age, "y": age / 10 + rng.normal(0, 1, n),
                         "c": np.where(age + rng.normal(0, 10, n) > 60, "late", "early")})


@pytest.mark.slow      # cart draws each of 40 conditioned ages apart: 10-30 s on a busy machine
def test_conditional_alignment_takes_the_shifted_column_from_the_target():
    from synthloop.align import conditional_align

    source = _selected(4000, 0, old=False)
    source = source[(source["age"] < 50) | (np.arange(len(source)) % 10 == 0)].reset_index(drop=True)
    target = _selected(300, 1, old=True)
    model = sl.synthesizers.get("cart", seed=0).fit(source)
    aligned = conditional_align(model, target, seed=0, n_fit=2000)
    assert aligned.columns == ("age",) and aligned.divergences["age"] > 0.5
    plain = align_step(model, target, seed=0, n_fit=2000, min_ess=0.0)
    assert aligned.step.report.ess_share > 2 * plain.report.ess_share      # the residual ratios are gentler
    rows = aligned.sample(1000, seed=2)
    assert rows["age"].min() >= 50 and abs(rows["y"].mean() - target["y"].mean()) < 0.3
    assert abs((rows["c"] == "late").mean() - (target["c"] == "late").mean()) < 0.08
    assert aligned.to_dict()["shifted_columns"] == ["age"]
    pd.testing.assert_frame_equal(rows, aligned.sample(1000, seed=2))
    with pytest.raises(AlignmentError, match="Cannot condition"):
        conditional_align(model, target, columns=["nope"])
    with pytest.raises(AlignmentError, match="3 row"):
        conditional_align(model, target.head(3))


def test_cli_sample_align_shift_records_the_shifted_columns(tmp_path):
    runner = CliRunner()
    source = _selected(3000, 0, old=False)
    source[(source["age"] < 50) | (np.arange(len(source)) % 10 == 0)].to_csv(tmp_path / "source.csv", index=False)
    _selected(300, 1, old=True).to_csv(tmp_path / "target.csv", index=False)
    assert runner.invoke(app, ["fit", str(tmp_path / "source.csv"), "-m", "cart", "-o", str(tmp_path / "m")]).exit_code == 0
    done = runner.invoke(app, ["sample", str(tmp_path / "m"), "-n", "500", "-o", str(tmp_path / "s.csv"), "--seed", "1",
                               "--align-to", str(tmp_path / "target.csv"), "--align-shift", "auto"])
    assert done.exit_code == 0, done.output
    assert "took age from the target rows" in " ".join(done.output.split())
    assert pd.read_csv(tmp_path / "s.csv")["age"].min() >= 50
    params = json.loads((tmp_path / "s.csv.meta.json").read_text())["lineage"]["params"]
    assert params["align_to"]["shifted_columns"] == ["age"] and params["align_to"]["reference_id"]
    done = runner.invoke(app, ["sample", str(tmp_path / "m"), "-n", "500", "-o", str(tmp_path / "t.csv"),
                               "--align-shift", "age"])
    assert done.exit_code == 2 and "needs --align-to" in done.output
    assert not (tmp_path / "t.csv").exists()


def test_cli_align_refuses_weights_that_collapse_and_writes_nothing(tmp_path):
    rng = np.random.default_rng(0)
    pd.DataFrame({"x": rng.uniform(0, 100, 2000)}).to_csv(tmp_path / "synthetic.csv", index=False)
    pd.DataFrame({"x": np.r_[rng.normal(50, 0.05, 200), 0.0, 100.0]}).to_csv(tmp_path / "target.csv", index=False)
    done = CliRunner().invoke(app, ["align", str(tmp_path / "synthetic.csv"), "--to", str(tmp_path / "target.csv"),
                                    "-o", str(tmp_path / "out.csv"), "--lineage", str(tmp_path / "l.db")])
    assert done.exit_code == 2
    assert "collapse" in done.output and "Nothing was written" in " ".join(done.output.split())
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "l.db").exists()
