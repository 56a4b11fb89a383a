"""Density ratios from a classifier: how much more likely a row is under the target than under the synthetic table.

A probabilistic classifier that tells target rows (label 1) from synthetic rows (label 0) gives the
ratio through Bayes' rule, ``p_target(x) / p_synthetic(x) = odds(x) · n_synthetic / n_target``
(Sugiyama, Suzuki & Kanamori, *Density Ratio Estimation in Machine Learning*, 2012, ch. 4; the
"discriminator" reweighting of domain adaptation). The same classifier's cross-fitted AUC is the
detection AUC: 0.5 when the two tables cannot be told apart.

**Cross-fitting.** Rows are split into ``folds``; the ratio of a row comes from the classifier
trained on the other folds, so a row never judges itself (an in-sample boosted classifier
memorises its own rows and pushes their ratios to the clip). New rows (a sampling step) are judged
by the average of the fold classifiers, none of which saw them.

**Clipping.** Probabilities are kept within ``[PROBABILITY_FLOOR, 1 − PROBABILITY_FLOOR]`` and ratios
at most ``max_ratio``: a handful of rows with huge ratios would otherwise carry the whole
resample (the effective sample size collapses) while the classifier's extreme odds are its least
reliable outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthloop.metrics.encoding import MixedEncoding
from synthloop.metrics.models import Family, binary_auc, fit_model, predict

PROBABILITY_FLOOR = 1e-3
#: Rows of each side the classifier trains on, at most (a 40k-row table trains in seconds).
MAX_ROWS_PER_SIDE = 20_000
#: Synthetic training rows per target row, at most.
IMBALANCE = 4


@dataclass(frozen=True)
class RatioModel:
    """Fold classifiers and the prior correction that turn their odds into density ratios."""

    encoding: MixedEncoding
    family: Family
    models: tuple[object, ...]
    prior_odds: float            # n_target / n_synthetic in the training rows
    max_ratio: float

    def features(self, view: pd.DataFrame) -> np.ndarray:
        return self.encoding.dense(view) if self.family == "linear" else self.encoding.codes(view)

    def ratio(self, view: pd.DataFrame) -> np.ndarray:
        """Clipped ``p_target / p_synthetic`` of rows never seen in training (model view frame)."""
        if len(view) == 0:
            return np.zeros(0)
        features = self.features(view)
        probability = np.mean([predict(m, "classification", features)[:, 1] for m in self.models], axis=0)
        return to_ratio(probability, self.prior_odds, self.max_ratio)


@dataclass(frozen=True)
class RatioFit:
    """A fitted :class:`RatioModel` and what cross-fitting measured on its own training rows."""

    model: RatioModel
    synthetic_ratio: np.ndarray      # cross-fitted ratio of every synthetic row given
    auc: float                       # cross-fitted detection AUC (target vs synthetic)


def to_ratio(probability: np.ndarray, prior_odds: float, max_ratio: float) -> np.ndarray:
    probability = np.clip(probability, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    return np.minimum(probability / (1 - probability) / prior_odds, max_ratio)


def fit_ratio(target: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str], *,
              rng: np.random.Generator, family: Family = "boosting", folds: int = 3,
              max_ratio: float = 20.0) -> RatioFit:
    """Cross-fit classifiers target-vs-synthetic on two model-view frames with the columns of ``kinds``.

    Every synthetic row gets a cross-fitted ratio (those beyond ``MAX_ROWS_PER_SIDE`` from the fold
    average, as they were never trained on).
    """
    encoding = MixedEncoding.fit(target, kinds)
    target_rows = _at_most(len(target), MAX_ROWS_PER_SIDE, rng)
    # Why at most IMBALANCE × the target rows: against 500 target rows, 40,000 synthetic ones train a
    # classifier that predicts "synthetic" everywhere, and its ratios are mostly the probability floor.
    synthetic_rows = _at_most(len(synthetic), min(MAX_ROWS_PER_SIDE, IMBALANCE * len(target_rows)), rng)
    features_t = _features(encoding, family, target.iloc[target_rows])
    features_s = _features(encoding, family, synthetic.iloc[synthetic_rows])
    fold_t = rng.permutation(len(target_rows)) % folds
    fold_s = rng.permutation(len(synthetic_rows)) % folds
    prior_odds = len(target_rows) / len(synthetic_rows)
    mask = encoding.categorical_mask()
    models = []
    oof_t, oof_s = np.zeros(len(target_rows)), np.zeros(len(synthetic_rows))
    for fold in range(folds):
        train_t, train_s = fold_t != fold, fold_s != fold
        features = np.vstack([features_t[train_t], features_s[train_s]])
        labels = np.r_[np.ones(train_t.sum()), np.zeros(train_s.sum())]
        model = fit_model(family, "classification", features, labels, mask, int(rng.integers(2**31 - 1)))
        models.append(model)
        oof_t[~train_t] = predict(model, "classification", features_t[~train_t])[:, 1]
        oof_s[~train_s] = predict(model, "classification", features_s[~train_s])[:, 1]
    # Prior odds of each fold model's training rows equal the overall ones (folds split both sides evenly).
    fitted = RatioModel(encoding, family, tuple(models), prior_odds, max_ratio)
    auc = binary_auc(np.r_[np.ones(len(oof_t)), np.zeros(len(oof_s))], np.r_[oof_t, oof_s])
    ratio = np.empty(len(synthetic))
    ratio[synthetic_rows] = to_ratio(oof_s, prior_odds, max_ratio)
    rest = np.setdiff1d(np.arange(len(synthetic)), synthetic_rows)
    if len(rest):
        ratio[rest] = fitted.ratio(synthetic.iloc[rest])
    return RatioFit(fitted, ratio, float(auc))


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size ``(Σw)² / Σw²``: rows an unweighted sample of equal precision would hold."""
    weights = np.asarray(weights, dtype="float64")
    total = float(weights.sum())
    return 0.0 if total <= 0 else total**2 / float((weights**2).sum())


def _at_most(n_rows: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    if n_rows <= limit:
        return np.arange(n_rows)
    return np.sort(rng.choice(n_rows, size=limit, replace=False))


def _features(encoding: MixedEncoding, family: Family, view: pd.DataFrame) -> np.ndarray:
    return encoding.dense(view) if family == "linear" else encoding.codes(view)
