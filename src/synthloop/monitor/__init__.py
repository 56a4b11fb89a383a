"""Drift monitoring: compare a reference table (real or synthetic, as lineage says) with windows over time.

- per column (:mod:`~synthloop.monitor.columns`): KS / χ² tests, Holm-adjusted across columns, with
  effect floors (KS, TVD, missing share, new categories), normed Wasserstein / Jensen–Shannon / PSI beside;
- jointly (:mod:`~synthloop.monitor.joint`): a classifier two-sample test with a permutation p-value
  and the columns that drive it;
- performance (:mod:`~synthloop.monitor.performance`): realised metrics when labels arrive, a CBPE
  estimate from a calibrated model when they do not.

``Monitor(reference).check(window)`` returns a :class:`DriftReport`; :func:`render_drift_html`
draws a timeline of reports; :func:`timeline` reads the checks logged in a lineage store.
"""

from synthloop.monitor.columns import ColumnDrift, EffectFloors, holm
from synthloop.monitor.html import render_drift_html, write_drift_html
from synthloop.monitor.joint import JointDrift
from synthloop.monitor.monitor import Monitor, MonitorSettings, timeline
from synthloop.monitor.performance import Performance, expected_auc
from synthloop.monitor.report import DriftReport

__all__ = ["ColumnDrift", "DriftReport", "EffectFloors", "JointDrift", "Monitor", "MonitorSettings", "Performance",
           "expected_auc", "holm", "render_drift_html", "timeline", "write_drift_html"]
