"""Schedules: how strongly a scenario's drifts act in window ``t`` (0, 1, 2, …), as loop values.

- ``sudden``: off before ``start``, full from ``start`` on (an abrupt change point);
- ``gradual``: from ``start``, a growing share of *rows* comes from the drifted distribution, all of
  them after ``width`` windows (two concepts mixed, Gama et al. 2014);
- ``incremental``: from ``start``, every row drifts by a growing amount, fully after ``width`` windows;
- ``recurring``: on for ``period`` windows, off for ``period``, from ``start`` (a concept that comes back);
- ``seasonal``: a sine wave of intensity with period ``period`` windows, from ``start``.

``intensity(t)`` is in [0, 1]; ``rows_mode`` says whether it is the share of rows that drift at full
strength (gradual) or the strength applied to every row (the others).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from synthloop.errors import ConfigError
from synthloop.loop.values import LoopValue, register


class Schedule(LoopValue):
    kind: ClassVar[str] = "schedule"
    rows_mode: ClassVar[bool] = False
    start: int

    def intensity(self, t: int) -> float:
        raise NotImplementedError

    def __post_init__(self) -> None:
        if self.start < 0:
            raise ConfigError(f"schedule '{self.name}' start must be ≥ 0, got {self.start}.")
        for setting in ("width", "period"):
            if getattr(self, setting, 1) < 1:
                raise ConfigError(f"schedule '{self.name}' {setting} must be ≥ 1, got {getattr(self, setting)}.")


@register("sudden")
@dataclass(frozen=True)
class Sudden(Schedule):
    start: int = 10

    def intensity(self, t):
        return 1.0 if t >= self.start else 0.0


def _ramp(t: int, start: int, width: int) -> float:
    return 0.0 if t < start else min(1.0, (t - start + 1) / width)


@register("gradual")
@dataclass(frozen=True)
class Gradual(Schedule):
    start: int = 10
    width: int = 4
    rows_mode: ClassVar[bool] = True

    def intensity(self, t):
        return _ramp(t, self.start, self.width)


@register("incremental")
@dataclass(frozen=True)
class Incremental(Schedule):
    start: int = 10
    width: int = 4

    def intensity(self, t):
        return _ramp(t, self.start, self.width)


@register("recurring")
@dataclass(frozen=True)
class Recurring(Schedule):
    start: int = 10
    period: int = 3

    def intensity(self, t):
        return 1.0 if t >= self.start and ((t - self.start) // self.period) % 2 == 0 else 0.0


@register("seasonal")
@dataclass(frozen=True)
class Seasonal(Schedule):
    start: int = 10
    period: int = 6

    def intensity(self, t):
        if t < self.start:
            return 0.0
        return 0.5 * (1.0 - math.cos(2.0 * math.pi * (t - self.start + 1) / self.period))
