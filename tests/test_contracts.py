"""Every registered synthesizer passes the shipped contract suite (synthloop.testing)."""

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
