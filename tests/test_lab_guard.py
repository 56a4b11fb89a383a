import warnings

import pytest

from synthloop.errors import ConfigError, LineageError, SynthloopWarning
from synthloop.io.tables import write_table
from synthloop.lineage import LineageStore
from synthloop.loop.guard import CollapseRiskError, GuardThresholds, audit, check_training_data, guard_fit


@pytest.fixture
def chain(tmp_path, adult_small):
    store = LineageStore(tmp_path / "lineage.db")
    real = store.add(adult_small.head(300), kind="real")
    gen1 = store.add(adult_small.head(200), kind="synthetic", parents=[real.id], synthesizer="independent")
    gen2 = store.add(adult_small.head(100), kind="synthetic", parents=[gen1.id], synthesizer="independent")
    half = store.add(adult_small.iloc[300:500], kind="mixed", parents={real.id: 100, gen1.id: 100})
    return store, real, gen1, gen2, half


def test_real_and_half_real_data_pass_silently(chain):
    _store, real, _, _, half = chain
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_training_data(real) is None
        assert check_training_data(half) is None  # 50% synthetic is at the default threshold, not beyond


def test_fitting_on_synthetic_data_warns_with_thresholds_reason_and_policy(chain):
    _, _, gen1, gen2, _ = chain
    with pytest.warns(SynthloopWarning) as caught:
        check_training_data(gen2)
    message = str(caught[0].message)
    for expected in ("100% of its rows descend from generated data", "max_synthetic_share=50%",
                     "2 generations away from real data", "max_depth=1", "accumulate", "mix-real", "Shumailov"):
        assert expected in message
    with pytest.warns(SynthloopWarning, match="max_synthetic_share"):
        check_training_data(gen1)


def test_strict_mode_refuses(chain):
    _, _, _, gen2, _ = chain
    with pytest.raises(CollapseRiskError, match="strict mode: nothing was fitted"):
        check_training_data(gen2, strict=True)


def test_thresholds_are_configurable_and_validated(chain):
    _, _, gen1, _, _ = chain
    assert check_training_data(gen1, thresholds=GuardThresholds(max_synthetic_share=1.0, max_depth=1)) is None
    with pytest.raises(ConfigError):
        GuardThresholds(max_synthetic_share=1.5)


def test_guard_fit_strict_leaves_the_store_untouched_for_a_synthetic_file(chain, adult_small, tmp_path):
    _store, _, _, gen2, _ = chain
    path = write_table(adult_small.head(100), tmp_path / "gen2.parquet", metadata=gen2.provenance())
    fresh = LineageStore(tmp_path / "fresh.db")
    with pytest.raises(LineageError):
        guard_fit(fresh, adult_small.head(100), synthesizer="independent", source=path, strict=True)
    assert fresh.records() == [] and fresh.events() == []
    with pytest.warns(SynthloopWarning):
        record = guard_fit(fresh, adult_small.head(100), synthesizer="independent", source=path)
    assert (record.kind, record.depth) == ("synthetic", 2)


def test_audit_flags_risky_datasets_and_recorded_fits(chain, adult_small):
    store, real, _, gen2, _ = chain
    with pytest.warns(SynthloopWarning):
        guard_fit(store, adult_small.head(100), synthesizer="independent")  # == gen2's content
    table = audit(store).set_index("id")
    assert bool(table.loc[gen2.id, "at_risk"]) and bool(table.loc[gen2.id, "fitted_on"])
    assert not table.loc[real.id, "at_risk"]


def test_guard_without_a_store_reads_the_file_provenance(chain, adult_small, tmp_path):
    _, _, _, gen2, _ = chain
    path = write_table(adult_small.head(100), tmp_path / "gen2.csv", metadata=gen2.provenance())
    with pytest.raises(CollapseRiskError, match="max_depth=1"):
        guard_fit(None, adult_small.head(100), synthesizer="cart", source=path, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert guard_fit(None, adult_small.head(100), synthesizer="cart").kind == "real"
