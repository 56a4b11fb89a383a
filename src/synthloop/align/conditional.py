"""Conditional alignment: take the shifted column(s) from the target, the rest from the model, then a ratio step.

Reweighting the model's rows (:func:`~synthloop.align.steps.align_step`) can keep only as many rows
as the model puts where the target is: a target that lies 80 % outside the model's mass leaves an
effective sample size near the model's share there, whatever the method. When the shift is carried
by a few columns (a population selected by age, a later year with more graduates), the target's
distribution factors as ``p_target(x_S) · p_target(x_rest | x_S)``, and the second factor is often
close to the model's own ``p_model(x_rest | x_S)`` (selection on ``x_S`` leaves it unchanged). So:

1. the **shifted columns** ``S`` are chosen: by default the single column whose marginal differs most
   between the target rows and the model's draws (KS for numbers, total variation for labels; at least
   ``MIN_SHIFT``), among columns the model can be conditioned on (every target value one the model
   produces); or given;
2. each output row is **conditioned** on the ``S`` values of a target row drawn at random (exact
   conditional sampling, ``model.sample(n, conditions=...)``): the output's ``S`` marginal is the
   target's, and the rest follows the model given ``S``; only the ``S`` values of target rows are
   reused, never whole rows;
3. a **ratio step** (the discriminator rejection sampling of :mod:`synthloop.align.steps`) is
   cross-fitted on conditioned draws against the target and corrects what remains, ``p_target(x_rest |
   x_S) / p_model(x_rest | x_S)``; rejected rows are redrawn under the same condition, so the ``S``
   marginal is kept. Its effective sample size is that of the residual ratios: the share of the
   step's draws that carry the result.

The step runs before the privacy step like every row step. Models that condition only on labels
(``native_conditions = False``) cannot take a numeric ``S`` column: choose ``columns`` among the labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from synthloop.align.ratio import IMBALANCE, MAX_ROWS_PER_SIDE
from synthloop.align.steps import DEFAULT_FIT_ROWS, RatioStep, build_ratio_step, check_reference
from synthloop.errors import AlignmentError, format_problems
from synthloop.metrics.models import Family
from synthloop.tabular.divergences import ks, tvd

if TYPE_CHECKING:
    from synthloop.synthesizers.base import Synthesizer

#: A column's marginal divergence (KS or TVD) between the target and the model below which it is not "shifted".
MIN_SHIFT = 0.1


@dataclass(frozen=True)
class ConditionalAlignment:
    """Shifted columns taken from the target, and the residual ratio step (see the module docstring)."""

    model: Synthesizer
    columns: tuple[str, ...]             # the conditioned (shifted) columns; empty: the plain ratio step
    values: pd.DataFrame                 # the target rows' values of ``columns`` (user view)
    step: RatioStep
    divergences: dict[str, float]        # each candidate column's marginal divergence, target vs model
    seed: int

    def conditions(self, n_rows: int, rng: np.random.Generator) -> pd.DataFrame | None:
        """``n_rows`` condition rows: the ``columns`` values of target rows drawn with replacement."""
        if not self.columns:
            return None
        return self.values.iloc[rng.integers(0, len(self.values), n_rows)].reset_index(drop=True)

    def sample(self, n_rows: int, *, seed: int | None = None, privacy: str | None = None) -> pd.DataFrame:
        """``n_rows`` aligned rows: conditioned on target values of ``columns``, through the step, then privacy."""
        if seed is None:
            rng, step = np.random.default_rng(), self.step
        else:       # the same seed gives the same rows, call after call (the step's own generator is stateful)
            conditions_seed, step_seed = np.random.SeedSequence(seed).spawn(2)
            rng = np.random.default_rng(conditions_seed)
            step = RatioStep(self.step.ratio, self.step.columns, self.step.cap, self.step.report,
                             np.random.default_rng(step_seed))
        conditions = self.conditions(int(n_rows), rng)
        return self.model.sample(n_rows, conditions=conditions, seed=seed, privacy=privacy, steps=[step])

    def to_dict(self) -> dict[str, object]:
        return {"shifted_columns": list(self.columns),
                "divergences": {k: round(v, 4) for k, v in self.divergences.items()}, **self.step.report.to_dict()}


def conditional_align(model: Synthesizer, target: pd.DataFrame, *, columns: Sequence[str] | None = None,
                      max_ratio: float = 20.0, min_ess: float = 0.05, family: Family = "boosting",
                      n_fit: int = DEFAULT_FIT_ROWS, seed: int = 0) -> ConditionalAlignment:
    """Align ``model``'s output to ``target`` by conditioning on its shifted column(s) and a residual ratio step.

    ``columns=None`` picks the single most shifted column the model can be conditioned on (none when no
    column's divergence reaches ``MIN_SHIFT``: then it is the plain :func:`align_step`); pass ``columns`` to
    choose. Sample with ``.sample(n, seed=...)``. Raises :class:`~synthloop.errors.AlignmentError` for the
    same bad input as ``align_step`` (too few rows, columns the model does not generate, ratios that
    collapse) and for given columns the model cannot be conditioned on.
    """
    schema, reference, kinds = check_reference("align", model, target)
    pick_seed, fit_seed, step_seed = np.random.SeedSequence(seed).spawn(3)
    pick_rng = np.random.default_rng(pick_seed)
    n_draw = max(n_fit, min(IMBALANCE * len(reference), MAX_ROWS_PER_SIDE))
    sub = replace(schema, columns=tuple(c for c in schema.columns if c.name in kinds), target=None, constraints=())
    plain = sub.to_model_frame(model.sample(n_draw, seed=int(pick_rng.integers(2**31 - 1)), privacy="off"))
    reference_view = sub.to_model_frame(reference).reset_index(drop=True)
    divergences, problems = {}, {}
    for name, kind in kinds.items():
        problem = _unconditionable(model, name, kind, reference_view[name], plain[name])
        if problem:
            problems[name] = problem
            continue
        divergences[name] = ks(reference_view[name], plain[name]) if kind == "numeric" else \
            tvd(reference_view[name], plain[name])
    if columns is None:
        ranked = sorted(divergences, key=divergences.get, reverse=True)
        chosen = tuple(ranked[:1]) if ranked and divergences[ranked[0]] >= MIN_SHIFT else ()
    else:
        chosen = tuple(dict.fromkeys(str(c) for c in columns))
        bad = [f"'{c}': not a column of the target" if c not in kinds else f"'{c}': {problems[c]}"
               for c in chosen if c not in kinds or c in problems]
        if bad:
            raise AlignmentError(format_problems("Cannot condition on these columns", bad,
                                                 "Choose columns whose target values the model produces, or "
                                                 "columns=None to pick the most shifted one."))
    values = reference[list(chosen)].reset_index(drop=True)
    fit_rng = np.random.default_rng(fit_seed)
    conditions = None if not chosen else values.iloc[fit_rng.integers(0, len(values), n_draw)].reset_index(drop=True)
    drawn = model.sample(n_draw, conditions=conditions, seed=int(fit_rng.integers(2**31 - 1)), privacy="off")
    step = build_ratio_step("align", sub, reference_view, sub.to_model_frame(drawn).reset_index(drop=True), kinds,
                            max_ratio=max_ratio, min_ess=min_ess, family=family, reachable=False, fit_rng=fit_rng,
                            step_rng=np.random.default_rng(step_seed))
    return ConditionalAlignment(model, chosen, values, step, divergences, seed)


def _unconditionable(model: Synthesizer, name: str, kind: str, target: pd.Series, drawn: pd.Series) -> str | None:
    """Why ``model`` cannot be conditioned on the target's values of column ``name`` (None: it can)."""
    if target.isna().any():
        return "the target has missing values there"
    if kind == "numeric":
        if not model.native_conditions:
            return f"numeric, and {model.name} conditions on labels only"
        low, high = drawn.min(), drawn.max()
        if ((target < low) | (target > high)).any():
            return f"target values outside the model's range [{low:.4g}, {high:.4g}]"
        return None
    unseen = sorted(set(target) - set(drawn.dropna()))
    return f"labels the model never produces: {', '.join(map(repr, unseen[:3]))}" if unseen else None
