"""A wall-clock limit on training, for callers that must finish in time (a search trial's share of a budget).

``with time_limit(seconds) as limit: model.fit(...)``: the :class:`~synthloop.nn.trainer.Trainer`
ends training before an epoch that, at the mean epoch time so far, would end after the limit (at
least one epoch always runs), and records the epochs trained in ``limit.stopped_after``. A fit
stopped after *k* epochs is the fit with ``epochs=k``: every epoch draws from its own seeded
generators, so a caller that records ``epochs=k`` can refit the same model without a clock. Models
that do not train on the shared trainer (trees, copulas, DP-SGD's own loop) ignore the limit.

Torch-free: importing this module imports nothing heavy.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class TimeLimit:
    """``deadline`` on ``time.monotonic()``; ``stopped_after``: the epochs a fit had run when the limit stopped it."""

    deadline: float
    stopped_after: int | None = None

    def leaves_room(self, epoch_seconds: float) -> bool:
        """Whether one more epoch of ``epoch_seconds`` ends before the deadline."""
        return time.monotonic() + epoch_seconds <= self.deadline


_CURRENT: ContextVar[TimeLimit | None] = ContextVar("synthloop_time_limit", default=None)


@contextmanager
def time_limit(seconds: float) -> Iterator[TimeLimit]:
    """Limit the training inside the block to about ``seconds`` of wall-clock time (see the module doc)."""
    limit = TimeLimit(time.monotonic() + max(float(seconds), 0.0))
    token = _CURRENT.set(limit)
    try:
        yield limit
    finally:
        _CURRENT.reset(token)


def current_limit() -> TimeLimit | None:
    """The innermost active :func:`time_limit`, or None."""
    return _CURRENT.get()
