"""DP bounds and category sets bought with part of the budget when the public schema lacks them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import synthloop as sl
from synthloop import synthesizers
from synthloop.cli import app
from synthloop.errors import PrivacyError
from synthloop.privacy.accounting import Ledger, epsilon_for
from synthloop.privacy.domains import BOUNDS, BUCKET_THRESHOLD, SELECTION, bucket_edges, dp_bounds, dp_categories
from synthloop.schema import Column
from synthloop.testing import default_data

FAST = {"dp_mst": {"iters": 0, "max_bins": 8, "fine_bins": 64},
        "dp_argn": {"epochs": 1, "batch_size": 100, "hidden": 4, "embedding": 4, "fine_bins": 32, "progress": False},
        "dp_vae": {"epochs": 1, "hidden": (8,), "latent_dim": 2}}
BARE = {"age": {"low": None, "high": None}, "capital_gain": {"high": None},
        "workclass": {"categories": None}, "race": {"categories": None}}
runner = CliRunner()


@pytest.fixture(scope="module")
def adult():
    data = default_data()
    schema = sl.Schema.infer(data)
    return data, schema, schema.with_columns(**BARE)


def column_entries(ledger: Ledger, name: str) -> list:
    """The ledger entries that give a column's domain: public, or bought for it."""
    return [e for e in ledger.entries if (e.source != "budget" or e.mechanism in (BOUNDS, SELECTION))
            and f" of {name} " in f"{e.what} "]


# ---------------------------------------------------------------------- the mechanisms
@pytest.mark.parametrize("seed", range(5))
def test_dp_bounds_land_near_the_true_quantiles(seed):
    """4,000 rows at epsilon = 1 (half of rho on one column): the bounds hug the data, clipping under 2% a side."""
    rng = np.random.default_rng(100 + seed)
    values = rng.normal(50, 10, 4000)
    ledger = Ledger(1.0, 1e-5)
    low, high = dp_bounds(values, Column("x", "numeric"), ledger.rho / 2, ledger, np.random.default_rng(seed))
    assert np.quantile(values, 0.0) / 1.34 <= low <= np.quantile(values, 0.02)
    assert np.quantile(values, 0.98) <= high <= np.quantile(values, 1.0) * 1.34
    assert (values < low).mean() <= 0.02 and (values > high).mean() <= 0.02
    (entry,) = ledger.entries
    assert entry.rho == pytest.approx(ledger.rho / 2) and "clipped" in entry.what


def test_dp_bounds_keep_zero_as_an_edge_and_integers_whole():
    """A non-negative integer column with a point mass at 0 (as Adult's capital-gain) gets the bound 0 exactly."""
    rng = np.random.default_rng(0)
    values = np.where(rng.random(5000) < 0.7, 0, np.round(rng.lognormal(8, 1, 5000)))
    ledger = Ledger(1.0, 1e-5)
    low, high = dp_bounds(values, Column("gain", "numeric", integer=True), ledger.rho, ledger, rng)
    assert low == 0 and isinstance(high, int) and np.quantile(values, 0.98) <= high <= values.max() * 1.34
    edges = bucket_edges()
    assert 0.0 in edges and np.all(np.diff(edges) > 0) and edges[-1] == 1e15 and edges[0] == -1e15


def test_dp_bounds_refuse_when_no_bucket_clears_the_noise():
    ledger = Ledger(0.01, 1e-5)
    with pytest.raises(PrivacyError, match="raise domain_share"):
        dp_bounds(np.arange(20.0), Column("x", "numeric"), ledger.rho, ledger, np.random.default_rng(0))


@pytest.mark.parametrize("seed", range(5))
def test_partition_selection_drops_a_label_of_one_or_two_rows_and_keeps_frequent_ones(seed):
    labels = pd.Series(["A"] * 2000 + ["B"] * 1500 + ["C"] * 400 + ["rare one"] + ["rare two"] * 2 + [None] * 50)
    ledger = Ledger(1.0, 1e-5, reserved_delta=5e-6)
    kept = dp_categories(labels, Column("c", "categorical"), ledger.rho / 2, 5e-6, ledger,
                         np.random.default_rng(seed))
    assert kept == ("A", "B", "C")
    (entry,) = ledger.entries
    assert entry.mechanism == SELECTION and entry.delta == 5e-6 == ledger.spent_delta
    with pytest.raises(PrivacyError, match="delta"):                    # the reserve is spent
        ledger.charge("another selection", SELECTION, 1e-6, delta=1e-7)


def test_a_stored_ledger_that_overspends_its_reserved_delta_is_refused():
    ledger = Ledger(1.0, 1e-5, reserved_delta=5e-6)
    ledger.charge("selection", SELECTION, 1e-3, delta=5e-6)
    data = ledger.to_dict()
    assert Ledger.from_dict(data).spent_delta == 5e-6
    data["entries"][0]["delta"] = 6e-6
    with pytest.raises(PrivacyError, match="reserved"):
        Ledger.from_dict(data)


