"""DP-SGD (Abadi et al. 2016) for the DP neural synthesizers: the plan, Poisson batches, clip-and-noise.

One step of DP-SGD takes a Poisson sample of the rows (each row in with probability q, independently),
clips every row's whole gradient to norm C, sums them, adds N(0, (σ C)²) to every coordinate and
divides by the *expected* batch size qn (a fixed public number, so the noisy mean is a
post-processing of the noisy sum). A step whose sample is empty still adds the noise: skipping it
would tell an observer that the batch was empty, which depends on whether a row is present.

The accountant is Opacus' RDP analysis of the subsampled Gaussian (Mironov 2017; Mironov, Talwar and
Zhang 2019): :func:`calibrate` finds the noise multiplier σ that spends (ε, δ) over the planned steps,
and :func:`steps_within` how many steps the accountant allows at that σ. :class:`DPSGDPlan` fixes both
*before* training, and its :meth:`~DPSGDPlan.batches` yield exactly that many steps: training stops
before the budget is exceeded, never after (the last-epoch overshoot some libraries have).

**Composition with what was bought before.** A DP model may spend part of its budget in zCDP before
training (a DP row count, DP bounds, DP category sets: :mod:`synthloop.privacy.domains`). rho-zCDP is
(alpha, rho·alpha)-RDP at every order alpha (Bun and Steinke 2016), so ``prior_rho`` is added to the
subsampled Gaussian's RDP curve order by order before the conversion to (epsilon, delta): the
calibration then finds the noise that spends only what is left, and the total is one RDP bound.

The clipped sum of per-row gradients comes from Opacus' ``GradSampleModule`` (plain layers, ``dp_vae``:
:func:`clipped_sum`) or, for a network whose layers Opacus cannot hook, from the model's own per-row
gradient norms (``dp_argn``: ghost clipping). Opacus is the ``dp`` extra; it is imported when an
accountant is first asked.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

#: Rényi orders: whole numbers only. Opacus' default adds 99 fractional orders below 12, whose series in
#: pure Python made one calibration take ~20 s on a loaded 2-core machine; whole orders alone give a
#: valid (at most slightly looser) bound, computed in well under a second.
_ORDERS = (*range(2, 65), 80, 128, 256)

#: The mechanism name DP-SGD entries carry in a ledger.
MECHANISM = "dp-sgd (opacus RDP accountant)"


def rdp_epsilon(sigma: float, sample_rate: float, steps: int, delta: float, prior_rho: float = 0.0) -> float:
    """Epsilon after ``prior_rho``-zCDP then ``steps`` subsampled-Gaussian steps (Opacus' RDP analysis; RDP
    adds up over steps, and rho-zCDP is rho·alpha at order alpha)."""
    if steps == 0 and prior_rho == 0:
        return 0.0
    return _epsilon_of(_rdp_one(sigma, sample_rate) * steps + prior_rho * np.asarray(_ORDERS, dtype="float64"), delta)


@functools.lru_cache(maxsize=256)
def _rdp_one(sigma: float, sample_rate: float) -> np.ndarray:
    from opacus.accountants.analysis.rdp import compute_rdp

    return np.asarray(compute_rdp(q=sample_rate, noise_multiplier=sigma, steps=1, orders=list(_ORDERS)))


def _epsilon_of(rdp: np.ndarray, delta: float) -> float:
    from opacus.accountants.analysis.rdp import get_privacy_spent

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)          # "optimal order is the largest alpha"
        return float(get_privacy_spent(orders=list(_ORDERS), rdp=rdp, delta=delta)[0])


@functools.lru_cache(maxsize=64)
def calibrate(epsilon: float, delta: float, sample_rate: float, planned: int, prior_rho: float = 0.0) -> tuple[float, int]:
    """The noise multiplier that spends (epsilon, delta) over ``planned`` steps after ``prior_rho``-zCDP, and
    how many steps the accountant allows at it (≤ planned): training stops there, before the budget is exceeded."""
    if rdp_epsilon(200.0, sample_rate, 0, delta, prior_rho) > epsilon:
        from synthloop.errors import PrivacyError

        raise PrivacyError(f"What was bought before training (rho = {prior_rho:.4g}) already spends epsilon = "
                           f"{epsilon:g} at delta = {delta:g}: nothing is left for DP-SGD. Lower the share bought.")
    low, high = 0.3, 200.0
    for _ in range(24):                                        # bisection on log sigma: 0.05% apart
        middle = math.sqrt(low * high)
        within = rdp_epsilon(middle, sample_rate, planned, delta, prior_rho) <= epsilon
        low, high = (low, middle) if within else (middle, high)
    return high, steps_within(high, sample_rate, delta, epsilon, planned, prior_rho)


def steps_within(sigma: float, sample_rate: float, delta: float, epsilon: float, limit: int,
                 prior_rho: float = 0.0) -> int:
    """The most steps (≤ ``limit``) whose epsilon stays within ``epsilon``: where training must stop."""
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        within = rdp_epsilon(sigma, sample_rate, middle, delta, prior_rho) <= epsilon
        low, high = (middle, high) if within else (low, middle - 1)
    return low


@dataclass(frozen=True)
class DPSGDPlan:
    """What a DP-SGD fit will do, fixed before it reads a row: sampling rate, noise, and the last step allowed."""

    epsilon: float
    delta: float
    n_rows: int                  # the row count the plan is made for: public, or a DP estimate
    sample_rate: float
    planned: int                 # epochs / sample_rate
    noise_multiplier: float
    allowed: int                 # ≤ planned: the accountant's last step within (epsilon, delta)
    prior_rho: float = 0.0       # zCDP spent before training (composed in RDP, see the module docstring)

    @classmethod
    def make(cls, epsilon: float, delta: float, n_rows: int, batch_size: float, epochs: float,
             prior_rho: float = 0.0) -> DPSGDPlan:
        sample_rate = min(batch_size / n_rows, 1.0)
        planned = max(1, round(epochs / sample_rate))
        sigma, allowed = calibrate(float(epsilon), float(delta), sample_rate, planned, float(prior_rho))
        return cls(float(epsilon), float(delta), n_rows, sample_rate, planned, sigma, allowed, float(prior_rho))

    @property
    def expected_batch(self) -> float:
        return self.sample_rate * self.n_rows

    def batches(self, rng: np.random.Generator, n_rows: int) -> Iterator[np.ndarray]:
        """Row indices of each step: ``allowed`` Poisson samples of the ``n_rows`` rows held (each row in with
        probability ``sample_rate``, whatever their number; some samples may be empty and the step still runs)."""
        for _ in range(self.allowed):
            yield np.flatnonzero(rng.random(n_rows) < self.sample_rate)

    def spent(self, steps: int) -> float:
        """Epsilon of what was bought before and the first ``steps`` steps at this plan's noise and sampling rate."""
        return rdp_epsilon(self.noise_multiplier, self.sample_rate, steps, self.delta, self.prior_rho)

    def detail(self, steps: int, max_grad_norm: float) -> dict[str, float]:
        """The numbers a ledger entry keeps (and an auditor can re-run Opacus' accountant on)."""
        return {"epsilon": self.spent(steps), "noise_multiplier": self.noise_multiplier,
                "max_grad_norm": float(max_grad_norm), "sample_rate": self.sample_rate, "steps": float(steps),
                "prior_rho": self.prior_rho}


