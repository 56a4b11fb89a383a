"""The loop's production pieces: what each round trains on (policies), which generated rows to keep
(verifiers) and whether a fit is safe (the collapse guard).

The lab (:mod:`synthloop.lab`) experiments with them; ``synthloop fit`` runs the guard and feedback
refits choose a policy, without importing the lab. Policies and verifiers are values:
``to_config()`` / ``Policy.from_config(...)`` through one registry (:mod:`synthloop.loop.values`).
"""

from synthloop.loop.guard import CollapseRiskError, GuardThresholds, audit, check_training_data, guard_fit
from synthloop.loop.policies import Accumulate, Filtered, MixReal, NaiveFilter, Policy, Replace
from synthloop.loop.values import REGISTRY, LoopValue, available, register
from synthloop.loop.verifiers import DensityRatioVerifier, FittedVerifier, Verifier

__all__ = ["REGISTRY", "Accumulate", "CollapseRiskError", "DensityRatioVerifier", "Filtered", "FittedVerifier",
           "GuardThresholds", "LoopValue", "MixReal", "NaiveFilter", "Policy", "Replace", "Verifier", "audit",
           "available", "check_training_data", "guard_fit", "register"]
