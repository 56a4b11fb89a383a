"""The metric registry: ``@metric(name, family, goal, bounds)`` turns a function into a listed metric.

A metric is a plain function ``(real, synthetic, schema, *, holdout=None, rng=None) -> Score``.
The decorator records what the number means (its family, whether higher or lower is better, and
its bounds) so reports, gates and the lab can read any metric the same way (the SDMetrics
convention of declaring goal and bounds next to the metric).

A metric that does not apply to a table (no target column, no holdout, no sensitive column)
raises :class:`NotApplicable`; ``evaluate`` skips it and says why in the report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import pandas as pd

from synthloop.errors import ConfigError
from synthloop.registry import unknown_name

Family = Literal["fidelity", "collapse", "detection", "utility", "privacy", "fairness"]
FAMILIES: tuple[str, ...] = ("fidelity", "collapse", "detection", "utility", "privacy", "fairness")
#: ``max``/``min``: higher/lower is better; ``real``: closest to the real data's own value is better (a
#: ratio or share whose drift either way is the problem, e.g. ``variance_ratio``).
Goal = Literal["max", "min", "real"]


@dataclass(frozen=True)
class Score:
    """The value of one metric, with optional per-column (or per-pair, per-slice) details.

    Parameters
    ----------
    value
        The headline number.
    details
        A table explaining the value, e.g. one row per column.
    baseline
        The metric's own "as good as real" reference when it has a natural one (e.g. a model
        trained on real data for train-synthetic-test-real). When ``None``, ``evaluate`` computes the
        baseline by scoring the holdout against the real data.
    notes
        Caveats a reader should see, e.g. "subsampled 5,000 rows per table (seed 0)".
    tables
        Further named tables for the report (e.g. ``detection_slices``, ``marginals``).
    interval
        A 95% bootstrap interval of ``value`` when the metric can resample its own rows cheaply
        (``synthloop.metrics.intervals``); ``evaluate`` finds one for the others.
    baseline_interval
        The same for a baseline the metric supplies itself.
    """

    value: float
    details: pd.DataFrame | None = None
    baseline: float | None = None
    notes: tuple[str, ...] = ()
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    interval: tuple[float, float] | None = None
    baseline_interval: tuple[float, float] | None = None


class MetricFn(Protocol):
    def __call__(self, real: pd.DataFrame, synthetic: pd.DataFrame, schema, *,
                 holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score: ...


@dataclass(frozen=True)
class MetricInfo:
    """What a registered metric means."""

    name: str
    family: Family
    goal: Goal
    bounds: tuple[float, float]
    function: Callable[..., Score] = field(repr=False)
    default: bool = True
    uses_holdout: bool = False
    description: str = ""

    def __call__(self, real, synthetic, schema, *, holdout=None, rng=None) -> Score:
        return self.function(real, synthetic, schema, holdout=holdout, rng=rng)


class NotApplicable(Exception):
    """Raised by a metric that does not apply to this table; the message says why."""


METRICS: dict[str, MetricInfo] = {}


def metric(name: str, *, family: Family, goal: Goal, bounds: tuple[float, float], default: bool = True,
           uses_holdout: bool = False) -> Callable[[Callable[..., Score]], Callable[..., Score]]:
    """Register a metric function under ``name``.

    Parameters
    ----------
    name
        Stable name used in reports, JSON and gates (``detection_auc``).
    family
        One of ``fidelity``, ``collapse``, ``detection``, ``utility``, ``privacy``, ``fairness``.
    goal
        ``max`` if higher is better, ``min`` if lower is better, ``real`` if closest to the real data's
        own value (the holdout baseline) is better.
    bounds
        The range the value can take (``float("inf")`` for unbounded).
    default
        Whether ``evaluate(metrics="default")`` runs it.
    uses_holdout
        The metric compares against the holdout itself (privacy); its holdout baseline is then
        computed on two halves of the holdout.
    """
    if family not in FAMILIES:
        raise ConfigError(f"Unknown metric family '{family}'; choose from {list(FAMILIES)}.")
    if goal not in ("max", "min", "real"):
        raise ConfigError(f"Metric goal must be 'max', 'min' or 'real', got '{goal}'.")

    def register(function: Callable[..., Score]) -> Callable[..., Score]:
        if name in METRICS and METRICS[name].function.__qualname__ != function.__qualname__:
            raise ConfigError(f"A metric named '{name}' is already registered.")
        summary = (function.__doc__ or "").strip().splitlines()[0] if function.__doc__ else ""
        METRICS[name] = MetricInfo(name, family, goal, (float(bounds[0]), float(bounds[1])), function,
                                   default, uses_holdout, summary)
        function.metric_info = METRICS[name]  # type: ignore[attr-defined]
        return function

    return register


def load_all() -> dict[str, MetricInfo]:
    """The registry, every built-in metric in it: importing this module runs ``synthloop.metrics``'
    ``__init__`` first, which imports each family module (they register themselves), so this leaf
    never imports its own clients."""
    return METRICS


def get_metric(name: str) -> MetricInfo:
    """The registered metric ``name``, with a did-you-mean hint when it is unknown."""
    registry = load_all()
    if name not in registry:
        raise unknown_name("metric", name, sorted(registry))
    return registry[name]


def to_frame(per_item: Mapping[str, float], value_name: str, key: str = "column") -> pd.DataFrame:
    """A two-column details table from ``{item: value}``."""
    return pd.DataFrame({key: list(per_item), value_name: [float(v) for v in per_item.values()]})


def mean_or_nan(values) -> float:
    """Mean of the finite values, NaN when there are none."""
    array = np.asarray(list(values), dtype="float64")
    array = array[np.isfinite(array)]
    return float(array.mean()) if len(array) else float("nan")
