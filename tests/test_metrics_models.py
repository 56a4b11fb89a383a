"""Known-answer tests for detection (adversarial validation), utility, calibration and fairness."""

import numpy as np
import pandas as pd
import pytest

import synthloop as sl
from synthloop.metrics import NotApplicable, detection, fairness, utility
from synthloop.metrics.cache import shared_cache


@pytest.fixture(scope="module")
def train(adult_small):
    return adult_small.iloc[:1500].reset_index(drop=True)


@pytest.fixture(scope="module")
def holdout():
    return sl.datasets.load("adult", split="test").sample(1000, random_state=4).reset_index(drop=True)


@pytest.fixture(scope="module")
def schema(train):
    return sl.Schema.infer(train, target="income", sensitive=["sex"])


@pytest.fixture(scope="module")
def independent(train, schema):
    return sl.synthesizers.get("independent", seed=0).fit(train, schema).sample(len(train))


@pytest.mark.slow
def test_detection_cannot_tell_identical_data_and_catches_independent_columns(train, schema, independent):
    rng = np.random.default_rng
    same = detection.detection_auc(train, train.copy(), schema, rng=rng(0))
    assert same.value == pytest.approx(0.5, abs=0.05)
    caught = detection.detection_auc(train, independent, schema, rng=rng(0))
    assert caught.value > 0.8
    assert set(caught.details["column"]) == set(schema.model_kinds())
    slices = caught.tables["detection_slices"]
    assert len(slices) > 0 and slices["confidence"].iloc[0] >= slices["confidence"].iloc[-1]


def test_shuffled_column_is_detected_and_attributed(train, schema):
    shuffled = train.copy()
    shuffled["relationship"] = np.random.default_rng(0).permutation(shuffled["relationship"].to_numpy())
    score = detection.detection_auc(train, shuffled, schema, rng=np.random.default_rng(0))
    assert score.value > 0.6
    assert "relationship" in score.details["column"].head(3).tolist()


@pytest.mark.slow
def test_tstr_of_a_copy_equals_train_real_test_real(train, schema, holdout, independent):
    with shared_cache():
        copy = utility.tstr_auc(train, train.copy(), schema, holdout=holdout, rng=np.random.default_rng(0))
        assert copy.value == pytest.approx(copy.baseline, abs=0.01)
        assert copy.baseline > 0.8
        assert set(copy.details["family"]) == {"boosting", "linear"}
        lost = utility.tstr_auc(train, independent, schema, holdout=holdout, rng=np.random.default_rng(0))
        assert lost.value < lost.baseline - 0.2
        agreement = utility.feature_importance_agreement(train, train.copy(), schema, holdout=holdout,
                                                         rng=np.random.default_rng(0))
        assert agreement.value > 0.8
        with pytest.raises(NotApplicable):
            utility.tstr_r2(train, independent, schema, holdout=holdout)


def test_tstr_regression_target(train, holdout):
    schema = sl.Schema.infer(train, target="education_num")
    score = utility.tstr_r2(train, train.copy(), schema, holdout=holdout, rng=np.random.default_rng(0))
    assert score.value == pytest.approx(score.baseline, abs=0.02) and score.baseline > 0.5


def test_calibration_error_known_answers():
    truth = np.r_[np.zeros(300, dtype=int), np.ones(700, dtype=int)]
    calibrated = np.tile([0.3, 0.7], (1000, 1))
    overconfident = np.tile([0.01, 0.99], (1000, 1))
    assert utility.expected_calibration_error(calibrated, truth) == pytest.approx(0.0, abs=1e-9)
    assert utility.expected_calibration_error(overconfident, truth) == pytest.approx(0.29)
    assert utility.brier_score(calibrated, truth) == pytest.approx(0.3 * 0.7**2 + 0.7 * 0.3**2)


def test_recalibration_on_a_real_slice_does_not_hurt(train, schema, holdout, independent):
    table = utility.calibration_ece(train, independent, schema, holdout=holdout, rng=np.random.default_rng(0)).details
    synthetic = table[table["trained_on"] == "synthetic"].set_index("stage")
    assert set(synthetic.index) == {"before", "after"}
    assert synthetic.loc["after", "brier"] <= synthetic.loc["before", "brier"] + 0.01


def test_fairness_gap_is_zero_for_identical_data_and_seen_when_dependence_is_lost(train, schema, holdout, independent):
    assert fairness.target_rate_gap(train, train.copy(), schema).value == 0.0
    assert fairness.target_rate_gap(train, independent, schema).value > 0.1
    copy = fairness.tstr_group_gap(train, train.copy(), schema, holdout=holdout, rng=np.random.default_rng(0))
    assert copy.value == pytest.approx(copy.baseline)
    with pytest.raises(NotApplicable):
        fairness.target_rate_gap(train, train, sl.Schema.infer(train, target="income"))


def test_synthetic_with_one_target_class_scores_as_a_constant_model(train, schema, holdout):
    collapsed = train.assign(income=train["income"].value_counts().index[0])
    score = utility.tstr_auc(train, collapsed, schema, holdout=holdout, rng=np.random.default_rng(0))
    assert score.value == pytest.approx(0.5)
    assert any("one target class" in note for note in score.notes)
    assert isinstance(score.details, pd.DataFrame)
