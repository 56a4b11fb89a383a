"""Metrics: each is a decorated function ``(real, synthetic, schema, *, holdout, rng) -> Score``.

Families: fidelity (marginals, pairs, multivariate), collapse (coverage of categories, ranges,
tails, neighbourhoods), detection (classifier two-sample test), utility (train-synthetic-test-real,
calibration), privacy (DCR, NNDR, copies, membership and attribute inference) and fairness.
``METRICS`` lists every registered metric with its goal and bounds.
"""

# Each family module registers its metrics on import; the registry itself imports none of them.
from synthloop.metrics import collapse, detection, fairness, fidelity, multivariate, privacy, utility  # noqa: F401
from synthloop.metrics.registry import METRICS, MetricInfo, NotApplicable, Score, get_metric, load_all, metric

__all__ = ["METRICS", "MetricInfo", "NotApplicable", "Score", "get_metric", "load_all", "metric"]