# ---------------------------------------------------------------------- the models
@pytest.mark.parametrize("model", ["dp_mst", "dp_argn", "dp_vae"])
def test_every_value_a_dp_model_uses_is_public_or_bought(adult, model):
    """Ledger completeness: each learned column is named once, by a public entry or by what was bought for it,
    and the total (the purchases, then the model's own releases) stays within (epsilon, delta)."""
    if model != "dp_mst":
        pytest.importorskip("opacus")
    data, schema, bare = adult
    fitted = synthesizers.get(model, epsilon=2.0, domain_share=0.2, seed=0, **FAST[model]).fit(data, bare)
    ledger = fitted.ledger_
    for name in schema.model_kinds():
        entries = column_entries(ledger, name)
        assert len(entries) == 1, (name, entries)
        assert entries[0].source == ("budget" if name in BARE else "public"), entries[0]
    bought = [e for e in ledger.entries if e.mechanism in (BOUNDS, SELECTION)]
    assert len(bought) == len(BARE) and ledger.complete
    assert sum(e.rho for e in bought) == pytest.approx(0.2 * ledger.rho)
    assert ledger.spent <= ledger.rho * (1 + 1e-9) and ledger.spent_delta <= ledger.reserved_delta
    assert epsilon_for(ledger.spent, ledger.delta - ledger.reserved_delta) <= 2.0 * (1 + 1e-4)
    assert ledger.entries[-1].detail.get("epsilon", 0.0) <= 2.0                # DP-SGD's accountant, all composed
    completed = fitted.schema_
    assert completed["age"].low is not None and completed["race"].categories is not None
    rows = fitted.sample(300, seed=0)
    assert rows["age"].between(completed["age"].low, completed["age"].high).all()
    assert set(rows["race"].dropna()) <= set(completed["race"].categories)


def test_bought_domains_reproduce_with_the_seed_and_survive_save_and_load(adult, tmp_path):
    data, _, bare = adult
    fits = [synthesizers.get("dp_mst", epsilon=2.0, domain_share=0.2, seed=3, **FAST["dp_mst"]).fit(data, bare)
            for _ in range(2)]
    assert fits[0].schema_ == fits[1].schema_ and fits[0].ledger_.rows() == fits[1].ledger_.rows()
    assert fits[0].sample(50, seed=0).equals(fits[1].sample(50, seed=0))
    other = synthesizers.get("dp_mst", epsilon=2.0, domain_share=0.2, seed=4, **FAST["dp_mst"]).fit(data, bare)
    assert other.ledger_.rows() != fits[0].ledger_.rows()
    fits[0].save(tmp_path / "m")
    loaded = synthesizers.Synthesizer.load(tmp_path / "m")
    assert loaded.schema_ == fits[0].schema_ and loaded.ledger_.rows() == fits[0].ledger_.rows()
    assert loaded.ledger_.reserved_delta == fits[0].ledger_.reserved_delta > 0


@pytest.mark.parametrize("model", ["dp_mst", "dp_argn"])
def test_a_schema_without_bounds_and_no_share_is_refused_with_what_to_do(adult, model):
    data, _, bare = adult
    with pytest.raises(PrivacyError, match="domain_share") as caught:
        synthesizers.get(model, **FAST[model]).fit(data, bare)
    assert "'age'" in str(caught.value) and "'workclass'" in str(caught.value) and "schema" in str(caught.value)


def test_cli_refuses_without_a_share_exit_2_and_buys_with_one(adult, tmp_path):
    data, _, bare = adult
    data.to_csv(tmp_path / "adult.csv", index=False)
    (tmp_path / "bare.json").write_text(bare.to_json())
    command = ["fit", str(tmp_path / "adult.csv"), "-m", "dp_mst", "--schema", str(tmp_path / "bare.json"),
               "-p", "iters=0", "-p", "fine_bins=64", "-p", "epsilon=3"]
    refused = runner.invoke(app, [*command, "-o", str(tmp_path / "no")])
    assert refused.exit_code == 2 and "domain_share" in refused.output and "Traceback" not in refused.output
    assert not (tmp_path / "no").exists()
    bought = runner.invoke(app, [*command, "-p", "domain_share=0.2", "-p", "seed=0", "-o", str(tmp_path / "m")])
    assert bought.exit_code == 0, bought.output
    assert "gaussian histogram (DP bounds)" in bought.output and "partition selection" in bought.output
    assert synthesizers.Synthesizer.load(tmp_path / "m").schema_["age"].low is not None
    shown = runner.invoke(app, ["models", "show", str(tmp_path / "m")])
    assert shown.exit_code == 0 and "delta=" in shown.output and "partition selection releases" in shown.output


def test_threshold_is_what_a_label_of_one_row_must_beat():
    """The bucket threshold keeps an empty bucket out with probability 1 - 3e-7 (5 sigma of a normal)."""
    from scipy.stats import norm

    assert norm.sf(BUCKET_THRESHOLD) < 3e-7
