"""Report: the scores of one evaluation, their details, gates, and JSON / HTML / terminal output.

Gates are how a data pipeline blocks a release: ``report.check(["detection_auc<=0.65"])`` returns a
:class:`GateResult` that is falsy when any gate fails. A threshold is a number or ``baseline``
(plus or minus a margin), e.g. ``"dcr_share<=baseline+0.05"``.
"""

from __future__ import annotations

import difflib
import json
import math
import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from synthloop._version import __version__
from synthloop.errors import ConfigError, DataError
from synthloop.io.atomic import atomic_write

_GATE = re.compile(r"^\s*([A-Za-z_][\w]*)\s*(<=|>=|<|>|==)\s*(baseline\s*([+-]\s*[\d.eE+-]+)?|[-+]?[\d.eE+-]+)\s*$")
_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "==": operator.eq}
JSON_VERSION = 1


@dataclass(frozen=True)
class GateResult:
    """Outcome of ``Report.check``: one row per gate; truthy only when every gate passed."""

    results: pd.DataFrame           # gate, metric, value, threshold, passed, reason

    @property
    def passed(self) -> bool:
        return bool(self.results["passed"].all()) if len(self.results) else True

    @property
    def failed(self) -> list[str]:
        return self.results.loc[~self.results["passed"], "gate"].tolist()

    def __bool__(self) -> bool:
        return self.passed


@dataclass(frozen=True)
class Report:
    """Scores of synthetic data next to the holdout baseline, with details and run metadata.

    ``scores`` has one row per metric: ``metric, family, value, baseline, goal, low, high``, where
    ``baseline`` is the same metric for unseen real data (NaN without a holdout).
    """

    scores: pd.DataFrame
    details: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    SCORE_COLUMNS: ClassVar[tuple[str, ...]] = ("metric", "family", "value", "baseline", "goal", "low", "high")

    # ------------------------------------------------------------------ access
    def value(self, metric: str) -> float:
        """The value of one metric; ConfigError naming the available ones when it is absent."""
        return float(self._row(metric)["value"])

    def baseline(self, metric: str) -> float:
        return float(self._row(metric)["baseline"])

    def _row(self, metric: str) -> pd.Series:
        found = self.scores[self.scores["metric"] == metric]
        if found.empty:
            skipped = self.meta.get("skipped", {})
            why = f" It was skipped: {skipped[metric]}." if metric in skipped else ""
            close = difflib.get_close_matches(metric, list(self.scores["metric"]), n=1)
            why += f" Did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"No score '{metric}' in this report.{why} "
                              f"Scores: {', '.join(self.scores['metric'])}.")
        return found.iloc[0]

    # ------------------------------------------------------------------ gates
    def check(self, gates: Mapping[str, str] | Sequence[str] | str) -> GateResult:
        """Evaluate gates such as ``"detection_auc<=0.65"`` or ``{"dcr_share": "<= baseline + 0.05"}``."""
        if isinstance(gates, str):
            gates = [gates]
        texts = [f"{k}{v}" for k, v in gates.items()] if isinstance(gates, Mapping) else list(gates)
        rows = [self._check_one(text) for text in texts]
        return GateResult(pd.DataFrame(rows, columns=["gate", "metric", "value", "threshold", "passed", "reason"]))

    def _check_one(self, text: str) -> dict[str, Any]:
        match = _GATE.match(text)
        if match is None:
            raise ConfigError(f"Cannot read gate '{text}'. Write METRIC OP THRESHOLD, e.g. 'detection_auc<=0.65' "
                              "or 'dcr_share<=baseline+0.05' (OP is one of <=, >=, <, >, ==).")
        name, op, threshold_text, margin = match.group(1), match.group(2), match.group(3), match.group(4)
        skipped = self.meta.get("skipped", {})
        if name in skipped:
            return {"gate": text, "metric": name, "value": math.nan, "threshold": math.nan, "passed": False,
                    "reason": f"not computed: {skipped[name]}"}
        row = self._row(name)
        try:
            threshold = (float(row["baseline"]) + float(margin.replace(" ", "")) if margin else float(row["baseline"])) \
                if threshold_text.startswith("baseline") else float(threshold_text)
        except ValueError:
            raise ConfigError(f"Gate '{text}' has a threshold that is not a number.") from None
        value = float(row["value"])
        if math.isnan(value) or math.isnan(threshold):
            return {"gate": text, "metric": name, "value": value, "threshold": threshold, "passed": False,
                    "reason": "no baseline (evaluate with a holdout)" if math.isnan(threshold) else "value is NaN"}
        passed = bool(_OPS[op](value, threshold))
        return {"gate": text, "metric": name, "value": value, "threshold": threshold, "passed": passed,
                "reason": "" if passed else f"{value:.4g} is not {op} {threshold:.4g}"}

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        return {"format_version": JSON_VERSION, "synthloop_version": __version__, "meta": _clean(dict(self.meta)),
                "scores": _records(self.scores),
                "details": {name: _records(table) for name, table in self.details.items()}}

    def to_json(self, path: str | Path | None = None) -> str:
        """The report as JSON (NaN as null); written atomically to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)
        if path is not None:
            with atomic_write(path) as tmp:
                Path(tmp).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, source: str | Path) -> Report:
        """Read a report written by ``to_json`` (a path or the JSON text)."""
        text = Path(source).read_text(encoding="utf-8") if not str(source).lstrip().startswith("{") else str(source)
        try:
            data = json.loads(text)
            scores = pd.DataFrame(data["scores"], columns=cls.SCORE_COLUMNS).astype(
                {"value": float, "baseline": float, "low": float, "high": float})
            scores["low"], scores["high"] = scores["low"].fillna(-math.inf), scores["high"].fillna(math.inf)
            details = {name: pd.DataFrame(rows) for name, rows in data.get("details", {}).items()}
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise DataError(f"Not a synthloop report JSON ({type(exc).__name__}: {exc}).") from None
        return cls(scores=scores, details=details, meta=data.get("meta", {}))

    # ------------------------------------------------------------------ HTML / terminal
    def to_html(self, path: str | Path | None = None, *, title: str = "synthloop evaluation") -> str:
        """A self-contained HTML page (inline CSS and PNG plots); written atomically to ``path`` when given."""
        from synthloop.report.html import render_html

        page = render_html(self, title=title)
        if path is not None:
            with atomic_write(path) as tmp:
                Path(tmp).write_text(page, encoding="utf-8")
        return page

    def rich_table(self):
        """A ``rich.table.Table`` of the scores, for terminals."""
        from synthloop.report.terminal import rich_scores_table

        return rich_scores_table(self)


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [_clean(row) for row in table.to_dict(orient="records")]
