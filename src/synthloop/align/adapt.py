"""Domain adaptation of a generator to a small target sample: refit with the target rows up-weighted.

Importance resampling (:mod:`synthloop.align.table`) can only re-balance what a generator already
produces, and a generator fitted on the 500 target rows alone learns little. ``adapt`` fits a fresh
copy of the synthesizer on the source rows plus the target rows repeated so that they make up
``target_share`` of the training table: the source rows teach the joint structure, the repeated
target rows move the marginals and the regions the target occupies (the simplest instance-weighting
adaptation; Jiang & Zhai, "Instance weighting for domain adaptation in NLP", ACL 2007).

**Privacy.** The repetition is a weight, not data: the model's privacy reference holds the source
and target rows *once each*. Were it built from the repeated table, every repeated target row would
count as a held-out row that copies a training row, the calibrated copy rate would be about
``target_share``, and the parity step would let a copying generator (``cart``) return that share of
training copies. Built from the distinct rows, parity counts copies of every training row, target
rows included, at the real rate.

**Combining.** An adapted generator already covers the target's region, so a ratio step on top of it
(``align_step(adapted, target)``) has gentler density ratios (a higher effective sample size) than
the same step on the source generator: ``adapt`` moves the mass, the step corrects what remains.

**Lineage.** :func:`record_adaptation` registers the repeated training table as a dataset whose
parents are the source and target tables (with the rows each contributed) and logs what was adapted
to what; ``synthloop fit SOURCE --adapt-to TARGET`` links the model to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthloop.errors import AlignmentError

if TYPE_CHECKING:
    from synthloop.lineage import DatasetRecord, LineageStore
    from synthloop.schema import Schema
    from synthloop.schema.values import InfOption
    from synthloop.synthesizers.base import Synthesizer

#: The target's share of the adapted training table (the API's and the CLI's default).
DEFAULT_TARGET_SHARE = 0.5
#: Fewer target rows than this are too few to adapt to (the same floor as alignment).
MIN_ADAPT_ROWS = 20


def adapted_rows(source: pd.DataFrame, target: pd.DataFrame, *, target_share: float = DEFAULT_TARGET_SHARE,
                 seed: int = 0) -> tuple[pd.DataFrame, int]:
    """The training table of an adapted fit (source rows plus the target repeated, shuffled) and the repeat count.

    Raises :class:`~synthloop.errors.AlignmentError` (before any work) for a share outside (0, 1), too few
    target rows, or a target whose columns differ from the source's.
    """
    if not isinstance(target_share, (int, float)) or not 0 < target_share < 1:
        raise AlignmentError(f"target_share must be between 0 and 1 (exclusive), got {target_share}.")
    for frame, what in ((source, "source"), (target, "target")):
        if not isinstance(frame, pd.DataFrame):
            raise AlignmentError(f"The {what} must be a DataFrame, got {type(frame).__name__}.")
    if len(source) == 0:
        raise AlignmentError("adapt needs source rows; the source table is empty.")
    if len(target) < MIN_ADAPT_ROWS:
        raise AlignmentError(f"The target has {len(target)} row(s); adaptation needs at least {MIN_ADAPT_ROWS} "
                             "(a few hundred move a generator without making it copy them). Nothing was written.")
    source, target = source.rename(columns=str), target.rename(columns=str)
    extra = [c for c in target.columns if c not in set(source.columns)]
    if extra:
        raise AlignmentError(f"The target has column(s) the source lacks: {', '.join(map(repr, extra[:10]))}. "
                             "Drop them from the target. Nothing was written.")
    missing = [c for c in source.columns if c not in set(target.columns)]
    if missing:
        raise AlignmentError(f"The target lacks column(s) of the source: {', '.join(map(repr, missing[:10]))}. "
                             "Adaptation refits on whole rows: give target rows with every source column "
                             "(or align the output to the shared columns with align_step). Nothing was written.")
    repeats = max(1, round(target_share / (1 - target_share) * len(source) / len(target)))
    rng = np.random.default_rng(seed)
    rows = pd.concat([source, *[target[source.columns]] * repeats], ignore_index=True)
    return rows.iloc[rng.permutation(len(rows))].reset_index(drop=True), repeats


def fit_adapted(synthesizer: Synthesizer, source: pd.DataFrame, target: pd.DataFrame, *,
                target_share: float = DEFAULT_TARGET_SHARE, schema: Schema | None = None, seed: int = 0,
                inf: InfOption = "error") -> Synthesizer:
    """Fit ``synthesizer`` itself on ``source`` with ``target`` up-weighted (see :func:`adapt`); returns it."""
    rows, _ = adapted_rows(source, target, target_share=target_share, seed=seed)
    synthesizer.fit(rows, schema, inf=inf)
    if getattr(synthesizer, "_training_rows", None) is not None:
        # The privacy reference holds each training row once (see the module docstring): the repeats are a weight.
        from synthloop.schema.values import infinite_to_missing

        distinct = pd.concat([source.rename(columns=str), target.rename(columns=str)[list(rows.columns)]],
                             ignore_index=True)
        synthesizer.forget_training_rows()
        synthesizer._training_rows = synthesizer.schema_.to_model_frame(infinite_to_missing(distinct, inf))
    return synthesizer


def adapt(synthesizer: Synthesizer, source: pd.DataFrame, target: pd.DataFrame, *,
          target_share: float = DEFAULT_TARGET_SHARE, schema: Schema | None = None, seed: int = 0) -> Synthesizer:
    """A clone of ``synthesizer`` fitted on ``source`` with ``target`` up-weighted to ``target_share`` of the rows.

    The clone's privacy reference holds the source and target rows once each, so ``sample`` (parity by
    default) checks copies of target rows too. Sample it through ``align_step(adapted, target)`` to
    correct what refitting left (see the module docstring).
    """
    return fit_adapted(synthesizer.clone(), source, target, target_share=target_share, schema=schema, seed=seed)


def record_adaptation(store: LineageStore, source: pd.DataFrame, target: pd.DataFrame, rows: pd.DataFrame, *,
                      target_share: float, repeats: int, source_path: str | Path | None = None,
                      target_path: str | Path | None = None) -> DatasetRecord:
    """Register the adapted training table ``rows`` with the source and the target as its parents.

    Each input keeps its file provenance (a synthetic source makes the adapted table ``mixed``); the
    record's parameters say what was adapted to what (``adapted_to``: the target's id).
    """
    from synthloop.lineage import fingerprint, provenance_of, register_table

    def register(frame: pd.DataFrame, path: str | Path | None) -> DatasetRecord:
        return register_table(store, frame, provenance=None if path is None else provenance_of(path),
                              name=None if path is None else str(path))

    parent_source, parent_target = register(source, source_path), register(target, target_path)
    params: dict[str, Any] = {"action": "adapt", "adapted_to": parent_target.id, "source": parent_source.id,
                              "target_share": float(target_share), "target_repeats": int(repeats)}
    tainted = parent_source.synthetic_share > 0 or parent_target.synthetic_share > 0
    dataset_id = fingerprint(rows)
    if dataset_id in store:
        store.log(dataset_id, "adapt", **params)
        return store.get(dataset_id)
    return store.add_fingerprint(dataset_id, n_rows=len(rows), n_columns=rows.shape[1],
                                 kind="mixed" if tainted else "real",
                                 parents={parent_source.id: len(source), parent_target.id: len(target) * repeats},
                                 params=params, action="adapt")
