"""dp_argn: TabularARGN under DP-SGD: ghost clipping is exact, the accountant stops in time, nothing is read for free."""

from __future__ import annotations

import numpy as np
import pytest

import synthloop as sl
from synthloop import synthesizers
from synthloop.errors import PrivacyError
from synthloop.testing import default_data

pytest.importorskip("opacus")
torch = pytest.importorskip("torch")

FAST = {"epochs": 1, "batch_size": 100, "min_steps": 1, "hidden": 4, "embedding": 4, "fine_bins": 32, "progress": False}


@pytest.fixture(scope="module")
def adult():
    data = default_data()
    return data, sl.Schema.infer(data)


@pytest.fixture(scope="module")
def fitted(adult):
    data, schema = adult
    return synthesizers.get("dp_argn", epsilon=1.0, seed=0, **FAST).fit(data, schema)


def test_ghost_clipping_equals_clipping_every_row_gradient(fitted):
    """The closed-form per-row norms give the same clipped sum as torch.func's per-row gradients."""
    from torch.func import functional_call, grad, vmap

    from synthloop.nn.dp import clipped_sum
    from synthloop.synthesizers.dp_argn import ghost_clipped_sum

    net = fitted.net_
    rng = np.random.default_rng(0)
    tokens = torch.as_tensor(np.stack([rng.integers(0, c, 40) for c in fitted.tokens_.cardinalities], axis=1))
    rank = torch.as_tensor(rng.permutation(len(fitted.tokens_.columns)))
    names = [name for name, _ in net.named_parameters()]

    def row_loss(params, row, rank):
        logits = functional_call(net, params, (row[None], rank))
        return sum(torch.nn.functional.cross_entropy(z, row[None, s]) for s, z in enumerate(logits))

    per_row = vmap(grad(row_loss), in_dims=(None, 0, None))({n: p.detach() for n, p in net.named_parameters()},
                                                            tokens, rank)
    for clip in (0.05, 1e3):                                   # most rows clipped / none clipped
        reference = clipped_sum([[per_row[n] for n in names]], list(net.parameters()), clip)
        ghost = ghost_clipped_sum(net, tokens, rank, clip)
        for name, a, b in zip(names, ghost, reference, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)
    assert all(float(g.abs().sum()) == 0 for g in ghost_clipped_sum(net, tokens[:0], rank, 1.0))


def test_dp_argn_spends_its_budget_in_a_row_count_and_dp_sgd_and_agrees_with_opacus(fitted, adult, opacus_epsilon):
    from synthloop.nn.dp import MECHANISM

    _, schema = adult
    ledger = fitted.ledger_
    count, sgd = [e for e in ledger.entries if e.source == "budget"]
    assert count.mechanism == "gaussian row count" and sgd.mechanism == MECHANISM
    assert ledger.spent == pytest.approx(ledger.rho) and sgd.detail["epsilon"] <= 1.0
    assert int(sgd.detail["steps"]) == fitted.steps_ > 0 and sgd.detail["prior_rho"] == pytest.approx(count.rho)
    public = " ".join(e.what for e in ledger.entries if e.source == "public")
    assert all(name in public for name in schema.model_kinds()) and ledger.complete
    with pytest.raises(PrivacyError, match="budget exceeded"):
        ledger.charge("anything more", "gaussian", 1e-6)
    assert opacus_epsilon(sgd.detail, 1e-5) <= sgd.detail["epsilon"] + 1e-6
    assert abs(fitted.n_training_rows_ - len(adult[0])) < 0.5 * len(adult[0])      # the DP count, not the exact one


def test_dp_argn_stops_before_the_budget_when_the_plan_asks_for_more(adult):
    """At epsilon = 0.02 even the largest noise cannot pay for the planned steps: training stops early."""
    from synthloop.nn.dp import DPSGDPlan, rdp_epsilon

    data, schema = adult
    plan = DPSGDPlan.make(0.02, 1e-5, len(data), 100, 20)
    assert 0 < plan.allowed < plan.planned
    assert plan.spent(plan.allowed) <= 0.02 < plan.spent(plan.allowed + 1)
    model = synthesizers.get("dp_argn", epsilon=0.02, seed=0, **{**FAST, "epochs": 20}).fit(data, schema)
    detail = model.ledger_.entries[-1].detail
    sigma, rate, prior = detail["noise_multiplier"], detail["sample_rate"], detail["prior_rho"]
    assert 0 < model.steps_ < round(20 / rate)
    assert detail["epsilon"] == rdp_epsilon(sigma, rate, model.steps_, 1e-5, prior) <= 0.02
    assert rdp_epsilon(sigma, rate, model.steps_ + 1, 1e-5, prior) > 0.02


