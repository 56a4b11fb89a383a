"""Utility below a trivial baseline is flagged by evaluate and blocks the verdict (issue 13, item 3)."""

import numpy as np

import synthloop as sl
from synthloop.datasets import split_frame
from synthloop.metrics.utility import below_chance_note


def test_the_note_fires_only_at_or_below_chance_when_real_data_beats_it():
    assert below_chance_note("auc", 0.41, 0.71) is not None
    assert "0.410" in below_chance_note("auc", 0.41, 0.71)
    assert below_chance_note("auc", 0.62, 0.71) is None          # worse than real, but better than chance
    assert below_chance_note("auc", 0.48, 0.49) is None          # real data cannot beat chance either
    assert below_chance_note("r2", -0.57, 0.16) is not None
    assert below_chance_note("r2", 0.05, 0.16) is None
    assert below_chance_note("accuracy", 0.1, 0.9) is None       # no chance level declared for it
    assert below_chance_note("auc", 0.53, 0.8, low=0.49) is not None   # not distinguishable from chance
    assert below_chance_note("auc", 0.56, 0.8, low=0.52) is None


def test_evaluate_flags_a_sample_whose_target_is_unrelated_to_its_features(adult_small):
    train, holdout = split_frame(adult_small, target="income")
    schema = sl.Schema.infer(train, target="income")
    broken = train.copy()
    broken["income"] = np.random.default_rng(0).permutation(broken["income"].to_numpy())   # independent target
    report = sl.evaluate(train, broken, schema, holdout=holdout, metrics=["tstr_auc"])
    decision = report.decide()
    assert decision.verdict == "not ready"
    assert any("trivial baseline" in reason for reason in decision.reasons)
    good = sl.evaluate(train, train, schema, holdout=holdout, metrics=["tstr_auc"]).decide()
    assert not any("trivial baseline" in reason for reason in good.reasons)
