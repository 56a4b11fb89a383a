"""Alignment and refinement as row steps of a model's sampling pipeline (discriminator rejection sampling).

A :class:`RatioStep` keeps each drawn row with probability ``min(r(x), M) / M``, where ``r`` is a
classifier's density ratio of reference rows over the model's rows: the rows that survive are
distributed as ``p_model · min(r, M)``, which is the reference distribution wherever ``r ≤ M``
(Azadi et al., "Discriminator Rejection Sampling", ICLR 2019, with a plain ratio cap in place of
their γ shift). Two uses, one mechanism:

- :func:`align_step`: the reference is a **target** sample (another population, a later year);
- :func:`refine_step`: the reference is the **real** training data, and the step removes what gives
  the synthetic rows away ("refine it where it gives itself away").

The classifier is cross-fitted on rows the model drew *before* the request (``n_fit`` rows, own
seed): the rows a step judges are fresh draws it was never trained on. The cap ``M`` is the 99th
percentile of the cross-fitted ratios (at most ``max_ratio``), so about 1 % of rows are kept for
sure and the acceptance rate stays near ``mean(min(r, M)) / M``. ``Synthesizer.sample(n,
steps=[...])`` runs the step after conditions and constraints and before privacy: moving rows toward
real ones can create near-copies, which the privacy step then regenerates.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from synthloop.align.ratio import IMBALANCE, MAX_ROWS_PER_SIDE, RatioModel, effective_sample_size, fit_ratio
from synthloop.align.table import MIN_ESS_ROWS, MIN_TARGET_ROWS, check_reachable
from synthloop.errors import AlignmentError, SynthloopError
from synthloop.metrics.models import Family
from synthloop.synthesizers.sampling import Candidates

if TYPE_CHECKING:
    from synthloop.schema import Schema
    from synthloop.synthesizers.base import Synthesizer

#: Rows the model draws to train the step's classifier, at least (more for a large reference, see ratio.IMBALANCE).
DEFAULT_FIT_ROWS = 10_000
CAP_QUANTILE = 0.99
#: Below this share of the reference's mass kept under the cap, the step refuses (its rows would follow the model).
MIN_COVERAGE = 0.5


@dataclass(frozen=True)
class StepReport:
    """What a ratio step learned before the request: recorded with the sample's provenance."""

    kind: str                    # "align" or "refine"
    reference_rows: int
    fit_rows: int
    detection_auc: float         # cross-fitted, reference vs the model's rows, before the step
    cap: float
    acceptance: float            # expected share of drawn rows kept
    ess_share: float             # effective sample size of the capped ratios, as a share
    coverage: float = 1.0        # share of the reference's mass the cap keeps: E[min(r, cap)] / E[r]

    def to_dict(self) -> dict[str, object]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


class RatioStep:
    """Keep a drawn row with probability ``min(ratio, cap) / cap`` (see the module docstring)."""

    def __init__(self, ratio: RatioModel, columns: tuple[str, ...], cap: float, report: StepReport,
                 rng: np.random.Generator):
        self.ratio, self.columns, self.cap, self.report, self.rng = ratio, columns, cap, report, rng

    def start(self, n_rows: int) -> None:
        pass

    def keep(self, candidates: Candidates) -> np.ndarray:
        ratio = self.ratio.ratio(candidates.canonical[list(self.columns)])
        return self.rng.random(len(ratio)) < np.minimum(ratio, self.cap) / self.cap

    def impossible(self, n_rows: int, n_accepted: int, n_drawn: int, n_rejected: int) -> SynthloopError:
        return AlignmentError(
            f"Only {n_accepted:,} of {n_drawn:,} generated rows passed the {self.report.kind} step "
            f"(expected acceptance {self.report.acceptance:.1%}), but {n_rows:,} were asked for. The reference is "
            "far from what this model produces: ask for fewer rows, lower max_ratio, or adapt the model to the "
            "reference rows (synthloop.align.adapt).")


def align_step(model: Synthesizer, target: pd.DataFrame, *, max_ratio: float = 20.0, min_ess: float = 0.05,
               family: Family = "boosting", n_fit: int = DEFAULT_FIT_ROWS, seed: int = 0) -> RatioStep:
    """A step that makes ``model``'s rows distributed like ``target`` (on the target's columns)."""
    return _ratio_step("align", model, target, max_ratio=max_ratio, min_ess=min_ess, family=family, n_fit=n_fit,
                       seed=seed, reachable=True)


def refine_step(model: Synthesizer, real: pd.DataFrame, *, max_ratio: float = 20.0, min_ess: float = 0.05,
                family: Family = "boosting", n_fit: int = DEFAULT_FIT_ROWS, seed: int = 0) -> RatioStep:
    """A step that rejects ``model``'s rows where a detector tells them from ``real`` rows (usually the training data)."""
    return _ratio_step("refine", model, real, max_ratio=max_ratio, min_ess=min_ess, family=family, n_fit=n_fit,
                       seed=seed, reachable=False)


