"""The collapse lab: retrain synthesizers on their own output under policies, and guard real fits."""

from synthloop.lab.guard import CollapseRiskError, GuardThresholds, audit, check_training_data, guard_fit
from synthloop.lab.policies import Accumulate, Filtered, MixReal, NaiveFilter, Policy, Replace
from synthloop.lab.run import LabResult, run_lab

__all__ = ["Accumulate", "CollapseRiskError", "Filtered", "GuardThresholds", "LabResult", "MixReal", "NaiveFilter",
           "Policy", "Replace", "audit", "check_training_data", "guard_fit", "run_lab"]
