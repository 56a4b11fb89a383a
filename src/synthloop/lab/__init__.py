"""The collapse lab: retrain synthesizers on their own output under policies and watch what is lost.

Policies, verifiers and the guard live in :mod:`synthloop.loop` (re-exported here for convenience).
"""

from synthloop.lab.run import LabResult, run_lab
from synthloop.loop import (
                            Accumulate,
                            CollapseRiskError,
                            Filtered,
                            GuardThresholds,
                            MixReal,
                            NaiveFilter,
                            Policy,
                            Replace,
                            audit,
                            check_training_data,
                            guard_fit,
)

__all__ = ["Accumulate", "CollapseRiskError", "Filtered", "GuardThresholds", "LabResult", "MixReal", "NaiveFilter",
           "Policy", "Replace", "audit", "check_training_data", "guard_fit", "run_lab"]
