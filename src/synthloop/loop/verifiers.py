"""Verifiers for the *filtered* policy: which generated rows to keep before retraining.

:class:`DensityRatioVerifier` is anchored on real data: a gradient-boosted classifier separates
real rows from generated ones, and its odds p/(1−p) estimate the density ratio p_real/p_synthetic
(the classifier two-sample trick; discriminator rejection sampling, Azadi et al., ICLR 2019).
Keeping rows in proportion to that ratio pulls the kept set towards the real distribution, tails
included; Feng et al. (2024) show that such verification lets synthetic data scale without collapse.

:class:`TypicalityScore` is the contrast: a "quality" score computed from the generated table
alone (log-density under a per-column Gaussian / frequency model). Filtering on it keeps the
typical rows and discards the tails, which speeds collapse up (Alemohammad et al., ICLR 2024).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from synthloop.errors import ConfigError
from synthloop.loop.values import LoopValue, register

_MAX_CATEGORIES = 250
_MAX_REAL_ROWS = 20_000


class Verifier(LoopValue):
    """Settings of a verifier (a value); ``fit`` on real and generated rows returns a :class:`FittedVerifier`."""

    kind = "verifier"

    def fit(self, real: pd.DataFrame, synthetic: pd.DataFrame, rng: np.random.Generator) -> FittedVerifier:
        raise NotImplementedError


class FittedVerifier:
    """A verifier fitted on one generation: the probability of keeping each of its rows."""

    def accept_probability(self, rows: pd.DataFrame, rate: float = 0.5) -> np.ndarray:
        raise NotImplementedError


def encode_features(frames: list[pd.DataFrame]) -> tuple[list[np.ndarray], np.ndarray]:
    """Numeric matrices for tree models: numbers as float (NaN kept), other columns as shared codes."""
    columns = [str(c) for c in frames[0].columns]
    is_categorical = np.array([_is_categorical(frames[0][c]) for c in frames[0].columns])
    encoded = [np.empty((len(f), len(columns))) for f in frames]
    for j, name in enumerate(frames[0].columns):
        if not is_categorical[j]:
            for out, frame in zip(encoded, frames):
                out[:, j] = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype="float64")
            continue
        labels = [_as_text(frame[name]) for frame in frames]
        counts = pd.concat(labels).value_counts()
        keep = list(counts.index[:_MAX_CATEGORIES - 1])
        for out, values in zip(encoded, labels):
            codes = pd.Categorical(values, categories=keep).codes.astype("float64")
            codes[codes < 0] = len(keep)  # labels beyond the most frequent share one code
            codes[values.isna().to_numpy()] = np.nan
            out[:, j] = codes
    return encoded, is_categorical


def _as_text(values: pd.Series) -> pd.Series:
    """Labels as str (missing kept as NaN), mapping each distinct value once."""
    values = values.reset_index(drop=True)
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        return values.astype(object)
    uniques = pd.unique(values.dropna())
    return values.map(dict(zip(uniques, map(str, uniques)))).astype(object)


def _is_categorical(values: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(values.dtype) or not pd.api.types.is_numeric_dtype(values.dtype)


def _rate_scale(ratio: np.ndarray, rate: float) -> float:
    """The c with mean(min(1, ratio / c)) == rate (bisection on log c)."""
    low, high = np.log(ratio.min() + 1e-12) - 1, np.log(ratio.max() + 1e-12) + 1
    for _ in range(60):
        mid = (low + high) / 2
        if np.minimum(1.0, ratio / np.exp(mid)).mean() > rate:
            low = mid
        else:
            high = mid
    return float(np.exp(high))


@register("density-ratio")
@dataclass(frozen=True)
class DensityRatioVerifier(Verifier):
    """Real-versus-generated classifier used as a density ratio (cross-fitted, so rows are not scored by a
    model that saw them).

    Parameters
    ----------
    max_iter
        Boosting rounds of the classifier.
    clip
        Largest density ratio trusted (guards against a few over-confident scores).
    """

    max_iter: int = 50
    clip: float = 20.0

    def __post_init__(self) -> None:
        if self.max_iter < 1 or not self.clip > 1.0:
            raise ConfigError(f"DensityRatioVerifier needs max_iter ≥ 1 and clip > 1, got {self.max_iter}, {self.clip}.")

    def fit(self, real: pd.DataFrame, synthetic: pd.DataFrame, rng: np.random.Generator) -> DensityRatio:
        n_real = min(len(real), max(len(synthetic), 1), _MAX_REAL_ROWS)
        real = real.iloc[rng.choice(len(real), size=n_real, replace=False)]
        (real_x, synthetic_x), categorical = encode_features([real, synthetic[real.columns]])
        folds = rng.integers(0, 2, size=len(synthetic_x))
        ratio = np.ones(len(synthetic_x))
        for fold in (0, 1):
            train = folds != fold
            model = self._classifier(categorical, int(rng.integers(2**31)))
            x = np.vstack([real_x, synthetic_x[train]])
            y = np.r_[np.ones(len(real_x)), np.zeros(int(train.sum()))]
            with threadpool_limits(1):  # OpenMP threads oversubscribe a shared machine badly
                model.fit(x, y)
                p_real = np.clip(model.predict_proba(synthetic_x[~train])[:, 1], 1e-6, 1 - 1e-6)
            prior = train.sum() / len(real_x)  # undo class imbalance: odds * n_synthetic / n_real
            ratio[~train] = np.minimum(p_real / (1 - p_real) * prior, self.clip)
        return DensityRatio(ratio, synthetic)

    def _classifier(self, categorical: np.ndarray, seed: int):
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(max_iter=self.max_iter, learning_rate=0.1, min_samples_leaf=40,
                                              categorical_features=categorical, random_state=seed)


class DensityRatio(FittedVerifier):
    """The estimated p_real/p_synthetic of each generated row a :class:`DensityRatioVerifier` was fitted on."""

    def __init__(self, ratio: np.ndarray, synthetic: pd.DataFrame):
        self.ratio_ = ratio
        self.synthetic_ = synthetic

    def accept_probability(self, rows: pd.DataFrame, rate: float = 0.5) -> np.ndarray:
        """Keep probability per row of the generated table given to ``fit``, averaging ``rate`` overall."""
        if rows is not self.synthetic_:
            raise ValueError("DensityRatioVerifier scores the generated rows it was fitted with.")
        return np.minimum(1.0, self.ratio_ / _rate_scale(self.ratio_, rate))


class TypicalityScore:
    """Log-density of each row under independent per-column models of the generated table itself."""

    def fit(self, synthetic: pd.DataFrame) -> Self:
        self.columns_ = {}
        for name in synthetic.columns:
            values = synthetic[name]
            if _is_categorical(values):
                freq = values.astype(object).map(str, na_action="ignore").value_counts(normalize=True, dropna=False)
                self.columns_[name] = ("categorical", freq)
            else:
                numbers = pd.to_numeric(values, errors="coerce")
                self.columns_[name] = ("numeric", (float(numbers.mean()), float(numbers.std()) or 1.0))
        return self

    def score(self, rows: pd.DataFrame) -> np.ndarray:
        total = np.zeros(len(rows))
        for name, (kind, params) in self.columns_.items():
            if kind == "categorical":
                labels = rows[name].astype(object).map(str, na_action="ignore")
                total += np.log(labels.map(params).astype("float64").fillna(1e-6).to_numpy())
            else:
                z = (pd.to_numeric(rows[name], errors="coerce").to_numpy(dtype="float64") - params[0]) / params[1]
                total += np.nan_to_num(-0.5 * z**2)
        return total
