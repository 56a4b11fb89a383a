"""What each generation trains on: the policies of the model-collapse literature.

- :class:`Replace`: only the previous generation's output, the loop that collapses
  (Shumailov et al., "AI models collapse when trained on recursively generated data", Nature 2024);
- :class:`Accumulate`: the real data plus every generation so far; test error stays bounded
  (Gerstgrasser et al., "Is Model Collapse Inevitable?", 2024);
- :class:`MixReal`: a fraction λ of real rows in every training set, *fresh* (new real rows each
  generation, Alemohammad et al., "Self-Consuming Generative Models Go MAD", ICLR 2024) or
  *preserved* (the same real rows each time, Bertrand et al., "On the Stability of Iterative
  Retraining of Generative Models on their own Data", ICLR 2024);
- :class:`Filtered`: keep the generated rows a verifier anchored on real data accepts (Feng et al.,
  "Beyond Model Collapse: Scaling Up with Synthesized Data Requires Verification", 2024), next to
  :class:`NaiveFilter`, which keeps the rows the generator itself finds most typical and collapses
  faster (the "sampling bias" of Alemohammad et al.).

Policies are values (frozen dataclasses): ``policy.to_config()`` names one in plain data, and
``Policy.from_config(config)`` builds it back through the one registry of :mod:`synthloop.loop.values`.

``history`` holds the synthetic tables of earlier generations, oldest first; generation 0 always
trains on the real data. A policy may ask the lab for more rows than it trains on
(``sample_factor``) so that a filter still yields a full training set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd

from synthloop.errors import ConfigError
from synthloop.loop.values import LoopValue, register
from synthloop.loop.verifiers import DensityRatioVerifier, TypicalityScore, Verifier


class Policy(LoopValue):
    """Builds one generation's training set from the real data and the synthetic history.

    Subclass it as a frozen dataclass and ``@register("name")`` it to make a new policy that lab
    configs can name; ``sample_factor`` is how many rows to generate per training row kept.
    """

    kind: ClassVar[str] = "policy"
    sample_factor: ClassVar[float] = 1.0

    def training_set(self, real: pd.DataFrame, history: Sequence[pd.DataFrame],
                     rng: np.random.Generator) -> pd.DataFrame:
        raise NotImplementedError

    @property
    def label(self) -> str:
        """A readable label, unique among a run's policies: the name plus any settings that tell it apart."""
        return self.name or type(self).__name__.lower()


@register("replace")
@dataclass(frozen=True)
class Replace(Policy):
    """Train only on the previous generation's output (collapses)."""

    def training_set(self, real, history, rng):
        return history[-1] if history else real


@register("accumulate")
@dataclass(frozen=True)
class Accumulate(Policy):
    """Train on the real data plus the output of every earlier generation."""

    def training_set(self, real, history, rng):
        return pd.concat([real, *history], ignore_index=True) if history else real


@register("mix-real")
@dataclass(frozen=True)
class MixReal(Policy):
    """A fraction ``fraction`` (λ) of real rows plus (1 − λ) of the latest synthetic rows.

    Parameters
    ----------
    fraction
        λ, the share of real rows in each training set, in (0, 1].
    fresh
        Draw new real rows every generation (``True``), or keep the same real rows (``False``).
    """

    fraction: float = 0.5
    fresh: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction <= 1.0:
            raise ConfigError(f"MixReal fraction (λ) must be in (0, 1], got {self.fraction}.")

    @property
    def label(self) -> str:
        return f"mix-real-{self.fraction:g}{'' if self.fresh else '-preserved'}"

    def training_set(self, real, history, rng):
        if not history:
            return real
        latest = history[-1]
        n_real = min(len(real), max(1, round(self.fraction * len(latest))))
        n_synthetic = max(0, len(latest) - n_real)
        # Preserved real rows come from a fixed draw, the same in every generation.
        real_rng = rng if self.fresh else np.random.default_rng(0)
        real_rows = real.iloc[real_rng.choice(len(real), size=n_real, replace=False)]
        synthetic_rows = latest.iloc[rng.choice(len(latest), size=n_synthetic, replace=False)]
        return pd.concat([real_rows, synthetic_rows], ignore_index=True)


@register("filtered")
@dataclass(frozen=True)
class Filtered(Policy):
    """Keep the generated rows a verifier anchored on real data accepts, then train on them (with the real data).

    The default verifier is a classifier of real versus generated rows used as a density ratio
    (discriminator rejection sampling, Azadi et al., ICLR 2019): a row is kept with probability
    proportional to p_real(x) / p_synthetic(x), which favours under-represented regions instead of
    cutting them. The lab draws ``sample_factor`` times more rows so the kept set is full size.

    Parameters
    ----------
    verifier
        Decides which generated rows to keep; fitted on real and generated rows each generation.
    sample_factor
        Rows generated per row kept (2.0: the verifier keeps half).
    with_real
        Train on the real data plus the verified rows (the guarded self-improving loop, default),
        or on the verified rows alone (a verified *replace* loop).
    """

    verifier: Verifier = field(default_factory=DensityRatioVerifier)
    sample_factor: float = 2.0  # type: ignore[misc]  # a setting here, a class constant on other policies
    with_real: bool = True

    def __post_init__(self) -> None:
        if not self.sample_factor >= 1.0:
            raise ConfigError(f"Filtered sample_factor must be ≥ 1, got {self.sample_factor}.")
        if not isinstance(self.verifier, Verifier):
            raise ConfigError(f"Filtered needs a Verifier (e.g. DensityRatioVerifier()), got {self.verifier!r}.")

    @property
    def label(self) -> str:
        return "filtered" if self.with_real else "filtered-alone"

    def training_set(self, real, history, rng):
        if not history:
            return real
        latest = history[-1]
        accept = self.verifier.fit(real, latest, rng).accept_probability(latest, 1.0 / self.sample_factor)
        kept = latest[rng.random(len(latest)) < accept]
        target = round(len(latest) / self.sample_factor)
        if len(kept) > target:
            kept = kept.iloc[rng.choice(len(kept), size=target, replace=False)]
        return pd.concat([real, kept] if self.with_real else [kept], ignore_index=True)


@register("naive-filter")
@dataclass(frozen=True)
class NaiveFilter(Policy):
    """Keep the ``keep`` fraction of generated rows the generator's own output rates most typical.

    No real data is involved: rows are scored by typicality within the synthetic table itself
    (distance from the centre for numbers, frequency for categories). This is the quality filter
    that looks sensible and collapses faster, because it always throws the tails away.
    """

    keep: float = 0.7

    def __post_init__(self) -> None:
        if not 0.0 < self.keep <= 1.0:
            raise ConfigError(f"NaiveFilter keep must be in (0, 1], got {self.keep}.")

    @property
    def sample_factor(self) -> float:  # type: ignore[override]
        return 1.0 / self.keep

    @property
    def label(self) -> str:
        return "naive-filter" if self.keep == 0.7 else f"naive-filter-{self.keep:g}"

    def training_set(self, real, history, rng):
        if not history:
            return real
        latest = history[-1]
        score = TypicalityScore().fit(latest).score(latest)
        n_keep = max(2, round(self.keep * len(latest)))
        return latest.iloc[np.argsort(-score, kind="stable")[:n_keep]].reset_index(drop=True)
