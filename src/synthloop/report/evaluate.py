"""``evaluate``: score synthetic data against real data, each score next to what real data would get.

Every metric is computed for the synthetic table and, when a holdout of unseen real rows is given,
for the holdout as if it were synthetic (the "as good as real" baseline). Metrics that compare
against the holdout themselves (privacy attacks) get their baseline from the two halves of the
holdout; metrics with a natural reference (train-real-test-real for utility) supply their own.
Heavy metrics subsample with the given seed; the report lists every subsample. Every score gets a
95% interval (see ``_intervals``), so "worse than real" is claimed only beyond the noise.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from synthloop.errors import ConfigError, DataError, format_problems
from synthloop.lineage.fingerprint import check_unseen
from synthloop.metrics.cache import shared_cache
from synthloop.metrics.intervals import LEVEL, mean_interval
from synthloop.metrics.registry import FAMILIES, METRICS, MetricInfo, NotApplicable, Score, get_metric, load_all
from synthloop.report.report import Report
from synthloop.schema import Schema
from synthloop.schema.schema import check_frame

PRESETS = ("default", "all", "fast")
_FAST_FAMILIES = ("fidelity", "collapse")
_SLOW_IN_FAST = ("mmd", "precision", "recall", "density", "coverage", "alpha_precision", "beta_recall")


def _text_names(frame: object) -> object:
    return frame.rename(columns=str) if isinstance(frame, pd.DataFrame) else frame


def evaluate(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
             metrics: Sequence[str] | str = "default", holdout: pd.DataFrame | None = None,
             seed: int = 0, on_step: Callable[[str, int, int], None] | None = None) -> Report:
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
    on_step
        Called as ``on_step(metric, done, total)`` before each metric (the CLI shows it as progress).

    Examples
    --------
    >>> import synthloop as sl
    >>> real = sl.datasets.load("penguins").dropna()
    >>> report = sl.evaluate(real.iloc[:150], real.iloc[150:], metrics=["ks_complement"])
    >>> 0.0 <= report.value("ks_complement") <= 1.0
    True
    """
    # Column names are compared as text, as fit does (a model's samples have str names whatever the input's).
    real, synthetic = _text_names(real), _text_names(synthetic)
    holdout = None if holdout is None else _text_names(holdout)
    check_inputs(real, synthetic, holdout, schema)
    schema = schema if schema is not None else Schema.infer(real)
    check_target(schema, real, holdout)
    chosen = _by_family(select_metrics(metrics))
    step = on_step or (lambda name, done, total: None)
    started = time.perf_counter()
    rows, details, notes, skipped, timings, scores = [], {}, {}, {}, {}, {}
    with threadpool_limits(1), shared_cache():
        for done, info in enumerate(chosen):
            step(info.name, done, len(chosen))
            tic = time.perf_counter()
            try:
                score = info(real, synthetic, schema, holdout=holdout, rng=np.random.default_rng(seed))
            except NotApplicable as reason:
                skipped[info.name] = str(reason)
                continue
            baseline = (Score(score.baseline, interval=score.baseline_interval) if score.baseline is not None
                        else _baseline(info, real, holdout, schema, seed))
            scores[info.name] = (info, score, baseline)
            details.update(_details(info.name, score))
            for note in score.notes:
                notes.setdefault(note, []).append(info.name)
            timings[info.name] = round(time.perf_counter() - tic, 3)
        step("intervals", len(chosen), len(chosen))
        first_pass = time.perf_counter() - started
        intervals = _intervals(scores, real, synthetic, schema, holdout, seed, REPLICATE_SHARE * first_pass, timings)
        interval_seconds = time.perf_counter() - started - first_pass
        rows = [_row(info, score, baseline, intervals[name]) for name, (info, score, baseline) in scores.items()]
        details.update(_plot_tables(real, synthetic, schema, holdout, seed))
    meta = {"seed": seed, "rows": {"real": len(real), "synthetic": len(synthetic),
                                   "holdout": None if holdout is None else len(holdout)},
            "target": schema.target, "sensitive": [c.name for c in schema.sensitive()],
            "notes": [f"{', '.join(names)}: {note}" for note, names in notes.items()], "skipped": skipped,
            "families_skipped": skipped_families(chosen, skipped),
            "interval_level": LEVEL,
            "seconds": round(time.perf_counter() - started, 2), "interval_seconds": round(interval_seconds, 2),
            "metric_seconds": timings}
    return Report(scores=pd.DataFrame(rows, columns=Report.SCORE_COLUMNS), details=details, meta=meta)


def skipped_families(chosen: Sequence[MetricInfo], skipped: dict[str, str]) -> dict[str, str]:
    """Families none of whose chosen metrics ran, each with the first reason (e.g. no target known)."""
    out = {}
    for family in FAMILIES:
        members = [info.name for info in chosen if info.family == family]
        if members and all(name in skipped for name in members):
            out[family] = skipped[members[0]]
    return out


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


