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

``history`` holds the synthetic tables of earlier generations, oldest first; generation 0 always
trains on the real data. A policy may ask the lab for more rows than it trains on
(``sample_factor``) so that a filter still yields a full training set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from synthloop.errors import ConfigError
from synthloop.lab.verifiers import DensityRatioVerifier, TypicalityScore, Verifier


@runtime_checkable
class Policy(Protocol):
    """Builds one generation's training set from the real data and the synthetic history."""

    name: str

    def training_set(self, real: pd.DataFrame, history: Sequence[pd.DataFrame],
                     rng: np.random.Generator) -> pd.DataFrame: ...


@dataclass(frozen=True)
class Replace:
    """Train only on the previous generation's output (collapses)."""

    name: ClassVar[str] = "replace"
    sample_factor: ClassVar[float] = 1.0

    def training_set(self, real, history, rng):
        return history[-1] if history else real


@dataclass(frozen=True)
class Accumulate:
    """Train on the real data plus the output of every earlier generation."""

    name: ClassVar[str] = "accumulate"
    sample_factor: ClassVar[float] = 1.0

    def training_set(self, real, history, rng):
        return pd.concat([real, *history], ignore_index=True) if history else real


@dataclass(frozen=True)
class MixReal:
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
    name: ClassVar[str] = "mix-real"
    sample_factor: ClassVar[float] = 1.0

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction <= 1.0:
            raise ConfigError(f"MixReal fraction (λ) must be in (0, 1], got {self.fraction}.")

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


@dataclass(frozen=True)
class Filtered:
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
    sample_factor: float = 2.0
    with_real: bool = True
    name: ClassVar[str] = "filtered"

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


@dataclass(frozen=True)
class NaiveFilter:
    """Keep the ``keep`` fraction of generated rows the generator's own output rates most typical.

    No real data is involved: rows are scored by typicality within the synthetic table itself
    (distance from the centre for numbers, frequency for categories). This is the quality filter
    that looks sensible and collapses faster, because it always throws the tails away.
    """

    keep: float = 0.7
    name: ClassVar[str] = "naive-filter"

    def __post_init__(self) -> None:
        if not 0.0 < self.keep <= 1.0:
            raise ConfigError(f"NaiveFilter keep must be in (0, 1], got {self.keep}.")

    @property
    def sample_factor(self) -> float:
        return 1.0 / self.keep

    def training_set(self, real, history, rng):
        if not history:
            return real
        latest = history[-1]
        score = TypicalityScore().fit(latest).score(latest)
        n_keep = max(2, round(self.keep * len(latest)))
        return latest.iloc[np.argsort(-score, kind="stable")[:n_keep]].reset_index(drop=True)


POLICIES: dict[str, type] = {"replace": Replace, "accumulate": Accumulate, "mix-real": MixReal,
                             "filtered": Filtered, "naive-filter": NaiveFilter}


def policy_label(policy: Policy) -> str:
    """A readable, unique-enough label: the name plus any non-default settings."""
    if isinstance(policy, MixReal):
        return f"mix-real-{policy.fraction:g}{'' if policy.fresh else '-preserved'}"
    if isinstance(policy, Filtered) and not policy.with_real:
        return "filtered-alone"
    if isinstance(policy, NaiveFilter) and policy.keep != NaiveFilter.keep:
        return f"naive-filter-{policy.keep:g}"
    return str(getattr(policy, "name", type(policy).__name__.lower()))
