"""Moved to :mod:`synthloop.loop.guard`; kept so existing imports work."""

from synthloop.loop.guard import CollapseRiskError, GuardThresholds, audit, check_training_data, collapse_risk, guard_fit

__all__ = ["CollapseRiskError", "GuardThresholds", "audit", "check_training_data", "collapse_risk", "guard_fit"]
