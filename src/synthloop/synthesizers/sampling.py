"""The regenerate-until-enough loop: draw rows, pass them through ordered row steps, return exactly n.

``Synthesizer.sample`` builds a list of :class:`RowStep` objects (conditions, then constraints,
then privacy, which must come last because its quotas count only rows that will be returned; later
alignment and refinement slot in before privacy) and calls :func:`draw_until`. Each step answers one
question about a batch of candidate rows — which of them may be kept — and keeps its own
bookkeeping; the loop never looks inside a step.

A rejected row is not dropped from the request: the loop draws again, with batches sized from the
acceptance rate so far, until ``n_rows`` rows passed every step. It gives up with the error of the
step that passed the smallest share of the rows it saw, once ``_MAX_DRAWS_PER_ROW`` rows were drawn
per requested row or ``_MAX_ROUNDS`` batches were tried (unless that step offers a ``fallback``).

Batches are bounded by memory: at most ``MAX_BATCH_CELLS`` cells (rows × learned columns), so a
500-column table draws at most 40,000 rows at a time (unbounded, a low acceptance rate grew parity's
batches past 10 GB). When the cap slows a request down so far that the round budget runs out, the
error says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from synthloop.errors import ConditionError, ConstraintError, SynthloopError

#: Give up once this many rows were drawn per requested row (plus 10,000) with too few accepted.
_MAX_DRAWS_PER_ROW = 200
_MAX_ROUNDS = 60
_MIN_BATCH = 64
_MAX_BATCH_ROWS = 2_000_000
#: Rows × learned columns drawn in one batch, at most (about 0.5–1 GB of frames at peak).
MAX_BATCH_CELLS = 20_000_000


@dataclass
class Candidates:
    """A batch of drawn rows as steps see them: the model view, and views computed once when a step asks."""

    rows: pd.DataFrame                                   # model view, index 0..n-1
    to_user: Callable[[pd.DataFrame], pd.DataFrame]
    to_canonical: Callable[[pd.DataFrame], pd.DataFrame]
    _cache: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def user(self) -> pd.DataFrame:
        """The rows as ``sample`` would return them (what constraints are checked on)."""
        if "user" not in self._cache:
            self._cache["user"] = self.to_user(self.rows)
        return self._cache["user"]

    @property
    def canonical(self) -> pd.DataFrame:
        """The model view of the returned rows (rounded, clipped): what copy checks compare."""
        if "canonical" not in self._cache:
            self._cache["canonical"] = self.to_canonical(self.rows)
        return self._cache["canonical"]

    def take(self, positions: np.ndarray) -> Candidates:
        return Candidates(self.rows.iloc[positions].reset_index(drop=True), self.to_user, self.to_canonical)


class RowStep(Protocol):
    """One filter of the sampling pipeline."""

    def start(self, n_rows: int) -> None:
        """``n_rows`` more output rows are wanted (one call of :func:`draw_until`)."""

    def keep(self, candidates: Candidates) -> np.ndarray:
        """A boolean mask of the candidate rows this step lets through."""

    def impossible(self, n_rows: int, n_accepted: int, n_drawn: int, n_rejected: int) -> SynthloopError:
        """The error to raise when this step blocked the request (``n_rejected`` rows were refused).

        A step may also offer ``fallback(n_missing) -> DataFrame | None``: rows to complete a request
        it blocked instead of failing (the default privacy setting degrades this way).
        """


def draw_until(n_rows: int, draw: Callable[[int], pd.DataFrame], steps: Sequence[RowStep], *,
               views: Callable[[pd.DataFrame], Candidates], n_columns: int) -> pd.DataFrame:
    """Draw batches with ``draw(batch_size)`` until ``n_rows`` rows pass every step; see the module docstring."""
    for step in steps:
        step.start(n_rows)
    max_batch = max(_MIN_BATCH, MAX_BATCH_CELLS // max(n_columns, 1))
    accepted: list[pd.DataFrame] = []
    n_accepted = n_drawn = 0
    seen, rejected = np.zeros(len(steps), dtype=np.int64), np.zeros(len(steps), dtype=np.int64)
    capped = False
    for _ in range(_MAX_ROUNDS):
        rate = max(n_accepted / n_drawn, 0.02) if n_drawn else 1.0
        # With no step nothing is refused: draw exactly what is missing (a neural model's progress bar
        # counted 46,887 rows, and generated them, for 39,073 asked with privacy off).
        wanted = (n_rows - n_accepted if not steps else
                  int(min(max((n_rows - n_accepted) / rate * 1.2, _MIN_BATCH), _MAX_BATCH_ROWS)))
        batch = min(wanted, max_batch)
        capped |= batch < wanted
        candidates = views(draw(batch).reset_index(drop=True))
        mask = np.ones(len(candidates.rows), dtype=bool)
        for index, step in enumerate(steps):
            alive = np.flatnonzero(mask)
            if len(alive) == 0:
                break
            subset = candidates if len(alive) == len(mask) else candidates.take(alive)
            kept = np.asarray(step.keep(subset), dtype=bool)
            seen[index] += len(alive)
            rejected[index] += int((~kept).sum())
            mask[alive[~kept]] = False
        n_drawn += len(mask)
        accepted.append(candidates.rows[mask])
        n_accepted += int(mask.sum())
        if n_accepted >= n_rows:
            return pd.concat(accepted, ignore_index=True).iloc[:n_rows].reset_index(drop=True)
        if n_drawn >= _MAX_DRAWS_PER_ROW * n_rows + 10_000:
            break
    error, blamed = _blame(steps, seen, rejected, n_rows, n_accepted, n_drawn, capped, max_batch)
    fallback = getattr(blamed, "fallback", None)
    rows = fallback(n_rows - n_accepted) if fallback is not None else None
    if rows is None:
        raise error
    return pd.concat([*accepted, rows], ignore_index=True).iloc[:n_rows].reset_index(drop=True)


def _blame(steps: Sequence[RowStep], seen: np.ndarray, rejected: np.ndarray, n_rows: int, n_accepted: int,
           n_drawn: int, capped: bool, max_batch: int) -> tuple[SynthloopError, RowStep | None]:
    """The error of the step that passed the smallest share of the rows it saw, and that step."""
    pass_rate = np.where(seen > 0, 1.0 - rejected / np.maximum(seen, 1), np.inf)
    blamed = None
    if not len(steps) or not (rejected > 0).any():
        error: SynthloopError = ConstraintError(
            f"Only {n_accepted:,} of {n_rows:,} rows could be generated in {n_drawn:,} draws.")
    else:
        blamed = steps[int(np.argmin(np.where(rejected > 0, pass_rate, np.inf)))]
        error = blamed.impossible(n_rows, n_accepted, n_drawn, int(rejected[steps.index(blamed)]))
    if capped:
        note = (f" Batches were limited to {max_batch:,} rows by memory (rows × columns ≤ {MAX_BATCH_CELLS:,}); "
                "ask for fewer rows per call and concatenate the results.")
        error = type(error)(str(error) + note)
    return error, blamed


class ConditionStep:
    """Rows must equal the wanted value of every condition column (one group of identical conditions)."""

    def __init__(self, conditions: pd.DataFrame):
        self.conditions = conditions.iloc[:1].reset_index(drop=True)

    def start(self, n_rows: int) -> None:
        pass

    def keep(self, candidates: Candidates) -> np.ndarray:
        ok = np.ones(len(candidates.rows), dtype=bool)
        for column in self.conditions.columns:
            ok &= same_values(candidates.rows[column], self.conditions[column].iloc[0])
        return ok

    def describe(self) -> str:
        return ", ".join(f"{c}={self.conditions[c].iloc[0]!r}" for c in self.conditions.columns)

    def impossible(self, n_rows: int, n_accepted: int, n_drawn: int, n_rejected: int) -> SynthloopError:
        return ConditionError(
            f"Only {n_accepted:,} of {n_drawn:,} generated rows satisfied conditions {self.describe()}, but "
            f"{n_rows:,} were asked for. The request looks impossible for this model; relax the conditions, "
            "or check that the training data contains such rows.")


class ConstraintStep:
    """Rows must satisfy every domain constraint of the schema (checked on the rows as returned)."""

    def __init__(self, constraints: Sequence[object], where: str = ""):
        self.constraints = tuple(constraints)
        self.where = where

    def start(self, n_rows: int) -> None:
        pass

    def keep(self, candidates: Candidates) -> np.ndarray:
        from synthloop.schema.constraints import valid_mask

        return np.asarray(valid_mask(self.constraints, candidates.user), dtype=bool)

    def impossible(self, n_rows: int, n_accepted: int, n_drawn: int, n_rejected: int) -> SynthloopError:
        names = "; ".join(type(c).__name__ + str(list(c.columns)) for c in self.constraints)
        return ConstraintError(
            f"Only {n_accepted:,} of {n_drawn:,} generated rows satisfied {len(self.constraints)} constraint(s) "
            f"{names}{self.where}, but {n_rows:,} were asked for. The request looks impossible for this model; "
            "relax the constraints or conditions, or check that the training data contains such rows.")


def same_values(values: pd.Series, wanted: object) -> np.ndarray:
    """Equal to ``wanted`` (missing equals missing)."""
    present = values.to_numpy(dtype=object)
    if pd.isna(wanted):
        return pd.isna(present)
    return present == wanted
