"""Differential privacy: zCDP accounting, the ledger that refuses to overspend, the mechanisms' noise, dp_mst."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

import synthloop as sl
from synthloop import synthesizers
from synthloop.errors import ConfigError, PrivacyError
from synthloop.privacy.accounting import Ledger, delta_for, epsilon_for, rho_for
from synthloop.privacy.mechanisms import exponential, gaussian, gaussian_sigma
from synthloop.schema import FixedCombinations
from synthloop.testing import default_data

FAST = {"iters": 0, "max_bins": 8, "fine_bins": 64}


@pytest.fixture(scope="module")
def adult():
    data = default_data()
    return data, sl.Schema.infer(data)


# ---------------------------------------------------------------------- accounting
@pytest.mark.parametrize(("epsilon", "delta"), [(0.1, 1e-6), (1.0, 1e-5), (10.0, 1e-9)])
def test_rho_conversion_is_tight_and_round_trips(epsilon, delta):
    rho = rho_for(epsilon, delta)
    assert delta_for(rho, epsilon) <= delta * (1 + 1e-6)
    assert delta_for(rho * 1.01, epsilon) > delta                     # the largest rho that meets (eps, delta)
    assert epsilon_for(rho, delta) == pytest.approx(epsilon, rel=1e-4)
    classic = (math.sqrt(math.log(1 / delta) + epsilon) - math.sqrt(math.log(1 / delta))) ** 2
    assert rho >= classic                                              # never looser than rho + 2 sqrt(rho log 1/δ)


def test_ledger_refuses_to_overspend_and_records_nothing_then():
    ledger = Ledger(1.0, 1e-5)
    for i in range(4):
        ledger.charge(f"part {i}", "gaussian", ledger.rho / 4)
    assert ledger.spent == pytest.approx(ledger.rho)
    with pytest.raises(PrivacyError, match="budget exceeded"):
        ledger.charge("one more", "gaussian", ledger.rho * 1e-3)
    assert len(ledger.entries) == 4 and ledger.complete
    restored = Ledger.from_dict(json.loads(json.dumps(ledger.to_dict())))
    assert restored.rows() == ledger.rows()


def test_a_stored_ledger_over_its_budget_is_refused():
    data = Ledger(1.0, 1e-5).to_dict()
    data["entries"] = [{"what": "x", "mechanism": "gaussian", "rho": data["rho"] * 2, "source": "budget", "detail": {}}]
    with pytest.raises(PrivacyError, match="over its budget"):
        Ledger.from_dict(data)


@pytest.mark.parametrize(("epsilon", "delta"), [(0.0, 1e-5), (-1.0, 1e-5), (1.0, 0.0), (1.0, 1.0), (math.inf, 1e-5)])
def test_budgets_that_promise_nothing_are_refused(epsilon, delta):
    with pytest.raises(ConfigError, match="privacy budget"):
        Ledger(epsilon, delta)


def test_gaussian_noise_has_the_scale_the_formula_gives():
    ledger = Ledger(1.0, 1e-5)
    rho = ledger.rho / 2
    sigma = gaussian_sigma(rho, sensitivity=2.0)
    assert sigma == pytest.approx(2.0 / math.sqrt(2 * rho))
    noisy = gaussian(np.zeros(40_000), sigma=sigma, ledger=ledger, what="zeros", rng=np.random.default_rng(0),
                     sensitivity=2.0)
    # The sample sd of 40k normals is within 1.5% of sigma with probability > 0.997 (its sd is sigma/sqrt(2n)).
    assert noisy.std() == pytest.approx(sigma, rel=0.015)
    assert abs(noisy.mean()) < 4 * sigma / math.sqrt(len(noisy))
    assert ledger.entries[-1].rho == pytest.approx(rho)                # charged sensitivity²/(2 sigma²)


def test_exponential_mechanism_odds_match_its_epsilon():
    ledger = Ledger(1e4, 1e-5)
    rng = np.random.default_rng(1)
    draws = [exponential(np.array([0.0, 1.0]), epsilon=2.0, ledger=ledger, what="x", rng=rng) for _ in range(6000)]
    ones = float(np.mean(draws))
    expected = math.e / (1 + math.e)                                   # exp(eps * Δscore / 2) = e
    assert abs(ones - expected) < 4 * math.sqrt(expected * (1 - expected) / len(draws))
    exponential(np.array([0.0, 1.0]), epsilon=2.0, ledger=ledger, what="x", rng=rng)
    assert ledger.entries[-1].rho == pytest.approx(0.5) and ledger.spent == pytest.approx(0.5 * 6001)   # eps²/8 each


# ---------------------------------------------------------------------- dp_mst
@pytest.mark.parametrize("epsilon", [0.3, 1.0, 10.0])
def test_dp_mst_spends_exactly_its_budget_and_accounts_every_read(adult, epsilon):
    data, schema = adult
    model = synthesizers.get("dp_mst", epsilon=epsilon, seed=0, **FAST).fit(data, schema)
    ledger = model.ledger_
    d = len(schema.model_kinds())
    assert ledger.spent <= ledger.rho * (1 + 1e-9) and ledger.spent == pytest.approx(ledger.rho)
    assert epsilon_for(ledger.spent, 1e-5) <= epsilon * (1 + 1e-4)
    kinds = [e.mechanism for e in ledger.entries if e.source == "budget"]
    assert kinds.count("gaussian") == d + (d - 1) and kinds.count("exponential") == d - 1
    public = " ".join(e.what for e in ledger.entries if e.source == "public")
    assert all(name in public for name in schema.model_kinds())       # every category set / bound is listed
    assert ledger.complete
    assert model.n_training_rows_ != 0 and abs(model.n_training_rows_ - len(data)) < 0.5 * len(data)


def test_dp_mst_refuses_free_reads(adult):
    data, schema = adult
    with pytest.raises(PrivacyError, match="public schema"):
        synthesizers.get("dp_mst", **FAST).fit(data)
    with pytest.raises(PrivacyError, match="FixedCombinations"):
        synthesizers.get("dp_mst", **FAST).fit(data, schema.with_constraints(FixedCombinations(("sex", "race"))))
    unbounded = schema.with_columns(age={"low": None})
    with pytest.raises(PrivacyError, match="no bounds"):
        synthesizers.get("dp_mst", **FAST).fit(data, unbounded)
    with pytest.raises(ConfigError, match="1/n"):
        synthesizers.get("dp_mst", delta=0.01, **FAST).fit(data, schema)
    with pytest.raises(ConfigError, match="epsilon"):
        synthesizers.get("dp_mst", epsilon=0.0)
    trusted = synthesizers.get("dp_mst", trust_inferred_schema=True, seed=0, **FAST).fit(data)
    assert not trusted.ledger_.complete and "NOT a complete guarantee" in trusted.ledger_.summary()


def test_dp_mst_samples_within_bins_not_midpoints(adult):
    data, schema = adult
    model = synthesizers.get("dp_mst", epsilon=5.0, seed=0, **FAST).fit(data, schema)
    rows = model.sample(2000, seed=0)
    assert rows["fnlwgt"].nunique() > 1000                            # midpoints would give at most fine_bins values
    assert rows["age"].between(schema["age"].low, schema["age"].high).all()
    assert (rows["capital_gain"] == 0).mean() > 0.5                   # the point mass at 0 survives as exact zeros
    assert model.last_sample_info_.privacy == "off"                   # post-processing of a DP release


def test_dp_mst_seeds_reproduce_and_the_saved_ledger_is_checked(adult, tmp_path):
    data, schema = adult
    first = synthesizers.get("dp_mst", seed=3, **FAST).fit(data, schema)
    second = synthesizers.get("dp_mst", seed=3, **FAST).fit(data, schema)
    other = synthesizers.get("dp_mst", seed=4, **FAST).fit(data, schema)
    assert first.sample(50, seed=1).equals(second.sample(50, seed=1))
    assert not first.sample(50, seed=1).equals(other.sample(50, seed=1))
    first.save(tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["meta"]["ledger"]["entries"] and config["n_training_rows"] == first.n_training_rows_
    loaded = sl.synthesizers.Synthesizer.load(tmp_path / "model")
    assert loaded.sample(50, seed=1).equals(first.sample(50, seed=1))
    assert loaded.ledger_.rows() == first.ledger_.rows()
    config["meta"]["ledger"]["entries"][-1]["rho"] = 1.0                # an edited ledger claiming to overspend
    (tmp_path / "model" / "config.json").write_text(json.dumps(config))
    with pytest.raises(sl.errors.ArtifactError):
        sl.synthesizers.Synthesizer.load(tmp_path / "model")


@pytest.mark.slow
def test_dp_mst_with_private_pgm_keeps_dependence(adult):
    """The Private-PGM path on 5 columns (JAX: about 15-30 s of compilation on a loaded 2-core machine)."""
    data, schema = adult
    columns = ["age", "sex", "relationship", "hours_per_week", "income"]
    data = data[columns]
    schema = sl.Schema(tuple(schema[c] for c in columns))
    model = synthesizers.get("dp_mst", epsilon=10.0, iters=50, max_bins=8, fine_bins=64, seed=0).fit(data, schema)
    rows = model.sample(3000, seed=0)
    # relationship and sex are strongly dependent in Adult (husbands are male); the tree must keep it
    # (independent columns would give about 0.4 * 0.33 = 13% female husbands).
    real = (data["relationship"] == "Husband") & (data["sex"] == "Female")
    synthetic = (rows["relationship"] == "Husband") & (rows["sex"] == "Female")
    assert real.mean() < 0.01 and synthetic.mean() < 0.05
    assert model.ledger_.spent == pytest.approx(model.ledger_.rho)


# ---------------------------------------------------------------------- CLI
def test_cli_fit_audit_sample_end_to_end(tmp_path, adult):
    from synthloop.cli import app

    runner = CliRunner()
    data, _ = adult
    data.to_csv(tmp_path / "adult.csv", index=False)
    refused = runner.invoke(app, ["fit", str(tmp_path / "adult.csv"), "-m", "dp_mst", "-o", str(tmp_path / "m0")])
    assert refused.exit_code == 2 and "public schema" in refused.output
    assert runner.invoke(app, ["schema", "infer", str(tmp_path / "adult.csv"), "-o", str(tmp_path / "s.json")]).exit_code == 0
    fitted = runner.invoke(app, ["fit", str(tmp_path / "adult.csv"), "-m", "dp_mst", "--schema", str(tmp_path / "s.json"),
                                 "-p", "iters=0", "-p", "epsilon=2", "-o", str(tmp_path / "m"),
                                 "--lineage", str(tmp_path / "lineage.db")])
    assert fitted.exit_code == 0, fitted.output
    assert "Privacy: rho" in fitted.output and "synthloop audit" in fitted.output
    audited = runner.invoke(app, ["audit", str(tmp_path / "m")])
    assert audited.exit_code == 0, audited.output
    assert "1-way counts of age" in audited.output and "tree edge" in audited.output and "epsilon = 2" in audited.output
    canary = runner.invoke(app, ["audit", str(tmp_path / "m"), "--data", str(tmp_path / "adult.csv"), "--fits", "4"])
    assert canary.exit_code == 0 and "empirical epsilon" in canary.output, canary.output
    sampled = runner.invoke(app, ["sample", str(tmp_path / "m"), "-n", "30", "-o", str(tmp_path / "syn.csv")])
    assert sampled.exit_code == 0, sampled.output
    events = sl.LineageStore(tmp_path / "lineage.db").events()
    assert any(e["action"] == "privacy-ledger" for e in events)
    plain = runner.invoke(app, ["fit", str(tmp_path / "adult.csv"), "-m", "independent", "-o", str(tmp_path / "ind")])
    assert plain.exit_code == 0
    not_dp = runner.invoke(app, ["audit", str(tmp_path / "ind")])
    assert not_dp.exit_code == 2 and "not differentially private" in not_dp.output


# ---------------------------------------------------------------------- the empirical audit
class _Leaky(synthesizers.get_class("dp_mst")):
    """A broken DP model: claims its epsilon but spends a million times as much (noise about 1000 times too small)."""

    def _fit(self, data, seeds):
        claimed = self.epsilon
        self.epsilon = claimed * 1e6
        try:
            super()._fit(data, seeds)
        finally:
            self.epsilon = claimed


@pytest.fixture(scope="module")
def small(adult):
    data, schema = adult
    columns = ["age", "sex", "relationship", "hours_per_week", "income"]
    return data[columns], sl.Schema(tuple(schema[c] for c in columns))


def test_canary_audit_bound_stays_below_the_claim(small):
    from synthloop.privacy.audit import canary_audit

    data, schema = small
    result = canary_audit(synthesizers.get("dp_mst", epsilon=0.5, **FAST), data, schema, n_fits=12)
    assert result.consistent, result.summary()
    assert result.column == "sex" and "consistent with the claim" in result.summary()


def test_canary_audit_catches_a_model_that_leaks_more_than_it_claims(small):
    from synthloop.privacy.audit import canary_audit

    data, schema = small
    result = canary_audit(_Leaky(epsilon=0.5, **FAST), data, schema, n_fits=40)
    assert not result.consistent and result.empirical_epsilon > 0.5, result.summary()


# ---------------------------------------------------------------------- DP-SGD (dp_vae)
def test_dp_sgd_accountant_stops_before_the_budget_is_exceeded():
    pytest.importorskip("opacus")
    from synthloop.nn.dp import calibrate, rdp_epsilon, steps_within

    steps = steps_within(1.0, 0.05, 1e-5, 1.0, 10**6)
    assert rdp_epsilon(1.0, 0.05, steps, 1e-5) <= 1.0 < rdp_epsilon(1.0, 0.05, steps + 1, 1e-5)
    sigma, allowed = calibrate(2.0, 1e-5, 0.1, 200)
    assert allowed == 200 and rdp_epsilon(sigma, 0.1, 200, 1e-5) <= 2.0
    assert rdp_epsilon(sigma * 0.99, 0.1, 200, 1e-5) > 2.0 * 0.99      # calibrated, not merely safe


def test_dp_vae_spends_its_budget_in_a_row_count_and_dp_sgd_and_agrees_with_opacus(adult, tmp_path, opacus_epsilon):
    pytest.importorskip("opacus")
    from synthloop.nn.dp import MECHANISM

    data, schema = adult
    model = synthesizers.get("dp_vae", epsilon=1.0, epochs=2, batch_size=64, hidden=(16,), latent_dim=4,
                             seed=0).fit(data, schema)
    ledger = model.ledger_
    count, sgd = [e for e in ledger.entries if e.source == "budget"]
    assert count.mechanism == "gaussian row count" and sgd.mechanism == MECHANISM
    assert ledger.spent == pytest.approx(ledger.rho) and sgd.detail["epsilon"] <= 1.0
    assert sgd.detail["prior_rho"] == pytest.approx(count.rho)         # the count is composed into the accountant
    with pytest.raises(PrivacyError, match="budget exceeded"):
        ledger.charge("anything more", "gaussian", 1e-6)
    assert opacus_epsilon(sgd.detail, 1e-5) <= sgd.detail["epsilon"] + 1e-6 <= 1.0 + 1e-6
    rows = model.sample(200, seed=0)
    assert rows["age"].between(schema["age"].low, schema["age"].high).all()
    model.save(tmp_path / "m")
    assert sl.synthesizers.Synthesizer.load(tmp_path / "m").sample(20, seed=1).equals(model.sample(20, seed=1))
    with pytest.raises(PrivacyError, match="public schema"):
        synthesizers.get("dp_vae").fit(data)
