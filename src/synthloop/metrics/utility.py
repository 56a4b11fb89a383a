"""Utility: train on synthetic, test on real (TSTR) next to train on real, test on real (TRTR).

Two model families (gradient-boosted trees and a linear model, see ``models.py``) predict the
schema's target column; each is trained once on the synthetic data and once on the real data and
tested on the holdout (Esteban et al., 2017, "Real-valued (medical) time series generation with
recurrent conditional GANs", introduced TSTR). Without a holdout, 20% of the real rows are held
out instead (the synthesizer may have seen them; the report says so).

Also: agreement of permutation feature importances between the two trained models, and the
calibration (expected calibration error, Brier score) of the synthetic-trained model before and
after recalibrating it on a small real slice (Guo et al., 2017, "On calibration of modern neural
networks", for ECE).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthloop.metrics.cache import frame_key, memo, rng_key
from synthloop.metrics.encoding import MixedEncoding, model_view, resolve_schema, subsample
from synthloop.metrics.intervals import auc_interval, bootstrap_rows
from synthloop.metrics.models import MODEL_FAMILIES, binary_auc, fit_model, predict, seed_from
from synthloop.metrics.registry import NotApplicable, Score, metric
from synthloop.schema import Schema

MAX_TRAIN_ROWS = 40_000
MAX_TEST_ROWS = 10_000
RECALIBRATION_ROWS = 500
ECE_BINS = 15


@dataclass
class UtilityRun:
    """Fitted downstream models and their test-set predictions, by (family, trained_on)."""

    task: str                                  # "classification" | "regression"
    classes: tuple[str, ...]
    test: pd.DataFrame                         # model view of the test rows, target included
    test_y: np.ndarray                         # class index or float
    encoding: MixedEncoding
    models: dict[tuple[str, str], Any] = field(default_factory=dict)
    predictions: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)   # proba (n, k) or values
    test_features: dict[str, np.ndarray] = field(default_factory=dict)               # by model family
    notes: tuple[str, ...] = ()


def utility_run(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> UtilityRun:
    """Fit both model families on synthetic and on real data once (cached inside ``evaluate``)."""
    schema = resolve_schema(real, schema)
    if schema.target is None:
        raise NotApplicable("no target column in the schema (set one with Schema.infer(..., target=...))")
    if schema.target not in schema.model_kinds():
        raise NotApplicable(f"the target '{schema.target}' is a {schema[schema.target].kind} column, not learned")
    key = ("utility", *frame_key(real, synthetic, holdout, schema), rng_key(rng))
    rng = rng if rng is not None else np.random.default_rng(0)
    return memo(key, lambda: _fit_all(real, synthetic, schema, holdout, rng))


def _fit_all(real, synthetic, schema: Schema, holdout, rng: np.random.Generator) -> UtilityRun:
    target = schema.target
    task = "regression" if schema.model_kinds()[target] == "numeric" else "classification"
    train_real, test, notes = _train_test(model_view(real, schema), holdout, schema, rng)
    train_synthetic = model_view(synthetic, schema)
    kinds = {k: v for k, v in schema.model_kinds().items() if k != target}
    encoding = MixedEncoding.fit(train_real, kinds)
    classes = tuple(map(str, train_real[target].dropna().value_counts().index)) if task == "classification" else ()
    test = subsample(test[test[target].notna()], MAX_TEST_ROWS, rng)
    if task == "classification":
        test = test[test[target].isin(classes)]
    run = UtilityRun(task, classes, test, _target_values(test[target], classes), encoding, notes=notes)
    for trained_on, frame in (("real", train_real), ("synthetic", train_synthetic)):
        frame = subsample(frame[frame[target].notna()], MAX_TRAIN_ROWS, rng)
        for family in MODEL_FAMILIES:
            _fit_one(run, family, trained_on, frame, target, seed_from(rng))
    return run


def _train_test(real_view: pd.DataFrame, holdout, schema: Schema, rng) -> tuple[pd.DataFrame, pd.DataFrame, tuple]:
    if holdout is not None:
        return real_view, model_view(holdout, schema), ()
    order = rng.permutation(len(real_view))
    cut = int(0.8 * len(real_view))
    note = "no holdout given: models are tested on 20% of the real rows, which the synthesizer may have seen"
    return real_view.iloc[np.sort(order[:cut])], real_view.iloc[np.sort(order[cut:])], (note,)


def _target_values(values: pd.Series, classes: tuple[str, ...]) -> np.ndarray:
    if not classes:
        return values.to_numpy(dtype="float64")
    index = {label: i for i, label in enumerate(classes)}
    return values.map(lambda v: index.get(str(v), -1)).to_numpy(dtype="int64")


def _fit_one(run: UtilityRun, family: str, trained_on: str, frame: pd.DataFrame, target: str, seed: int) -> None:
    y = _target_values(frame[target], run.classes)
    if run.task == "classification":
        frame, y = frame[y >= 0], y[y >= 0]
    features = _features(run.encoding, family)
    if family not in run.test_features:
        run.test_features[family] = features(run.test)
    test_x = run.test_features[family]
    if run.task == "regression":
        model = fit_model(family, "regression", features(frame), y, run.encoding.categorical_mask(), seed)
        run.models[family, trained_on], run.predictions[family, trained_on] = model, predict(model, "regression", test_x)
        return
    proba = np.zeros((len(run.test), len(run.classes)))
    present = np.unique(y)
    if len(present) < 2:   # a collapsed synthetic target: the best a model can do is predict that class
        proba[:, present[0] if len(present) else 0] = 1.0
        run.notes = (*run.notes, f"the {trained_on} data has one target class; its models predict a constant")
        run.models[family, trained_on], run.predictions[family, trained_on] = None, proba
        return
    model = fit_model(family, "classification", features(frame), y, run.encoding.categorical_mask(), seed)
    proba[:, model.classes_] = predict(model, "classification", test_x)
    run.models[family, trained_on], run.predictions[family, trained_on] = model, proba


def _features(encoding: MixedEncoding, family: str):
    return encoding.codes if family == "boosting" else encoding.dense


def _score(run: UtilityRun, prediction: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, r2_score, roc_auc_score

    if run.task == "regression":
        return {"r2": float(r2_score(run.test_y, prediction))}
    labels = np.arange(len(run.classes))
    predicted = prediction.argmax(axis=1)
    if len(run.classes) == 2:
        auc = binary_auc(run.test_y == 1, prediction[:, 1])
    else:
        normalised = prediction / np.clip(prediction.sum(axis=1, keepdims=True), 1e-12, None)
        auc = roc_auc_score(run.test_y, normalised, multi_class="ovr", labels=labels)
    return {"auc": float(auc), "accuracy": float(accuracy_score(run.test_y, predicted)),
            "macro_f1": float(f1_score(run.test_y, predicted, labels=labels, average="macro", zero_division=0))}


def tstr_table(run: UtilityRun) -> pd.DataFrame:
    """One row per (model family, trained_on) with its test scores."""
    rows = [{"family": family, "trained_on": trained_on, **_score(run, prediction)}
            for (family, trained_on), prediction in run.predictions.items()]
    return pd.DataFrame(rows)


#: What a model trained on independent marginals scores (no feature carries information about the
#: target): ROC AUC 0.5, and R² 0 for predicting the training mean (a little below 0 on test rows).
CHANCE = {"auc": 0.5, "r2": 0.0}


def below_chance_note(score_name: str, value: float, real_value: float, low: float | None = None) -> str | None:
    """A warning when train-synthetic-test-real is no better than a trivial model (issue 13, item 3).

    The trivial baseline is the independent-marginals synthesizer: its columns carry no information
    about the target, so its TSTR is chance (AUC 0.5, R² 0). A synthetic table at or below that
    teaches a downstream model nothing that holds on real data, however real-like its columns look.
    ``low``: the lower end of the score's interval; a score whose interval reaches down to chance is
    not distinguishable from it. Only flagged when real training data itself does better than chance
    (else the task is hopeless).
    """
    chance = CHANCE.get(score_name)
    if chance is None or not np.isfinite(value) or not real_value > chance:
        return None
    if value > chance and (low is None or not np.isfinite(low) or low > chance):
        return None
    name = "AUC" if score_name == "auc" else "R²"
    return (f"utility no better than a trivial baseline: models trained on the synthetic data score {name} {value:.3f}, no "
            f"better than chance ({chance:g}, what independent marginals give), while real training data gives "
            f"{real_value:.3f}; do not train downstream models on this sample")


def _tstr(run: UtilityRun, score_name: str) -> Score:
    table = tstr_table(run)
    value = table.loc[table["trained_on"] == "synthetic", score_name].mean()
    baseline = table.loc[table["trained_on"] == "real", score_name].mean()
    interval = _test_interval(run, "synthetic", score_name)
    warning = below_chance_note(score_name, float(value), float(baseline), None if interval is None else interval[0])
    notes = run.notes if warning is None else (*run.notes, warning)
    return Score(float(value), details=table, baseline=float(baseline), notes=notes,
                 interval=interval,
                 baseline_interval=_test_interval(run, "real", score_name))


def _test_interval(run: UtilityRun, trained_on: str, score_name: str) -> tuple[float, float] | None:
    """The noise of scoring on a finite set of real test rows, the fitted models kept: DeLong per model
    family for a binary AUC, a row bootstrap for R²; their mean half-width around the mean score."""
    predictions = [p for (_, on), p in run.predictions.items() if on == trained_on]
    if not predictions:
        return None
    if run.task == "regression" and score_name == "r2":
        from sklearn.metrics import r2_score

        bounds = [bootstrap_rows(lambda t, p: float(r2_score(t, p)), run.test_y, p) for p in predictions]
    elif run.task == "classification" and len(run.classes) == 2 and score_name == "auc":
        bounds = [auc_interval(run.test_y == 1, p[:, 1]) for p in predictions]
    else:
        return None                       # multi-class AUC: evaluate re-runs it with other seeds instead
    centre = float(np.mean([(low + high) / 2 for low, high in bounds]))
    half = float(np.mean([(high - low) / 2 for low, high in bounds]))
    return centre - half, centre + half


@metric("tstr_auc", family="utility", goal="max", bounds=(0.0, 1.0))
def tstr_auc(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
             holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """ROC AUC on real test rows of models trained on synthetic data (mean of two model families)."""
    run = utility_run(real, synthetic, schema, holdout=holdout, rng=rng)
    if run.task != "classification":
        raise NotApplicable("the target is numeric; see tstr_r2")
    return _tstr(run, "auc")


@metric("tstr_r2", family="utility", goal="max", bounds=(-float("inf"), 1.0))
def tstr_r2(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
            holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """R² on real test rows of regressors trained on synthetic data (mean of two model families)."""
    run = utility_run(real, synthetic, schema, holdout=holdout, rng=rng)
    if run.task != "regression":
        raise NotApplicable("the target is categorical; see tstr_auc")
    return _tstr(run, "r2")


# ---------------------------------------------------------------------- feature importances
def _permutation_importance(run: UtilityRun, trained_on: str, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    model = run.models["boosting", trained_on]
    if model is None:
        return np.zeros(len(run.encoding.kinds))
    features = run.test_features["boosting"][rows]
    truth = run.test_y[rows]
    full = _main_score(run, truth, _predict(model, run, features))
    drops = []
    for column in range(features.shape[1]):
        shuffled = features.copy()
        shuffled[:, column] = rng.permutation(shuffled[:, column])
        drops.append(full - _main_score(run, truth, _predict(model, run, shuffled)))
    return np.array(drops)


def _main_score(run: UtilityRun, truth: np.ndarray, prediction: np.ndarray) -> float:
    """R² for regression, binary AUC, or accuracy for multiclass (cheap: called once per permutation)."""
    if run.task == "regression":
        residual = ((truth - prediction) ** 2).sum()
        return float(1.0 - residual / max(((truth - truth.mean()) ** 2).sum(), 1e-12))
    if len(run.classes) == 2:
        return binary_auc(truth == 1, prediction[:, 1])
    return float((prediction.argmax(axis=1) == truth).mean())


def _predict(model, run: UtilityRun, features: np.ndarray) -> np.ndarray:
    if run.task == "regression":
        return predict(model, "regression", features)
    proba = np.zeros((len(features), len(run.classes)))
    proba[:, model.classes_] = predict(model, "classification", features)
    return proba


@metric("feature_importance_agreement", family="utility", goal="max", bounds=(-1.0, 1.0))
def feature_importance_agreement(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                                 holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """Spearman correlation of permutation importances: model trained on synthetic vs on real data."""
    from scipy.stats import spearmanr

    run = utility_run(real, synthetic, schema, holdout=holdout, rng=rng)
    rng = np.random.default_rng(seed_from(rng))
    rows = np.sort(rng.choice(len(run.test), size=min(2_000, len(run.test)), replace=False))
    on_real = _permutation_importance(run, "real", rows, rng)
    on_synthetic = _permutation_importance(run, "synthetic", rows, rng)
    agreement = spearmanr(on_real, on_synthetic).statistic if np.ptp(on_real) > 0 and np.ptp(on_synthetic) > 0 else 0.0
    details = pd.DataFrame({"column": list(run.encoding.kinds), "importance_real": on_real,
                            "importance_synthetic": on_synthetic})
    return Score(float(np.nan_to_num(agreement)), details=details, notes=run.notes)


# ---------------------------------------------------------------------- calibration
def expected_calibration_error(proba: np.ndarray, truth: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """Top-label ECE: |accuracy − confidence| averaged over equal-width confidence bins, weighted by size."""
    confidence, predicted = proba.max(axis=1), proba.argmax(axis=1)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    error = 0.0
    for b in np.unique(bins):
        in_bin = bins == b
        error += in_bin.mean() * abs(float((predicted[in_bin] == truth[in_bin]).mean()) - float(confidence[in_bin].mean()))
    return float(error)


def brier_score(proba: np.ndarray, truth: np.ndarray) -> float:
    """Mean squared error of the class probabilities, halved so a binary task gives the usual Brier score."""
    one_hot = np.eye(proba.shape[1])[truth]
    return float(((proba - one_hot) ** 2).sum(axis=1).mean() / 2.0)


def calibration_table(run: UtilityRun, rng: np.random.Generator) -> pd.DataFrame:
    """ECE and Brier of the boosted models before and after recalibrating on a small real slice."""
    order = rng.permutation(len(run.test))
    n_slice = min(RECALIBRATION_ROWS, len(run.test) // 5)
    fit_rows, test_rows = order[:n_slice], order[n_slice:]
    rows = []
    for trained_on in ("synthetic", "real"):
        proba = run.predictions["boosting", trained_on]
        stages = {"before": proba[test_rows]}
        if len(np.unique(run.test_y[fit_rows])) > 1:
            stages["after"] = _recalibrate(proba[fit_rows], run.test_y[fit_rows], proba[test_rows], len(run.classes))
        for stage, calibrated in stages.items():
            rows.append({"trained_on": trained_on, "stage": stage, "slice_rows": n_slice,
                         "ece": expected_calibration_error(calibrated, run.test_y[test_rows]),
                         "brier": brier_score(calibrated, run.test_y[test_rows])})
    return pd.DataFrame(rows)


def _recalibrate(fit_proba: np.ndarray, fit_truth: np.ndarray, proba: np.ndarray, n_classes: int) -> np.ndarray:
    """Multinomial logistic regression on log-probabilities (Platt / matrix scaling)."""
    from sklearn.linear_model import LogisticRegression

    def logits(p: np.ndarray) -> np.ndarray:
        return np.log(np.clip(p, 1e-6, 1.0))

    model = LogisticRegression(max_iter=500).fit(logits(fit_proba), fit_truth)
    out = np.zeros((len(proba), n_classes))
    out[:, model.classes_] = model.predict_proba(logits(proba))
    return out


def _calibration(real, synthetic, schema, holdout, rng) -> tuple[pd.DataFrame, UtilityRun]:
    run = utility_run(real, synthetic, schema, holdout=holdout, rng=rng)
    if run.task != "classification":
        raise NotApplicable("calibration needs a categorical target")
    seed = seed_from(rng)
    table = memo(("calibration", id(run), seed), lambda: calibration_table(run, np.random.default_rng(seed)), keep=(run,))
    return table, run


def _pick_calibration(table: pd.DataFrame, stage: str, column: str) -> tuple[float, float]:
    chosen = table[table["stage"] == stage].set_index("trained_on")[column]
    if "synthetic" not in chosen:
        raise NotApplicable("the recalibration slice holds one class only")
    return float(chosen["synthetic"]), float(chosen["real"])


def _calibration_metric(name: str, stage: str, column: str, doc: str):
    def score(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
              holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
        table, run = _calibration(real, synthetic, schema, holdout, rng)
        value, baseline = _pick_calibration(table, stage, column)
        return Score(value, details=table, baseline=baseline, notes=run.notes)

    score.__doc__ = doc
    score.__name__ = score.__qualname__ = name
    return metric(name, family="utility", goal="min", bounds=(0.0, 1.0))(score)


calibration_ece = _calibration_metric(
    "calibration_ece", "before", "ece", "Expected calibration error on real rows of the model trained on synthetic data.")
calibration_brier = _calibration_metric(
    "calibration_brier", "before", "brier", "Brier score on real rows of the model trained on synthetic data.")
recalibrated_ece = _calibration_metric(
    "recalibrated_ece", "after", "ece", "ECE of the synthetic-trained model after recalibration on a small real slice.")
