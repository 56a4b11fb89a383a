"""Joint drift: a classifier two-sample test (C2ST) between reference rows and a window.

A gradient-boosted classifier learns to tell reference rows from window rows; its out-of-fold ROC AUC
is 0.5 when the two are exchangeable and grows with any difference a tree can see, including
changed correlations that no per-column test notices (Lopez-Paz & Oquab, "Revisiting classifier
two-sample tests", ICLR 2017; Friedman, "On multivariate goodness-of-fit and two-sample testing", 2003).

The p-value permutes the labels *within each held-out fold* with the out-of-fold scores fixed:
a fold's model never saw those rows, so under no drift their labels are exchangeable given the
scores, and the permutation test is exact without refitting (one fit per fold, not per permutation).
The columns that drive a detected drift are the held-out AUC lost when each column is shuffled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthloop.monitor.columns import NUMERIC
from synthloop.tabular.labels import label_keys

MAX_LEVELS = 250           # HistGradientBoosting reads at most 255 category codes; rarer labels share one
N_PERMUTATIONS = 200


@dataclass(frozen=True)
class JointDrift:
    """The classifier two-sample test of one window."""

    auc: float
    interval: tuple[float, float]
    p_value: float
    drifted: bool
    drivers: tuple[tuple[str, float], ...]      # (column, held-out AUC lost when shuffled), largest first
    n_reference: int
    n_window: int

    def to_dict(self) -> dict:
        return {"auc": self.auc, "interval": list(self.interval), "p_value": self.p_value, "drifted": self.drifted,
                "drivers": [{"column": c, "auc_drop": d} for c, d in self.drivers],
                "n_reference": self.n_reference, "n_window": self.n_window}


class Encoder:
    """Columns → a float matrix for the classifier: numbers as they are, labels as codes fixed by the reference."""

    def __init__(self, reference: pd.DataFrame, kinds: dict[str, str]):
        self.kinds = kinds
        self.levels: dict[str, pd.Index] = {}
        for name, kind in kinds.items():
            if kind != NUMERIC:
                counts = pd.Series(label_keys(reference[name])).value_counts()
                self.levels[name] = pd.Index(counts.index[:MAX_LEVELS], dtype=object)

    @property
    def categorical_mask(self) -> np.ndarray:
        return np.array([kind != NUMERIC for kind in self.kinds.values()])

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(frame), len(self.kinds)), dtype="float64")
        for j, (name, kind) in enumerate(self.kinds.items()):
            if kind == NUMERIC:
                out[:, j] = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype="float64")
            else:
                codes = self.levels[name].get_indexer(label_keys(frame[name])).astype("float64")
                # labels beyond the kept levels (or new ones) share the last code; missing is its own label
                codes[codes < 0] = len(self.levels[name])
                out[:, j] = codes
        return out


def rank_auc(truth: np.ndarray, score: np.ndarray) -> float:
    from scipy.stats import rankdata

    ranks = rankdata(score)
    positives = truth.sum()
    negatives = len(truth) - positives
    if positives == 0 or negatives == 0:
        return 0.5
    return float((ranks[truth == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _fold_auc(folds: list[tuple[np.ndarray, np.ndarray]]) -> float:
    sizes = np.array([len(t) for t, _ in folds], dtype="float64")
    return float(np.average([rank_auc(t, s) for t, s in folds], weights=sizes))


def c2st(reference: np.ndarray, window: np.ndarray, categorical: np.ndarray, columns: list[str], *,
         alpha: float, auc_floor: float, rng: np.random.Generator, n_folds: int = 2,
         max_iter: int = 60) -> JointDrift:
    """Classifier two-sample test of ``reference`` against ``window`` rows (already encoded, equal-ish sizes)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    features = np.vstack([reference, window])
    truth = np.r_[np.zeros(len(reference), dtype=int), np.ones(len(window), dtype=int)]
    fold_of = rng.permutation(len(truth)) % n_folds
    folds, models = [], []
    for k in range(n_folds):
        train, test = fold_of != k, fold_of == k
        model = HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=0.1, max_leaf_nodes=15,
                                               categorical_features=categorical if categorical.any() else None,
                                               early_stopping=False, random_state=int(rng.integers(2**31 - 1)))
        model.fit(features[train], truth[train])
        folds.append((truth[test], model.predict_proba(features[test])[:, 1]))
        models.append((model, test))
    auc = _fold_auc(folds)
    exceed = 0
    for _ in range(N_PERMUTATIONS):
        exceed += _fold_auc([(rng.permutation(t), s) for t, s in folds]) >= auc
    p_value = (exceed + 1) / (N_PERMUTATIONS + 1)
    half = 1.96 * _auc_se(auc, int(truth.sum()), int(len(truth) - truth.sum()))
    drifted = bool(p_value < alpha and auc >= auc_floor)
    drivers: tuple[tuple[str, float], ...] = ()
    if drifted:
        model, test = models[0]
        held_x, held_y = features[test], truth[test]
        base = rank_auc(held_y, folds[0][1])
        drops = []
        for j, name in enumerate(columns):
            shuffled = held_x.copy()
            shuffled[:, j] = rng.permutation(shuffled[:, j])
            drops.append((name, base - rank_auc(held_y, model.predict_proba(shuffled)[:, 1])))
        drivers = tuple(sorted(((c, d) for c, d in drops if d > 0.005), key=lambda cd: -cd[1])[:5])
    return JointDrift(auc=auc, interval=(max(0.0, auc - half), min(1.0, auc + half)), p_value=float(p_value),
                      drifted=drifted, drivers=drivers, n_reference=len(reference), n_window=len(window))


def _auc_se(auc: float, n_positive: int, n_negative: int) -> float:
    """Hanley & McNeil (1982) standard error of an AUC."""
    if n_positive == 0 or n_negative == 0:
        return float("nan")
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (n_positive - 1) * (q1 - auc * auc) + (n_negative - 1) * (q2 - auc * auc)) \
        / (n_positive * n_negative)
    return float(np.sqrt(max(variance, 0.0)))

