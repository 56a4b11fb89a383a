"""DP-VAE: a tabular VAE trained with DP-SGD (Abadi et al. 2016) on a public encoding, accounted by Opacus.

Every read of the data is inside the accounting:

- **Encoding from the public schema only**: numerics scaled to [-1, 1] by the schema's bounds (no
  mode-specific normaliser, whose mixtures are fitted on the data), categoricals one-hot over the
  schema's categories, a missing cell for nullable columns. No training-by-sampling, no category
  frequencies, no latent statistics per category (what TVAE and CTGAN read from the data outside any
  budget): this model samples unconditionally and leaves conditions to rejection (post-processing).
- **DP-SGD**: each step takes a Poisson sample of the rows (each row in with probability
  ``batch_size / n``), clips every row's gradient to ``max_grad_norm`` (per-sample gradients by
  Opacus' ``GradSampleModule``) and adds N(0, (noise_multiplier · max_grad_norm)²) to the sum
  (:mod:`synthloop.nn.dp`). The noise multiplier is calibrated with Opacus' RDP accountant for
  ``epochs`` at the target ``(epsilon, delta)``, and the number of steps the accountant allows is fixed
  before training: it stops before the budget is exceeded, never after.
- **Ledger**: a DP row count (1% of the budget; it fixes the sampling rate, where DP-SGD libraries
  take it as public), DP bounds and category sets when the schema lacks them (``domain_share``), then
  one DP-SGD entry that takes the rest, with the accountant's epsilon (of everything, composed in
  RDP), the noise multiplier, the clip norm and the steps taken.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel
from torch import nn

from synthloop.errors import ArtifactError, PrivacyError, require
from synthloop.nn.blocks import mlp
from synthloop.nn.dp import MECHANISM, DPSGDPlan, clipped_sum, noisy_step
from synthloop.privacy.accounting import Ledger
from synthloop.schema import Column, Schema
from synthloop.synthesizers._stored import STRICT, ArrayCheck, check_names
from synthloop.synthesizers.base import Synthesizer
from synthloop.synthesizers.params import POSITIVE, POSITIVE_INT, SEED, WIDTH, Interval, Items
from synthloop.synthesizers.private import DOMAIN_SHARE, ROW_COUNT_SHARE, LedgerMeta, PrivateFit, check_ledger
from synthloop.synthesizers.seeds import SeedTree


class DPVAEMeta(BaseModel):
    model_config = STRICT
    columns: list[str]
    ledger: LedgerMeta
    steps: int


class _Span:
    """One column's slice of the public encoding."""

    def __init__(self, column: Column, start: int):
        self.column = column
        self.numeric = column.kind in ("numeric", "datetime")
        self.start = start
        self.missing = bool(column.nullable)
        self.labels = () if self.numeric else tuple(column.categories or ())
        self.width = (1 + self.missing * 2) if self.numeric else len(self.labels) + self.missing
        if self.numeric and (column.low is None or column.high is None):
            raise PrivacyError(f"Column '{column.name}' has no bounds in the schema: dp_vae scales numerics by public "
                               "bounds and cannot read them from the data for free. Declare low/high in the schema.")

    def bounds(self) -> tuple[float, float]:
        origin = float(self.column.origin or 0)
        low, high = float(self.column.low) - origin, float(self.column.high) - origin   # type: ignore[arg-type]
        return low, max(high, low + 1e-12)


def _spans(schema: Schema) -> list[_Span]:
    spans, start = [], 0
    for name in schema.model_kinds():
        span = _Span(schema[name], start)
        spans.append(span)
        start += span.width
    return spans


def encode(spans: list[_Span], data: pd.DataFrame) -> np.ndarray:
    """Rows in the public encoding (float32): scaled numerics, one-hot labels, missing cells."""
    width = sum(s.width for s in spans)
    out = np.zeros((len(data), width), dtype="float32")
    for span in spans:
        values = data[span.column.name]
        missing = values.isna().to_numpy()
        if span.numeric:
            low, high = span.bounds()
            x = values.to_numpy(dtype="float64", na_value=np.nan)
            out[:, span.start] = np.where(missing, 0.0, np.clip((x - low) / (high - low) * 2 - 1, -1, 1))
            if span.missing:
                out[np.arange(len(data)), span.start + 1 + missing.astype(int)] = 1.0
        else:
            index = {label: i for i, label in enumerate(span.labels)}
            codes = values.map(index).to_numpy(dtype="float64", na_value=np.nan)
            codes = np.where(missing, len(span.labels), np.nan_to_num(codes)).astype(int)
            out[np.arange(len(data)), span.start + codes] = 1.0
    return out


