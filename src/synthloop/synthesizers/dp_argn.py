"""DP-ARGN: TabularARGN (``argn``) trained with DP-SGD on tokens fixed by the public schema alone.

``argn`` reads four things from the data outside any budget: quantile bin edges, exact values and
point masses of numerics (its tokens), a validation split that decides when to stop, and the best
epoch's weights. This model keeps its network, its any-order training and its sampler (conditions are
met natively, imputation works) and changes only what it reads:

- **Tokens from the public schema**: each column's public fine domain (:func:`~synthloop.synthesizers.
  marginals.fine_domain`, the same cells ``dp_mst`` uses: the schema's categories, one cell per whole
  number or an asinh grid between the schema's bounds, an exact cell at 0, a missing cell), as one
  token, or two (coarse = cell // k, fine = cell % k, k = ⌈√cells⌉) when a column has more than
  ``split_above`` cells. A value decodes uniformly inside its cell. Nothing is fitted on the rows.
- **DP-SGD** (:mod:`synthloop.nn.dp`): Poisson-sampled steps, each row's whole gradient clipped to
  ``max_grad_norm`` (ghost clipping: every row's gradient norm in closed form from one backward
  pass, then the clipped sum from a second; see :func:`ghost_clipped_sum`), Gaussian noise calibrated with Opacus' RDP accountant;
  the number of steps is fixed before training at the last one within (epsilon, delta). No
  validation split, no early stopping, no dropout: every step is accounted, the last weights are kept.
- **A plan sized to the table** (:func:`plan_shape`): a DP row count (1% of the budget) sets the
  sampling rate, the batch (``n / 16`` on small tables, at most ``batch_size``) and the epochs (raised
  until the plan has ``min_steps`` steps). With the first defaults (batches of 2,000 for 5 epochs)
  islp_default (8,000 rows) got 20 steps and learned nothing of its 3%-positive target even at
  epsilon = 10 (TSTR 0.42); 320 steps with ``lr=3e-2`` give 0.94 there over 5 seeds (either change
  alone did not: 0.58, 0.31 on 3 seeds), 0.91 at ε = 3, and Adult at ε = 1 0.875 (was 0.871, detection
  0.85 from 0.90). At ε = 1 islp_default stays unstable (0.15-0.91 over seeds). Grid over three
  tables: docs/benchmarks.md, "dp_argn over the full grid (issue 18, second pass)".
- **Ledger**: the category sets and bounds are public entries (or bought, ``domain_share``), then the
  DP row count, then DP-SGD one entry that takes the rest (composed with the purchases in RDP).

Each step draws a fresh random column order (data-independent), as ``argn`` does. Measured on Adult:
docs/benchmarks.md ("DP models on Adult (issue 18)").
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel
from torch import nn

from synthloop.errors import require
from synthloop.nn.dp import MECHANISM, DPSGDPlan, noisy_step
from synthloop.nn.runtime import run_threads, torch_generator, torch_threads
from synthloop.privacy.accounting import Ledger
from synthloop.synthesizers._stored import STRICT, ArrayCheck, check_names
from synthloop.synthesizers.argn import _ARGN, TabularARGN
from synthloop.synthesizers.marginals import FineDomain, fine_domain, record_domains
from synthloop.synthesizers.neural import load_weights
from synthloop.synthesizers.params import POSITIVE, POSITIVE_INT, SEED, WIDTH, Device, Interval
from synthloop.synthesizers.private import DOMAIN_SHARE, ROW_COUNT_SHARE, LedgerMeta, PrivateFit, check_ledger
from synthloop.synthesizers.seeds import SeedTree

#: The smallest expected batch :func:`plan_shape` shrinks to, and the fewest steps it plans per pass.
MIN_BATCH, STEPS_PER_EPOCH = 32, 16


class DPArgnMeta(BaseModel):
    model_config = STRICT
    columns: list[str]
    ledger: LedgerMeta
    steps: int
    fit_threads: int | None = None
    seeded: bool | None = None


class PublicTokens:
    """Tokens of every column from its public fine domain (the interface ``argn``'s sampler reads)."""

    def __init__(self, domains: list[FineDomain], split_above: int):
        self.columns = domains
        self.splits = [math.isqrt(d.size - 1) + 1 if d.size > split_above else 0 for d in domains]   # k = ⌈√cells⌉

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.columns]

    @property
    def cardinalities(self) -> list[int]:
        return [c for d, k in zip(self.columns, self.splits, strict=True)
                for c in ((-(-d.size // k), k) if k else (d.size,))]

    @property
    def column_of(self) -> list[int]:
        return [i for i, k in enumerate(self.splits) for _ in range(2 if k else 1)]

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        parts = []
        for domain, k in zip(self.columns, self.splits, strict=True):
            cells = domain.encode(frame[domain.name])
            parts.extend([cells // k, cells % k] if k else [cells])
        return np.column_stack(parts).astype(np.int64)

    def decode(self, tokens: np.ndarray, rng: np.random.Generator,
               within: dict[str, tuple[float, float]] | None = None) -> pd.DataFrame:
        """Rows of values; ranges are not met here (``DPARGN.native_predicates`` is off: the filter step meets them)."""
        if within:
            raise NotImplementedError("dp_argn meets ranges through the sampling pipeline, not while decoding")
        out, start = {}, 0
        for domain, k in zip(self.columns, self.splits, strict=True):
            cells = tokens[:, start] * k + tokens[:, start + 1] if k else tokens[:, start]
            out[domain.name] = domain.decode(np.minimum(cells, domain.size - 1), rng)   # (last coarse, high fine) past the end
            start += 2 if k else 1
        return pd.DataFrame(out)


class DPARGN(PrivateFit, TabularARGN):
    """TabularARGN trained with DP-SGD on public-schema tokens: (epsilon, delta)-DP, accounted in a ledger.

    Parameters
    ----------
    epsilon, delta
        The privacy budget; the noise is calibrated to spend it over ``epochs``, and training stops
        before the accountant would exceed it.
    max_grad_norm
        Per-row gradient clip (the sensitivity of each step).
    hidden, embedding
        As for ``argn``: regressor units per nat of a sub-column's vocabulary; embedding width.
    fine_bins
        Public cells of a numeric column that is not a short integer range (asinh grid between its bounds).
    split_above
        A column with more cells gets two tokens (coarse, fine) instead of one.
    epochs, batch_size, lr
        Planned passes over the data, the largest expected rows per Poisson-sampled step, AdamW's learning
        rate. DP-SGD prefers large batches: the noise per step is fixed, the signal grows with the batch.
    min_steps
        The plan adapts to the table: the batch shrinks below ``batch_size`` to ``n / 16`` on small
        tables, and the epochs grow until the plan has at least this many steps, ``n`` being a DP row
        count bought with 1% of the budget (:func:`plan_shape`).
    domain_share
        Share of the budget spent on DP bounds and category sets for the columns the schema gives none
        (:mod:`synthloop.privacy.domains`); 0 refuses such a schema.
    trust_inferred_schema
        Accept a fit without a schema (categories and bounds then read outside the budget; the ledger says so).
    device, seed, progress, threads
        As for every neural model. DP holds against an attacker who does not know the seed.
    """

    name = "dp_argn"
    meta_schema = DPArgnMeta
    native_predicates: ClassVar[bool] = False      # public tokens have no per-bin range masks: the filter step meets ranges
    dropout: ClassVar[float] = 0.0                  # argn's _build reads it: no dropout under DP-SGD
    param_constraints: ClassVar = {"epsilon": POSITIVE, "delta": Interval(0, 1, closed="neither"),
                                   "max_grad_norm": POSITIVE, "hidden": WIDTH, "embedding": WIDTH,
                                   "fine_bins": Interval(2, 4096), "split_above": Interval(2, None),
                                   "epochs": POSITIVE, "batch_size": POSITIVE_INT, "lr": POSITIVE,
                                   "min_steps": POSITIVE_INT, "domain_share": DOMAIN_SHARE,
                                   "device": Device(), "seed": SEED, "threads": Interval(1, 1024)}
    test_params: ClassVar = {"epochs": 1, "batch_size": 100, "min_steps": 1, "hidden": 4, "embedding": 4, "fine_bins": 32,
                             "progress": False, "trust_inferred_schema": True}

    def __init__(self, *, epsilon: float = 1.0, delta: float = 1e-5, max_grad_norm: float = 1.0, hidden: int = 16,
                 embedding: int = 8, fine_bins: int = 256, split_above: int = 64, epochs: float = 5.0,
                 batch_size: int = 2000, lr: float = 3e-2, min_steps: int = 320, domain_share: float = 0.0,
                 trust_inferred_schema: bool = False,
                 device: str = "auto", seed: int | None = None, progress: bool = True, threads: int | None = None):
        self.epsilon = epsilon
        self.delta = delta
        self.max_grad_norm = max_grad_norm
        self.hidden = hidden
        self.embedding = embedding
        self.fine_bins = fine_bins
        self.split_above = split_above
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.min_steps = min_steps
        self.domain_share = domain_share
        self.trust_inferred_schema = trust_inferred_schema
        self.device = device
        self.seed = seed
        self.progress = progress
        self.threads = threads

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, object]:
        """Nothing to search: choosing parameters by their score on the private data is a read outside the budget."""
        return {}

    # ------------------------------------------------------------------ fit
    def _public_tokens(self) -> PublicTokens:
        kinds = self.schema_.model_kinds()
        return PublicTokens([fine_domain(self.schema_[name], fine_bins=self.fine_bins) for name in kinds],
                            self.split_above)

    def _fit(self, data: pd.DataFrame, seeds: SeedTree) -> None:
        require("opacus", "dp", "DP-SGD")
        data, ledger = self.open_ledger(data, seeds)
        n_rows = self.buy_row_count(len(data), ROW_COUNT_SHARE, ledger, seeds,
                                    why="sets the sampling rate and the batch size")
        self.tokens_ = self._public_tokens()
        record_domains(self.schema_record(ledger), {d.name: d for d in self.tokens_.columns}, self.schema_,
                       self.bought_columns)
        batch, epochs = plan_shape(n_rows, self.batch_size, self.epochs, self.min_steps)
        plan = DPSGDPlan.make(self.epsilon, ledger.delta - ledger.reserved_delta, n_rows, batch, epochs,
                              prior_rho=ledger.spent)
        self.seeded_ = seeds.seeded
        self.fit_threads_ = run_threads(self.threads, seeded=self.seeded_)
        self._prepare()
        rng = seeds.generator("model")
        with torch_threads(self.fit_threads_):
            self._build_seeded(seeds, [])
            tokens = torch.as_tensor(self.tokens_.encode(data), device=self.device_)
            noise = torch_generator(int(rng.integers(2**62)), self.device_)
            steps = self._train(tokens, plan, rng, noise)
            self.net_.eval()
        # Accounted in RDP together with what was bought before (plan.prior_rho): the rest of the budget.
        ledger.charge(f"DP-SGD: {steps} steps of the auto-regressive network", MECHANISM, ledger.remaining,
                      **plan.detail(steps, self.max_grad_norm))
        self.ledger_ = ledger
        self.steps_ = steps

    def _train(self, tokens: torch.Tensor, plan: DPSGDPlan, rng: np.random.Generator, noise: torch.Generator) -> int:
        """Run the plan's steps (exactly ``plan.allowed``); each row's gradient through a random column order."""
        from synthloop.nn.callbacks import progress_bar

        net, optimizer = self.net_, self.optimizers_["adamw"]
        params = [p for p in net.parameters() if p.requires_grad]
        n_columns = len(self.tokens_.columns)
        steps = 0
        bar_context = progress_bar(f"{self.name} DP-SGD", plan.allowed, unit="steps") if self.progress else None
        with bar_context or nullcontext((None, None)) as bar:
            for rows in plan.batches(rng, len(tokens)):
                rank = torch.as_tensor(np.argsort(rng.permutation(n_columns)), device=self.device_)
                optimizer.zero_grad(set_to_none=True)
                summed = ghost_clipped_sum(net, tokens[torch.as_tensor(rows, device=self.device_)], rank,
                                           self.max_grad_norm)
                noisy_step(params, summed, plan, self.max_grad_norm, noise, optimizer)
                steps += 1
                if bar[0] is not None:
                    bar[0].update(bar[1], advance=1)
        return steps

    # ------------------------------------------------------------------ persistence
    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {f"net/argn/{key}": value.detach().cpu().numpy() for key, value in self.net_.state_dict().items()}
        return arrays, {"columns": self.tokens_.names, "ledger": self.ledger_.to_dict(), "steps": self.steps_,
                        "fit_threads": self.fit_threads_, "seeded": self.seeded_}

    def _check_state(self, check: ArrayCheck, meta: dict[str, Any]) -> None:
        check_names(check, meta["columns"], self.schema_.model_kinds(), "stored columns")
        if check.problems:
            return
        self.tokens_ = self._public_tokens()                 # the shapes the schema and parameters fix
        for key, value in self._network().state_dict().items():
            check.take(f"net/argn/{key}", "f", tuple(value.shape))
        check_ledger(check, meta)

    def from_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.tokens_ = self._public_tokens()
        self._prepare()
        self._build()
        load_weights(self.name, "argn", self.net_, arrays)
        self.ledger_ = Ledger.from_dict(meta["ledger"])
        self.steps_ = int(meta["steps"])
        self.fit_threads_ = int(meta.get("fit_threads", 0) or 0) or None
        self.seeded_ = bool(meta.get("seeded", False))


def plan_shape(n_rows: float, batch_size: int, epochs: float, min_steps: int) -> tuple[float, float]:
    """(expected batch, epochs) of the DP-SGD plan for a table of about ``n_rows`` rows (a DP count).

    The batch is ``batch_size``, or ``n_rows / 16`` when that is smaller (at least 16 steps a pass, never
    below :data:`MIN_BATCH` rows); the epochs are raised until the plan has ``min_steps`` steps. Adult
    (39k rows) keeps batches of 2,000, for 16.4 epochs; islp_default (8,000 rows) gets 500 for 20
    epochs; breast_cancer (455 rows) 32 for 22.5. Measured effect: docs/benchmarks.md, "dp_argn over the
    full grid (issue 18, second pass)".
    """
    batch = min(float(batch_size), max(float(min(MIN_BATCH, batch_size)), n_rows / STEPS_PER_EPOCH))
    return batch, max(float(epochs), min_steps * batch / n_rows)


def ghost_clipped_sum(net: _ARGN, tokens: torch.Tensor, rank: torch.Tensor, max_grad_norm: float) -> list[torch.Tensor]:
    """Σ over rows of each row's gradient clipped to ``max_grad_norm``, without one gradient per row in memory.

    Ghost clipping (Goodfellow 2015; Li, Tramèr, Liang, Hashimoto 2022): one backward pass to the
    activations gives every row's gradient norm in closed form, a second one over the rows' losses
    weighted by their clip factors gives the clipped sum. Row i's gradient of a linear map
    ``z = W a + b`` is ``g_i a_iᵀ``, of squared norm ``|g_i|² |a_i|²``; of the masked first layer
    ``(g_i a_iᵀ) ⊙ M``, of squared norm ``(g_i²)ᵀ M (a_i²)``; of an embedding, one row of its table
    (each row looks up one token per table), so ``|∂/∂x_i|²`` summed over tables. Checked against
    ``torch.func`` per-row gradients in tests/test_dp_argn.py.
    """
    params = [p for p in net.parameters() if p.requires_grad]
    if len(tokens) == 0:                                    # an empty Poisson sample: the noise alone
        return [torch.zeros_like(p) for p in params]
    x = net.embed(tokens)                                                                # (B, D)
    mask = net.mask(rank)                                                                # (H, D)
    pre = nn.functional.linear(x, net.first * mask, net.first_bias)                      # (B, H)
    hidden = torch.relu(pre)
    logits = [head(hidden[:, part]) for head, part in zip(net.heads, net.hidden_slices, strict=True)]
    per_row = sum(nn.functional.cross_entropy(z, tokens[:, s], reduction="none") for s, z in enumerate(logits))
    g_x, g_pre, *g_logits = torch.autograd.grad(per_row.sum(), [x, pre, *logits], retain_graph=True)
    with torch.no_grad():
        squared = ((g_pre.pow(2) @ mask) * x.pow(2)).sum(dim=1) + g_pre.pow(2).sum(dim=1) + g_x.pow(2).sum(dim=1)
        for g_z, part in zip(g_logits, net.hidden_slices, strict=True):
            squared += g_z.pow(2).sum(dim=1) * (hidden[:, part].pow(2).sum(dim=1) + 1)      # weight and bias
        factor = (max_grad_norm / (squared.sqrt() + 1e-6)).clamp(max=1.0)                 # (B,)
    return list(torch.autograd.grad((per_row * factor).sum(), params))
