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
GATE_COLUMNS = ["gate", "metric", "value", "threshold", "passed", "reason"]
# Sensible release gates, applied to the metrics a report has. Blockers: the data must not leak its
# training rows more than unseen real data would. Caveats: quality a user should know about
# (measured on Adult: cart passes all, gaussian_copula fails detection_auc at 0.98).
DEFAULT_GATES: dict[str, tuple[str, ...]] = {
    "blocker": ("exact_copy_rate<=baseline+0.01", "dcr_share<=0.6", "membership_inference_auc<=0.6"),
    "caveat": ("detection_auc<=0.75", "ks_complement>=0.9", "tv_complement>=0.9", "tstr_auc>=baseline-0.05"),
}


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
class Decision:
    """Outcome of ``Report.decide``: the verdict, every gate with its result, and why."""

    verdict: str                    # "ready", "ready with caveats" or "not ready"
    gates: pd.DataFrame             # gate, metric, value, threshold, passed, reason, severity, source
    reasons: tuple[str, ...]        # what blocks the release
    caveats: tuple[str, ...]        # what a reader should know before using the data

    def __bool__(self) -> bool:
        return self.verdict != "not ready"


@dataclass(frozen=True)
class Report:
    """Scores of synthetic data next to the holdout baseline, with details and run metadata.

    ``scores`` has one row per metric: ``metric, family, value, baseline, goal, low, high``, where
    ``baseline`` is the same metric for unseen real data (NaN without a holdout), then the 95%
    intervals ``ci_low, ci_high`` (of the value) and ``baseline_low, baseline_high``, and how they
    were found (``interval``).
    """

    scores: pd.DataFrame
    details: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    SCORE_COLUMNS: ClassVar[tuple[str, ...]] = ("metric", "family", "value", "baseline", "goal", "low", "high",
                                                 "ci_low", "ci_high", "baseline_low", "baseline_high", "interval")

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
        return GateResult(pd.DataFrame(rows, columns=GATE_COLUMNS))

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

    def decide(self, gates: Sequence[str] = ()) -> Decision:
        """The release verdict: ``ready``, ``ready with caveats`` or ``not ready``.

        ``DEFAULT_GATES`` apply to the metrics this report has (privacy ones block, quality ones
        add caveats); ``gates`` (e.g. from ``--gate``) block. A score worse than the holdout's
        beyond both intervals, a skipped family or a missing holdout is a caveat.
        """
        rows = []
        for severity, texts in DEFAULT_GATES.items():
            for text in texts:
                name = _GATE.match(text).group(1)
                if name in set(self.scores["metric"]):
                    rows.append({**self._check_one(text), "severity": severity, "source": "default"})
        rows += [{**row, "severity": "blocker", "source": "yours"} for row in self.check(list(gates)).results.to_dict("records")]
        results = pd.DataFrame(rows, columns=[*GATE_COLUMNS, "severity", "source"])
        failed = results[~results["passed"].astype(bool)]
        reasons = [f"gate {row.gate} failed ({row.reason})" for row in failed.itertuples() if row.severity == "blocker"]
        reasons += self._below_chance()
        caveats = [f"gate {row.gate} failed ({row.reason})" for row in failed.itertuples() if row.severity != "blocker"]
        from synthloop.report.terminal import comparison

        worse = [row.metric for row in self.scores.itertuples() if comparison(row) == "worse"]
        if worse:
            caveats.append(f"worse than the holdout beyond the noise: {', '.join(worse)}")
        for family, why in self.meta.get("families_skipped", {}).items():
            caveats.append(f"{family} not measured: {why}")
        if not self.meta.get("rows", {}).get("holdout"):
            caveats.append("no holdout: no baselines and no privacy attacks (evaluate with --holdout)")
        verdict = "not ready" if reasons else "ready with caveats" if caveats else "ready"
        return Decision(verdict, results, tuple(reasons), tuple(caveats))

    def _below_chance(self) -> list[str]:
        """Utility no better than the independent-marginals baseline (chance) blocks a release (issue 13)."""
        from synthloop.metrics.utility import below_chance_note

        found = []
        for row in self.scores.itertuples():
            score_name = {"tstr_auc": "auc", "tstr_r2": "r2"}.get(row.metric)
            if score_name is not None and row.baseline is not None and pd.notna(row.baseline):
                low = row.ci_low if pd.notna(row.ci_low) else None
                note = below_chance_note(score_name, float(row.value), float(row.baseline), low)
                if note is not None:
                    found.append(f"{row.metric}: {note}")
        return found

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
                {name: float for name in ("value", "baseline", "low", "high", "ci_low", "ci_high", "baseline_low",
                                          "baseline_high")})
            scores["interval"] = scores["interval"].fillna("")
            scores["low"], scores["high"] = scores["low"].fillna(-math.inf), scores["high"].fillna(math.inf)
            details = {name: pd.DataFrame(rows) for name, rows in data.get("details", {}).items()}
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise DataError(f"Not a synthloop report JSON ({type(exc).__name__}: {exc}).") from None
        return cls(scores=scores, details=details, meta=data.get("meta", {}))

    # ------------------------------------------------------------------ HTML / terminal
    def to_html(self, path: str | Path | None = None, *, title: str = "synthloop evaluation",
                gates: Sequence[str] = ()) -> str:
        """A self-contained HTML page (inline CSS, plotly.js and interactive charts, no network); written
        atomically to ``path`` when given. ``gates`` join the default ones in the verdict at the top."""
        from synthloop.report.html import render_html

        page = render_html(self, title=title, decision=self.decide(gates))
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
