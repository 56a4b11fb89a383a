"""Every registered synthesizer passes the shipped contract suite (synthloop.testing)."""

import numpy as np
import pytest

from synthloop import synthesizers
from synthloop.testing import CHECKS, ContractError, check_synthesizer, default_data
from synthloop.testing.checks import check_round_trip


@pytest.fixture(scope="module")
def contract_data():
    return default_data()


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("name", synthesizers.available())
def test_synthesizer_contract(name, check, contract_data):
    # Each model declares the parameters that make it fit in about a second on 300 rows (``test_params``).
    model = synthesizers.get(name, **synthesizers.get_class(name).test_params)
    check(model, contract_data)


@pytest.mark.slow
def test_check_synthesizer_runs_every_check():
    assert check_synthesizer(synthesizers.get("cart")) == [c.__name__ for c in CHECKS]


class _InventsLabels(synthesizers.get_class("independent")):
    """A broken model: samples a label that was never in the training data."""

    def _sample(self, n_rows, conditions, rng):
        rows = super()._sample(n_rows, conditions, rng)
        first_categorical = next(c.name for c in self.schema_.categorical())
        rows[first_categorical] = "invented label"
        return rows


def test_contract_check_catches_a_broken_model(contract_data):
    with pytest.raises(ContractError, match="never seen in training"):
        check_round_trip(_InventsLabels(), contract_data)


@pytest.mark.slow
def test_check_synthesizer_lists_every_failure(contract_data):
    with pytest.raises(ContractError, match="broke the contract") as info:
        check_synthesizer(_InventsLabels(), contract_data)
    assert "check_round_trip" in str(info.value) and "check_params" not in str(info.value)


# ---------------------------------------------------------------------- transforms and metrics
def _transforms():
    from synthloop.transforms.categorical import OneHotTransform
    from synthloop.transforms.numeric import ModeSpecificNormalizer, QuantileNormalizer

    return [("age", ModeSpecificNormalizer("age", max_modes=3)), ("age", QuantileNormalizer("age", n_quantiles=50)),
            ("workclass", OneHotTransform("workclass", categories=(), nullable=True))]


@pytest.mark.parametrize(("column", "transform"), _transforms(), ids=lambda v: getattr(v, "type", v))
def test_built_in_transforms_pass_check_transform(column, transform, contract_data):
    from synthloop.testing import check_transform

    schema_frame = __import__("synthloop").Schema.infer(contract_data).to_model_frame(contract_data)
    values = schema_frame[column].copy()
    values.iloc[:5] = np.nan                                      # missing values are part of the contract
    if column == "workclass":
        transform = type(transform)(column, categories=tuple(sorted(values.dropna().unique())), nullable=True)
    check_transform(transform, values)


def test_check_transform_catches_a_transform_that_forgets_its_state(contract_data):
    from synthloop.testing import check_transform
    from synthloop.transforms.numeric import QuantileNormalizer

    class Forgetful(QuantileNormalizer):
        def to_state(self):
            arrays, meta = super().to_state()
            return {k: np.zeros_like(v) for k, v in arrays.items()}, meta

    with pytest.raises(ContractError, match="rebuilt from to_state"):
        check_transform(Forgetful("age", n_quantiles=50), contract_data["age"].astype(float))


@pytest.mark.parametrize("name", ["ks_complement", "tv_complement", "category_coverage", "exact_copy_rate", "dcr_share"])
def test_built_in_metrics_pass_check_metric(name, contract_data):
    from synthloop.testing import check_metric

    check_metric(name, contract_data.iloc[:150], contract_data.iloc[150:].reset_index(drop=True))


def test_check_metric_catches_a_value_outside_its_bounds(contract_data):
    from dataclasses import replace

    from synthloop.metrics.registry import Score, get_metric
    from synthloop.testing import check_metric

    broken = replace(get_metric("ks_complement"), function=lambda real, synthetic, schema, **_: Score(1.5))
    with pytest.raises(ContractError, match="outside its bounds"):
        check_metric(broken, contract_data.iloc[:150], contract_data.iloc[150:])
