"""The privacy row step: regenerate rows that copy, or sit too close to, training rows.

``Synthesizer.sample(n, privacy=...)`` runs every candidate row that met the conditions and the
constraints past a :class:`PrivacyStep`, the last step of the sampling pipeline
(:mod:`synthloop.synthesizers.sampling`). A rejected row is not dropped: the pipeline draws again,
so exactly ``n`` rows come back and conditions and constraints still hold.

Settings
--------
``"off"``
    No check; exactly the model's own sampling.
``"no-copies"``
    No output row equals a training row on every learned column (ids are regenerated and constants
    carry no information, so they are not compared). A guarantee, checked against a hash of every
    training row; when it cannot be met, ``PrivacyError``.
``"parity"`` (the default)
    The output is no closer to the training data than real unseen rows are: it holds at most as many
    exact training copies, and at most as many rows within the 1st, 5th, 10th, 25th and 50th percentile
    of held-out distance-to-closest-record (DCR), as held-out rows do (quotas ``floor(rate * n)``), so
    the tails and the bulk of the distance distribution (its median included) are controlled. Only the excess
    is regenerated, so little of the distribution is touched (``model.last_sample_info_`` reports the
    replaced count and the marginal shift). On tables where held-out rows often repeat training rows
    (small integer columns), parity allows copies at that rate instead of distorting the data.

When parity cannot be met (a model that only emits training values on a table whose held-out rows
never repeat one, e.g. ``cart`` on a single float column): asked for explicitly, ``PrivacyError``
that says why and what works instead; as the default, the rows are returned with the fewest rows
below parity that the draws allowed (the farthest of the refused candidates fill the gap), a
``SynthloopWarning`` and ``last_sample_info_.n_below_parity`` say how many.

Why parity is the default: it is the setting the privacy literature measures against (synthetic data
should not sit closer to its training rows than a holdout does: DCR and membership-inference tests,
e.g. Zhao et al. 2021, "CTAB-GAN"; Platzer & Reutterer 2021, "Holdout-based fidelity and privacy
assessment of mixed-type synthetic data"); it asks no more of synthetic rows than real unseen rows
achieve, so a good model loses few rows to it and its marginals stay put.

Measured (``benchmarks/privacy_parity.py``, Adult, ``cart`` defaults, 2 shared cores): parity
regenerated 1,367 of 39,073 rows (3.5%); DCR ratio 0.96 → 1.01, share of rows closer to training than
to holdout 0.490 → 0.477, detection AUC 0.527 → 0.521, TSTR unchanged, largest per-column marginal
shift 0.005 (see ``docs/benchmarks.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from synthloop.errors import ConfigError, PrivacyError
from synthloop.privacy.reference import PrivacyReference
from synthloop.schema import Schema
from synthloop.tabular.divergences import marginal_shift

PrivacyMode = Literal["parity", "no-copies", "off"]
PRIVACY_MODES: tuple[str, ...] = ("parity", "no-copies", "off")
DEFAULT_PRIVACY: PrivacyMode = "parity"
_MAX_SHIFT_ROWS = 200_000   # candidate rows kept to measure the marginal shift


def check_mode(mode: object) -> str:
    if mode not in PRIVACY_MODES:
        raise ConfigError(f"Unknown privacy setting {mode!r}; choose one of {', '.join(PRIVACY_MODES)}.")
    return str(mode)


@dataclass
class SampleInfo:
    """What the privacy step did in the last ``sample`` call (``model.last_sample_info_``).

    ``n_replaced`` rows were generated, met conditions and constraints, and were regenerated because
    they copied (``n_replaced_copies``) or sat too close to (``n_replaced_close``) a training row.
    ``marginal_shift`` is, per column, the KS statistic (numerics) or total variation distance
    (categoricals) between all those candidate rows and the rows returned: near 0 means the privacy
    step did not move the marginals. ``n_copies_returned`` is None when the model holds no training
    rows to compare with (loaded without its privacy reference). ``n_below_parity`` rows were
    returned although parity wanted them replaced (default setting only, see the module docstring);
    ``note`` says why a setting was changed or degraded.
    """

    privacy: str
    n_rows: int = 0
    n_candidates: int = 0
    n_replaced: int = 0
    n_replaced_copies: int = 0
    n_replaced_close: int = 0
    n_copies_returned: int | None = 0
    n_below_parity: int = 0
    holdout_copy_rate: float | None = None
    thresholds: tuple[float, ...] = ()
    marginal_shift: dict[str, float] = field(default_factory=dict)
    note: str = ""

    @property
    def max_marginal_shift(self) -> float:
        return max(self.marginal_shift.values(), default=0.0)


class PrivacyStep:
    """One ``sample`` call's privacy check (a row step): quotas over the whole call, replacement counts.

    With ``degrade`` (the default setting), a request that parity cannot meet is completed with the
    farthest refused candidates instead of an error (see the module docstring).
    """

    def __init__(self, mode: str, reference: PrivacyReference, schema: Schema, *, degrade: bool = False,
                 model: str = ""):
        self.mode = check_mode(mode)
        self.model = model                     # the model sampling, so that advice never names it
        self.reference = reference
        self.degrade = degrade and mode == "parity"
        self.info = SampleInfo(privacy=mode, holdout_copy_rate=reference.copy_rate,
                               thresholds=tuple(float(t) for t in reference.thresholds))
        self._n_rows = 0                       # output rows asked for so far in this call
        self._quota: np.ndarray = np.zeros(0)  # rows allowed in each band (copies first), for those rows
        self._used: np.ndarray = np.zeros(0)
        self._candidates: list[pd.DataFrame] = []
        self._n_kept_candidates = 0
        self._refused: tuple[pd.DataFrame, np.ndarray] | None = None   # farthest refused rows of this group
        self._group_rows = 0
        n_possible = support_in_training(schema, reference)
        # When every row the schema allows is a training row, any real new row would be a copy too.
        self._every_row_is_a_copy = n_possible is not None
        if mode == "no-copies" and self._every_row_is_a_copy:
            raise PrivacyError(
                f"privacy='no-copies' cannot be met: the schema allows only {n_possible:,} distinct row(s) and "
                "every one of them occurs in the training data. Use privacy='parity' (copies at most as often as "
                "real new rows would repeat training rows) or 'off', or add columns that vary.")

    # ------------------------------------------------------------------ the row-step protocol
    def start(self, n_rows: int) -> None:
        """Add ``n_rows`` output rows to the quotas (copies, then each closeness band).

        Quotas run over the whole call, so groups of conditioned rows share them: a quota left unused by
        one group carries over to the next, and the output as a whole stays within ``floor(rate * n)``.
        """
        reference = self.reference
        if self.mode == "no-copies":
            rates = np.zeros(1)
        elif self._every_row_is_a_copy:
            rates = np.ones(1 + len(reference.band_rates))
        else:
            rates = np.concatenate([[reference.copy_rate], reference.band_rates])
        self._n_rows += n_rows
        self._quota = np.floor(rates * self._n_rows + 1e-9)
        if len(self._used) != len(self._quota):
            self._used = np.zeros_like(self._quota)
        self._refused, self._group_rows = None, n_rows

    def keep(self, candidates) -> np.ndarray:
        """Which candidate rows may be returned (judged on their canonical form); updates the quotas."""
        canonical = candidates.canonical
        if self._n_kept_candidates < _MAX_SHIFT_ROWS:
            self._candidates.append(candidates.rows)
            self._n_kept_candidates += len(candidates.rows)
        copies = self.reference.is_copy(canonical)
        dcr = np.zeros(len(canonical))
        if self.mode == "no-copies":
            in_band = copies[:, None]
        else:
            dcr = np.where(copies, 0.0, self.reference.distances(canonical) if len(canonical) else 0.0)
            in_band = np.column_stack([copies, dcr[:, None] <= self.reference.thresholds[None, :]])
        keep = np.ones(len(canonical), dtype=bool)
        for i in np.flatnonzero(in_band.any(axis=1)):
            bands = in_band[i]
            if np.all(self._used[bands] < self._quota[bands]):
                self._used[bands] += 1
            else:
                keep[i] = False
        self.info.n_candidates += len(keep)
        self.info.n_replaced += int((~keep).sum())
        self.info.n_replaced_copies += int((~keep & copies).sum())
        self.info.n_replaced_close += int((~keep & ~copies).sum())
        if self.degrade and not keep.all():
            self._remember_refused(candidates.rows[~keep], dcr[~keep])
        return keep

    def impossible(self, n_rows: int, n_accepted: int, n_drawn: int, n_rejected: int) -> PrivacyError:
        if self.mode == "no-copies":
            what, instead = "copied a training row", "use privacy='parity' or 'off'"
        else:
            # Only models that draw no training value suggest themselves (cart with smoothing still
            # draws near its donors: it failed on a one-float-column table), never the one that failed.
            others = " or ".join(m for m in ("independent", "gaussian_copula") if m != self.model)
            what, instead = ("copied or sat closer to a training row than held-out rows do",
                             "use privacy='off', or a model that does not reuse training values for this table "
                             f"(e.g. {others})")
        return PrivacyError(
            f"privacy={self.mode!r} cannot be met: only {n_accepted:,} of {n_drawn:,} generated rows passed, "
            f"{n_rejected:,} were regenerated because they {what}, and {n_rows:,} were asked for. The model (or "
            f"the data) allows few rows that are not in the training data; {instead}, or relax the conditions.")

    def fallback(self, n_missing: int) -> pd.DataFrame | None:
        """With ``degrade``: the ``n_missing`` farthest refused rows of this group (counted as below parity)."""
        if not self.degrade or self._refused is None or len(self._refused[0]) < n_missing:
            return None
        rows = self._refused[0].iloc[:n_missing].reset_index(drop=True)
        self.info.n_below_parity += n_missing
        self.info.note = (f"parity could not be met: {self.info.n_below_parity:,} returned rows sit closer to a "
                          "training row than held-out rows do (the farthest of the refused rows). Use a model "
                          "that does not reuse training values for this table, or privacy='off' to skip the check.")
        return rows

    def _remember_refused(self, rows: pd.DataFrame, dcr: np.ndarray) -> None:
        if self._refused is not None:
            rows = pd.concat([self._refused[0], rows], ignore_index=True)
            dcr = np.concatenate([self._refused[1], dcr])
        order = np.argsort(-dcr, kind="stable")[:self._group_rows]
        self._refused = (rows.iloc[order].reset_index(drop=True), dcr[order])

    # ------------------------------------------------------------------ report
    def finish(self, returned: pd.DataFrame, canonical: pd.DataFrame) -> SampleInfo:
        """Complete the report: rows returned, training copies among them, and how far the marginals moved."""
        self.info.n_rows = len(returned)
        if len(returned):
            self.info.n_copies_returned = int(self.reference.is_copy(canonical).sum())
            if self.info.n_replaced:
                self.info.marginal_shift = marginal_shift(pd.concat(self._candidates, ignore_index=True), returned)
            else:
                self.info.marginal_shift = dict.fromkeys(returned.columns, 0.0)
        self._candidates = []
        return self.info


def support_in_training(schema: Schema, reference: PrivacyReference) -> int | None:
    """How many distinct rows the training data's values allow, when every one of them occurs in training; else None.

    A categorical column counts the labels seen in training (missing included), not every label the
    schema declares: a model refitted on data that lost a category (a collapse-lab generation) can
    only produce training rows, and held-out rows would repeat them at that rate too. Dates without a
    time of day count in days (counted in seconds, a two-year date column looked like 63 million
    possible values, and an impossible ``no-copies`` request drew for 103 s before failing).
    """
    n_possible = 1.0
    position = {name: j for j, name in enumerate(reference.geometry.categorical)}
    for column in schema.modelled():
        seen = np.unique(reference.codes[:, position[column.name]]) if column.name in position else None
        pooled = seen is not None and bool((seen == len(reference.geometry.labels[position[column.name]])).any())
        if seen is not None and not pooled:                       # pooled "other": count the schema's labels
            n_possible *= len(seen)
        elif column.kind in ("categorical", "boolean"):
            n_possible *= len(column.categories or ()) + column.nullable
        elif column.integer and column.low is not None and column.high is not None:
            step = 86_400.0 if column.kind == "datetime" else 1.0
            n_possible *= np.floor((column.high - column.low) / step) + 1 + column.nullable
        else:
            return None
        if n_possible > len(reference.hashes):
            return None
    return int(n_possible)
