"""How scores read to a person: formatting, the comparison with the holdout baseline, a rich table."""

from __future__ import annotations

import math

import pandas as pd

TOLERANCE_OF_RANGE = 0.02      # bounded scores: within 2% of their range counts as "as real"
TOLERANCE_RELATIVE = 0.10      # unbounded scores: within 10% of the baseline


def format_value(value: float) -> str:
    """Four significant digits; thousands separators for large numbers; a dash for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


GOAL_TEXT = {"max": "↑ higher is better", "min": "↓ lower is better", "real": "= closest to real is better"}


def verdict(value: float, baseline: float, goal: str, low: float = 0.0, high: float = 1.0,
            noise: float = 0.0) -> str:
    """``as real``, ``better`` or ``worse`` than the holdout baseline (empty without one).

    Within ``noise`` (the half-width of the two intervals combined) or within a small tolerance
    (2% of a bounded range, 10% of an unbounded baseline) the score counts as real.
    """
    if math.isnan(baseline) or math.isnan(value):
        return ""
    bounded = math.isfinite(low) and math.isfinite(high)
    tolerance = TOLERANCE_OF_RANGE * (high - low) if bounded else TOLERANCE_RELATIVE * abs(baseline) + 1e-3
    if abs(value - baseline) <= max(tolerance, noise if math.isfinite(noise) else 0.0):
        return "as real"
    if goal == "real":  # e.g. a variance ratio: drifting away from real data either way is worse
        return "worse"
    higher = value > baseline
    return "better" if higher == (goal == "max") else "worse"


def noise_of(row) -> float:
    """Half-width of the difference's interval: the two half-widths added in quadrature (the baseline's
    taken equal to the value's when unknown)."""
    value_half = (getattr(row, "ci_high", math.nan) - getattr(row, "ci_low", math.nan)) / 2
    base_half = (getattr(row, "baseline_high", math.nan) - getattr(row, "baseline_low", math.nan)) / 2
    if not math.isfinite(value_half):
        return math.nan
    base_half = base_half if math.isfinite(base_half) else value_half
    return math.hypot(value_half, base_half)


def comparison(row) -> str:
    """``verdict`` for one scores row (a namedtuple of ``Report.scores``)."""
    return verdict(row.value, row.baseline, row.goal, row.low, row.high, noise_of(row))


def format_interval(low: float, high: float) -> str:
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return ""
    return f"[{format_value(low)}, {format_value(high)}]"


def annotated_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Scores with display strings: value, interval, baseline, direction, bounds and verdict."""
    rows = []
    for row in scores.itertuples(index=False):
        rows.append({"family": row.family, "metric": row.metric, "value": format_value(row.value),
                     "interval": format_interval(getattr(row, "ci_low", math.nan), getattr(row, "ci_high", math.nan)),
                     "baseline": format_value(row.baseline),
                     "baseline_interval": format_interval(getattr(row, "baseline_low", math.nan),
                                                          getattr(row, "baseline_high", math.nan)),
                     "goal": GOAL_TEXT.get(row.goal, row.goal),
                     "bounds": f"[{format_value(row.low)}, {format_value(row.high)}]",
                     "method": getattr(row, "interval", "") or "", "verdict": comparison(row)})
    return pd.DataFrame(rows, columns=["family", "metric", "value", "interval", "baseline", "baseline_interval", "goal",
                                       "bounds", "method", "verdict"])


def rich_scores_table(report):
    """A ``rich.table.Table``: one row per score, grouped by family, with the holdout baseline."""
    from rich.table import Table

    table = Table(title="synthloop evaluation", show_lines=False)
    for name, justify in (("family", "left"), ("metric", "left"), ("value", "right"), ("95% interval", "left"),
                          ("baseline", "right"), ("goal", "center"), ("vs real", "left")):
        table.add_column(name, justify=justify, no_wrap=name in ("metric", "vs real", "95% interval"))
    colours = {"worse": "red", "better": "green", "as real": "cyan"}
    for row in annotated_scores(report.scores).itertuples(index=False):
        mark = f"[{colours[row.verdict]}]{row.verdict}[/]" if row.verdict else ""
        table.add_row(row.family, row.metric, row.value, row.interval, row.baseline, row.goal[0], mark)
    table.caption = ("baseline: the same score for unseen real rows (holdout); ↑ higher is better, ↓ lower is better; "
                     "'worse' only beyond both intervals")
    return table
