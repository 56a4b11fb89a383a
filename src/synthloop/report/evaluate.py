"""``evaluate``: score synthetic data against real data, each score next to what real data would get.

Every metric is computed for the synthetic table and, when a holdout of unseen real rows is given,
for the holdout as if it were synthetic (the "as good as real" baseline). Metrics that compare
against the holdout themselves (privacy attacks) get their baseline from the two halves of the
holdout; metrics with a natural reference (train-real-test-real for utility) supply their own.
Heavy metrics subsample with the given seed; the report lists every subsample.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from synthloop.errors import ConfigError, DataError, format_problems
from synthloop.metrics.cache import shared_cache
from synthloop.metrics.registry import FAMILIES, METRICS, MetricInfo, NotApplicable, Score, get_metric, load_all
from synthloop.report.report import Report
from synthloop.schema import Schema
from synthloop.schema.schema import check_frame

PRESETS = ("default", "all", "fast")
_FAST_FAMILIES = ("fidelity", "collapse")
_SLOW_IN_FAST = ("mmd", "precision", "recall", "density", "coverage", "alpha_precision", "beta_recall")


def evaluate(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
             metrics: Sequence[str] | str = "default", holdout: pd.DataFrame | None = None,
             seed: int = 0) -> Report:
    """Score ``synthetic`` against ``real`` and return a :class:`Report`.

    Parameters
    ----------
    real
        The real (training) data the synthesizer learned from.
    synthetic
        The synthetic table, with the same columns.
    schema
        Column kinds, target and sensitive columns; inferred from ``real`` when omitted (then there
        is no target, so utility and fairness metrics are skipped).
    metrics
        ``"default"`` (every default metric), ``"all"``, ``"fast"`` (marginals, pairs and coverage
        only) or a list of metric names (see ``synthloop.metrics.METRICS``).
    holdout
        Real rows the synthesizer never saw. Enables the baselines, train-synthetic-test-real on
        unseen rows and the privacy attacks.
    seed
        Seeds every subsample and model, so the same inputs give the same report.

    Examples
    --------
    >>> import synthloop as sl
    >>> real = sl.datasets.load("penguins").dropna()
    >>> report = sl.evaluate(real.iloc[:150], real.iloc[150:], metrics=["ks_complement"])
    >>> 0.0 <= report.value("ks_complement") <= 1.0
    True
    """
    check_inputs(real, synthetic, holdout, schema)
    schema = schema if schema is not None else Schema.infer(real)
    check_target(schema, real, holdout)
    chosen = _by_family(select_metrics(metrics))
    started = time.perf_counter()
    rows, details, notes, skipped, timings = [], {}, {}, {}, {}
    with threadpool_limits(1), shared_cache():
        for info in chosen:
            tic = time.perf_counter()
            try:
                score = info(real, synthetic, schema, holdout=holdout, rng=np.random.default_rng(seed))
            except NotApplicable as reason:
                skipped[info.name] = str(reason)
                continue
            baseline = score.baseline if score.baseline is not None else _baseline(info, real, holdout, schema, seed)
            rows.append(_row(info, score, baseline))
            details.update(_details(info.name, score))
            for note in score.notes:
                notes.setdefault(note, []).append(info.name)
            timings[info.name] = round(time.perf_counter() - tic, 3)
        details.update(_plot_tables(real, synthetic, schema, holdout, seed))
    meta = {"seed": seed, "rows": {"real": len(real), "synthetic": len(synthetic),
                                   "holdout": None if holdout is None else len(holdout)},
            "target": schema.target, "sensitive": [c.name for c in schema.sensitive()],
            "notes": [f"{', '.join(names)}: {note}" for note, names in notes.items()], "skipped": skipped,
            "seconds": round(time.perf_counter() - started, 2), "metric_seconds": timings}
    return Report(scores=pd.DataFrame(rows, columns=Report.SCORE_COLUMNS), details=details, meta=meta)


def select_metrics(metrics: Sequence[str] | str) -> list[MetricInfo]:
    """The metrics named by a preset or a list, in registry order."""
    registry = load_all()
    if isinstance(metrics, str):
        if metrics not in PRESETS:
            return [get_metric(metrics)]
        if metrics == "all":
            return list(registry.values())
        if metrics == "fast":
            return [m for m in registry.values() if m.family in _FAST_FAMILIES and m.name not in _SLOW_IN_FAST]
        return [m for m in registry.values() if m.default]
    names = list(metrics)
    if not names:
        raise ConfigError(f"No metrics chosen; pass a preset ({', '.join(PRESETS)}) or metric names.")
    return [get_metric(name) for name in dict.fromkeys(names)]


def _by_family(infos: list[MetricInfo]) -> list[MetricInfo]:
    return sorted(infos, key=lambda info: FAMILIES.index(info.family))


def _row(info: MetricInfo, score: Score, baseline: float) -> dict[str, object]:
    return {"metric": info.name, "family": info.family, "value": float(score.value), "baseline": float(baseline),
            "goal": info.goal, "low": info.bounds[0], "high": info.bounds[1]}


def _details(name: str, score: Score) -> dict[str, pd.DataFrame]:
    found = {name: score.details} if score.details is not None else {}
    found.update(score.tables)
    return found


def _baseline(info: MetricInfo, real: pd.DataFrame, holdout: pd.DataFrame | None, schema: Schema, seed: int) -> float:
    """The metric for the holdout as if it were the synthetic data (NaN without a holdout)."""
    if holdout is None:
        return float("nan")
    rng = np.random.default_rng(seed)
    try:
        if not info.uses_holdout:
            return float(info(real, holdout, schema, holdout=None, rng=rng).value)
        if len(holdout) < 40:
            return float("nan")
        order = np.random.default_rng([seed, 1]).permutation(len(holdout))
        half = len(holdout) // 2
        as_synthetic, as_holdout = holdout.iloc[np.sort(order[:half])], holdout.iloc[np.sort(order[half:])]
        return float(info(real, as_synthetic, schema, holdout=as_holdout, rng=rng).value)
    except NotApplicable:
        return float("nan")


def _plot_tables(real, synthetic, schema: Schema, holdout, seed: int) -> dict[str, pd.DataFrame]:
    from synthloop.metrics.fidelity import association_table, marginal_table

    return {"marginals": marginal_table(real, synthetic, schema, holdout=holdout),
            "associations": association_table(real, synthetic, schema, rng=np.random.default_rng(seed))}


# ---------------------------------------------------------------------- input checks
def check_inputs(real: object, synthetic: object, holdout: object, schema: Schema | None) -> None:
    """Raise DataError listing every way the tables do not fit together."""
    check_frame(real, what="real data")
    check_frame(synthetic, what="synthetic data")
    if holdout is not None:
        check_frame(holdout, what="holdout data")
    if schema is not None:
        schema.validate(real, what="real data")
    expected = [str(c) for c in real.columns]
    problems = []
    for what, frame in (("synthetic data", synthetic), ("holdout data", holdout)):
        if frame is None:
            continue
        names = [str(c) for c in frame.columns]
        missing, extra = [c for c in expected if c not in names], [c for c in names if c not in expected]
        if missing:
            problems.append(f"the {what} lacks columns {missing}")
        if extra:
            problems.append(f"the {what} has columns the real data does not: {extra}")
        if not missing:
            problems.extend(_dtype_problems(real, frame, what, schema))
    if problems:
        raise DataError(format_problems("The tables cannot be compared", problems,
                                        "Give the synthetic and holdout tables the real data's columns and types."))


def _dtype_problems(real: pd.DataFrame, other: pd.DataFrame, what: str, schema: Schema | None) -> list[str]:
    problems = []
    numeric = ({c.name for c in schema.numeric()} if schema is not None
               else {str(c) for c in real.columns if pd.api.types.is_numeric_dtype(real[c])
                     and not pd.api.types.is_bool_dtype(real[c])})
    for name in numeric:
        values = other[name].dropna()
        if pd.api.types.is_numeric_dtype(values.dtype):
            continue
        text = values[pd.to_numeric(values, errors="coerce").isna()]
        if len(text):
            examples = ", ".join(repr(v) for v in pd.unique(text)[:3])
            problems.append(f"column '{name}' is numeric in the real data but text in the {what} "
                            f"({len(text)} values, e.g. {examples})")
    return problems


def check_target(schema: Schema, real: pd.DataFrame, holdout: pd.DataFrame | None) -> None:
    """A categorical target needs two classes in the real data (and in the holdout) for utility metrics."""
    if schema.target is None or schema[schema.target].kind not in ("categorical", "boolean", "constant"):
        return
    for what, frame in (("real data", real), ("holdout data", holdout)):
        if frame is None:
            continue
        classes = frame[schema.target].dropna().unique()
        if len(classes) < 2:
            found = f"only {classes[0]!r}" if len(classes) else "no values"
            raise DataError(f"The target column '{schema.target}' has {found} in the {what}; utility and "
                            "fairness metrics need at least two classes. Choose another target in the schema, "
                            "or evaluate without a target.")


__all__ = ["METRICS", "evaluate", "select_metrics"]
