"""From scores to decisions: ``evaluate`` builds a :class:`Report` (scores next to the holdout
baseline, details, JSON, self-contained HTML, gates for pipelines)."""

from synthloop.report.evaluate import evaluate
from synthloop.report.report import GateResult, Report

__all__ = ["GateResult", "Report", "evaluate"]
