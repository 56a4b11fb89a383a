"""Known-answer tests for privacy metrics: a copy of the training data is flagged by every one."""

import numpy as np
import pytest

import synthloop as sl
from synthloop.metrics import METRICS, NotApplicable, privacy
from synthloop.metrics.cache import shared_cache

pytestmark = pytest.mark.slow   # two full privacy runs (copy and fresh) share the module fixtures

PRIVACY = [name for name, info in METRICS.items() if info.family == "privacy"]


@pytest.fixture(scope="module")
def train(adult_small):
    return adult_small.iloc[:1200].reset_index(drop=True)


@pytest.fixture(scope="module")
def holdout():
    return sl.datasets.load("adult", split="test").sample(800, random_state=2).reset_index(drop=True)


@pytest.fixture(scope="module")
def schema(train):
    return sl.Schema.infer(train, target="income", sensitive=["sex", "relationship"])


def _scores(train, synthetic, schema, holdout):
    with shared_cache():
        return {name: METRICS[name](train, synthetic, schema, holdout=holdout, rng=np.random.default_rng(0))
                for name in PRIVACY}


@pytest.fixture(scope="module")
def copy_scores(train, schema, holdout):
    return _scores(train, train.sample(frac=1.0, random_state=0).reset_index(drop=True), schema, holdout)


@pytest.fixture(scope="module")
def fresh_scores(train, schema, holdout):
    fresh = sl.datasets.load("adult", split="test").sample(1000, random_state=3).reset_index(drop=True)
    return _scores(train, fresh, schema, holdout)


def test_copy_of_training_set_is_flagged_by_every_privacy_metric(copy_scores, fresh_scores):
    assert set(copy_scores) == {"dcr_share", "dcr_median", "nndr_median", "exact_copy_rate", "authenticity",
                                "membership_inference_auc", "attribute_inference_risk"}
    flagged = {
        "dcr_share": copy_scores["dcr_share"].value > 0.95,
        "dcr_median": copy_scores["dcr_median"].value == 0.0 < copy_scores["dcr_median"].baseline,
        "nndr_median": copy_scores["nndr_median"].value == 0.0 < copy_scores["nndr_median"].baseline,
        "exact_copy_rate": copy_scores["exact_copy_rate"].value == 1.0,
        "authenticity": copy_scores["authenticity"].value < 0.05,
        "membership_inference_auc": copy_scores["membership_inference_auc"].value > 0.9,
        "attribute_inference_risk": copy_scores["attribute_inference_risk"].value > 0.5,
    }
    assert all(flagged.values()), flagged
    # ...and each metric would look unremarkable for unseen real rows.
    assert 0.35 < fresh_scores["dcr_share"].value < 0.65
    assert fresh_scores["exact_copy_rate"].value < 0.02
    assert 0.4 < fresh_scores["membership_inference_auc"].value < 0.6
    assert fresh_scores["attribute_inference_risk"].value < 0.2
    assert fresh_scores["authenticity"].value > 0.3


def test_privacy_scores_stay_in_bounds(fresh_scores):
    for name, score in fresh_scores.items():
        low, high = METRICS[name].bounds
        assert low <= score.value <= high, name


def test_holdout_metrics_need_a_holdout(train, schema):
    with pytest.raises(NotApplicable):
        privacy.dcr_share(train, train, schema)
    with pytest.raises(NotApplicable):
        privacy.membership_inference_auc(train, train, schema)
    with pytest.raises(NotApplicable):
        privacy.attribute_inference_risk(train, train, sl.Schema.infer(train))


def test_dcr_histograms_cover_both_tables(copy_scores):
    histogram = copy_scores["dcr_share"].details
    assert set(histogram["from"]) == {"synthetic", "holdout"}
    assert histogram.groupby("from")["share"].sum().round(6).tolist() == [1.0, 1.0]
