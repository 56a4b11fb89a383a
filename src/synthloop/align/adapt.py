"""Domain adaptation of a generator to a small target sample: refit with the target rows up-weighted.

Importance resampling (:mod:`synthloop.align.table`) can only re-balance what a generator already
produces, and a generator fitted on the 500 target rows alone learns little. ``adapt`` fits a fresh
copy of the synthesizer on the source rows plus the target rows repeated so that they make up
``target_share`` of the training table: the source rows teach the joint structure, the repeated
target rows move the marginals and the regions the target occupies (the simplest instance-weighting
adaptation; Jiang & Zhai, "Instance weighting for domain adaptation in NLP", ACL 2007). Repeated
rows are copies: sample the adapted model with the privacy step on (parity counts copies of every
training row, target rows included).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from synthloop.errors import AlignmentError

if TYPE_CHECKING:
    from synthloop.schema import Schema
    from synthloop.synthesizers.base import Synthesizer


def adapt(synthesizer: Synthesizer, source: pd.DataFrame, target: pd.DataFrame, *, target_share: float = 0.5,
          schema: Schema | None = None, seed: int = 0) -> Synthesizer:
    """A clone of ``synthesizer`` fitted on ``source`` with ``target`` up-weighted to ``target_share`` of the rows."""
    if not 0 < target_share < 1:
        raise AlignmentError(f"target_share must be between 0 and 1 (exclusive), got {target_share}.")
    if len(target) == 0 or len(source) == 0:
        raise AlignmentError("adapt needs source rows and target rows.")
    extra = [str(c) for c in target.columns if str(c) not in set(map(str, source.columns))]
    if extra:
        raise AlignmentError(f"The target has column(s) the source lacks: {', '.join(map(repr, extra[:10]))}.")
    repeats = max(1, round(target_share / (1 - target_share) * len(source) / len(target)))
    rng = np.random.default_rng(seed)
    rows = pd.concat([source, *[target[source.columns]] * repeats], ignore_index=True)
    rows = rows.iloc[rng.permutation(len(rows))].reset_index(drop=True)
    return synthesizer.clone().fit(rows, schema)