def clipped_sum(chunks: Iterable[list[torch.Tensor]], like: list[torch.Tensor], max_grad_norm: float) -> list[torch.Tensor]:
    """Σ over rows of each row's gradient clipped to ``max_grad_norm`` (the norm over all parameters together).

    ``chunks`` yields per-row gradients, one tensor ``(rows, *p.shape)`` per parameter of ``like``,
    a few rows at a time (so their memory stays bounded)."""
    total = [torch.zeros_like(p) for p in like]
    for grads in chunks:
        rows = grads[0].shape[0]
        norms = torch.cat([g.reshape(rows, -1) for g in grads], dim=1).norm(dim=1)            # (rows,)
        factor = (max_grad_norm / (norms + 1e-6)).clamp(max=1.0)
        for acc, g in zip(total, grads, strict=True):
            acc += (g * factor.view(-1, *([1] * (g.dim() - 1)))).sum(dim=0)
    return total


def noisy_step(params: list[torch.Tensor], summed: list[torch.Tensor], plan: DPSGDPlan, max_grad_norm: float,
               generator: torch.Generator, optimizer: torch.optim.Optimizer) -> None:
    """Add N(0, (σ C)²) to the clipped sum, divide by the expected batch, and take the optimizer's step."""
    for p, clipped in zip(params, summed, strict=True):
        noise = torch.randn(clipped.shape, generator=generator, device=clipped.device)
        p.grad = (clipped + noise * plan.noise_multiplier * max_grad_norm) / plan.expected_batch
    optimizer.step()
