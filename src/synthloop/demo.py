"""The demo behind ``synthloop demo``: fit the baselines on bundled Adult, sample, and score the result.

It trains each baseline synthesizer on the Adult training split (Becker & Kohavi 1996), samples as
many rows as it trained on, saves the model directory and the synthetic table, and scores each
synthetic table against the real training data with :func:`synthloop.evaluate`, the real test
split serving as the holdout (the fair protocol: the holdout's own scores show what "as good as
real" looks like). The library returns a :class:`DemoResult`; the CLI renders it.

>>> result = run_demo(dataset="penguins", models=("independent",), out_dir=None, evaluate=False)
>>> result.runs[0].n_synthetic_rows == result.n_train_rows
True
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from synthloop import datasets
from synthloop.errors import ConfigError, MissingDependency
from synthloop.schema import Schema
from synthloop.workflows import default_reference_dir

#: Baselines the demo fits, cheapest last; models whose module is not available are skipped and reported.
DEMO_MODELS: tuple[str, ...] = ("cart", "gaussian_copula", "independent")
#: One or two metrics per question a user asks: same marginals? same pairs? can a classifier tell?
#: is it useful for the target? does it copy or hug real rows? (``synthloop evaluate`` runs them all.)
DEMO_METRICS: tuple[str, ...] = ("ks_complement", "tv_complement", "correlation_similarity", "contingency_similarity",
                                 "detection_auc", "tstr_auc", "dcr_share", "exact_copy_rate")


@dataclass(frozen=True)
class DemoRun:
    """What the demo made with one synthesizer, how long it took, and how good it is."""

    model: str
    fit_seconds: float
    sample_seconds: float
    n_synthetic_rows: int
    model_dir: Path | None = None
    synthetic_path: Path | None = None
    report_path: Path | None = None
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoResult:
    """Everything one demo run produced."""

    dataset: str
    n_train_rows: int
    n_holdout_rows: int
    runs: tuple[DemoRun, ...]
    skipped: dict[str, str]
    score_goals: dict[str, str]
    holdout_scores: dict[str, float]
    out_dir: Path | None
    summary_path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=str))


def run_demo(*, dataset: str = "adult", rows: int | None = None, models: Sequence[str] = DEMO_MODELS,
             out_dir: str | Path | None = "synthloop-demo", evaluate: bool = True,
             metrics: Sequence[str] | str = DEMO_METRICS, seed: int = 0,
             on_step: Callable[[str], None] | None = None) -> DemoResult:
    """Fit ``models`` on a bundled dataset's train split, sample, save and score each.

    Parameters
    ----------
    dataset
        A bundled dataset name (``synthloop.datasets.available()``).
    rows
        Train on a seeded random subset of this many training rows (default: the whole split).
    models
        Registered synthesizer names; names whose module cannot be imported are skipped.
    out_dir
        Where models, synthetic tables and reports go; ``None`` keeps everything in memory.
    evaluate
        Score each synthetic table with :func:`synthloop.evaluate` (the real test split is the holdout).
    metrics
        Metric names or a preset for :func:`synthloop.evaluate`.
    on_step
        Called with a short description before each step (the CLI shows it as progress).
    """
    step = on_step or (lambda message: None)
    train, holdout = _load_split(dataset, rows, seed)
    schema = Schema.infer(train, target=datasets.info(dataset).target)
    out = Path(out_dir) if out_dir is not None else None
    runs, skipped, reports = [], {}, []
    for name in models:
        synthesizer, reason = _make(name, seed)
        if synthesizer is None:
            skipped[name] = reason
            continue
        run, report = _run_one(name, synthesizer, train, holdout, schema, out, evaluate and metrics, seed, step)
        runs.append(run)
        reports.append(report)
    goals, holdout_scores = _reference(reports[0]) if reports and reports[0] is not None else ({}, {})
    result = DemoResult(dataset, len(train), len(holdout), tuple(runs), skipped, goals, holdout_scores, out)
    return _write_summary(result, out) if out is not None else result


def _load_split(dataset: str, rows: int | None, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, holdout = datasets.load(dataset, split="train"), datasets.load(dataset, split="test")
    if rows is not None:
        if rows < 2:
            raise ConfigError(f"The demo needs at least 2 training rows, got rows={rows}.")
        if rows < len(train):
            train = train.sample(rows, random_state=seed).reset_index(drop=True)
    return train, holdout


def _make(name: str, seed: int):
    from synthloop.synthesizers import get

    try:
        return get(name, seed=seed), ""
    except MissingDependency as exc:
        return None, str(exc)
    except ImportError as exc:  # registered but its module is not part of this build
        return None, f"not available in this build ({exc})"


def _run_one(name, synthesizer, train, holdout, schema, out, metrics, seed, step):
    """Fit, sample, save and score one synthesizer; returns the run and its report (None when not scored)."""
    from synthloop.io import write_table

    step(f"Fitting {name} on {len(train):,} rows")
    start = time.perf_counter()
    synthesizer.fit(train, schema)
    fit_seconds = time.perf_counter() - start
    step(f"Sampling {len(train):,} rows from {name}")
    start = time.perf_counter()
    synthetic = synthesizer.sample(len(train), seed=seed)
    sample_seconds = time.perf_counter() - start
    model_dir = synthetic_path = report_path = report = None
    if out is not None:
        model_dir = synthesizer.save(out / "models" / name, overwrite=True)  # the demo owns its folder
        # The privacy reference apart, where `synthloop sample` finds it (as `synthloop fit` keeps it).
        synthesizer.save_privacy_reference(default_reference_dir(model_dir), overwrite=True)
        synthetic_path = write_table(synthetic, out / "synthetic" / f"{name}.csv")
    if metrics:
        from synthloop.report import evaluate

        step(f"Scoring {name} against the real data ({len(holdout):,} held-out rows as the reference)")
        report = evaluate(train, synthetic, schema, metrics=metrics, holdout=holdout, seed=seed)
        if out is not None:
            step(f"Writing the HTML report for {name}")
            report_path = out / "reports" / f"{name}.html"
            report.to_html(report_path)
    scores = {} if report is None else {row.metric: float(row.value) for row in report.scores.itertuples()}
    run = DemoRun(name, fit_seconds, sample_seconds, len(synthetic), model_dir, synthetic_path, report_path, scores)
    return run, report


def _reference(report) -> tuple[dict[str, str], dict[str, float]]:
    """Each metric's goal, and its value for the real holdout: what 'as good as real' looks like."""
    rows = list(report.scores.itertuples())
    return {row.metric: str(row.goal) for row in rows}, {row.metric: float(row.baseline) for row in rows}


def _write_summary(result: DemoResult, out: Path) -> DemoResult:
    from dataclasses import replace

    from synthloop.io import atomic_write

    path = out / "summary.json"
    final = replace(result, summary_path=path)
    with atomic_write(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(final.to_dict(), indent=2) + "\n", encoding="utf-8")
    return final