def _row(info: MetricInfo, score: Score, baseline: Score | None,
         interval: tuple[tuple[float, float], tuple[float, float], str]) -> dict[str, object]:
    (ci_low, ci_high), (base_low, base_high), method = interval
    return {"metric": info.name, "family": info.family, "value": float(score.value),
            "baseline": float("nan") if baseline is None else float(baseline.value),
            "goal": info.goal, "low": info.bounds[0], "high": info.bounds[1], "ci_low": ci_low, "ci_high": ci_high,
            "baseline_low": base_low, "baseline_high": base_high, "interval": method}


def _details(name: str, score: Score) -> dict[str, pd.DataFrame]:
    found = {name: score.details} if score.details is not None else {}
    found.update(score.tables)
    return found


def _baseline(info: MetricInfo, real: pd.DataFrame, holdout: pd.DataFrame | None, schema: Schema,
              seed: int) -> Score | None:
    """The metric for the holdout as if it were the synthetic data (None without a holdout)."""
    if holdout is None:
        return None
    rng = np.random.default_rng(seed)
    try:
        if not info.uses_holdout:
            return info(real, holdout, schema, holdout=None, rng=rng)
        if len(holdout) < 40:
            return None
        as_synthetic, as_holdout = _holdout_halves(holdout, seed)
        return info(real, as_synthetic, schema, holdout=as_holdout, rng=rng)
    except NotApplicable:
        return None


def _holdout_halves(holdout: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng([seed, 1]).permutation(len(holdout))
    half = len(holdout) // 2
    return holdout.iloc[np.sort(order[:half])], holdout.iloc[np.sort(order[half:])]


# ---------------------------------------------------------------------- intervals
REPLICATE_SHARE = 0.3      # re-runs may cost at most this share of the first pass (Adult: ≤ 1.5× in all)
_NAN_PAIR = (float("nan"), float("nan"))


def _intervals(scores, real, synthetic, schema: Schema, holdout, seed: int, budget: float,
               timings: dict[str, float]) -> dict[str, tuple]:
    """A 95% interval for every score and its baseline, the cheapest way each allows.

    1. the metric's own (``Score.interval``: DeLong for AUCs, per-row shares and medians, TSTR on
       test rows; see ``synthloop.metrics.intervals``);
    2. the normal interval of the per-column / per-pair contributions whose mean is the score;
    3. else one re-run with another seed (other subsamples and model seeds) within ``budget``
       seconds, the half-width 1.96·|Δ|/√2 from the two runs. Metrics whose first run alone
       exceeds what is left of the budget keep no interval, and the report says so.
    """
    found: dict[str, tuple] = {}
    pending = []
    for name, (_, score, baseline) in scores.items():
        own = _usable(score.interval) or _from_contributions(score)
        if own is None:
            pending.append(name)
            continue
        base = None if baseline is None else (_usable(baseline.interval) or _from_contributions(baseline))
        found[name] = (own, base or _NAN_PAIR, "closed form" if _usable(score.interval) else "per column")
    started = time.perf_counter()
    for name in pending:
        info, score, _ = scores[name]
        left = budget - (time.perf_counter() - started)
        if timings.get(name, 0.0) > left or left <= 0:
            found[name] = (_NAN_PAIR, _NAN_PAIR, "none (over the time budget)")
            continue
        try:
            again = float(info(real, synthetic, schema, holdout=holdout, rng=np.random.default_rng([seed, 1000])).value)
        except NotApplicable:
            again = float("nan")
        if not math.isfinite(again) or again == score.value:
            # The same on another seed: the metric is deterministic given the tables, and a re-run
            # says nothing about the noise of the rows themselves.
            found[name] = (_NAN_PAIR, _NAN_PAIR, "none (same on every seed)")
            continue
        half = 1.96 * abs(again - float(score.value)) / math.sqrt(2)
        found[name] = ((score.value - half, score.value + half), _NAN_PAIR, "2 seeds")
    return {name: _clipped(found[name], scores[name][0].bounds) for name in found}


def _clipped(found: tuple, bounds: tuple[float, float]) -> tuple:
    """Intervals stay within the metric's bounds (a coverage cannot exceed 1)."""
    def clip(pair):
        return tuple(float(min(max(v, bounds[0]), bounds[1])) if math.isfinite(v) else v for v in pair)

    return clip(found[0]), clip(found[1]), found[2]


def _usable(interval: tuple[float, float] | None) -> tuple[float, float] | None:
    if interval is None or not all(math.isfinite(v) for v in interval):
        return None
    return float(interval[0]), float(interval[1])


def _from_contributions(score: Score) -> tuple[float, float] | None:
    """Bootstrap over the rows of the details table when one of its columns averages to the score."""
    table = score.details
    if table is None or len(table) < 3 or not math.isfinite(score.value):
        return None
    for column in table.columns:
        if table[column].dtype.kind != "f":
            continue
        values = table[column].to_numpy(dtype="float64")
        finite = values[np.isfinite(values)]
        if len(finite) >= 3 and math.isclose(float(finite.mean()), float(score.value), rel_tol=1e-6, abs_tol=1e-9):
            return _usable(mean_interval(finite))
    return None


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
    if holdout is not None:
        check_unseen(real, holdout)


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