class _VAE(nn.Module):
    def __init__(self, width: int, hidden: tuple[int, ...], latent_dim: int):
        super().__init__()
        self.encoder = mlp(width, hidden, 2 * latent_dim)
        self.decoder = mlp(latent_dim, tuple(reversed(hidden)), width)
        self.latent_dim = latent_dim


class DPVAE(PrivateFit, Synthesizer):
    """Tabular VAE trained with DP-SGD (Opacus) on a public encoding: (epsilon, delta)-DP, accounted in a ledger.

    Parameters
    ----------
    epsilon, delta
        The privacy budget; the noise is calibrated to spend it over ``epochs``, and training stops
        before the accountant would exceed it.
    max_grad_norm
        Per-row gradient clip (the sensitivity of each step).
    latent_dim, hidden
        Latent size and hidden widths of the encoder (the decoder mirrors them).
    epochs, batch_size, lr
        Planned passes over the data, expected rows per Poisson-sampled step, Adam's learning rate.
    domain_share
        Share of the budget spent on DP bounds and category sets for the columns the schema gives none
        (:mod:`synthloop.privacy.domains`); 0 refuses such a schema.
    trust_inferred_schema
        Accept a fit without a schema (categories and bounds then read outside the budget; the
        ledger says the guarantee excludes them).
    seed
        Seeds the sampling of rows, the noise and generation. DP holds against an attacker who does not know it.
    """

    name = "dp_vae"
    meta_schema = DPVAEMeta
    param_constraints: ClassVar = {"epsilon": POSITIVE, "delta": Interval(0, 1, closed="neither"),
                                   "max_grad_norm": POSITIVE, "latent_dim": WIDTH, "hidden": Items(WIDTH, min_len=1),
                                   "epochs": POSITIVE_INT, "batch_size": POSITIVE_INT, "lr": POSITIVE,
                                   "domain_share": DOMAIN_SHARE, "seed": SEED}
    test_params: ClassVar = {"epochs": 2, "batch_size": 64, "hidden": (16,), "latent_dim": 4,
                             "trust_inferred_schema": True}

    def __init__(self, *, epsilon: float = 1.0, delta: float = 1e-5, max_grad_norm: float = 1.0,
                 latent_dim: int = 32, hidden: tuple[int, ...] = (128, 128), epochs: int = 30,
                 batch_size: int = 500, lr: float = 2e-3, domain_share: float = 0.0, trust_inferred_schema: bool = False,
                 seed: int | None = None):
        self.epsilon = epsilon
        self.delta = delta
        self.max_grad_norm = max_grad_norm
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.domain_share = domain_share
        self.trust_inferred_schema = trust_inferred_schema
        self.seed = seed

    def _fit(self, data: pd.DataFrame, seeds: SeedTree) -> None:
        require("opacus", "dp", "DP-SGD")
        from opacus import GradSampleModule

        data, ledger = self.open_ledger(data, seeds)
        n_rows = self.buy_row_count(len(data), ROW_COUNT_SHARE, ledger, seeds, why="sets the sampling rate")
        record = self.schema_record(ledger)
        spans = _spans(self.schema_)
        for span in spans:
            if span.column.name not in self.bought_columns:
                record(f"{'bounds' if span.numeric else 'category set'} of {span.column.name}")
        x = torch.from_numpy(encode(spans, data))
        rng = seeds.generator("model")
        generator = torch.Generator().manual_seed(seeds.integer("torch"))
        with torch.random.fork_rng(devices=[]):         # seeded initialisation, the global stream left as it was
            torch.manual_seed(seeds.integer("torch"))
            net = _VAE(x.shape[1], tuple(self.hidden), self.latent_dim)
        plan = DPSGDPlan.make(self.epsilon, ledger.delta - ledger.reserved_delta, n_rows, self.batch_size,
                              self.epochs, prior_rho=ledger.spent)
        model = GradSampleModule(net)
        optimizer = torch.optim.Adam(net.parameters(), lr=self.lr)
        steps = 0
        for rows in plan.batches(rng, len(x)):                     # the accountant's last step within the budget
            self._step(net, optimizer, spans, x[torch.from_numpy(rows)], plan, generator)
            steps += 1
        model.remove_hooks()
        # DP-SGD is accounted in RDP with what was bought before (plan.prior_rho): it takes the rest of the budget.
        ledger.charge(f"DP-SGD: {steps} steps of the VAE", MECHANISM, ledger.remaining,
                      **plan.detail(steps, self.max_grad_norm))
        self.net_ = net.eval()
        self.spans_ = spans
        self.ledger_ = ledger
        self.steps_ = steps

    def _step(self, net: _VAE, optimizer: torch.optim.Optimizer, spans: list[_Span], rows: torch.Tensor,
              plan: DPSGDPlan, generator: torch.Generator) -> None:
        optimizer.zero_grad(set_to_none=True)
        params = [p for p in net.parameters() if p.requires_grad]
        summed = [torch.zeros_like(p) for p in params]          # an empty Poisson sample: the noise alone
        if len(rows):
            for p in params:
                p.grad_sample = None
            # GradSampleModule hooked every Linear of ``net`` when it wrapped it: calling the parts records per-row grads.
            stats = net.encoder(rows)
            mean, log_var = stats[:, :net.latent_dim], stats[:, net.latent_dim:].clamp(-8, 8)
            z = mean + torch.randn(mean.shape, generator=generator) * (0.5 * log_var).exp()
            loss = (_reconstruction(net.decoder(z), rows, spans)
                    - 0.5 * (1 + log_var - mean.pow(2) - log_var.exp()).sum(dim=1)).sum()     # per-row losses, summed
            with warnings.catch_warnings():     # torch's note that the inputs need no gradient: true, and intended
                warnings.filterwarnings("ignore", message="Full backward hook is firing")
                loss.backward()
            summed = clipped_sum([[p.grad_sample for p in params]], params, self.max_grad_norm)
        noisy_step(params, summed, plan, self.max_grad_norm, generator, optimizer)

    # ------------------------------------------------------------------ sample
    def _sample(self, n_rows: int, conditions: pd.DataFrame | None, rng: np.random.Generator) -> pd.DataFrame:
        z = torch.from_numpy(rng.standard_normal((n_rows, self.latent_dim)).astype("float32"))
        with torch.no_grad():
            out = self.net_.decoder(z).numpy().astype("float64")
        frame = {}
        for span in self.spans_:
            block = out[:, span.start:span.start + span.width]
            if span.numeric:
                low, high = span.bounds()
                values = (np.tanh(block[:, 0]) + 1) / 2 * (high - low) + low
                if span.missing:
                    values = np.where(_draw(block[:, 1:], rng) == 1, np.nan, values)
                frame[span.column.name] = pd.Series(values, dtype="float64")
            else:
                codes = _draw(block, rng)
                labels = np.array([*span.labels, None], dtype=object)
                frame[span.column.name] = pd.Series(labels[np.minimum(codes, len(span.labels))], dtype=object)
        return pd.DataFrame(frame, index=pd.RangeIndex(n_rows))

    # ------------------------------------------------------------------ state
    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {f"net/{k}": v.detach().numpy().copy() for k, v in self.net_.state_dict().items()}
        return arrays, {"columns": [s.column.name for s in self.spans_], "ledger": self.ledger_.to_dict(),
                        "steps": self.steps_}

    def _check_state(self, check: ArrayCheck, meta: dict[str, Any]) -> None:
        check_names(check, meta["columns"], self.schema_.model_kinds(), "stored columns")
        if check.problems:
            return
        shapes = _VAE(sum(s.width for s in _spans(self.schema_)), tuple(self.hidden), self.latent_dim).state_dict()
        for key, value in shapes.items():
            check.take(f"net/{key}", "f", tuple(value.shape))
        check_ledger(check, meta)

    def from_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.spans_ = _spans(self.schema_)
        net = _VAE(sum(s.width for s in self.spans_), tuple(self.hidden), self.latent_dim)
        weights = {k[4:]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith("net/")}
        try:
            net.load_state_dict(weights)
        except RuntimeError:
            raise ArtifactError("the weights of its network do not fit this dp_vae's parameters and schema") from None
        self.net_ = net.eval()
        self.ledger_ = Ledger.from_dict(meta["ledger"])
        self.steps_ = int(meta["steps"])


def _reconstruction(out: torch.Tensor, rows: torch.Tensor, spans: list[_Span]) -> torch.Tensor:
    """Per-row loss: squared error of tanh numerics, cross-entropy of each one-hot block."""
    loss = torch.zeros(len(rows))
    for span in spans:
        block, target = out[:, span.start:span.start + span.width], rows[:, span.start:span.start + span.width]
        if span.numeric:
            loss = loss + (torch.tanh(block[:, 0]) - target[:, 0]).pow(2) * 4
            if span.missing:
                loss = loss - (torch.log_softmax(block[:, 1:], dim=1) * target[:, 1:]).sum(dim=1)
        else:
            loss = loss - (torch.log_softmax(block, dim=1) * target).sum(dim=1)
    return loss


def _draw(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    cumulative = np.cumsum(probs, axis=1)
    u = rng.random(len(logits)) * cumulative[:, -1]
    return np.minimum((cumulative < u[:, None]).sum(axis=1), logits.shape[1] - 1)
