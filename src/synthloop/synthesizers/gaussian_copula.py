"""Gaussian copula over quantile-normalised columns (Nelsen 2006; Patki et al. 2016, the SDV copula).

Every column is mapped to a standard-normal *score*, the scores' correlation matrix is learned, and
sampling draws correlated normal scores and maps each back through the column's inverse transform:

- numerics: the empirical CDF; a value that repeats owns an interval of the CDF and is scored by
  the normal mean over it (as a label is, below); the inverse is a
  quantile table interpolated between knots, which is flat across a repeated value, so point masses
  (Adult's ``capital_gain`` is 92% zeros) come back exactly and values stay within the observed range;
- categoricals: a frequency-interval encoding: categories, most frequent first, own consecutive
  intervals of ``[0, 1]`` as wide as their frequency; a row's score is the normal mean over its
  interval, and a sampled score is read back by the interval it falls in;
- missing values: a missing label in categoricals; for numerics a separate missing indicator
  column in the copula (so missingness may depend on other columns), with score 0 in place of the value.

Scoring ties by interval means coarsens the scores, which would shrink correlations towards zero;
the fitted correlation undoes that (see :func:`_correlation`).

Conditions are native and exact for the copula: conditioned columns get their scores drawn within
the condition's interval (a truncated normal, which is their exact conditional marginal) and the
other scores are drawn from the Gaussian conditional distribution given them.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from synthloop.synthesizers._stored import ArrayCheck, CopulaMeta, check_names
from synthloop.synthesizers.base import Synthesizer
from synthloop.synthesizers.params import SEED, Interval
from synthloop.synthesizers.seeds import SeedTree

_N_KNOTS = 2001
_EPS = 1e-9
_MISSING = "\0missing"


class GaussianCopula(Synthesizer):
    """Correlated normal scores over per-column quantile transforms; fits in about a second on Adult.

    Parameters
    ----------
    shrinkage
        Weight of the identity in the correlation matrix (``(1 - s) R + s I``); a little keeps it
        well conditioned when columns are nearly collinear.
    seed
        Seed for sampling (the fit is deterministic).
    """

    name = "gaussian_copula"
    meta_schema = CopulaMeta
    native_conditions = True
    param_constraints: ClassVar = {"shrinkage": Interval(0, 1), "seed": SEED}

    def __init__(self, *, shrinkage: float = 0.01, seed: int | None = None):
        self.shrinkage = shrinkage
        self.seed = seed

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {"shrinkage": trial.suggest_float("shrinkage", 1e-3, 0.3, log=True)}

    # ------------------------------------------------------------------ fit
    def _fit(self, data: pd.DataFrame, seeds: SeedTree) -> None:
        rng = seeds.generator("model")
        self.margins_: dict[str, dict[str, np.ndarray]] = {}
        self.labels_: dict[str, list[str | None]] = {}
        scores = []
        for name, kind in self.schema_.model_kinds().items():
            values = data[name]
            if kind == "numeric":
                scores.extend(self._fit_numeric(name, values.to_numpy(dtype="float64"), rng))
            else:
                scores.append(self._fit_categorical(name, values, rng))
        self.score_names_ = [s[0] for s in scores]
        matrix = np.column_stack([s[1] for s in scores]) if scores else np.zeros((len(data), 0))
        self.correlation_ = _correlation(matrix, self.shrinkage)

    def _fit_numeric(self, name: str, values: np.ndarray, rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
        present = ~np.isnan(values)
        observed = values[present] if present.any() else np.zeros(1)
        levels = np.linspace(0.0, 1.0, _N_KNOTS)
        self.margins_[name] = {"knots": np.quantile(observed, levels), "missing_rate": np.array([1 - present.mean()])}
        _, inverse, counts = np.unique(observed, return_inverse=True, return_counts=True)
        upper = np.cumsum(counts) / len(observed)
        scores = np.zeros(len(values))                          # missing rows: E[Z] = 0
        scores[present] = _interval_mean(upper - counts / len(observed), upper)[inverse]
        out = [(name, scores)]
        if not present.all() and present.any():
            indicator = pd.Series(np.where(present, "present", _MISSING), dtype=object)
            out.append((f"{name}\0missing", self._fit_categorical(f"{name}\0missing", indicator, rng)[1]))
        return out

    def _fit_categorical(self, name: str, values: pd.Series, rng: np.random.Generator) -> tuple[str, np.ndarray]:
        labels = values.astype(object).where(values.notna(), _MISSING)
        counts = labels.value_counts(sort=True)
        self.labels_[name] = [None if label == _MISSING else str(label) for label in counts.index]
        edges = np.concatenate([[0.0], np.cumsum(counts.to_numpy()) / counts.sum()])
        self.margins_[name] = {"edges": edges}
        codes = pd.Categorical(labels, categories=counts.index).codes
        return name, _interval_mean(edges[:-1], edges[1:])[codes]

    # ------------------------------------------------------------------ sample
    def _sample(self, n_rows: int, conditions: pd.DataFrame | None, rng: np.random.Generator) -> pd.DataFrame:
        n_scores = len(self.score_names_)
        fixed = self._condition_scores(conditions, rng) if conditions is not None else {}
        free = [i for i in range(n_scores) if i not in fixed]
        scores = np.zeros((n_rows, n_scores))
        if fixed:
            given = list(fixed)
            given_scores = np.column_stack([fixed[i] for i in given])
            mean, cov = _conditional(self.correlation_, given, free, given_scores)
            scores[:, given] = given_scores
        else:
            mean, cov = np.zeros((n_rows, len(free))), self.correlation_
        if free:
            root = _psd_root(cov)
            scores[:, free] = mean + rng.standard_normal((n_rows, len(free))) @ root.T
        return self._decode(scores, rng)

    def _decode(self, scores: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        uniform = ndtr(scores)
        position = {name: i for i, name in enumerate(self.score_names_)}
        out = {}
        for name, kind in self.schema_.model_kinds().items():
            u = uniform[:, position[name]]
            if kind == "numeric":
                knots = self.margins_[name]["knots"]
                values = np.interp(u, np.linspace(0.0, 1.0, len(knots)), knots)
                indicator = f"{name}\0missing"
                if indicator in position:
                    values[self._categories_of(indicator, uniform[:, position[indicator]]) == _MISSING] = np.nan
                elif self.margins_[name]["missing_rate"][0] >= 1.0:
                    values[:] = np.nan
                out[name] = pd.Series(values, dtype="float64")
            else:
                labels = self._categories_of(name, u)
                out[name] = pd.Series(np.where(labels == _MISSING, None, labels), dtype=object)
        return pd.DataFrame(out, index=pd.RangeIndex(len(scores)))

    def _categories_of(self, name: str, uniform: np.ndarray) -> np.ndarray:
        edges = self.margins_[name]["edges"]
        codes = np.clip(np.searchsorted(edges, uniform, side="right") - 1, 0, len(edges) - 2)
        labels = np.array([_MISSING if label is None else label for label in self.labels_[name]], dtype=object)
        return labels[codes]

    def _condition_scores(self, conditions: pd.DataFrame, rng: np.random.Generator) -> dict[int, np.ndarray]:
        """Scores of the conditioned columns, drawn within each condition value's interval."""
        position = {name: i for i, name in enumerate(self.score_names_)}
        fixed = {}
        for name in conditions.columns:
            values = conditions[name]
            if "edges" in self.margins_[name]:
                low, high = self._label_interval(name, values)
            else:
                numbers = values.to_numpy(dtype="float64")
                low, high = self._value_interval(name, np.nan_to_num(numbers))
                missing = np.isnan(numbers)
                low[missing], high[missing] = 0.5, 0.5                 # score 0 stands in for a missing value
                indicator = f"{name}\0missing"
                if indicator in position:
                    flags = pd.Series(np.where(missing, _MISSING, "present"), dtype=object)
                    fixed[position[indicator]] = _draw_in(*self._label_interval(indicator, flags), rng)
            fixed[position[name]] = _draw_in(low, high, rng)
        return fixed

    def _label_interval(self, name: str, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        lookup = {_MISSING if label is None else label: i for i, label in enumerate(self.labels_[name])}
        codes = np.array([lookup.get(_MISSING if pd.isna(v) else str(v), 0) for v in values])
        edges = self.margins_[name]["edges"]
        return edges[codes], edges[codes + 1]

    def _value_interval(self, name: str, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The CDF interval that maps back to each value (wide for a point mass, a point otherwise)."""
        knots = self.margins_[name]["knots"]
        levels = np.linspace(0.0, 1.0, len(knots))
        first = np.clip(np.searchsorted(knots, values, side="left"), 0, len(knots) - 1)
        last = np.clip(np.searchsorted(knots, values, side="right") - 1, 0, len(knots) - 1)
        point = np.interp(values, knots, levels)
        on_mass = last > first
        return np.where(on_mass, levels[first], point), np.where(on_mass, levels[last], point)

    # ------------------------------------------------------------------ persistence
    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {"correlation": self.correlation_}
        names = list(self.margins_)
        for i, name in enumerate(names):
            for key, value in self.margins_[name].items():
                arrays[f"margin/{i}/{key}"] = value
        return arrays, {"margins": names, "labels": self.labels_, "score_names": self.score_names_}

    def _check_state(self, check: ArrayCheck, meta: dict[str, Any]) -> None:
        learned = self.schema_.model_kinds()
        margins, labels = meta["margins"], meta["labels"]
        check_names(check, [m for m in margins if not m.endswith(_MISSING)], learned, "stored margins")
        check.require(set(labels) <= set(margins) and set(meta["score_names"]) <= set(margins),
                      "labels or scores name columns without a margin")
        for i, name in enumerate(margins):
            if name in labels:
                edges = check.take(f"margin/{i}/edges", "f", (len(labels[name]) + 1,))
                check.require(edges is None or bool((np.diff(edges) >= 0).all()), f"margin/{i}/edges are not sorted")
            else:
                check.take(f"margin/{i}/knots", "f", (_N_KNOTS,))
                check.take(f"margin/{i}/missing_rate", "f", (1,))
        check.take("correlation", "f", (len(meta["score_names"]),) * 2)

    def from_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.correlation_ = arrays["correlation"]
        self.score_names_ = list(meta["score_names"])
        self.labels_ = {name: list(labels) for name, labels in meta["labels"].items()}
        self.margins_ = {}
        for i, name in enumerate(meta["margins"]):
            prefix = f"margin/{i}/"
            self.margins_[name] = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
        if self.correlation_.shape != (len(self.score_names_),) * 2:
            raise ValueError("correlation matrix does not match the stored columns")


def _draw_in(low: np.ndarray, high: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Normal scores drawn uniformly in CDF intervals: a normal truncated to each interval."""
    return ndtri(np.clip(low + rng.random(len(low)) * (high - low), _EPS, 1 - _EPS))


def _interval_mean(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``E[Z | Φ⁻¹(low) < Z < Φ⁻¹(high)]`` for a standard normal ``Z``: the score of a tied value or a label."""
    density = np.exp(-0.5 * ndtri(np.clip(np.r_[low, high], 0.0, 1.0)) ** 2) / np.sqrt(2 * np.pi)
    width = np.asarray(high) - np.asarray(low)
    mean = (density[: len(width)] - density[len(width):]) / np.maximum(width, _EPS)
    return np.where(width > 1e-6, mean, ndtri(np.clip((np.asarray(low) + np.asarray(high)) / 2, _EPS, 1 - _EPS)))


def _correlation(scores: np.ndarray, shrinkage: float) -> np.ndarray:
    """Latent correlation of the normal scores, corrected for the coarsening of ties and labels.

    A tied value or label is scored by its interval mean ``g = E[Z | interval]``; for a Gaussian
    ``Cov(g_i, g_j) ≈ ρ Var(g_i) Var(g_j)``, so ``ρ ≈ r / (sd_i sd_j)`` (the ad-hoc polyserial
    estimator of Olsson, Drasgow & Dorans 1982). The result is projected back to a correlation matrix.
    """
    n_columns = scores.shape[1]
    if n_columns == 0:
        return np.zeros((0, 0))
    spread = np.sqrt((scores**2).mean(axis=0))                          # E[g] = 0, so this is sd(g)
    centred = scores - scores.mean(axis=0)
    scale = np.sqrt((centred**2).mean(axis=0))
    scale[scale == 0] = 1.0
    pearson = (centred / scale).T @ (centred / scale) / len(scores)
    spread[spread == 0] = 1.0
    latent = np.clip(pearson / np.outer(spread, spread), -0.995, 0.995)
    np.fill_diagonal(latent, 1.0)
    eigenvalues, eigenvectors = np.linalg.eigh(latent)
    latent = (eigenvectors * np.clip(eigenvalues, 1e-4, None)) @ eigenvectors.T
    unit = np.sqrt(np.diag(latent))
    latent = latent / np.outer(unit, unit)
    return (1 - shrinkage) * latent + shrinkage * np.eye(n_columns)


def _conditional(cov: np.ndarray, given: list[int], free: list[int], given_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (one row per sample) and covariance of the free scores given the conditioned ones."""
    cross = cov[np.ix_(free, given)]
    solve = np.linalg.solve(cov[np.ix_(given, given)] + 1e-9 * np.eye(len(given)), cross.T).T  # (free, given)
    mean = given_scores @ solve.T
    return mean, cov[np.ix_(free, free)] - solve @ cross.T


def _psd_root(cov: np.ndarray) -> np.ndarray:
    """A matrix ``L`` with ``L Lᵀ = cov``, clipping tiny negative eigenvalues from rounding."""
    eigenvalues, eigenvectors = np.linalg.eigh((cov + cov.T) / 2)
    return eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
