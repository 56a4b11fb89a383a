"""The two mechanisms the DP models use, each charging the ledger before it releases anything.

- :func:`gaussian`: adds N(0, sigma²) to a vector of L2 sensitivity ``sensitivity``; it is
  (sensitivity² / 2 sigma²)-zCDP (Bun and Steinke 2016, Prop. 1.6).
- :func:`exponential`: picks one candidate with probability ∝ exp(epsilon · score / (2 · sensitivity));
  it is epsilon-DP and (epsilon² / 8)-zCDP (Cesar and Rogers 2021), which is what MST charges.

Randomness comes from the caller's ``np.random.Generator`` (a named child of the fit's seed tree), so a
seeded DP fit is reproducible. A seed known to an attacker lets them subtract the noise: DP holds for
unseeded fits or secret seeds; ``docs/privacy.md`` says so.
"""

from __future__ import annotations

import math

import numpy as np

from synthloop.privacy.accounting import Ledger


def gaussian_sigma(rho: float, sensitivity: float = 1.0) -> float:
    """The noise scale that makes a query of L2 sensitivity ``sensitivity`` rho-zCDP."""
    return sensitivity / math.sqrt(2 * rho)


def gaussian(values: np.ndarray, *, sigma: float, ledger: Ledger, what: str, rng: np.random.Generator,
             sensitivity: float = 1.0, delta: float = 0.0, mechanism: str = "gaussian") -> np.ndarray:
    """``values`` + N(0, sigma²) per cell, charged to ``ledger`` as (sensitivity² / 2 sigma²)-zCDP first
    (``delta``: the reserved delta a thresholded release may fail with, see :mod:`synthloop.privacy.domains`)."""
    rho = sensitivity**2 / (2 * sigma**2)
    ledger.charge(what, mechanism, rho, delta=delta, sigma=sigma, sensitivity=sensitivity)
    values = np.asarray(values, dtype="float64")
    return values + rng.normal(0.0, sigma, size=values.shape)


def exponential(scores: np.ndarray, *, epsilon: float, ledger: Ledger, what: str, rng: np.random.Generator,
                sensitivity: float = 1.0) -> int:
    """The index of one candidate, drawn ∝ exp(epsilon · score / (2 · sensitivity)); charged epsilon²/8 first."""
    ledger.charge(what, "exponential", epsilon**2 / 8, epsilon=epsilon, sensitivity=sensitivity)
    scores = np.asarray(scores, dtype="float64")
    logits = epsilon * (scores - scores.max()) / (2 * sensitivity)   # shifted: exp never overflows
    probs = np.exp(logits)
    return int(rng.choice(len(scores), p=probs / probs.sum()))
