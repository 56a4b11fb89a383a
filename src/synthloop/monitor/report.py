"""DriftReport: what the monitor found in one window, as a value (JSON-ready, a gate with an exit code)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from synthloop.monitor.columns import ColumnDrift
from synthloop.monitor.joint import JointDrift
from synthloop.monitor.performance import Performance

EXIT_NO_DRIFT, EXIT_DRIFT = 0, 1


@dataclass(frozen=True)
class DriftReport:
    """One window compared with the reference.

    ``drifted`` is True when any column drifts (Holm-adjusted test and effect floor) or the
    classifier two-sample test tells the window from the reference; ``alarms`` says why, one line
    each. ``performance`` is present when the monitor knows the target.
    """

    window: str
    n_rows: int
    n_reference: int
    reference_kind: str
    reference_id: str
    window_id: str
    alpha: float
    columns: tuple[ColumnDrift, ...]
    joint: JointDrift | None
    performance: Performance | None
    drifted: bool
    alarms: tuple[str, ...]
    seconds: float

    @property
    def drifted_columns(self) -> tuple[str, ...]:
        return tuple(c.column for c in self.columns if c.drifted)

    @property
    def exit_code(self) -> int:
        """1 when the window drifted (a pipeline gate fails), else 0."""
        return EXIT_DRIFT if self.drifted else EXIT_NO_DRIFT

    def column(self, name: str) -> ColumnDrift:
        for found in self.columns:
            if found.column == name:
                return found
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"window": self.window, "n_rows": self.n_rows, "n_reference": self.n_reference,
                "reference_kind": self.reference_kind, "reference_id": self.reference_id,
                "window_id": self.window_id, "alpha": self.alpha, "drifted": self.drifted,
                "alarms": list(self.alarms), "drifted_columns": list(self.drifted_columns),
                "columns": [c.to_dict() for c in self.columns],
                "joint": None if self.joint is None else self.joint.to_dict(),
                "performance": None if self.performance is None else self.performance.to_dict(),
                "seconds": self.seconds}

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(_finite(self.to_dict()), **{"indent": 2, **kwargs})

    def summary(self) -> str:
        """One line: the verdict and the first reasons."""
        if not self.drifted:
            return f"{self.window}: no drift ({len(self.columns)} columns, {self.n_rows:,} rows)"
        return f"{self.window}: DRIFT — " + "; ".join(self.alarms[:4]) + (" …" if len(self.alarms) > 4 else "")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
