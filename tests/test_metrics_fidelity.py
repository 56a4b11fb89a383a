"""Known-answer tests for fidelity, pair-trend, multivariate and collapse metrics."""

import numpy as np
import pandas as pd
import pytest

import synthloop as sl
from synthloop.metrics import METRICS, NotApplicable, collapse, fidelity, multivariate
from synthloop.metrics.cache import shared_cache


@pytest.fixture(scope="module")
def small(adult_small):
    return adult_small.iloc[:1500].reset_index(drop=True)


@pytest.fixture(scope="module")
def schema(small):
    return sl.Schema.infer(small, target="income")


@pytest.fixture(scope="module")
def holdout():
    return sl.datasets.load("adult", split="test").sample(1500, random_state=1).reset_index(drop=True)


@pytest.fixture(scope="module")
def independent(small, schema):
    return sl.synthesizers.get("independent", seed=0).fit(small, schema).sample(len(small))


def _shuffled(frame, column, seed=0):
    out = frame.copy()
    out[column] = np.random.default_rng(seed).permutation(out[column].to_numpy())
    return out


def test_identical_data_scores_best_on_marginals_and_pairs(small, schema):
    rng = np.random.default_rng(0)
    assert fidelity.ks_complement(small, small.copy(), schema).value == 1.0
    assert fidelity.tv_complement(small, small.copy(), schema).value == 1.0
    assert fidelity.wasserstein(small, small.copy(), schema).value == 0.0
    assert fidelity.correlation_similarity(small, small.copy(), schema, rng=rng).value == pytest.approx(1.0)
    assert fidelity.contingency_similarity(small, small.copy(), schema, rng=rng).value == pytest.approx(1.0)


def test_shifted_column_scores_worse_on_marginals(small, schema):
    shifted = small.assign(age=small["age"] + 15)
    assert fidelity.ks_complement(small, shifted, schema).value < 0.95
    assert fidelity.wasserstein(small, shifted, schema).value > 0.02
    details = fidelity.ks_complement(small, shifted, schema).details.set_index("column")["ks_complement"]
    assert details.idxmin() == "age"


def test_shuffled_column_scores_worse_on_pairs(small, schema):
    rng = np.random.default_rng(0)
    shuffled = _shuffled(_shuffled(small, "education_num"), "relationship", seed=1)
    assert fidelity.correlation_similarity(small, shuffled, schema, rng=rng).value < 0.99
    assert fidelity.contingency_similarity(small, shuffled, schema, rng=rng).value < 0.97
    assert multivariate.precision(small, shuffled, schema, rng=rng).value < 0.95


def test_independent_columns_lose_pair_trends(small, schema, holdout, independent):
    rng = np.random.default_rng(0)
    for function in (fidelity.correlation_similarity, fidelity.contingency_similarity):
        assert function(small, independent, schema, rng=rng).value < function(small, holdout, schema, rng=rng).value
    pairs = fidelity.association_table(small, independent, schema)
    education = pairs[(pairs["column_a"] == "education") & (pairs["column_b"] == "education_num")].iloc[0]
    assert education["real"] > 0.9 and education["synthetic"] < 0.3


@pytest.mark.slow
def test_multivariate_identical_versus_independent(small, schema, independent):
    with shared_cache():
        _multivariate_identical_versus_independent(small, schema, independent)


def _multivariate_identical_versus_independent(small, schema, independent):
    same = {name: METRICS[name](small, small.copy(), schema, rng=np.random.default_rng(0)).value
            for name in ("precision", "recall", "coverage", "density", "alpha_precision", "beta_recall", "mmd")}
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    assert same["density"] == pytest.approx(1.2)     # each row sits in its own ball too: (1 + k) / k
    assert same["alpha_precision"] > 0.9 and same["beta_recall"] > 0.9
    assert same["mmd"] == pytest.approx(0.0, abs=1e-9)
    other = {name: METRICS[name](small, independent, schema, rng=np.random.default_rng(0)).value
             for name in ("precision", "coverage", "mmd", "beta_recall")}
    assert other["precision"] < 0.8 and other["coverage"] < 0.8
    assert other["mmd"] > same["mmd"] and other["beta_recall"] < same["beta_recall"]


def test_collapse_metrics_see_lost_categories_ranges_and_tails(small, schema):
    assert collapse.category_coverage(small, small.copy(), schema).value == 1.0
    assert collapse.rare_category_retention(small, small.copy(), schema).value == 1.0
    assert collapse.range_coverage(small, small.copy(), schema).value == 1.0
    assert collapse.tail_mass(small, small.copy(), schema).value == 1.0
    common = small["workclass"].value_counts().index[0]
    collapsed = small.assign(workclass=common, age=small["age"].clip(30, 50))
    assert collapse.category_coverage(small, collapsed, schema).value < 1.0
    assert collapse.rare_category_retention(small, collapsed, schema).value < 1.0
    assert collapse.range_coverage(small, collapsed, schema).value < 1.0
    tails = collapse.tail_mass(small, collapsed, schema).details.set_index("column")
    assert tails.loc["age", "ratio"] == 0.0


def test_neighbourhood_coverage_drops_when_rows_collapse(small, schema):
    one_row = pd.concat([small.iloc[[0]]] * len(small), ignore_index=True)
    assert multivariate.coverage(small, one_row, schema, rng=np.random.default_rng(0)).value < 0.05


def test_metrics_respect_bounds_and_handle_missing_values(penguins):
    real, synthetic = penguins.iloc[:170].reset_index(drop=True), penguins.iloc[170:].reset_index(drop=True)
    schema = sl.Schema.infer(penguins, target="species")
    for name in ("ks_complement", "tv_complement", "wasserstein", "correlation_similarity", "contingency_similarity",
                 "mmd", "precision", "recall", "density", "coverage", "alpha_precision", "beta_recall",
                 "category_coverage", "range_coverage"):
        info = METRICS[name]
        value = info(real, synthetic, schema, rng=np.random.default_rng(0)).value
        assert info.bounds[0] <= value <= info.bounds[1], name


def test_not_applicable_without_numeric_columns(small):
    categorical = small[["workclass", "sex"]]
    with pytest.raises(NotApplicable):
        fidelity.ks_complement(categorical, categorical)
