"""Model performance on windows: realised when labels arrive, estimated from confidence when they do not.

Confidence-based performance estimation (CBPE, the method NannyML popularised): a classifier whose
probabilities are calibrated on reference data predicts, for every unlabeled row, the chance that
its label is positive; the expected confusion matrix, and so the expected AUC and accuracy, follow
from those probabilities alone. The estimate holds under covariate shift (P(x) moves, P(y | x)
stays), which is exactly when per-column drift alone cannot say whether the model still works;
under concept shift it does not, and the realised value (labels in the window) is the one to trust.

The monitored model is the monitor's own: gradient boosting fitted on 60% of the reference and
calibrated (isotonic regression) on the other 40%. Its AUC tracks what any model of the same
family trained on the reference would see.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthloop.errors import DataError
from synthloop.monitor.joint import Encoder, rank_auc
from synthloop.tabular.labels import to_labels


@dataclass(frozen=True)
class Performance:
    """The monitored model on one window: estimated (CBPE) and, when the window holds labels, realised."""

    target: str
    positive: str | None
    estimated_auc: float | None
    realised_auc: float | None
    estimated_accuracy: float
    realised_accuracy: float | None
    reference_auc: float | None
    n_labelled: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def expected_auc(score: np.ndarray, probability: np.ndarray) -> float:
    """E[AUC] when row i is positive with probability p_i, ranked by ``score``; pairs of a row with itself excluded."""
    p = np.asarray(probability, dtype="float64")
    q = 1.0 - p
    order = np.argsort(score, kind="stable")
    s, p, q = np.asarray(score)[order], p[order], q[order]
    starts = np.r_[0, np.flatnonzero(np.diff(s)) + 1]
    group_p, group_q = np.add.reduceat(p, starts), np.add.reduceat(q, starts)
    below_q = np.cumsum(group_q) - group_q
    self_pairs = float(np.sum(p * q))
    numerator = float(np.sum(group_p * (below_q + 0.5 * group_q))) - 0.5 * self_pairs
    denominator = float(p.sum() * q.sum()) - self_pairs
    return numerator / denominator if denominator > 0 else float("nan")


class PerformanceEstimator:
    """Fits the monitored model on the reference; ``estimate(window)`` gives a :class:`Performance`."""

    def __init__(self, reference: pd.DataFrame, target: str, kinds: dict[str, str], rng: np.random.Generator):
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.isotonic import IsotonicRegression

        labels = to_labels(reference[target])
        known = labels.notna().to_numpy()
        self.classes = sorted(labels[known].unique())
        if len(self.classes) < 2:
            raise DataError(f"Target column '{target}' has fewer than two labels in the reference; "
                            "performance cannot be estimated.")
        self.target = target
        self.features = {name: kind for name, kind in kinds.items() if name != target}
        self.encoder = Encoder(reference, self.features)
        x = self.encoder.encode(reference)[known]
        y = pd.Index(self.classes).get_indexer(labels[known])
        fit_rows = rng.random(len(y)) < 0.6
        mask = self.encoder.categorical_mask
        self.model = HistGradientBoostingClassifier(max_iter=100, categorical_features=mask if mask.any() else None,
                                                    random_state=int(rng.integers(2**31 - 1)))
        self.model.fit(x[fit_rows], y[fit_rows])
        self.binary = len(self.classes) == 2
        self.calibrator = None
        self.reference_auc = None
        if self.binary:
            held = self.model.predict_proba(x[~fit_rows])[:, 1]
            self.calibrator = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(held, y[~fit_rows])
            self.reference_auc = rank_auc(y[~fit_rows], held)

    def estimate(self, window: pd.DataFrame) -> Performance:
        x = self.encoder.encode(window)
        proba = self.model.predict_proba(x)
        estimated_auc = realised_auc = realised_accuracy = None
        if self.binary:
            score = proba[:, 1]
            calibrated = self.calibrator.predict(score)
            estimated_auc = expected_auc(score, calibrated)
            estimated_accuracy = float(np.mean(np.maximum(calibrated, 1 - calibrated)))
        else:
            estimated_accuracy = float(np.mean(proba.max(axis=1)))
        n_labelled = 0
        if self.target in window.columns:
            labels = to_labels(window[self.target])
            codes = pd.Index(self.classes).get_indexer(labels.where(labels.notna(), None))
            known = codes >= 0
            n_labelled = int(known.sum())
            if n_labelled:
                realised_accuracy = float(np.mean(proba[known].argmax(axis=1) == codes[known]))
                if self.binary:
                    realised_auc = rank_auc(codes[known], proba[known, 1])
        return Performance(target=self.target, positive=self.classes[1] if self.binary else None,
                           estimated_auc=estimated_auc, realised_auc=realised_auc,
                           estimated_accuracy=estimated_accuracy, realised_accuracy=realised_accuracy,
                           reference_auc=self.reference_auc, n_labelled=n_labelled)
