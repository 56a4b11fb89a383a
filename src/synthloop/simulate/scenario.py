"""Scenarios and streams: a synthetic environment that emits windows of rows with known change points.

A :class:`Scenario` names its drifts (applied in order, so they compose), one schedule, how many
windows of how many rows, and a seed. ``stream(source, scenario)`` draws each window from a
*source*, a fitted synthesizer (anything with ``sample(n_rows, seed=...)``) or a table to
bootstrap rows from, and applies the drifts at the schedule's intensity. Every window's
randomness comes from ``SeedSequence(seed)`` children, so the same scenario and source give the
same bytes on every run. A scenario is a TOML file::

    name = "age-shift"
    windows = 20
    rows = 5000
    seed = 0

    [schedule]
    name = "sudden"
    start = 10

    [[drift]]
    name = "mean-shift"
    column = "age"
    shift = 0.5
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from synthloop.errors import ConfigError, DataError
from synthloop.io.atomic import atomic_dir
from synthloop.simulate.drifts import Drift
from synthloop.simulate.schedules import Schedule, Sudden

SCENARIO_KEYS = ("name", "windows", "rows", "seed", "schedule", "drift")
TRUTH_FILE = "truth.json"


class Source(Protocol):
    def sample(self, n_rows: int, *, seed: int | None = None) -> pd.DataFrame: ...


@dataclass(frozen=True)
class Scenario:
    """Drifts under one schedule over ``windows`` windows of ``rows`` rows, seeded."""

    name: str
    drifts: tuple[Drift, ...]
    schedule: Schedule = field(default_factory=Sudden)
    windows: int = 20
    rows: int = 5000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.windows < 1 or self.rows < 1:
            raise ConfigError(f"scenario '{self.name}': windows and rows must be ≥ 1, got {self.windows} and "
                              f"{self.rows}.")
        if not self.drifts:
            raise ConfigError(f"scenario '{self.name}' has no drift; add at least one [[drift]] table.")

    @property
    def change_point(self) -> int | None:
        """The first window where the drift acts (ground truth), or None when it never does within the stream."""
        return next((t for t in range(self.windows) if self.schedule.intensity(t) > 0), None)

    def intensities(self) -> list[float]:
        return [self.schedule.intensity(t) for t in range(self.windows)]

    def to_config(self) -> dict[str, Any]:
        return {"name": self.name, "windows": self.windows, "rows": self.rows, "seed": self.seed,
                "schedule": self.schedule.to_config(), "drift": [d.to_config() for d in self.drifts]}

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, where: str = "scenario") -> Scenario:
        """Build from plain data (a parsed TOML file); every unknown key, drift or setting is named."""
        if not isinstance(config, Mapping):
            raise ConfigError(f"{where}: a scenario is a table of settings, got {type(config).__name__}.")
        unknown = [k for k in config if k not in SCENARIO_KEYS]
        problems = [f"unknown key {k!r} (keys: {', '.join(SCENARIO_KEYS)})" for k in unknown]
        drifts = config.get("drift", [])
        if isinstance(drifts, Mapping):
            drifts = [drifts]
        built = []
        for i, drift in enumerate(drifts):
            try:
                built.append(Drift.from_config(drift))
            except ConfigError as exc:
                problems.append(f"drift {i + 1}: {exc}")
        try:
            schedule = Schedule.from_config(config.get("schedule", {"name": "sudden"}))
        except ConfigError as exc:
            problems.append(f"schedule: {exc}")
        for key in ("windows", "rows", "seed"):
            if key in config and (isinstance(config[key], bool) or not isinstance(config[key], int)):
                problems.append(f"{key!r} must be an integer, got {config[key]!r}")
        if problems:
            raise ConfigError(f"{where}: " + "; ".join(problems))
        settings = {k: config[k] for k in ("windows", "rows", "seed") if k in config}
        return cls(name=str(config.get("name", "scenario")), drifts=tuple(built), schedule=schedule, **settings)

    @classmethod
    def from_toml(cls, path: str | Path) -> Scenario:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"No scenario file at '{path}'. See examples/scenarios/ for some.")
        try:
            config = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
        return cls.from_config(config, where=str(path))

    def to_toml(self) -> str:
        """The scenario as TOML text (``from_toml`` reads it back equal)."""
        config = self.to_config()
        lines = [f"{k} = {_toml(config[k])}" for k in ("name", "windows", "rows", "seed")]
        lines += ["", "[schedule]", *(f"{k} = {_toml(v)}" for k, v in config["schedule"].items())]
        for drift in config["drift"]:
            lines += ["", "[[drift]]", *(f"{k} = {_toml(v)}" for k, v in drift.items())]
        return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


@dataclass(frozen=True)
class Window:
    """One window of a stream: its rows and the ground truth (intensity, whether drift acts)."""

    index: int
    frame: pd.DataFrame
    intensity: float

    @property
    def drifted(self) -> bool:
        return self.intensity > 0


def _draw(source: Source | pd.DataFrame, n_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        if len(source) == 0:
            raise DataError("The source table has no rows to draw windows from.")
        return source.iloc[rng.integers(0, len(source), n_rows)].reset_index(drop=True)
    return source.sample(n_rows, seed=int(rng.integers(2**31 - 1))).reset_index(drop=True)


def stream(source: Source | pd.DataFrame, scenario: Scenario, *, first: int = 0) -> Iterator[Window]:
    """The scenario's windows, oldest first, from window ``first`` on (each window has its own seed, so the
    windows are the same whether or not earlier ones were drawn); drift names are checked on the first drawn."""
    children = np.random.SeedSequence(scenario.seed).spawn(scenario.windows)
    for t, child in enumerate(children):
        if t < first:
            continue
        draw_rng, drift_rng = (np.random.default_rng(s) for s in child.spawn(2))
        frame = _draw(source, scenario.rows, draw_rng)
        if t == first:
            for drift in scenario.drifts:
                drift.check(frame)
        intensity = scenario.schedule.intensity(t)
        if intensity > 0:
            frame = _apply(frame, scenario, intensity, drift_rng)
        yield Window(index=t, frame=frame, intensity=intensity)


def _apply(frame: pd.DataFrame, scenario: Scenario, intensity: float, rng: np.random.Generator) -> pd.DataFrame:
    if scenario.schedule.rows_mode:
        # Gradual: a share `intensity` of the rows come from the drifted distribution at full strength.
        chosen = rng.random(len(frame)) < intensity
        drifted = frame[chosen].reset_index(drop=True)
        for drift in scenario.drifts:
            drifted = drift.apply(drifted, 1.0, rng) if len(drifted) else drifted
        kept = frame[~chosen]
        return pd.concat([kept, drifted], ignore_index=True).iloc[rng.permutation(len(frame))].reset_index(drop=True)
    for drift in scenario.drifts:
        frame = drift.apply(frame, intensity, rng)
    return frame


def write_stream(source: Source | pd.DataFrame, scenario: Scenario, out: str | Path, *, fmt: str = "csv",
                 progress=None) -> Path:
    """Write every window as ``window-000.csv`` … and ``truth.json`` (scenario, change point, intensities) into
    the folder ``out``, which appears whole or not at all."""
    from synthloop.io.tables import write_table

    if fmt not in ("csv", "parquet"):
        raise ConfigError(f"format must be csv or parquet, got {fmt!r}.")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"'{out}' already holds files; choose an empty or new folder.")
    with atomic_dir(out) as tmp:
        files = []
        for window in stream(source, scenario):
            if progress is not None:
                progress(f"window {window.index}")
            name = f"window-{window.index:03d}.{fmt}"
            write_table(window.frame, tmp / name)
            files.append({"file": name, "index": window.index, "intensity": window.intensity,
                          "drifted": window.drifted})
        truth = {"scenario": scenario.to_config(), "change_point": scenario.change_point, "windows": files}
        (tmp / TRUTH_FILE).write_text(json.dumps(truth, indent=2), encoding="utf-8")
    return out
