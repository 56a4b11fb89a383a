"""An empirical lower bound on a DP model's epsilon from a canary membership test (Jagielski et al. 2020).

The claim "epsilon-DP" bounds how well *any* test can tell whether one row was in the training data:
for every test, TPR ≤ e^epsilon · FPR + delta. So fit the model many times with and without a canary
row, score each fit by how strongly its samples show the canary, and turn the test's measured TPR and
FPR into epsilon_low = log((TPR_low − delta) / FPR_high), with Clopper–Pearson bounds at the given
confidence. If epsilon_low exceeds the claimed epsilon, the implementation (noise, accountant, a free
read) is broken, whatever its ledger says. A low bound proves nothing about the model (an audit
with a few dozen fits cannot certify epsilon); it catches gross errors, which is what a test needs.

The canary is the first training row with a label no other row has, added to a categorical column's
public category set; the score of a fit is the share of its samples that carry that label. The
threshold is chosen on half of the fits and the bound computed on the other half, so choosing it
does not inflate the bound. Models are used by duck typing (``clone``, ``set_params``, ``fit``,
``sample``, ``epsilon``/``delta`` params): this module does not import the synthesizers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthloop.errors import ConfigError
from synthloop.schema import Schema

CANARY = "__canary__"


@dataclass(frozen=True)
class AuditResult:
    """What a canary audit found: the claimed epsilon and the empirical lower bound next to it."""

    claimed_epsilon: float
    delta: float
    empirical_epsilon: float          # lower bound at ``confidence``; 0 when the test could not tell
    confidence: float
    n_fits: int                       # per world (with / without the canary)
    column: str
    threshold: float
    tpr: float
    fpr: float

    @property
    def consistent(self) -> bool:
        """The bound does not contradict the claim."""
        return self.empirical_epsilon <= self.claimed_epsilon

    def summary(self) -> str:
        verdict = "consistent with the claim" if self.consistent else "CONTRADICTS the claim: the model leaks more"
        return (f"canary audit on '{self.column}' ({self.n_fits} fits with and {self.n_fits} without): empirical "
                f"epsilon ≥ {self.empirical_epsilon:.3g} at {self.confidence:.0%} confidence, claimed "
                f"{self.claimed_epsilon:g}: {verdict}")


def canary_audit(model: Any, data: pd.DataFrame, schema: Schema, *, n_fits: int = 20, n_samples: int = 5000,
                 confidence: float = 0.95, seed: int = 0) -> AuditResult:
    """Fit ``model`` (unfitted, with ``epsilon``/``delta`` params) ``2 * n_fits`` times and bound its epsilon."""
    params = model.get_params()
    if "epsilon" not in params or "delta" not in params:
        raise ConfigError(f"{type(model).__name__} is not a DP model (it has no epsilon/delta): nothing to audit.")
    if n_fits < 4:
        raise ConfigError(f"n_fits must be ≥ 4 (half choose the threshold, half measure), got {n_fits}.")
    column = next((c.name for c in schema.columns if c.kind == "categorical"), None)
    if column is None:
        raise ConfigError("The canary audit needs a categorical column to plant its label in.")
    schema = schema.with_columns(**{column: {"categories": (*(schema[column].categories or ()), CANARY)}})
    canary = data.iloc[:1].copy()
    canary[column] = CANARY
    with_canary = pd.concat([data, canary], ignore_index=True)
    scores: dict[bool, list[float]] = {True: [], False: []}
    for i in range(n_fits):
        for present in (True, False):
            fitted = model.clone().set_params(seed=seed * 100_003 + 2 * i + present)
            fitted.fit(with_canary if present else data, schema)
            rows = fitted.sample(n_samples, seed=i)
            scores[present].append(float((rows[column] == CANARY).mean()))
    inside, outside = np.array(scores[True]), np.array(scores[False])
    half = n_fits // 2
    delta = float(params["delta"])
    threshold = _best_threshold(inside[:half], outside[:half], delta, confidence)
    tpr, fpr = float((inside[half:] > threshold).mean()), float((outside[half:] > threshold).mean())
    bound = _epsilon_low(int((inside[half:] > threshold).sum()), int((outside[half:] > threshold).sum()),
                         n_fits - half, delta, confidence)
    return AuditResult(float(params["epsilon"]), delta, bound, confidence, n_fits, column, float(threshold), tpr, fpr)


def _best_threshold(inside: np.ndarray, outside: np.ndarray, delta: float, confidence: float) -> float:
    candidates = np.unique(np.concatenate([inside, outside, [-1.0]]))
    bounds = [_epsilon_low(int((inside > t).sum()), int((outside > t).sum()), len(inside), delta, confidence)
              for t in candidates]
    return float(candidates[int(np.argmax(bounds))])


def _epsilon_low(true_positives: int, false_positives: int, n: int, delta: float, confidence: float) -> float:
    """log((TPR_low − delta) / FPR_high) with one-sided Clopper–Pearson bounds (0 when not positive)."""
    from scipy.stats import beta

    alpha = 1 - confidence
    tpr_low = 0.0 if true_positives == 0 else float(beta.ppf(alpha / 2, true_positives, n - true_positives + 1))
    fpr_high = 1.0 if false_positives == n else float(beta.ppf(1 - alpha / 2, false_positives + 1, n - false_positives))
    if tpr_low - delta <= 0 or fpr_high <= 0:
        return 0.0
    return max(math.log((tpr_low - delta) / fpr_high), 0.0)

