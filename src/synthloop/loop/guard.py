"""The collapse guard: look at the lineage of training data before a synthesizer is fitted on it.

Training generators on their own output, generation after generation (the *replace* loop), loses
the tails and rare categories of the real distribution and ends in collapse (Shumailov et al.,
Nature 2024). Keeping the real data in the training set, accumulating rather than replacing
(Gerstgrasser et al., 2024), or mixing in enough real data each round (Bertrand et al., ICLR 2024;
Alemohammad et al., ICLR 2024) keeps the loop stable. The guard therefore warns, or with
``strict=True`` refuses, when the training data's synthetic share or depth exceeds a threshold,
and names the policy that avoids the problem.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from synthloop.errors import CollapseRiskError, ConfigError, SynthloopWarning
from synthloop.lineage.record import record_fit, training_record
from synthloop.lineage.store import DatasetRecord, LineageStore

MAX_SYNTHETIC_SHARE = 0.5
MAX_DEPTH = 1


@dataclass(frozen=True)
class GuardThresholds:
    """Training data beyond either threshold triggers the guard.

    Parameters
    ----------
    max_synthetic_share
        Largest tolerated fraction of rows descending from generated data (0.5: at least half real).
    max_depth
        Largest tolerated number of generations away from real data (1: synthetic data may be fitted
        on once; its output would be second-generation).
    """

    max_synthetic_share: float = MAX_SYNTHETIC_SHARE
    max_depth: int = MAX_DEPTH

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_synthetic_share <= 1.0:
            raise ConfigError(f"max_synthetic_share must be within [0, 1], got {self.max_synthetic_share}.")
        if self.max_depth < 0:
            raise ConfigError(f"max_depth must be ≥ 0, got {self.max_depth}.")


def collapse_risk(record: DatasetRecord, thresholds: GuardThresholds = GuardThresholds()) -> str | None:
    """Why fitting on this dataset risks collapse, or None when it is within the thresholds."""
    reasons = []
    if record.synthetic_share > thresholds.max_synthetic_share:
        reasons.append(f"{record.synthetic_share:.0%} of its rows descend from generated data "
                       f"(threshold max_synthetic_share={thresholds.max_synthetic_share:.0%})")
    if record.depth > thresholds.max_depth:
        reasons.append(f"it is {record.depth} generations away from real data (threshold max_depth="
                       f"{thresholds.max_depth})")
    if not reasons:
        return None
    return (f"Training data {record.id} ({record.kind}) risks model collapse: {' and '.join(reasons)}. "
            "Fitting generators on generated data, generation after generation, loses the tails and rare "
            "categories of the real distribution (Shumailov et al., Nature 2024). Use the 'accumulate' policy "
            "(train on the real data plus all synthetic data so far) or 'mix-real' (keep a fraction λ ≥ 0.5 of "
            "real rows in every training set), e.g. synthloop.loop.MixReal(0.5).")


def check_training_data(record: DatasetRecord, *, strict: bool = False,
                        thresholds: GuardThresholds = GuardThresholds()) -> str | None:
    """Warn (``SynthloopWarning``), or raise :class:`CollapseRiskError` when ``strict``, if the data is risky."""
    reason = collapse_risk(record, thresholds)
    if reason is not None:
        if strict:
            raise CollapseRiskError(reason + " (strict mode: nothing was fitted).")
        warnings.warn(reason, SynthloopWarning, stacklevel=2)
    return reason


def guard_fit(store: LineageStore | None, data: pd.DataFrame, *, synthesizer: str,
              params: Mapping[str, Any] | None = None, source: str | Path | None = None, strict: bool = False,
              thresholds: GuardThresholds = GuardThresholds()) -> DatasetRecord:
    """Check the training data's lineage before ``Synthesizer.fit``; with a store, also record the fit.

    Without a store the check uses the file's provenance (``source``), so fitting on a synthetic
    file is caught either way. In strict mode a risky dataset raises before anything is written.
    """
    known = store.find(data) if store is not None else None
    before = known or training_record(data, source=source)
    if strict:
        check_training_data(before, strict=True, thresholds=thresholds)
    if store is None:
        check_training_data(before, thresholds=thresholds)
        return before
    record = record_fit(store, data, synthesizer=synthesizer, params=params, source=source)
    check_training_data(record, thresholds=thresholds)
    return record


def audit(store: LineageStore, thresholds: GuardThresholds = GuardThresholds()) -> pd.DataFrame:
    """One row per dataset: kind, depth, share, whether a fit was recorded on it, and its collapse risk."""
    fitted_on = {event["dataset_id"] for event in store.events() if event["action"] == "fit"}
    rows = []
    for record in store.records():
        reason = collapse_risk(record, thresholds)
        rows.append({"id": record.id, "kind": record.kind, "depth": record.depth,
                     "synthetic_share": record.synthetic_share, "n_rows": record.n_rows,
                     "synthesizer": record.synthesizer, "name": record.name,
                     "fitted_on": record.id in fitted_on, "at_risk": reason is not None})
    columns = ["id", "kind", "depth", "synthetic_share", "n_rows", "synthesizer", "name", "fitted_on", "at_risk"]
    return pd.DataFrame(rows, columns=columns)
