"""Behaviour of the baseline synthesizers on small real data (gaussian_copula, cart)."""

import inspect
import json

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file, save_file
from sklearn.tree import DecisionTreeRegressor

import synthloop as sl
from synthloop.errors import ArtifactError, ConfigError
from synthloop.synthesizers import _trees
from synthloop.synthesizers.cart import SequentialCART
from synthloop.synthesizers.gaussian_copula import GaussianCopula


@pytest.fixture(scope="module")
def adult_schema(adult_small):
    return sl.Schema.infer(adult_small, target="income")


@pytest.fixture(scope="module")
def copula(adult_small, adult_schema):
    return GaussianCopula(seed=0).fit(adult_small, adult_schema)


@pytest.fixture(scope="module")
def cart(adult_small, adult_schema):
    return SequentialCART(seed=0).fit(adult_small, adult_schema)


def _raw_sample(model, n_rows: int, seed: int) -> pd.DataFrame:
    """Samples from the model itself, without a base-class privacy filter where one exists."""
    off = {"privacy": "off"} if "privacy" in inspect.signature(model.sample).parameters else {}
    return model.sample(n_rows, seed=seed, **off)


def _row_keys(frame: pd.DataFrame) -> set[tuple]:
    return set(frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None))


# ---------------------------------------------------------------------- gaussian copula
def test_copula_keeps_point_masses_missing_rates_and_labels(copula, adult_small):
    synthetic = copula.sample(4000, seed=0)
    assert abs((synthetic["capital_gain"] == 0).mean() - (adult_small["capital_gain"] == 0).mean()) < 0.02
    assert abs(synthetic["workclass"].isna().mean() - adult_small["workclass"].isna().mean()) < 0.02
    assert set(synthetic["occupation"].dropna()) <= set(adult_small["occupation"].dropna())


def test_copula_learns_dependence(copula, adult_small):
    synthetic = copula.sample(4000, seed=0)
    real = adult_small["education_num"].corr(adult_small["income"].eq(">50K").astype(float))
    fake = synthetic["education_num"].corr(synthetic["income"].eq(">50K").astype(float))
    assert real > 0.25 and abs(fake - real) < 0.06


def test_copula_conditions_are_exact_and_shift_other_columns(copula, adult_small):
    rich = copula.sample(2000, conditions={"income": ">50K"}, seed=0)
    poor = copula.sample(2000, conditions={"income": "<=50K"}, seed=0)
    assert (rich["income"] == ">50K").all() and (poor["income"] == "<=50K").all()
    assert rich["education_num"].mean() > poor["education_num"].mean() + 1
    zeros = copula.sample(200, conditions={"capital_gain": 0}, seed=0)
    assert (zeros["capital_gain"] == 0).all()


@pytest.mark.parametrize("model", [GaussianCopula(seed=0), SequentialCART(min_leaf=10, seed=0)], ids=["copula", "cart"])
def test_missing_numbers_survive_sampling_and_saving(model, penguins, tmp_path):
    model.fit(penguins)
    synthetic = model.sample(3000, seed=0)
    assert 0 < synthetic["bill_length_mm"].isna().mean() < 0.05
    missing = model.sample(10, conditions={"bill_length_mm": np.nan}, seed=0)
    assert missing["bill_length_mm"].isna().all()
    model.save(tmp_path / "m", keep_privacy_reference=True)
    again = sl.synthesizers.Synthesizer.load(tmp_path / "m")
    pd.testing.assert_frame_equal(again.sample(300, seed=2), model.sample(300, seed=2))


# ---------------------------------------------------------------------- tree arrays
def test_array_walk_matches_sklearn_apply(adult_small):
    rng = np.random.default_rng(0)
    features = adult_small[["age", "education_num", "hours_per_week"]].to_numpy(dtype=float)
    features[rng.random(features.shape) < 0.1] = np.nan
    target = adult_small["fnlwgt"].to_numpy(dtype=float)
    model = DecisionTreeRegressor(min_samples_leaf=5, random_state=0).fit(features, target)
    tree = {"left": model.tree_.children_left, "right": model.tree_.children_right,
            "feature": model.tree_.feature, "threshold": model.tree_.threshold,
            "missing_left": model.tree_.missing_go_to_left}
    assert np.array_equal(_trees.walk(tree, features), model.apply(features.astype(np.float32)))


def test_cart_donors_are_shuffled_within_leaves(adult_small):
    """The first tree has one leaf: its donors are the first column, which must not be in training order."""
    model = SequentialCART(order="data", seed=0).fit(adult_small)
    pool = model.trees_[0]["pool"]
    first = adult_small[model.order_[0]].to_numpy(dtype="float64")
    assert sorted(pool) == sorted(first) and (pool != first).mean() > 0.5


