"""Public contract checks for third-party synthesizers: ``check_synthesizer(MyModel())``."""

from synthloop.testing.checks import CHECKS, ContractError, check_synthesizer, default_data

__all__ = ["CHECKS", "ContractError", "check_synthesizer", "default_data"]
