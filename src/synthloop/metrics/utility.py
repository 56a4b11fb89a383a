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
from synthloop.metrics.models import MODEL_FAMILIES, fit_model, predict, seed_from
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
    notes: tuple[str, ...] = ()


def utility_run(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> UtilityRun:
    """Fit both model families on synthetic and on real data once (cached inside ``evaluate``)."""
    schema = resolve_schema(real, schema)
    if schema.target is None:
        raise NotApplicable("no target column in the schema (set one with Schema.infer(..., target=...))")
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
    test_x = features(run.test)
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
        auc = roc_auc_score(run.test_y, prediction[:, 1])
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


def _tstr(run: UtilityRun, score_name: str) -> Score:
    table = tstr_table(run)
    value = table.loc[table["trained_on"] == "synthetic", score_name].mean()
    baseline = table.loc[table["trained_on"] == "real", score_name].mean()
    return Score(float(value), details=table, baseline=float(baseline), notes=run.notes)


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