@pytest.mark.parametrize(("n_rows", "batch", "epochs"), [(39_073, 2000, 16.38), (8000, 500, 20), (455, 32, 22.5),
                                                        (200_000, 2000, 5)])
def test_the_plan_adapts_to_the_row_count(n_rows, batch, epochs):
    """Small tables get smaller batches and more epochs, so every table gets at least min_steps steps."""
    from synthloop.synthesizers.dp_argn import plan_shape

    got_batch, got_epochs = plan_shape(n_rows, 2000, 5.0, 320)
    assert got_batch == pytest.approx(batch) and got_epochs == pytest.approx(epochs, abs=0.01)
    assert got_epochs * n_rows / got_batch >= 320 - 1e-9


def test_dp_argn_fits_a_dp_row_count_into_its_plan(adult):
    """The plan is made from the DP count (in the ledger), not the exact one: its sampling rate says so."""
    from synthloop.synthesizers.dp_argn import plan_shape

    data, schema = adult
    model = synthesizers.get("dp_argn", epsilon=1.0, seed=0, **{**FAST, "min_steps": 50}).fit(data, schema)
    count, sgd = [e for e in model.ledger_.entries if e.source == "budget"]
    assert "row count" in count.what and count.detail["sigma"] > 0
    batch, _ = plan_shape(model.n_training_rows_, 100, 1.0, 50)
    assert sgd.detail["sample_rate"] == pytest.approx(batch / model.n_training_rows_, rel=0.01)
    assert model.steps_ >= 50 and model.n_training_rows_ != len(data)


def test_dp_argn_tokens_come_from_the_schema_not_the_rows(adult):
    data, schema = adult
    halves = [synthesizers.get("dp_argn", seed=0, **FAST).fit(part, schema)
              for part in (data.iloc[::2].reset_index(drop=True), data.iloc[1::2].reset_index(drop=True))]
    first, second = (h.tokens_ for h in halves)
    assert first.cardinalities == second.cardinalities and first.splits == second.splits
    for a, b in zip(first.columns, second.columns, strict=True):
        assert a.categories == b.categories and (a.edges is None or np.array_equal(a.edges, b.edges))
    # The token round trip stays inside each value's public cell.
    tokens = first.encode(data)
    decoded = first.decode(tokens, np.random.default_rng(0))
    assert np.array_equal(first.encode(decoded), tokens)


def test_dp_argn_seeds_reproduce_save_load_and_conditions(adult, fitted, tmp_path):
    data, schema = adult
    again = synthesizers.get("dp_argn", epsilon=1.0, seed=0, **FAST).fit(data, schema)
    other = synthesizers.get("dp_argn", epsilon=1.0, seed=1, **FAST).fit(data, schema)
    assert again.sample(40, seed=2).equals(fitted.sample(40, seed=2))
    assert not other.sample(40, seed=2).equals(fitted.sample(40, seed=2))
    fitted.save(tmp_path / "m")
    loaded = sl.synthesizers.Synthesizer.load(tmp_path / "m")
    assert loaded.sample(40, seed=2).equals(fitted.sample(40, seed=2)) and loaded.ledger_.rows() == fitted.ledger_.rows()
    women = fitted.sample(30, seed=0, conditions={"sex": "Female"})
    assert (women["sex"] == "Female").all()                    # met natively (post-processing of the DP weights)
    assert fitted.sample(200, seed=0)["age"].between(schema["age"].low, schema["age"].high).all()
    with pytest.raises(PrivacyError, match="public schema"):
        synthesizers.get("dp_argn", **FAST).fit(data)
    assert type(fitted).search_space(None) == {}                # argn's space would tune on the private rows


@pytest.mark.slow
def test_canary_audit_of_dp_argn_stays_below_the_claim(adult):
    """The empirical audit runs on a DP-SGD model too (2 × 8 fits of a tiny dp_argn, about 20-40 s)."""
    from synthloop.privacy.audit import canary_audit

    data, schema = adult
    columns = ["age", "sex", "relationship", "hours_per_week", "income"]
    small = sl.Schema(tuple(schema[c] for c in columns))
    result = canary_audit(synthesizers.get("dp_argn", epsilon=0.5, **FAST), data[columns], small, n_fits=8,
                          n_samples=1000)
    assert result.consistent, result.summary()
    assert result.column == "sex" and result.empirical_epsilon <= 0.5