def _ratio_step(kind: str, model: Synthesizer, reference: pd.DataFrame, *, max_ratio: float, min_ess: float, family: Family,
                n_fit: int, seed: int, reachable: bool) -> RatioStep:
    schema, reference, kinds = check_reference(kind, model, reference)
    sub = replace(schema, columns=tuple(c for c in schema.columns if c.name in kinds), target=None, constraints=())
    fit_seed, step_seed = np.random.SeedSequence(seed).spawn(2)
    fit_rng = np.random.default_rng(fit_seed)
    # The classifier trains on at most IMBALANCE × the reference rows (and MAX_ROWS_PER_SIDE): draw no more.
    n_draw = max(n_fit, min(IMBALANCE * len(reference), MAX_ROWS_PER_SIDE))
    drawn = model.sample(n_draw, seed=int(fit_rng.integers(2**31 - 1)), privacy="off")
    return build_ratio_step(kind, sub, sub.to_model_frame(reference).reset_index(drop=True),
                            sub.to_model_frame(drawn).reset_index(drop=True), kinds, max_ratio=max_ratio,
                            min_ess=min_ess, family=family, reachable=reachable, fit_rng=fit_rng,
                            step_rng=np.random.default_rng(step_seed))


def check_reference(kind: str, model: Synthesizer, reference: pd.DataFrame) -> tuple[Schema, pd.DataFrame, dict[str, str]]:
    """The model's schema, the reference with string column names, and the learned columns they share."""
    schema = getattr(model, "schema_", None)
    if schema is None:
        raise AlignmentError(f"The {kind} step needs a fitted synthesizer.")
    if not isinstance(reference, pd.DataFrame) or len(reference) < MIN_TARGET_ROWS:
        size = len(reference) if isinstance(reference, pd.DataFrame) else type(reference).__name__
        raise AlignmentError(f"The {kind} reference has {size} row(s); at least {MIN_TARGET_ROWS} are needed "
                             "(a few hundred give stable ratios).")
    reference = reference.rename(columns=str)
    unknown = [c for c in reference.columns if c not in schema.names]
    if unknown:
        raise AlignmentError(f"The {kind} reference has column(s) the model does not generate: "
                             f"{', '.join(map(repr, unknown[:10]))}. Drop them from the reference.")
    sub = replace(schema, columns=tuple(c for c in schema.columns if c.name in reference.columns), target=None,
                  constraints=())
    kinds = sub.model_kinds()
    if not kinds:
        raise AlignmentError(f"The {kind} reference shares no learned column with the model.")
    return schema, reference, kinds


def build_ratio_step(kind: str, sub: Schema, reference_view: pd.DataFrame, drawn_view: pd.DataFrame,
                     kinds: dict[str, str], *, max_ratio: float, min_ess: float, family: Family, reachable: bool,
                     fit_rng: np.random.Generator, step_rng: np.random.Generator) -> RatioStep:
    """Cross-fit the ratio of ``reference_view`` over the model's ``drawn_view`` rows, choose the cap, check it."""
    if reachable:
        check_reachable(drawn_view, reference_view, kinds, numeric=True)
    fit = fit_ratio(reference_view, drawn_view, kinds, rng=fit_rng, family=family, max_ratio=max_ratio)
    cap = float(min(max_ratio, max(np.quantile(fit.synthetic_ratio, CAP_QUANTILE), 1e-6)))
    capped = np.minimum(fit.synthetic_ratio, cap)
    ess = effective_sample_size(capped)
    # The cap is a row quantile: when the reference sits on fewer than 1 % of the model's rows, it cuts the
    # ratios everywhere the reference is and the capped ratios look uniform (a high ESS that aligns nothing).
    coverage = float(capped.sum() / max(fit.synthetic_ratio.sum(), 1e-12))
    if coverage < MIN_COVERAGE:
        raise AlignmentError(
            f"The {kind} ratios collapse onto a few rows: the reference sits where the model puts under 1 % of its "
            f"rows, so a step could keep only {coverage:.0%} of the reference's mass (at least {MIN_COVERAGE:.0%} "
            f"needed; detection AUC {fit.auc:.3f}). Adapt the model to the reference rows (synthloop.align.adapt, "
            "synthloop fit --adapt-to) and align its samples instead. Nothing was sampled.")
    if ess < MIN_ESS_ROWS or ess < min_ess * len(capped):
        raise AlignmentError(
            f"The {kind} ratios collapse: effective sample size {ess:.0f} of {len(capped):,} drawn rows "
            f"({ess / len(capped):.1%}, at least {min_ess:.0%} needed; detection AUC {fit.auc:.3f}). The reference is "
            "far from what this model produces: adapt the model to it (synthloop.align.adapt), or lower min_ess.")
    report = StepReport(kind, len(reference_view), len(drawn_view), fit.auc, cap, float(capped.mean() / cap),
                        ess / len(capped), coverage)
    return RatioStep(fit.model, tuple(kinds), cap, report, step_rng)
