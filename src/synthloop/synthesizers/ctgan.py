"""CTGAN: a conditional Wasserstein GAN with gradient penalty for mixed-type tables (Xu et al., 2019).

Xu, Skoularidou, Cuesta-Infante, Veeramachaneni, "Modeling Tabular Data using Conditional GAN",
NeurIPS 2019. The parts, and where they live:

- mode-specific normalisation of numerics (the shared :class:`~synthloop.transforms.TableEncoder`);
- a condition vector over the categorical columns, with training-by-sampling by log-frequency
  (:mod:`synthloop.nn.conditioning`), and a cross-entropy penalty that makes the generator honour it;
- a residual generator with Gumbel-softmax heads per categorical span and tanh heads on scalars
  (:mod:`synthloop.nn.heads`);
- a PacGAN critic (Lin et al., 2018) trained with the WGAN-GP loss (Gulrajani et al., 2017).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from synthloop.nn.blocks import adam, mlp, residual_stack
from synthloop.nn.heads import activate, condition_loss, decode
from synthloop.synthesizers.neural import EncodedConditions, TorchSynthesizer
from synthloop.synthesizers.params import NON_NEGATIVE, POSITIVE, POSITIVE_INT, WIDTH, Items


class Critic(nn.Module):
    """PacGAN critic: ``pac`` rows are scored together, so the critic can see a lack of diversity."""

    def __init__(self, d_in: int, hidden: tuple[int, ...], pac: int):
        super().__init__()
        self.pac = pac
        self.body = mlp(d_in * pac, hidden, 1, activation=lambda: nn.LeakyReLU(0.2), dropout=0.5)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.body(rows.reshape(-1, self.pac * rows.shape[1]))               # (batch / pac, 1)


class CTGAN(TorchSynthesizer):
    """Conditional tabular GAN (CTGAN) with PacGAN, WGAN-GP and training-by-sampling.

    Parameters
    ----------
    embedding_dim
        Size of the generator's noise input.
    generator_dim, critic_dim
        Widths of the generator's residual blocks and of the critic's hidden layers.
    pac
        Rows per critic input (PacGAN); the batch size is rounded down to a multiple of it.
    critic_steps
        Critic updates per generator update.
    gradient_penalty
        Weight of the WGAN-GP gradient penalty.
    tau
        Temperature of the Gumbel-softmax heads.
    epochs, batch_size, lr
        Training length, rows per step, Adam learning rate (both nets, betas 0.5/0.9). On Adult the
        defaults (~3,900 steps) took about 2.5 minutes on 2 CPU cores and reached detection AUC 0.94
        and TSTR AUC 0.86 (real data: 0.92); a GAN improves with more steps, so give it more epochs
        when time allows (docs/benchmarks.md).
    device
        ``"auto"`` (CUDA when available), ``"cpu"`` or a torch device string.
    seed
        Makes fitting and sampling reproducible (on CPU).
    checkpoint_dir, checkpoint_every
        Write a resumable checkpoint there every this many epochs; a re-run resumes from it.
    threads
        CPU threads for torch (None: 1 for a seeded fit, so its weights do not depend on the
        machine's load; otherwise the idle cores). The same seed and threads give the same weights.
    patience
        Early stopping on the generator loss after this many epochs without improvement (off: None).
    progress
        Show a progress bar with the losses (on a terminal).
    """

    name = "ctgan"
    monitor = "generator"
    param_constraints: ClassVar = {**TorchSynthesizer.param_constraints, "embedding_dim": WIDTH,
                         "generator_dim": Items(WIDTH), "critic_dim": Items(WIDTH), "pac": POSITIVE_INT,
                         "critic_steps": POSITIVE_INT, "gradient_penalty": NON_NEGATIVE, "tau": POSITIVE}
    test_params: ClassVar = {"epochs": 1, "batch_size": 100, "generator_dim": (32,), "critic_dim": (32,), "embedding_dim": 16,
                   "progress": False}

    def __init__(self, *, embedding_dim: int = 128, generator_dim: tuple[int, ...] = (256, 256),
                 critic_dim: tuple[int, ...] = (256, 256), pac: int = 10, critic_steps: int = 1,
                 gradient_penalty: float = 10.0, tau: float = 0.2, epochs: int = 50, batch_size: int = 500,
                 lr: float = 2e-4, device: str = "auto", seed: int | None = None, checkpoint_dir: str | None = None,
                 checkpoint_every: int = 10, patience: int | None = None, progress: bool = True,
                 threads: int | None = None):
        self.embedding_dim = embedding_dim
        self.generator_dim = generator_dim
        self.critic_dim = critic_dim
        self.pac = pac
        self.critic_steps = critic_steps
        self.gradient_penalty = gradient_penalty
        self.tau = tau
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.seed = seed
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.patience = patience
        self.progress = progress
        self.threads = threads

    @classmethod
    def search_space(cls, trial) -> dict[str, object]:
        return {"embedding_dim": trial.suggest_categorical("embedding_dim", [64, 128, 256]),
                "lr": trial.suggest_float("lr", 5e-5, 1e-3, log=True),
                "batch_size": trial.suggest_categorical("batch_size", [500, 1000, 2000])}

    # ------------------------------------------------------------------ networks
    def _build(self) -> None:
        width, cond_width = self.layout_.width, self.conditioner_.width
        self.generator_ = residual_stack(self.embedding_dim + cond_width, tuple(self.generator_dim), width)
        self.critic_ = Critic(width + cond_width, tuple(self.critic_dim), self._pac())
        self.generator_.to(self.device_)
        self.critic_.to(self.device_)
        self.nets_ = {"generator": self.generator_, "critic": self.critic_}
        options = {"lr": self.lr, "betas": (0.5, 0.9), "weight_decay": 1e-6}
        self.optimizers_ = {"generator": adam(self.generator_.parameters(), **options),
                            "critic": adam(self.critic_.parameters(), **options)}
        self.cond_positions_ = torch.as_tensor(self.conditioner_.positions, device=self.device_)

    def _pac(self) -> int:
        return max(1, min(self.pac, self.batch_size, getattr(self, "n_training_rows_", self.pac)))

    def _fake(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw generator output and its activated rows for a batch of compact conditions."""
        noise = torch.randn(len(cond), self.embedding_dim, device=self.device_, generator=self.torch_rng_)
        raw = self.generator_(torch.cat([noise, cond], dim=1))                       # (batch, width)
        return raw, activate(raw, self.span_index_, tau=self.tau, generator=self.torch_rng_)

    def _cond_target(self, cond: torch.Tensor) -> torch.Tensor:
        """Compact conditions placed at their categories' positions in the encoded width."""
        target = torch.zeros(len(cond), self.layout_.width, device=self.device_)
        return target.index_copy_(1, self.cond_positions_, cond)                     # (batch, width)

    # ------------------------------------------------------------------ training
    def epoch_batches(self, n_rows: int, batch_size: int,
                      rng: np.random.Generator) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Training-by-sampling: each step's rows match conditions drawn by log-frequency."""
        pac = self._pac()
        batch_size = max(pac, min(batch_size, n_rows) // pac * pac)
        for _ in range(max(1, n_rows // batch_size)):
            if self.conditioner_.n_columns == 0:
                yield rng.integers(n_rows, size=batch_size), None
                continue
            cond, rows = self.conditioner_.sample_training(batch_size, rng)
            yield rows, self.conditioner_.compact(cond)

    def train_step(self, batch: torch.Tensor, cond: torch.Tensor | None) -> dict[str, float]:
        if cond is None:
            cond = torch.zeros(len(batch), 0, device=self.device_)
        for _ in range(self.critic_steps):
            critic_loss, penalty = self._critic_step(batch, cond)
        raw, fake = self._fake(cond)
        adversarial = -self.critic_(torch.cat([fake, cond], dim=1)).mean()
        honour = condition_loss(raw, self._cond_target(cond), self.span_index_) if cond.shape[1] else 0.0
        generator_loss = adversarial + honour
        self.optimizers_["generator"].zero_grad(set_to_none=True)
        generator_loss.backward()
        self.optimizers_["generator"].step()
        return {"generator": generator_loss.item(), "critic": critic_loss, "penalty": penalty}

    def _critic_step(self, real: torch.Tensor, cond: torch.Tensor) -> tuple[float, float]:
        # The real rows were drawn to match `cond`; the fakes are generated for a shuffled copy of it,
        # as in the reference implementation, so both halves carry the same condition distribution.
        shuffled = cond.index_select(0, torch.randperm(len(cond), device=self.device_, generator=self.torch_rng_))
        with torch.no_grad():
            _, fake = self._fake(shuffled)
        real_in = torch.cat([real, cond], dim=1)
        fake_in = torch.cat([fake, shuffled], dim=1)
        # One critic pass over real and fake packs together (each pack stays all-real or all-fake).
        scores = self.critic_(torch.cat([real_in, fake_in]))                          # (2 * batch / pac, 1)
        real_score, fake_score = scores.chunk(2)
        wasserstein = fake_score.mean() - real_score.mean()
        penalty = self._gradient_penalty(real_in, fake_in)
        loss = wasserstein + self.gradient_penalty * penalty
        self.optimizers_["critic"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers_["critic"].step()
        return wasserstein.item(), penalty.item()

    def _gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """WGAN-GP: (‖∇D(x̂)‖ − 1)² on points between real and fake packs (Gulrajani et al., 2017)."""
        pac = self._pac()
        alpha = torch.rand(len(real) // pac, 1, 1, device=self.device_, generator=self.torch_rng_).expand(-1, pac, real.shape[1])
        mixed = (alpha.reshape(-1, real.shape[1]) * real + (1 - alpha.reshape(-1, real.shape[1])) * fake)
        mixed.requires_grad_(True)
        (gradient,) = torch.autograd.grad(self.critic_(mixed).sum(), mixed, create_graph=True)
        norms = gradient.reshape(-1, pac * real.shape[1]).norm(dim=1)                 # (batch / pac,)
        return ((norms - 1) ** 2).mean()

    # ------------------------------------------------------------------ sampling
    def _generate(self, n_rows: int, conditions: EncodedConditions | None, rng: np.random.Generator) -> torch.Tensor:
        cond = self.conditioner_.compact(self._conditions_or_marginal(n_rows, conditions, rng))
        raw, _ = self._fake(torch.as_tensor(cond, device=self.device_))
        # Categories are drawn from the generator's softmax (Gumbel-max), as the reference CTGAN does by
        # taking the argmax of its Gumbel-softmax output; a plain argmax would return only the modes.
        return decode(raw, self.span_index_, sample=True, generator=self.torch_rng_)
