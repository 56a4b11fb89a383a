"""Align a synthetic table to a target sample: importance weights, resampling, optional transport.

``align_table(synthetic, target)`` answers "which of these synthetic rows would a table drawn like
the target hold?": a cross-fitted classifier estimates each synthetic row's density ratio
(:mod:`synthloop.align.ratio`), the clipped ratios become weights, and exactly ``n_rows`` rows are
drawn by systematic resampling (Kitagawa 1996: lower variance than multinomial draws, same
expectation). With ``method="transport"`` the numeric columns are first moved onto the target by
optimal transport (:mod:`synthloop.align.transport`); ``"both"`` transports and then weights.

Before anything is drawn, the target is checked against what the synthetic rows can reach;
:class:`~synthloop.errors.AlignmentError` says what to do when it cannot be reached (columns the
synthetic table lacks, too few target rows, labels the generator never produces, numbers outside
its range, weights that collapse onto a few rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd

from synthloop.align.marginals import check_marginals, marginal_gaps, rake
from synthloop.align.measure import Discrepancy, discrepancy
from synthloop.align.ratio import effective_sample_size, fit_ratio
from synthloop.align.transport import transport_numeric
from synthloop.errors import AlignmentError, format_problems
from synthloop.metrics.models import Family
from synthloop.schema import Schema

Method = Literal["weights", "transport", "both"]
METHODS: tuple[str, ...] = ("weights", "transport", "both")
#: Fewer target rows than this cannot train a classifier worth trusting (500 are a good size).
MIN_TARGET_ROWS = 20
#: Below this effective sample size (rows), the resample is a few rows repeated.
MIN_ESS_ROWS = 30
#: Target rows (share) that may hold labels or numbers the synthetic table never has before refusing.
UNREACHABLE_SHARE = 0.02
#: The same for numbers outside the synthetic range: a shifted column's tail lies a little outside, and the
#: most extreme synthetic rows stand in for it (a 1-sd mean shift puts about 4 % of 300 target rows outside).
UNREACHABLE_NUMERIC_SHARE = 0.05


@dataclass(frozen=True)
class AlignResult:
    """The aligned table and what the alignment did (see :func:`align_table`)."""

    table: pd.DataFrame
    method: str
    weights: np.ndarray | None          # per input synthetic row, mean 1 (None for transport only)
    ess: float | None                   # effective sample size of the weights, rows
    ess_share: float | None             # ess / synthetic rows
    before: Discrepancy | None
    after: Discrepancy | None
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> dict[str, object]:
        """A JSON-ready summary (what provenance and lineage record)."""
        return {"method": self.method, "n_rows": len(self.table),
                "ess": None if self.ess is None else round(self.ess, 1),
                "ess_share": None if self.ess_share is None else round(self.ess_share, 4),
                "before": None if self.before is None else self.before.to_dict(),
                "after": None if self.after is None else self.after.to_dict(), "notes": list(self.notes)}


def align_table(synthetic: pd.DataFrame, target: pd.DataFrame | Mapping[str, Mapping[str, float]],
                schema: Schema | None = None, *,
                n_rows: int | None = None, method: Method = "weights", max_ratio: float = 20.0,
                min_ess: float = 0.05, family: Family = "boosting", holdout: pd.DataFrame | None = None,
                label: str | None = None, measure: bool = True, seed: int = 0) -> AlignResult:
    """Resample (and optionally transport) ``synthetic`` rows so that they are distributed like ``target``.

    Parameters
    ----------
    synthetic, target
        The table to align and a sample of the distribution to align it to. The target's columns must
        all be in ``synthetic``; columns only ``synthetic`` has are carried along unaligned. The target
        may instead be marginals, ``{column: {label: share}}`` on categorical columns: raking weights
        (:mod:`synthloop.align.marginals`), then resampling.
    schema
        Column kinds (inferred from ``synthetic`` when not given).
    n_rows
        Rows to return (default: as many as ``synthetic`` has).
    method
        ``"weights"``: classifier density-ratio weights and importance resampling; ``"transport"``:
        optimal-transport map of numeric columns (needs ``synthloop[ot]``); ``"both"``.
    max_ratio, min_ess
        Density ratios are clipped at ``max_ratio``; an effective sample size below ``min_ess`` of the
        synthetic rows (or below 30 rows) raises :class:`~synthloop.errors.AlignmentError`.
    family
        ``"boosting"`` (LightGBM or scikit-learn trees) or ``"linear"`` (logistic regression) classifier.
    holdout, label
        Target rows the weights never saw, to measure the result on (default: the target rows, an
        optimistic "after"); ``label`` adds train-synthetic-test-on-target for that column.
    measure
        Compute ``before`` and ``after``; False skips them (faster).
    seed
        Drives folds, classifiers, transport subsamples and resampling: same inputs, same output.
    """
    if method not in METHODS:
        raise AlignmentError(f"Unknown alignment method {method!r}; choose one of {', '.join(METHODS)}.")
    if isinstance(target, Mapping):
        return _align_to_marginals(synthetic, target, schema, n_rows=n_rows, min_ess=min_ess, measure=measure,
                                   seed=seed)
    schema = _schema(synthetic, target, schema)
    kinds = schema.model_kinds()
    if not kinds:
        raise AlignmentError("The target shares no learned column with the synthetic table (only ids or constants).")
    synthetic_view = schema.to_model_frame(synthetic).reset_index(drop=True)
    target_view = schema.to_model_frame(target).reset_index(drop=True)
    reference = target_view if holdout is None else schema.to_model_frame(_checked(holdout, synthetic, "holdout"))
    check_reachable(synthetic_view, target_view, kinds, numeric=method == "weights")
    if label is not None and label not in kinds:
        raise AlignmentError(f"label {label!r} is not a learned column of the target ({', '.join(kinds)}).")
    n_rows = len(synthetic) if n_rows is None else int(n_rows)
    if n_rows < 1:
        raise AlignmentError(f"n_rows must be at least 1, got {n_rows}.")
    ratio_seed, transport_seed, resample_seed, measure_seed = np.random.SeedSequence(seed).spawn(4)
    notes = [] if holdout is not None or not measure else [
        "measured against the target rows the weights were fitted on (optimistic); give held-out target rows "
        "(holdout=, --holdout) for an honest 'after'"]
    moved = synthetic_view
    if method in ("transport", "both"):
        numeric = [n for n, k in kinds.items() if k == "numeric"]
        moved = transport_numeric(synthetic_view, target_view, numeric, np.random.default_rng(transport_seed))
        if not numeric:
            notes.append("no numeric column to transport")
    weights = ess = ess_share = None
    resample_rng = np.random.default_rng(resample_seed)
    if method in ("weights", "both"):
        fit = fit_ratio(target_view, moved, kinds, rng=np.random.default_rng(ratio_seed), family=family,
                        max_ratio=max_ratio)
        weights = fit.synthetic_ratio / fit.synthetic_ratio.mean()
        ess = effective_sample_size(weights)
        ess_share = ess / len(weights)
        check_ess(ess, len(weights), min_ess, fit.auc)
        rows = systematic_resample(weights, n_rows, resample_rng)
    else:
        rows = np.arange(len(synthetic)) if n_rows == len(synthetic) else \
            np.sort(resample_rng.choice(len(synthetic), n_rows, replace=n_rows > len(synthetic)))
    table = synthetic.iloc[rows].reset_index(drop=True).copy()
    numeric_names = [n for n, k in kinds.items() if k == "numeric"]
    if method != "weights" and numeric_names:
        numeric_schema = replace(schema, columns=schema.of_kind("numeric", "datetime"), target=None, constraints=())
        restored = numeric_schema.from_model_frame(moved.iloc[rows].reset_index(drop=True))
        for name in restored.columns:
            table[name] = restored[name].to_numpy()
    if method != "weights" and numeric_names:
        notes.extend(_copied_numbers_note(moved.iloc[rows], target_view, numeric_names))
    before = after = None
    if measure:
        measure_rng = np.random.default_rng(measure_seed)
        before = discrepancy(reference, synthetic_view, kinds, rng=measure_rng, label=label)
        after = discrepancy(reference, moved.iloc[rows].reset_index(drop=True), kinds, rng=measure_rng, label=label)
    return AlignResult(table, method, weights, ess, ess_share, before, after, tuple(notes))


def _align_to_marginals(synthetic: pd.DataFrame, marginals: Mapping[str, Mapping[str, float]], schema: Schema | None,
                        *, n_rows: int | None, min_ess: float, measure: bool, seed: int) -> AlignResult:
    """Raking weights to the target marginals, then resampling (``before``/``after``: the per-column gaps only)."""
    _checked(synthetic, None, "synthetic table")
    schema = schema if schema is not None else Schema.infer(synthetic)
    view = schema.to_model_frame(synthetic).reset_index(drop=True)
    checked = check_marginals(marginals, view, schema.model_kinds())
    weights = rake(view, checked)
    ess = effective_sample_size(weights)
    check_ess(ess, len(weights), min_ess, float("nan"))
    n_rows = len(synthetic) if n_rows is None else int(n_rows)
    rows = systematic_resample(weights, n_rows, np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[2]))
    before = after = None
    if measure:
        before = Discrepancy(float("nan"), marginal_gaps(view, checked), None, None)
        after = Discrepancy(float("nan"), marginal_gaps(view.iloc[rows], checked), None, None)
    return AlignResult(synthetic.iloc[rows].reset_index(drop=True), "marginals", weights, ess, ess / len(weights),
                       before, after, ("aligned to target marginals (raking); no detection AUC without target rows",))


def _copied_numbers_note(moved: pd.DataFrame, target: pd.DataFrame, numeric: list[str]) -> list[str]:
    """A privacy note when transport gave rows every numeric value of one target row (an exact plan maps onto them)."""
    def keys(frame: pd.DataFrame) -> pd.Index:
        return pd.MultiIndex.from_frame(frame[numeric].round(9).fillna(np.inf)) if len(numeric) > 1 else \
            pd.Index(frame[numeric[0]].round(9).fillna(np.inf))
    share = float(keys(moved).isin(keys(target)).mean())
    if share == 0:
        return []
    return [f"{share:.1%} of rows carry all numeric values of a target row (transport maps onto target values): "
            "treat the output like the target rows, or use method='weights'"]


def systematic_resample(weights: np.ndarray, n_rows: int, rng: np.random.Generator) -> np.ndarray:
    """``n_rows`` row indices, each row drawn in proportion to its weight (one uniform offset, even strides)."""
    cumulative = np.cumsum(weights, dtype="float64")
    cumulative /= cumulative[-1]
    points = (rng.random() + np.arange(n_rows)) / n_rows
    rows = np.minimum(np.searchsorted(cumulative, points, side="right"), len(weights) - 1)
    return rng.permutation(rows)


def check_reachable(synthetic: pd.DataFrame, target: pd.DataFrame, kinds: dict[str, str], *, numeric: bool) -> None:
    """Raise when more than ``UNREACHABLE_SHARE`` of target rows hold labels, missing values or (with ``numeric``)
    numbers outside the range that the synthetic rows never have: weighting cannot create them."""
    problems = []
    for name, kind in kinds.items():
        values = target[name]
        missing = values.isna()
        if missing.mean() > UNREACHABLE_SHARE and not synthetic[name].isna().any():
            problems.append(f"'{name}': {missing.mean():.1%} of target rows are missing, and the synthetic table "
                            "never has a missing value there")
        if kind == "numeric":
            present = synthetic[name].dropna()
            if not numeric or present.empty:
                continue
            low, high = present.min(), present.max()
            outside = (values < low) | (values > high)
            what = f"numbers outside the synthetic range [{low:.4g}, {high:.4g}]"
        else:
            outside = values.notna() & ~values.isin(set(synthetic[name].dropna()))
            unseen = sorted(set(values[outside]))
            what = "label(s) the synthetic table never has: " + ", ".join(map(repr, unseen[:5]))
        share = float(outside.mean())
        if share > (UNREACHABLE_NUMERIC_SHARE if kind == "numeric" else UNREACHABLE_SHARE):
            problems.append(f"'{name}': {share:.1%} of target rows hold {what}")
    if problems:
        raise AlignmentError(format_problems(
            "The target cannot be reached by re-weighting these synthetic rows", problems,
            "Re-weighting only re-balances rows the generator produces. Refit or adapt the generator on data that "
            "holds these values (synthloop.align.adapt), use method='transport' for numeric ranges, or drop the "
            "column from the target."))


def check_ess(ess: float, n_rows: int, min_ess: float, auc: float) -> None:
    """Raise when the weights collapse onto a few rows."""
    if ess >= MIN_ESS_ROWS and ess >= min_ess * n_rows:
        return
    raise AlignmentError(
        f"The alignment weights collapse: effective sample size {ess:.0f} of {n_rows:,} synthetic rows "
        f"({ess / n_rows:.1%}; at least {min_ess:.0%} and {MIN_ESS_ROWS} rows are needed). The target is far from "
        f"what the generator produces{'' if auc != auc else f' (target-vs-synthetic detection AUC {auc:.3f})'}: "
        "sample more synthetic rows, "
        "use method='transport' or 'both' for shifted numeric columns, lower min_ess, or adapt the generator to "
        "the target rows (synthloop.align.adapt). Nothing was written.")


def _schema(synthetic: pd.DataFrame, target: pd.DataFrame, schema: Schema | None) -> Schema:
    """The schema restricted to the target's columns, after checking both tables."""
    _checked(synthetic, None, "synthetic table")
    _checked(target, synthetic, "target")
    if len(target) < MIN_TARGET_ROWS:
        raise AlignmentError(f"The target has {len(target)} row(s); alignment needs at least {MIN_TARGET_ROWS} "
                             "(a few hundred give stable weights). Nothing was written.")
    schema = schema if schema is not None else Schema.infer(synthetic)
    names = set(map(str, target.columns))
    schema = replace(schema, columns=tuple(c for c in schema.columns if c.name in names), target=None, constraints=())
    frame = target.rename(columns=str)
    view = schema.to_model_frame(frame)
    problems = [f"'{name}' is numeric in the synthetic table, but the target holds non-numbers such as "
                f"{frame[name][frame[name].notna() & view[name].isna()].iloc[0]!r}"
                for name, kind in schema.model_kinds().items()
                if kind == "numeric" and (frame[name].notna() & view[name].isna()).any()]
    if problems:
        raise AlignmentError(format_problems("The target does not match the synthetic table's columns", problems,
                                             "Fix the target's values, or give a schema= that declares the kinds."))
    return schema


def _checked(frame: pd.DataFrame, synthetic: pd.DataFrame | None, what: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise AlignmentError(f"The {what} must be a DataFrame, got {type(frame).__name__}.")
    if len(frame) == 0:
        raise AlignmentError(f"The {what} has no rows.")
    if synthetic is not None:
        missing = [str(c) for c in frame.columns if str(c) not in set(map(str, synthetic.columns))]
        if missing:
            raise AlignmentError(f"The {what} has column(s) the synthetic table lacks: {', '.join(map(repr, missing[:10]))}. "
                                 "Align on shared columns only: drop them from the target. Nothing was written.")
    return frame
