"""The published model-collapse results, reproduced (see docs/collapse.md for the numbers)."""

import math

import numpy as np
import pytest

import synthloop as sl
from synthloop.lab import Accumulate, MixReal, Replace, run_lab
from synthloop.lab.science import c4, gaussian_chains, regression_errors, regression_replace_rate
from synthloop.synthesizers import get


def test_c4_matches_the_published_value():
    assert c4(100) ** 100 == pytest.approx(0.777, abs=0.001)
    assert c4(2) == pytest.approx(math.sqrt(2 / math.pi))


def test_gaussian_replace_shrinks_the_expected_std_like_c4_to_the_g():
    # Shumailov et al. (Nature 2024): E[σ_g] = c4(M)^g; M = 100 gives 0.777 at g = 100.
    chains = gaussian_chains(n_samples=100, generations=100, n_chains=2000, seed=0)
    expected = np.array([c4(100) ** g for g in range(101)])
    assert chains.std[:, 100].mean() == pytest.approx(0.777, abs=0.04)
    assert np.abs(chains.std.mean(axis=0) - expected).max() < 0.04
    exact = gaussian_chains(n_samples=100, generations=100, n_chains=20000, exact_statistics=True, seed=1)
    assert exact.std[:, 100].mean() == pytest.approx(0.777, abs=0.015)


def test_almost_every_gaussian_chain_collapses_under_replace():
    drawn = gaussian_chains(n_samples=10, generations=300, n_chains=500, seed=0)
    assert (drawn.std[:, 300] < 0.1).mean() > 0.99
    long = gaussian_chains(n_samples=100, generations=5000, n_chains=500, exact_statistics=True, seed=0)
    assert (long.std[:, 5000] < 0.1).mean() > 0.99


def test_accumulate_keeps_the_gaussian_mean_error_within_pi_squared_over_6m():
    n_samples, bound = 20, math.pi**2 / (6 * 20)
    accumulate = gaussian_chains(n_samples=n_samples, generations=50, n_chains=10000, policy="accumulate", seed=0)
    replace = gaussian_chains(n_samples=n_samples, generations=50, n_chains=2000, policy="replace", seed=0)
    mean_error = (accumulate.mean[:, 50] ** 2).mean()
    assert 1 / n_samples < mean_error < 1.05 * bound  # grows past one fit's error, but stays bounded
    assert (replace.mean[:, 50] ** 2).mean() > 10 * bound
    assert accumulate.std[:, 50].mean() == pytest.approx(1.0, abs=0.05)


def test_mixing_fresh_real_data_keeps_the_gaussian_from_collapsing():
    mixed = gaussian_chains(n_samples=10, generations=300, n_chains=500, policy="mix-real", fraction=0.5, seed=0)
    assert (mixed.std[:, 300] < 0.1).mean() == 0.0
    assert mixed.std[:, 300].mean() == pytest.approx(1.0, abs=0.15)


def test_regression_replace_error_grows_linearly():
    # Dohmatob et al. 2024 / Gerstgrasser et al. 2024: σ²d/(T−d−1)·n ≈ 0.112·n for d=10, T=100, σ=1.
    rate = regression_replace_rate(10, 100, 1.0)
    assert rate == pytest.approx(0.1124, abs=1e-4)
    errors = regression_errors(iterations=10, n_chains=1000, policy="replace", seed=0).mean(axis=0)
    assert errors / (rate * np.arange(1, 11)) == pytest.approx(np.ones(10), abs=0.12)


def test_regression_accumulate_error_stays_below_pi_squared_over_6_times_the_rate():
    bound = regression_replace_rate(10, 100, 1.0) * math.pi**2 / 6
    errors = regression_errors(iterations=10, n_chains=1000, policy="accumulate", seed=0).mean(axis=0)
    assert errors.max() < 1.03 * bound
    assert errors[-1] > errors[0]  # it does grow a little: accumulation bounds the damage, it does not undo it


def test_regression_mix_real_is_stable():
    errors = regression_errors(iterations=20, n_chains=500, policy="mix-real", fraction=0.5, seed=0).mean(axis=0)
    assert errors[-1] < 1.6 * errors[0] and errors[-1] == pytest.approx(errors[10], rel=0.15)


@pytest.mark.slow
def test_tabular_loop_loses_tails_and_rare_categories_under_replace_only():
    real = sl.datasets.load("adult", split="train").sample(600, random_state=0).reset_index(drop=True)
    holdout = sl.datasets.load("adult", split="test").sample(3000, random_state=0).reset_index(drop=True)
    result = run_lab(real, get("independent"), [Replace(), Accumulate(), MixReal(0.5)], generations=8, holdout=holdout,
                     schema=sl.Schema.infer(real, target="income"), seed=[0, 1], n_jobs=1,
                     metrics=["tail_share", "variance_ratio", "rare_category_survival"])
    first = result.results[result.results["generation"] == 1].groupby("policy").mean(numeric_only=True)
    last = result.final()
    assert last.loc["replace", "rare_category_survival"] < 0.5 * first.loc["replace", "rare_category_survival"]
    assert last.loc["replace", "tail_share"] < 0.5 * first.loc["replace", "tail_share"]
    assert last.loc["replace", "variance_ratio"] < 0.8
    for kept in ("accumulate", "mix-real-0.5"):
        assert last.loc[kept, "rare_category_survival"] > 2 * last.loc["replace", "rare_category_survival"]
        assert last.loc[kept, "tail_share"] > 2 * last.loc["replace", "tail_share"]
        assert last.loc[kept, "variance_ratio"] > 0.75


@pytest.mark.slow
def test_reproduce_lists_every_published_number_next_to_ours():
    from synthloop.lab.science import reproduce

    rows = {(r["experiment"], r["quantity"]): r for r in reproduce(quick=True)}
    assert len(rows) == 11 and all(math.isfinite(r["measured"]) for r in rows.values())
    assert rows[("Gaussian M=100, replace", "E[σ_100]")]["published"].endswith("0.777")
    assert rows[("Regression d=10 T=100 σ=1, accumulate", "test error at n=10")]["measured"] < 0.185 * 1.05
