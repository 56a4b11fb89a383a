"""Domain constraints hold in every sampled row, for every baseline, with and without conditions."""

import time

import pytest

import synthloop as sl
from synthloop.errors import ConditionError, ConstraintError
from synthloop.schema import FixedCombinations, Inequality, Predicate, Range
from synthloop.schema.constraints import valid_mask

BASELINES = ["independent", "gaussian_copula", "cart"]


@pytest.fixture(scope="module")
def constrained(adult_small):
    schema = sl.Schema.infer(adult_small, target="income").with_constraints(
        Range("age", 25, 60),
        Inequality("education_num", "hours_per_week"),
        FixedCombinations(("education", "education_num")),
        Predicate("capital_gain < 20000 or income == '>50K'"),
    )
    return schema


@pytest.mark.parametrize("name", BASELINES)
def test_every_constraint_holds_in_every_row(name, adult_small, constrained):
    model = sl.synthesizers.get(name, seed=0).fit(adult_small, constrained)
    synthetic = model.sample(500, seed=1)
    assert len(synthetic) == 500
    assert valid_mask(model.schema_.constraints, synthetic).all()
    assert synthetic["age"].between(25, 60).all()
    pairs = set(zip(adult_small["education"], adult_small["education_num"], strict=True))
    assert set(zip(synthetic["education"], synthetic["education_num"], strict=True)) <= pairs


@pytest.mark.parametrize("name", BASELINES)
def test_constraints_and_conditions_together(name, adult_small, constrained):
    model = sl.synthesizers.get(name, seed=0).fit(adult_small, constrained)
    synthetic = model.sample(200, conditions={"sex": "Female"}, seed=2)
    assert len(synthetic) == 200 and (synthetic["sex"] == "Female").all()
    assert valid_mask(model.schema_.constraints, synthetic).all()


@pytest.mark.parametrize("name", BASELINES)
def test_impossible_constraint_fails_fast_and_clearly(name, adult_small):
    schema = sl.Schema.infer(adult_small).with_constraints(Predicate("age > 200"))
    model = sl.synthesizers.get(name, seed=0).fit(adult_small, schema)
    started = time.perf_counter()
    with pytest.raises(ConstraintError, match="impossible"):
        model.sample(50, seed=0)
    assert time.perf_counter() - started < 15


def test_impossible_condition_with_constraint_names_both(adult_small):
    schema = sl.Schema.infer(adult_small).with_constraints(Predicate("sex == 'Male'"))
    model = sl.synthesizers.get("cart", seed=0).fit(adult_small, schema)
    with pytest.raises((ConstraintError, ConditionError), match="sex"):
        model.sample(20, conditions={"sex": "Female"}, seed=0)