# ---------------------------------------------------------------------- cart
def test_cart_values_stay_on_the_real_support(cart, adult_small):
    synthetic = cart.sample(2000, seed=0)
    for column in ("age", "capital_gain", "hours_per_week", "fnlwgt"):
        assert set(synthetic[column]) <= set(adult_small[column])
    assert abs((synthetic["capital_gain"] == 0).mean() - (adult_small["capital_gain"] == 0).mean()) < 0.03


def test_cart_avoid_copies_removes_training_rows(adult_small, adult_schema):
    # calibrate=False: a fixed leaf of 2 (a calibrated fit grows the leaf until draws stop copying) and
    # no copy allowance (Adult's held-out rows almost never repeat a training row anyway)
    leaky = SequentialCART(min_leaf=2, order="data", avoid_copies=False, calibrate=False,
                           seed=0).fit(adult_small, adult_schema)
    careful = leaky.clone().set_params(avoid_copies=True).fit(adult_small, adult_schema)
    training = _row_keys(adult_small)
    assert len(_row_keys(_raw_sample(leaky, 2000, seed=0)) & training) > 20      # the mechanism has work to do
    assert not _row_keys(_raw_sample(careful, 2000, seed=0)) & training


def test_cart_conditions_on_a_late_column_reach_earlier_columns(cart):
    assert cart.order_[0] == "income" and cart.order_.index("relationship") > cart.order_.index("sex")
    wives = cart.sample(300, conditions={"relationship": "Wife"}, seed=0)
    assert (wives["relationship"] == "Wife").all()
    assert (wives["sex"] == "Female").mean() > 0.9                        # sex was drawn given the condition
    frame = pd.DataFrame({"relationship": ["Husband", "Wife"] * 50, "income": [">50K"] * 100})
    rows = cart.sample(0, conditions=frame, seed=0)
    assert (rows["relationship"].to_numpy() == frame["relationship"].to_numpy()).all()
    assert (rows["income"] == ">50K").all()


def test_cart_numeric_condition(cart):
    rows = cart.sample(100, conditions={"age": 37}, seed=0)
    assert (rows["age"] == 37).all() and len(rows) == 100


def test_cart_rejects_a_bad_order(adult_small):
    with pytest.raises(ConfigError, match="missing"):
        SequentialCART(order=["age", "income"]).fit(adult_small)


def test_cart_file_holds_arrays_and_walks_them_after_load(cart, tmp_path):
    cart.save(tmp_path / "m", keep_privacy_reference=True)
    arrays = load_file(str(tmp_path / "m" / "weights.safetensors"))
    assert {"tree/3/left", "tree/3/threshold", "tree/3/pool"} <= set(arrays)
    assert "row_hashes" not in arrays                                       # no per-row membership oracle
    assert json.loads((tmp_path / "m" / "config.json").read_text())["meta"]["order"] == cart.order_
    loaded = sl.synthesizers.Synthesizer.load(tmp_path / "m")
    pd.testing.assert_frame_equal(loaded.sample(500, seed=4), cart.sample(500, seed=4))


def test_cart_refuses_tampered_tree_arrays(cart, tmp_path):
    cart.save(tmp_path / "m")
    weights = tmp_path / "m" / "weights.safetensors"
    arrays = load_file(str(weights))
    arrays["tree/5/left"] = np.zeros_like(arrays["tree/5/left"])          # a cycle: every node points at the root
    save_file(arrays, str(weights))
    with pytest.raises(ArtifactError, match="corrupt"):
        sl.synthesizers.Synthesizer.load(tmp_path / "m")


@pytest.mark.slow
def test_cart_fits_adult_quickly(adult_train):
    import time

    started = time.perf_counter()
    model = SequentialCART(seed=0).fit(adult_train)
    assert time.perf_counter() - started < 20                             # 10 s target on 2 idle cores
    assert len(model.sample(1000, seed=0)) == 1000


def test_cart_smoothing_moves_values_only_along_the_real_support(adult_small, adult_schema):
    model = SequentialCART(smoothing=1.0, seed=0).fit(adult_small, adult_schema)
    synthetic = model.sample(2000, seed=0)
    assert set(synthetic["fnlwgt"]) <= set(adult_small["fnlwgt"])
    assert abs((synthetic["capital_gain"] == 0).mean() - (adult_small["capital_gain"] == 0).mean()) < 0.03
    assert (synthetic["hours_per_week"] == 40).mean() > 0.4                # the spike at 40 hours survives


def test_cart_tree_on_a_many_level_target_pools_rare_classes_for_splits_only():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(5000, 1))
    target = rng.integers(0, 3000, 5000).astype("float64")             # 3,000 classes
    tree = _trees.fit_tree(features, target, categorical=True, min_leaf=20, max_depth=None, seed=0)
    assert sorted(tree["pool"]) == sorted(target)                       # donors keep every real label
    assert len(np.unique(_trees._pooled_classes(target.astype(np.int64)))) == _trees.MAX_SPLIT_CLASSES
