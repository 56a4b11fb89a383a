"""Monitor: fitted once on a reference table, then asked about each new window.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> reference = pd.DataFrame({"x": rng.normal(size=3000), "c": rng.choice(["a", "b"], 3000)})
>>> monitor = Monitor(reference, multivariate=False)
>>> monitor.check(reference.sample(1000, random_state=1)).drifted
False
>>> shifted = reference.sample(1000, random_state=2).assign(x=lambda f: f.x + 1.0)
>>> monitor.check(shifted).drifted_columns
('x',)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from synthloop.errors import ConfigError, DataError
from synthloop.lineage.record import provenance_of, register_table, training_record
from synthloop.lineage.store import LineageStore
from synthloop.monitor.columns import NUMERIC, ColumnProfile, EffectFloors, column_drifts, column_kind
from synthloop.monitor.joint import Encoder, c2st
from synthloop.monitor.performance import PerformanceEstimator
from synthloop.monitor.report import DriftReport

MONITOR_EVENT = "monitor"


@dataclass(frozen=True)
class MonitorSettings:
    """How sensitive the monitor is.

    Parameters
    ----------
    alpha
        Family-wise error rate per window: Holm across every column test, and the C2ST's level.
    floors
        The smallest per-column shifts that count (see :class:`EffectFloors`).
    auc_floor
        The smallest C2ST AUC that counts as joint drift (0.5 = indistinguishable).
    multivariate
        Run the classifier two-sample test (about 1 s per 5,000-row window on one core).
    max_joint_rows
        Rows per side in the C2ST (the window and the reference are subsampled to this).
    auc_drop
        With a target and labelled windows: alarm when the model's realised AUC falls this far below
        its AUC on held-out reference rows.
    """

    alpha: float = 0.01
    floors: EffectFloors = field(default_factory=EffectFloors)
    auc_floor: float = 0.55
    multivariate: bool = True
    max_joint_rows: int = 5000
    auc_drop: float = 0.05

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ConfigError(f"alpha must be in (0, 1), got {self.alpha}.")
        if not 0.5 <= self.auc_floor <= 1.0:
            raise ConfigError(f"auc_floor must be in [0.5, 1], got {self.auc_floor}.")


class Monitor:
    """Compare windows of new rows with a reference table (real or synthetic, as lineage says).

    Parameters
    ----------
    reference
        The table (or a CSV/Parquet file) the windows are compared with.
    target
        A label column: the monitor then fits a calibrated model on the reference and reports its
        estimated (CBPE) and, when windows hold labels, realised performance.
    settings
        Sensitivity (:class:`MonitorSettings`); keyword arguments override single fields.
    lineage
        A lineage store (path or :class:`LineageStore`): the reference and every window are
        registered, and each check is logged as a ``monitor`` event (the timeline).
    seed
        Seeds the subsampling and the classifiers, so a check is reproducible.
    """

    def __init__(self, reference: pd.DataFrame | str | Path, *, target: str | None = None,
                 settings: MonitorSettings | None = None, lineage: str | Path | LineageStore | None = None,
                 seed: int = 0, **overrides):
        from synthloop.io import read_table

        self.settings = replace(settings or MonitorSettings(), **overrides)
        source = None if isinstance(reference, pd.DataFrame) else Path(reference)
        self.reference = reference if source is None else read_table(source)
        if len(self.reference) == 0:
            raise DataError("The reference table has no rows; the monitor needs reference data to compare with.")
        if target is not None and target not in self.reference.columns:
            raise DataError(f"Target column '{target}' is not in the reference (columns: "
                            f"{', '.join(map(str, self.reference.columns))}).")
        self.target, self.seed = target, seed
        self.kinds = {str(name): column_kind(self.reference[name]) for name in self.reference.columns}
        self.profiles = [ColumnProfile.of(self.reference[name], kind) for name, kind in self.kinds.items()]
        self._source = source
        self.store: LineageStore | None = None
        record = training_record(self.reference, source=source)
        self.reference_id, self.reference_kind = record.id, record.kind
        if lineage is not None:
            self.attach(lineage)
        self._rng = np.random.default_rng(seed)
        self.encoder = Encoder(self.reference, self.kinds)
        self._joint_reference = self.encoder.encode(self._subsample(self.reference, self._rng))
        self.performance = PerformanceEstimator(self.reference, target, self.kinds, self._rng) \
            if target is not None else None

    def attach(self, lineage: str | Path | LineageStore) -> None:
        """Log checks to this lineage store from now on; the reference is registered (as lineage says it is)."""
        self.store = lineage if isinstance(lineage, LineageStore) else LineageStore(lineage)
        source = self._source
        record = register_table(self.store, self.reference, provenance=provenance_of(source) if source else None,
                                name=None if source is None else str(source))
        self.reference_id, self.reference_kind = record.id, record.kind

    def _subsample(self, frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        limit = self.settings.max_joint_rows
        return frame if len(frame) <= limit else frame.iloc[np.sort(rng.choice(len(frame), limit, replace=False))]

    def check_columns(self, window: pd.DataFrame) -> None:
        """Refuse a window whose columns or types differ from the reference's (naming the columns)."""
        if not isinstance(window, pd.DataFrame):
            raise DataError(f"A window must be a table (DataFrame), got {type(window).__name__}.")
        if len(window) == 0:
            raise DataError("The window has no rows; there is nothing to compare.")
        expected = set(self.kinds) - ({self.target} if self.target else set())
        have = {str(c) for c in window.columns}
        missing, added = sorted(expected - have), sorted(have - set(self.kinds))
        problems = []
        if missing:
            problems.append(f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        if added:
            problems.append(f"column{'s' if len(added) > 1 else ''} not in the reference: {', '.join(added)}")
        for name in sorted(expected & have):
            if self.kinds[name] == NUMERIC and not pd.api.types.is_numeric_dtype(window[name].dtype):
                as_numbers = pd.to_numeric(window[name], errors="coerce")
                bad = window[name][as_numbers.isna() & window[name].notna()]
                if len(bad):
                    problems.append(f"column {name} is numeric in the reference but holds text here "
                                    f"(e.g. {str(bad.iloc[0])!r})")
        if problems:
            raise DataError("The window does not match the reference: " + "; ".join(problems) + ".")

    def check(self, window: pd.DataFrame | str | Path, *, name: str | None = None,
              provenance: dict | None = None) -> DriftReport:
        """Compare one window with the reference; logged to the lineage store when the monitor has one.

        ``provenance`` is the window's lineage provenance when it is a frame read from a file elsewhere.
        """
        from synthloop.io import read_table

        source = None if isinstance(window, pd.DataFrame) else Path(window)
        frame = window if source is None else read_table(source)
        provenance = provenance if source is None else provenance_of(source)
        name = name or (source.name if source is not None else "window")
        self.check_columns(frame)
        start = time.perf_counter()
        rng = np.random.default_rng([self.seed, len(frame)])
        profiles = [p for p in self.profiles if p.name in frame.columns]
        columns = column_drifts(profiles, frame, alpha=self.settings.alpha, floors=self.settings.floors)
        joint = None
        if self.settings.multivariate:
            features = [c for c in self.kinds if c in frame.columns]
            joint = self._joint(frame, features, rng)
        performance = self.performance.estimate(frame) if self.performance is not None else None
        alarms = [f"{c.column}: {reason}" for c in columns for reason in c.reasons]
        if joint is not None and joint.drifted:
            drivers = ", ".join(f"{c} ({d:.3f})" for c, d in joint.drivers) or "no single column"
            alarms.append(f"joint: classifier tells the window from the reference, AUC {joint.auc:.3f} "
                          f"(p {joint.p_value:.3g}); driven by {drivers}")
        if performance is not None and performance.realised_auc is not None and performance.reference_auc is not None \
                and performance.reference_auc - performance.realised_auc >= self.settings.auc_drop:
            alarms.append(f"performance: the model's realised AUC fell from {performance.reference_auc:.3f} to "
                          f"{performance.realised_auc:.3f}")
        seconds = time.perf_counter() - start
        record = register_table(self.store, frame, provenance=provenance, name=name) if self.store is not None \
            else training_record(frame, source=source)
        report = DriftReport(window=name, n_rows=len(frame), n_reference=len(self.reference),
                             reference_kind=self.reference_kind, reference_id=self.reference_id,
                             window_id=record.id, alpha=self.settings.alpha, columns=tuple(columns), joint=joint,
                             performance=performance, drifted=bool(alarms), alarms=tuple(alarms), seconds=seconds)
        if self.store is not None:
            self.store.log(record.id, MONITOR_EVENT, reference=self.reference_id, window=name,
                           drifted=report.drifted, drifted_columns=list(report.drifted_columns),
                           joint_auc=None if joint is None else joint.auc,
                           estimated_auc=None if performance is None else performance.estimated_auc,
                           realised_auc=None if performance is None else performance.realised_auc)
        return report

    def _joint(self, frame: pd.DataFrame, features: list[str], rng: np.random.Generator):
        if len(features) < len(self.kinds):
            # The window lacks the target (labels not in yet): compare the inputs alone.
            encoder = Encoder(self.reference, {c: self.kinds[c] for c in features})
            reference = encoder.encode(self._subsample(self.reference, np.random.default_rng(self.seed)))
        else:
            # With labels, the joint test sees (x, y), so a concept shift (P(y | x) moved) shows here too.
            encoder, reference = self.encoder, self._joint_reference
        window = encoder.encode(self._subsample(frame, rng))
        return c2st(reference, window, encoder.categorical_mask, features, alpha=self.settings.alpha,
                    auc_floor=self.settings.auc_floor, rng=rng)

    def check_all(self, windows: Iterable[pd.DataFrame | str | Path]) -> list[DriftReport]:
        """:meth:`check` on each window in order (the timeline)."""
        return [self.check(window) for window in windows]


def timeline(store: LineageStore | str | Path, reference_id: str | None = None) -> pd.DataFrame:
    """The monitor events kept in a lineage store, oldest first (one row per checked window)."""
    store = store if isinstance(store, LineageStore) else LineageStore(store, create=False)
    rows = []
    for event in store.events():
        if event["action"] != MONITOR_EVENT or "reference" not in (event.get("detail") or {}):
            continue
        detail = event["detail"]
        if reference_id is not None and not str(detail["reference"]).startswith(reference_id):
            continue
        rows.append({"window_id": event["dataset_id"], **detail})
    return pd.DataFrame(rows)


def monitor_files(reference: pd.DataFrame | str | Path, windows: Sequence[pd.DataFrame | str | Path], *,
                  target: str | None = None, lineage: str | Path | None = None, json_out: str | Path | None = None,
                  html_out: str | Path | None = None, seed: int = 0, settings: MonitorSettings | None = None,
                  progress: Callable[[str], None] | None = None) -> list[DriftReport]:
    """What ``synthloop monitor`` does: every window is read and checked against the reference's columns
    before any is compared, so bad input writes nothing (no JSON, no HTML, no lineage event); then
    each window is checked in order and the reports are written atomically."""
    from synthloop.io import read_table
    from synthloop.io.atomic import atomic_write

    if not windows:
        raise ConfigError("Give at least one window to compare with the reference.")
    for out, suffix in ((json_out, ".json"), (html_out, ".html")):
        if out is not None and Path(out).suffix.lower() != suffix:
            raise ConfigError(f"'{out}' should end in {suffix}.")
    frames = [(w, None) if isinstance(w, pd.DataFrame) else (read_table(w), Path(w)) for w in windows]
    monitor = Monitor(reference, target=target, settings=settings, seed=seed)
    for i, (frame, source) in enumerate(frames):
        try:
            monitor.check_columns(frame)
        except DataError as error:
            raise DataError(f"{source or f'window {i + 1}'}: {error}") from None
    if lineage is not None:
        monitor.attach(lineage)
    reports = []
    for i, (frame, source) in enumerate(frames):
        name = source.name if source is not None else f"window-{i + 1}"
        if progress is not None:
            progress(name)
        reports.append(monitor.check(frame, name=name,
                                     provenance=provenance_of(source) if source is not None else None))
    if json_out is not None:
        with atomic_write(Path(json_out), suffix=".json") as tmp:
            tmp.write_text("[\n" + ",\n".join(r.to_json() for r in reports) + "\n]\n", encoding="utf-8")
    if html_out is not None:
        from synthloop.monitor.html import write_drift_html

        write_drift_html(reports, html_out)
    return reports
