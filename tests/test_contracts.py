"""Every registered synthesizer passes the shipped contract suite (synthloop.testing)."""

import pytest

from synthloop import synthesizers
from synthloop.testing import CHECKS, ContractError, check_synthesizer, default_data
from synthloop.testing.checks import check_round_trip

# Parameters that make a model fit in about a second on 300 rows; a new model adds one line here.
FAST_PARAMS: dict[str, dict[str, object]] = {
    "independent": {},
    "gaussian_copula": {},
    "cart": {},
    "ctgan": {"epochs": 1, "batch_size": 100, "generator_dim": (32,), "critic_dim": (32,), "embedding_dim": 16,
              "progress": False},
    "tvae": {"epochs": 2, "batch_size": 100, "hidden": (32,), "latent_dim": 8, "progress": False},
    "tabddpm": {"epochs": 2, "batch_size": 100, "hidden": (32,), "time_dim": 16, "timesteps": 10, "progress": False},
    "argn": {"epochs": 2, "batch_size": 100, "hidden": 8, "progress": False},
}


@pytest.fixture(scope="module")
def contract_data():
    return default_data()


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("name", synthesizers.available())
def test_synthesizer_contract(name, check, contract_data):
    model = synthesizers.get(name, **FAST_PARAMS.get(name, {}))
    check(model, contract_data)


@pytest.mark.slow
def test_check_synthesizer_runs_every_check():
    assert check_synthesizer(synthesizers.get("cart"), fast_params={"min_leaf": 3}) == [c.__name__ for c in CHECKS]


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
