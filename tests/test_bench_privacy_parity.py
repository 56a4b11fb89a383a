"""The privacy-parity benchmark's judging (``benchmarks/privacy_parity.py``), on generated data.

The benchmark reads real tables; here its held-out detection value is checked: an average over
shuffles of the training rows, with the count of real-row draws that meet the target themselves, and
the detection target read from that average.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import synthloop as sl


@pytest.fixture(scope="module")
def parity(script):
    return script("benchmarks/privacy_parity.py")


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"x": rng.normal(size=120), "kind": rng.choice(["a", "b", "c"], size=120)})
    table["y"] = table["x"] * 2 + rng.normal(size=120)
    table.loc[90:, "x"] += 0.6                    # a holdout the classifier can partly tell apart (AUC above 0.5)
    return table.iloc[:90].reset_index(drop=True), table.iloc[90:].reset_index(drop=True), sl.Schema.infer(table, target="y")


def test_the_held_out_detection_is_the_mean_over_shuffles_of_the_training_rows(parity, split):
    train, holdout, schema = split
    single = parity.holdout_baseline(train, holdout, schema, detection_draws=1)
    averaged = parity.holdout_baseline(train, holdout, schema, detection_draws=4)
    assert len(single.detection_draws) == 1 and len(averaged.detection_draws) == 4
    assert averaged.detection_auc == pytest.approx(np.mean(averaged.detection_draws))
    assert len(set(averaged.detection_draws)) > 1            # the shuffles draw different training rows
    assert averaged.detection_allowance() == max(parity.DETECTION_MAX, averaged.detection_auc + parity.DETECTION_SLACK)


def test_the_detection_target_reads_the_averaged_allowance(parity, split):
    train, holdout, schema = split
    baseline = parity.holdout_baseline(train, holdout, schema, detection_draws=3)
    run = parity.Run("generated", "real rows", 0.0, 0.0, train.sample(frac=1, random_state=1).reset_index(drop=True))
    row = parity.measure(run, train, holdout, schema, baseline)
    met = sum(d <= baseline.detection_allowance() for d in baseline.detection_draws)
    assert row.holdout_detection_met == f"{met}/3" and row.holdout_detection_auc == baseline.detection_auc
    row.detection_auc = baseline.detection_allowance() + 0.01
    assert "detection" in parity.check_targets(row, baseline)
    row.detection_auc = baseline.detection_allowance()
    assert "detection" not in parity.check_targets(row, baseline)
    assert f"({baseline.detection_auc:.3f}; {met}/3)" in parity.to_markdown([row])


def test_detection_draws_below_one_are_refused(parity):
    with pytest.raises(SystemExit):
        parity.main(["--detection-draws", "0", "--tables", "penguins"])
