"""The downstream models used by detection, utility and fairness metrics: two families.

- gradient-boosted trees: LightGBM when installed (``pip install 'synthloop[report]'``), else
  scikit-learn's ``HistGradientBoosting*`` (the same histogram algorithm, about 2x slower here);
  native missing values and categorical splits on ``MixedEncoding.codes``; a fixed small budget
  (100 trees, 31 leaves) and one thread, so a 40k-row report stays within a minute on two cores;
- linear: logistic / ridge regression on ``MixedEncoding.dense`` (standardised, one-hot).
"""

from __future__ import annotations

import importlib.util
from typing import Literal

import numpy as np

Family = Literal["boosting", "linear"]
Task = Literal["classification", "regression"]
MODEL_FAMILIES: tuple[Family, ...] = ("boosting", "linear")
BOOSTING_TREES = 100


def boosting_backend() -> str:
    """``lightgbm`` when it is installed, else ``sklearn``."""
    return "lightgbm" if importlib.util.find_spec("lightgbm") is not None else "sklearn"


def fit_model(family: Family, task: Task, features: np.ndarray, target: np.ndarray,
              categorical_mask: np.ndarray, seed: int):
    """Fit a model of ``family`` (boosting reads codes, linear reads dense features).

    LightGBM runs on one thread; ``evaluate`` limits BLAS / OpenMP pools to one thread around all
    metrics (on a shared two-core machine, oversubscribed OpenMP threads are many times slower).
    """
    if family == "linear":
        return _linear(task).fit(features, target)
    if boosting_backend() == "lightgbm":
        import lightgbm

        cls = lightgbm.LGBMClassifier if task == "classification" else lightgbm.LGBMRegressor
        model = cls(n_estimators=BOOSTING_TREES, learning_rate=0.1, num_leaves=31, n_jobs=1, verbose=-1,
                    random_state=seed, min_child_samples=20)
        categorical = [int(i) for i in np.flatnonzero(categorical_mask)]
        return model.fit(features, target, categorical_feature=categorical or "auto")
    return _sklearn_boosting(task, categorical_mask, seed).fit(features, target)


def _linear(task: Task):
    from sklearn.linear_model import LogisticRegression, Ridge

    return LogisticRegression(max_iter=300) if task == "classification" else Ridge(alpha=1.0)


def _sklearn_boosting(task: Task, categorical_mask: np.ndarray, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
    return cls(max_iter=BOOSTING_TREES, learning_rate=0.1, max_leaf_nodes=31, early_stopping=False, random_state=seed,
               categorical_features=categorical_mask if categorical_mask.any() else None)


def predict(model, task: Task, features: np.ndarray) -> np.ndarray:
    """Class probabilities (n_rows, n_classes_seen) or regression values."""
    return model.predict_proba(features) if task == "classification" else model.predict(features)


def binary_auc(truth: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC from ranks (Mann–Whitney U), ties counted half; 0.5 when one class is absent.

    Equal to ``sklearn.metrics.roc_auc_score`` for binary labels, without its per-call validation
    overhead (permutation importances call it hundreds of times).
    """
    from scipy.stats import rankdata

    truth = np.asarray(truth).astype(bool)
    n_positive, n_negative = int(truth.sum()), int((~truth).sum())
    if n_positive == 0 or n_negative == 0:
        return 0.5
    ranks = rankdata(score)
    return float((ranks[truth].sum() - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative))


def seed_from(rng: np.random.Generator | None) -> int:
    """An integer seed for scikit-learn / LightGBM drawn from ``rng`` (0 when no generator is given)."""
    return 0 if rng is None else int(rng.integers(2**31 - 1))
