"""Public contract checks for third-party parts: ``check_synthesizer(MyModel())``, ``check_transform``, ``check_metric``."""

from synthloop.testing.checks import CHECKS, ContractError, check_synthesizer, default_data
from synthloop.testing.parts import check_metric, check_transform

__all__ = ["CHECKS", "ContractError", "check_metric", "check_synthesizer", "check_transform", "default_data"]
