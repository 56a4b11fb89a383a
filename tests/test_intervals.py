"""95% intervals for every score, and "worse" only beyond them (issue 14)."""

import math

import numpy as np
import pandas as pd
import pytest

import synthloop as sl
from synthloop.metrics.intervals import auc_interval, bootstrap_rows, mean_interval, median_interval
from synthloop.metrics.models import binary_auc
from synthloop.report.terminal import comparison


def test_delong_matches_a_row_bootstrap():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 3000).astype(bool)
    score = rng.normal(size=3000) + 0.6 * truth
    low, high = auc_interval(truth, score)
    boot_low, boot_high = bootstrap_rows(binary_auc, truth, score, n_resamples=400)
    assert low < binary_auc(truth, score) < high
    assert low == pytest.approx(boot_low, abs=0.006) and high == pytest.approx(boot_high, abs=0.006)


def test_mean_and_median_intervals_cover_the_truth_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    draws = [rng.exponential(size=400) for _ in range(300)]
    mean_cover = np.mean([mean_interval(x)[0] <= 1.0 <= mean_interval(x)[1] for x in draws])
    median_cover = np.mean([median_interval(x)[0] <= math.log(2) <= median_interval(x)[1] for x in draws])
    assert 0.9 <= mean_cover <= 0.99 and 0.9 <= median_cover <= 0.99


def _row(value, baseline, ci, base_ci, goal="min"):
    return pd.DataFrame([{"metric": "m", "family": "privacy", "value": value, "baseline": baseline, "goal": goal,
                          "low": 0.0, "high": 1.0, "ci_low": ci[0], "ci_high": ci[1], "baseline_low": base_ci[0],
                          "baseline_high": base_ci[1], "interval": "closed form"}]).itertuples(index=False).__next__()


def test_worse_only_beyond_both_intervals():
    # the case: membership inference 0.508 against 0.476, each ±0.025 on 1,000 rows
    assert comparison(_row(0.508, 0.476, (0.483, 0.533), (0.451, 0.501))) == "as real"
    assert comparison(_row(0.60, 0.476, (0.575, 0.625), (0.451, 0.501))) == "worse"
    assert comparison(_row(0.508, 0.476, (math.nan, math.nan), (math.nan, math.nan))) == "worse"


def test_every_score_has_an_interval_or_says_why(adult_small):
    train, holdout = adult_small.iloc[:800].reset_index(drop=True), adult_small.iloc[800:1400].reset_index(drop=True)
    schema = sl.Schema.infer(train, target="income")
    synthetic = sl.synthesizers.get("independent", seed=0).fit(train, schema).sample(len(train))
    steps = []
    report = sl.evaluate(train, synthetic, schema, holdout=holdout, on_step=lambda *step: steps.append(step),
                         metrics=["ks_complement", "detection_auc", "dcr_share", "membership_inference_auc",
                                  "tstr_auc", "precision"])
    assert [name for name, _, _ in steps] == [*report.scores["metric"], "intervals"]
    for row in report.scores.itertuples(index=False):
        if row.interval.startswith("none"):
            continue
        assert row.ci_low <= row.value + 1e-9 and row.value - 1e-9 <= row.ci_high, row
        assert row.low <= row.ci_low and row.ci_high <= row.high, row
    assert set(report.scores["interval"]) <= {"closed form", "per column", "2 seeds", "none (same on every seed)",
                                               "none (over the time budget)"}
    assert sl.Report.from_json(report.to_json()).scores["ci_low"].tolist() == pytest.approx(
        report.scores["ci_low"].tolist(), nan_ok=True)
