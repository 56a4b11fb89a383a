"""One search trial, run in a worker: fit on the search's training part, sample, score on its validation part.

Scores, each read against rows the trial's model never saw (the validation part of the user's
training data; the user's own holdout is never used):

- ``detection``: ``detection_auc_split``, validation rows against as many synthetic rows (lower is better);
- ``utility``: ``tstr_auc`` (``tstr_r2`` for a numeric target): models trained on synthetic rows,
  tested on the validation rows (higher is better; absent without a target);
- ``dcr_share``: the chance a synthetic row sits closer to the training part than a validation row
  does (0.5 = like new data; the privacy gate is a constraint on it).

Screening (early pruning): before the full fit, the same model is fitted on ``screen_rows`` rows and
its detection AUC measured; a trial whose screen is worse than ``prune_above`` stops there (the search
sets it 0.1 above the best screen so far). In the 6-minute search on Adult recorded in
``docs/benchmarks.md``, 17 of 29 trials stopped at their screen.

Repeats (the noise the choice needs): one detection split on a few thousand rows moves by about
0.01-0.02 from draw to draw, as much as the gap between two good configurations. So the model is
sampled ``repeats`` times (seeds ``seed``, ``seed + 1``, …) and detection and utility are scored on
each sample with their own random splits; a trial reports their means (``detection``, ``utility``)
and standard deviations (``detection_sd``, ``utility_sd``), from which the search estimates the noise
of a comparison (:func:`synthloop.tuning.run.choose`). ``dcr_share`` is read on the first sample.

Time (``seconds``, the trial's share of the budget): models trained on the shared neural trainer
get :func:`synthloop.nn.clock.time_limit` around their fits (the screen ``SCREEN_SHARE`` of the
share, the full fit up to ``FIT_SHARE`` of it counted from the trial's start), so a neural model
with 300 default epochs ends its fit in time instead of being killed. A fit the limit stopped
reports ``epochs`` (the epochs trained) and is saved with that ``epochs``: the same fit, without a clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthloop.schema import Schema


@dataclass(frozen=True)
class TrialSpec:
    """Everything a worker needs for one trial (sent to it whole; no state is shared)."""

    number: int
    model: str
    params: dict[str, Any]
    seed: int
    folder: str
    train: pd.DataFrame = field(repr=False)
    validation: pd.DataFrame = field(repr=False)
    schema: Schema = field(repr=False)
    screen_rows: int = 2000
    prune_above: float = float("inf")
    eval_rows: int = 5000
    repeats: int = 3
    seconds: float | None = None


#: Shares of a trial's time for the screening fit and (counted from the trial's start) the full fit.
SCREEN_SHARE, FIT_SHARE = 0.15, 0.6


def run_trial(spec: TrialSpec) -> dict[str, Any]:
    """Fit, sample, score, save; returns the scores (``status``: ``complete`` or ``pruned``)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _run(spec)


def _run(spec: TrialSpec) -> dict[str, Any]:
    started = time.monotonic()
    rng = np.random.default_rng(spec.seed)
    validation = _rows(spec.validation, spec.eval_rows, rng)
    out: dict[str, Any] = {"status": "complete"}
    if spec.screen_rows and len(spec.train) > 2 * spec.screen_rows:
        screen = _rows(spec.train, spec.screen_rows, rng)
        with _limit(spec, SCREEN_SHARE, started):
            model = _fitted(spec, screen)
        synthetic = model.sample(min(len(validation), spec.screen_rows), seed=spec.seed)
        out["screen_detection"] = _detection(validation, synthetic, spec.schema, rng)
        if out["screen_detection"] > spec.prune_above:
            out["status"] = "pruned"
            return out
    start = time.perf_counter()
    with _limit(spec, FIT_SHARE, started) as limit:
        model = _fitted(spec, spec.train)
    out["fit_seconds"] = time.perf_counter() - start
    if limit is not None and limit.stopped_after is not None:
        model.epochs = out["epochs"] = limit.stopped_after    # saved as trained: a refit with it is this fit
    samples = [model.sample(len(validation), seed=spec.seed + r) for r in range(max(1, spec.repeats))]
    out["sample_seconds"] = time.perf_counter() - start - out["fit_seconds"]
    scores = [{"detection": _detection(validation, synthetic, spec.schema, rng),
               **_utility(spec.train, synthetic, validation, spec.schema, rng)} for synthetic in samples]
    for key in ("detection", "utility"):
        if key in scores[0]:
            values = np.array([s[key] for s in scores], dtype=float)
            out[key] = float(values.mean())
            out[f"{key}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
    if "utility_metric" in scores[0]:
        out["utility_metric"] = scores[0]["utility_metric"]
    out["repeats"] = len(samples)
    out["dcr_share"] = _score("dcr_share", _rows(spec.train, spec.eval_rows, rng), samples[0], spec.schema,
                              validation, rng)
    model.save(Path(spec.folder), overwrite=True)
    if model.keeps_training_rows:     # kept apart, as fit does: the chosen model's samples stay privacy-checked
        model.save_privacy_reference(Path(spec.folder + ".privacy"), overwrite=True)
    return out


def _limit(spec: TrialSpec, share: float, started: float):
    """A time limit for a fit: ``share`` of the trial's seconds, counted from ``started`` (None: no limit)."""
    from contextlib import nullcontext

    from synthloop.nn.clock import time_limit

    if spec.seconds is None:
        return nullcontext()
    return time_limit(share * spec.seconds - (time.monotonic() - started))


def _fitted(spec: TrialSpec, data: pd.DataFrame):
    from synthloop.synthesizers import get, get_class
    from synthloop.synthesizers.params import param_names

    names = param_names(get_class(spec.model))
    params = dict(spec.params)
    if "seed" in names:
        params["seed"] = spec.seed
    if "progress" in names:
        params["progress"] = False
    return get(spec.model, **params).fit(data, spec.schema)


def _rows(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= n:
        return frame
    return frame.iloc[np.sort(rng.choice(len(frame), n, replace=False))].reset_index(drop=True)


def _score(name: str, real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema, holdout: pd.DataFrame | None,
           rng: np.random.Generator) -> float:
    from synthloop.metrics import get_metric

    return float(get_metric(name)(real, synthetic, schema, holdout=holdout, rng=rng).value)


def _detection(validation: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema, rng: np.random.Generator) -> float:
    return _score("detection_auc_split", validation, synthetic, schema, None, rng)


def _utility(train: pd.DataFrame, synthetic: pd.DataFrame, validation: pd.DataFrame, schema: Schema,
             rng: np.random.Generator) -> dict[str, float]:
    if schema.target is None:
        return {}
    name = "tstr_r2" if schema[schema.target].kind == "numeric" else "tstr_auc"
    return {"utility": _score(name, train, synthetic, schema, validation, rng), "utility_metric": name}


def warm_up(train: pd.DataFrame, validation: pd.DataFrame, schema: Schema) -> None:
    """Score a few validation rows against themselves, so the scoring code is loaded before workers fork."""
    import warnings

    rng = np.random.default_rng(0)
    rows = _rows(validation, 40, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _detection(rows, rows, schema, rng)
            _utility(_rows(train, 40, rng), rows, rows, schema, rng)
        except Exception:      # a warm-up only; the trials report any real error
            pass
