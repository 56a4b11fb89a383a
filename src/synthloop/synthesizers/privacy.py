"""The privacy step every synthesizer shares: regenerate rows that copy, or sit too close to, training rows.

``Synthesizer.sample(n, privacy=...)`` runs each candidate row (after conditions and constraints) past
a :class:`PrivacyFilter`. A rejected row is not dropped: the regenerate-until-enough loop in
``Synthesizer._draw_valid`` draws again, so exactly ``n`` rows come back and conditions and
constraints still hold.

Settings
--------
``"off"``
    No check; exactly the model's own sampling.
``"no-copies"``
    No output row equals a training row on every learned column (ids are regenerated and constants
    carry no information, so they are not compared). A guarantee, checked against a hash of every
    training row; on a table whose every possible row occurs in training it raises ``PrivacyError``.
``"parity"`` (the default)
    The output is no closer to the training data than real unseen rows are: it holds at most as many
    exact training copies, and at most as many rows within the 1st and 5th percentile of held-out
    distance-to-closest-record (DCR), as held-out rows do (quotas ``floor(rate * n)``). Only the excess
    is regenerated, so little of the distribution is touched (the replaced count and the marginal
    shift are reported in ``model.last_sample_info_``). On tables where held-out rows often repeat
    training rows (small integer columns), parity allows copies at that rate instead of distorting the
    data to avoid them; ask for ``"no-copies"`` when no verbatim row may appear at all.

Why parity is the default: it is the setting the privacy literature measures against (synthetic data
should not sit closer to its training rows than a holdout does: DCR and membership-inference tests,
e.g. Zhao et al. 2021, "CTAB-GAN"; Platzer & Reutterer 2021, "Holdout-based fidelity and privacy
assessment of mixed-type synthetic data"); it asks no more of synthetic rows than real unseen rows
achieve, so a good model loses few rows to it and its marginals stay put. ``"no-copies"`` is stricter
but can distort tables with many repeated values, and ``"off"`` gives no protection.

Calibration (at fit time, so the held-out rates are measured, not assumed): the training rows are
cross-fitted in 5 folds; every row, checked against the folds it is not in, gives the held-out
exact-match rate, and up to 2,000 of them give the DCR percentiles. (Held-out rows are compared with
80% of the training rows, synthetic rows with all of them, which errs on the safe side.) Distances are
Euclidean over numerics standardised by the training mean and standard deviation (missing: 0 plus an
indicator) plus one per differing categorical label (missing is a label of its own), so one SD of
difference weighs like one category: the geometry of the evaluation suite's DCR metrics
(``synthloop.metrics.privacy``), so the step acts on what they measure. Closeness below one label
is searched only among rows with the same labels (exact, and fast on wide tables).

Measured (``benchmarks/privacy_parity.py``, Adult, ``cart`` defaults, 2 shared cores): parity
regenerated 1,367 of 39,073 rows (3.5%); DCR ratio 0.96 → 1.01, share of rows closer to training than
to holdout 0.490 → 0.477, detection AUC 0.527 → 0.521, TSTR unchanged, largest per-column marginal
shift 0.005; sampling took 2.6 s instead of 1.0 s and fitting the reference about 1.5 s.

What the model keeps (and what that means for the model file): a 64-bit hash of every training row
(for copies) and, for parity, every training row in model view as scaled float32 numerics and
category codes, with the scales to undo them. **A saved model directory is therefore as sensitive as
the training data**: the hashes answer "was this exact row in training?" and the reference holds the
rows themselves (a CART model stores training values as donors anyway). Share synthetic data, not
model files, or save with ``model.save(path, privacy_reference=False)``: such a file can only sample
with ``privacy="off"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from synthloop.errors import ConfigError, PrivacyError
from synthloop.schema import Schema

PrivacyMode = Literal["parity", "no-copies", "off"]
PRIVACY_MODES: tuple[str, ...] = ("parity", "no-copies", "off")
DEFAULT_PRIVACY: PrivacyMode = "parity"

#: Held-out DCR percentiles that bound the "too close" bands of the parity setting.
PARITY_LEVELS = (0.01, 0.05)
_N_FOLDS = 5
_MAX_CALIBRATION_ROWS = 2_000
_QUERY_CHUNK = 1_024
_BLOCK_CAP = 1.0 - 1e-9  # below one differing label: only rows with the same labels can be that close
_NAN_KEY = -8.98846567431158e307  # stands for a missing numeric inside row hashes


@dataclass(frozen=True)
class PrivacyReference:
    """What a fitted model keeps to check copies and closeness at sample time."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    categories: tuple[tuple[str, ...], ...]   # labels of each categorical column (code = position)
    center: np.ndarray            # (n_numeric,) training means
    scale: np.ndarray             # (n_numeric,) training standard deviations
    hashes: np.ndarray            # (n_unique_rows,) sorted uint64 row hashes
    points: np.ndarray            # (n_rows, n_numeric) scaled numerics, float32, NaN kept
    codes: np.ndarray             # (n_rows, n_categorical) int32 category codes, -1 = missing
    thresholds: np.ndarray        # DCR at PARITY_LEVELS among held-out (cross-fitted) rows
    copy_rate: float              # held-out rows equal to some training row
    band_rates: np.ndarray        # held-out share with DCR <= each threshold
    n_calibration: int

    # ------------------------------------------------------------------ build
    @classmethod
    def build(cls, schema: Schema, model_frame: pd.DataFrame, rng: np.random.Generator) -> PrivacyReference:
        """Hash, encode and calibrate on the training rows (model view)."""
        kinds = schema.model_kinds()
        numeric = tuple(n for n, k in kinds.items() if k == "numeric")
        categorical = tuple(n for n, k in kinds.items() if k == "categorical")
        values = model_frame[list(numeric)].to_numpy(dtype="float64") if numeric else np.zeros((len(model_frame), 0))
        center, scale = _center_scale(values)
        points = ((values - center) / scale).astype("float32")
        categories = tuple(tuple(schema[name].categories or ()) for name in categorical)
        codes = _category_codes(model_frame, categorical, categories)
        row_hashes = hash_rows(model_frame, numeric, categorical)
        base = cls(numeric, categorical, categories, center, scale, np.unique(row_hashes), points, codes,
                   np.zeros(len(PARITY_LEVELS)), 0.0, np.zeros(len(PARITY_LEVELS)), 0)
        return base._calibrated(row_hashes, rng)

    def _calibrated(self, row_hashes: np.ndarray, rng: np.random.Generator) -> PrivacyReference:
        """Cross-fit in folds: each held-out fold against the others gives the copy rate (all rows) and
        the DCR percentiles (up to 2,000 rows)."""
        n_rows = len(row_hashes)
        n_folds = min(_N_FOLDS, n_rows)
        folds = rng.permutation(n_rows) % n_folds
        measured = np.zeros(n_rows, dtype=bool)
        measured[rng.permutation(n_rows)[:_MAX_CALIBRATION_ROWS]] = True
        is_copy = np.zeros(n_rows, dtype=bool)
        dcr = np.full(n_rows, np.nan)
        for fold in range(n_folds):
            inside, others = folds == fold, np.flatnonzero(folds != fold)
            is_copy[inside] = np.isin(row_hashes[inside], row_hashes[others])
            queries = np.flatnonzero(inside & measured)
            dcr[queries] = self._calibration_distances(queries, others)
        dcr = np.where(is_copy, 0.0, dcr)[measured]
        thresholds = np.quantile(dcr, PARITY_LEVELS, method="inverted_cdf")
        band_rates = np.array([(dcr <= t).mean() for t in thresholds])
        return PrivacyReference(self.numeric, self.categorical, self.categories, self.center, self.scale, self.hashes,
                                self.points, self.codes, thresholds, float(is_copy.mean()), band_rates, len(dcr))

    def _calibration_distances(self, queries: np.ndarray, others: np.ndarray) -> np.ndarray:
        """Exact DCR where it is below 1 (rows sharing every label); the rest only when percentiles need it."""
        points, codes = self.points[others], self.codes[others]
        dcr = nearest_distances(self.points[queries], self.codes[queries], points, codes, cap=_BLOCK_CAP)
        if np.mean(dcr < 1.0) < max(PARITY_LEVELS):
            far = dcr >= 1.0
            dcr[far] = nearest_distances(self.points[queries[far]], self.codes[queries[far]], points, codes)
        return dcr

    # ------------------------------------------------------------------ queries
    def is_copy(self, model_rows: pd.DataFrame) -> np.ndarray:
        """Rows (canonical model view) that equal a training row on every learned column."""
        if not self.numeric and not self.categorical:
            return np.ones(len(model_rows), dtype=bool)
        return np.isin(hash_rows(model_rows, self.numeric, self.categorical), self.hashes)

    def distances(self, model_rows: pd.DataFrame) -> np.ndarray:
        """Distance from each row to its closest training record."""
        values = model_rows[list(self.numeric)].to_numpy(dtype="float64") if self.numeric else np.zeros((len(model_rows), 0))
        points = ((values - self.center) / self.scale).astype("float32")
        codes = _category_codes(model_rows, self.categorical, self.categories)
        cap = _BLOCK_CAP if self.thresholds.max(initial=0.0) < 1.0 else None
        return nearest_distances(points, codes, self.points, self.codes, cap=cap)

    # ------------------------------------------------------------------ persistence
    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {"center": self.center, "scale": self.scale, "hashes": self.hashes, "points": self.points,
                  "codes": self.codes, "thresholds": self.thresholds, "band_rates": self.band_rates}
        meta = {"numeric": list(self.numeric), "categorical": list(self.categorical),
                "categories": [list(labels) for labels in self.categories], "copy_rate": self.copy_rate,
                "n_calibration": self.n_calibration}
        return arrays, meta

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> PrivacyReference:
        categories = tuple(tuple(labels) for labels in meta["categories"])
        return cls(tuple(meta["numeric"]), tuple(meta["categorical"]), categories, arrays["center"], arrays["scale"],
                   arrays["hashes"], arrays["points"], arrays["codes"], arrays["thresholds"],
                   float(meta["copy_rate"]), arrays["band_rates"], int(meta["n_calibration"]))


@dataclass
class SampleInfo:
    """What the privacy step did in the last ``sample`` call (``model.last_sample_info_``).

    ``n_replaced`` rows were generated, met conditions and constraints, and were regenerated because
    they copied (``n_replaced_copies``) or sat too close to (``n_replaced_close``) a training row.
    ``marginal_shift`` is, per column, the KS statistic (numerics) or total variation distance
    (categoricals) between all those candidate rows and the rows returned: near 0 means the privacy
    step did not move the marginals.
    """

    privacy: str
    n_rows: int = 0
    n_candidates: int = 0
    n_replaced: int = 0
    n_replaced_copies: int = 0
    n_replaced_close: int = 0
    n_copies_returned: int = 0
    holdout_copy_rate: float | None = None
    thresholds: tuple[float, ...] = ()
    marginal_shift: dict[str, float] = field(default_factory=dict)

    @property
    def max_marginal_shift(self) -> float:
        return max(self.marginal_shift.values(), default=0.0)


class PrivacyFilter:
    """One ``sample`` call's privacy check: keeps quotas per group of rows and counts replacements."""

    def __init__(self, mode: str, reference: PrivacyReference | None, schema: Schema):
        if mode not in PRIVACY_MODES:
            raise ConfigError(f"Unknown privacy setting {mode!r}; choose one of {', '.join(PRIVACY_MODES)}.")
        if mode != "off" and reference is None:
            raise PrivacyError(f"privacy={mode!r} needs the training-row reference, but this model has none (it "
                               "was saved with privacy_reference=False). Re-fit the model, or sample with privacy='off'.")
        self.mode = mode
        self.reference = reference
        self.info = SampleInfo(privacy=mode, holdout_copy_rate=reference.copy_rate if reference else None,
                               thresholds=tuple(float(t) for t in reference.thresholds) if reference else ())
        self._n_rows = 0                       # output rows asked for so far in this call
        self._quota: np.ndarray = np.zeros(0)  # rows allowed in each band (copies first), for those rows
        self._used: np.ndarray = np.zeros(0)
        self._candidates: list[pd.DataFrame] = []
        # When every row the schema allows is a training row, any real new row would be a copy too.
        self._every_row_is_a_copy = mode != "off" and support_in_training(schema, reference) is not None
        if mode == "no-copies" and self._every_row_is_a_copy:
            raise PrivacyError(
                f"privacy='no-copies' cannot be met: the schema allows only {support_in_training(schema, reference):,} "
                "distinct row(s) and every one of them occurs in the training data. Use privacy='parity' (copies at "
                "most as often as real new rows would repeat training rows) or 'off', or add columns that vary.")

    @property
    def active(self) -> bool:
        return self.mode != "off"

    def start_group(self, n_rows: int) -> int:
        """Add ``n_rows`` output rows to the quotas (copies, then each closeness band); returns rows replaced so far.

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
        return self.info.n_replaced

    def keep(self, model_rows: pd.DataFrame, canonical_rows: pd.DataFrame) -> np.ndarray:
        """Which candidate rows may be returned (judged on their canonical form); updates the quotas."""
        self._candidates.append(model_rows)
        copies = self.reference.is_copy(canonical_rows)
        if self.mode == "no-copies":
            in_band = copies[:, None]
        else:
            dcr = np.where(copies, 0.0, self.reference.distances(canonical_rows) if len(canonical_rows) else 0.0)
            in_band = np.column_stack([copies, dcr[:, None] <= self.reference.thresholds[None, :]])
        keep = np.ones(len(canonical_rows), dtype=bool)
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
        return keep

    def finish(self, returned: pd.DataFrame, canonical: pd.DataFrame) -> SampleInfo:
        """Complete the report: rows returned, training copies among them, and how far the marginals moved."""
        self.info.n_rows = len(returned)
        if self.reference is not None and len(returned):
            self.info.n_copies_returned = int(self.reference.is_copy(canonical).sum())
        if self.active and len(returned):
            if self.info.n_replaced:
                self.info.marginal_shift = marginal_shift(pd.concat(self._candidates, ignore_index=True), returned)
            else:
                self.info.marginal_shift = dict.fromkeys(returned.columns, 0.0)
        self._candidates = []
        return self.info

    def raise_impossible(self, n_rows: int, n_accepted: int, n_drawn: int, n_replaced: int, where: str = "") -> None:
        what = ("copied a training row" if self.mode == "no-copies"
                else "copied or sat closer to a training row than held-out rows do")
        raise PrivacyError(
            f"privacy={self.mode!r} cannot be met{where}: only {n_accepted:,} of {n_drawn:,} generated rows passed, "
            f"{n_replaced:,} were regenerated because they {what}, and {n_rows:,} were asked for. The model (or the "
            "data) allows few rows that are not in the training data; use privacy='parity' or 'off', or relax the conditions.")


def marginal_shift(candidates: pd.DataFrame, returned: pd.DataFrame) -> dict[str, float]:
    """Per column: KS statistic (numeric) or total variation distance (categorical), candidates vs returned."""
    from scipy.stats import ks_2samp

    shift = {}
    for name in candidates.columns:
        before, after = candidates[name], returned[name]
        if pd.api.types.is_float_dtype(before.dtype):
            both = before.dropna(), after.dropna()
            shift[name] = float(ks_2samp(*both).statistic) if len(both[0]) and len(both[1]) else 0.0
        else:
            p = before.astype(object).fillna("\0<NA>").value_counts(normalize=True)
            q = after.astype(object).fillna("\0<NA>").value_counts(normalize=True)
            shift[name] = float(0.5 * p.subtract(q, fill_value=0.0).abs().sum())
    return shift


def support_in_training(schema: Schema, reference: PrivacyReference) -> int | None:
    """How many distinct rows the training data's values allow, when every one of them occurs in training; else None.

    A categorical column counts the labels seen in training (missing included), not every label the
    schema declares: a model refitted on data that lost a category (a collapse-lab generation) can
    only produce training rows, and held-out rows would repeat them at that rate too.
    """
    n_possible = 1.0
    position = {name: j for j, name in enumerate(reference.categorical)}
    for column in schema.modelled():
        if column.name in position:
            n_possible *= len(np.unique(reference.codes[:, position[column.name]]))
        elif column.kind in ("categorical", "boolean"):
            n_possible *= len(column.categories or ()) + column.nullable
        elif column.integer and column.low is not None and column.high is not None:
            n_possible *= column.high - column.low + 1 + column.nullable
        else:
            return None
    return int(n_possible) if n_possible <= len(reference.hashes) else None


def hash_rows(model_frame: pd.DataFrame, numeric: tuple[str, ...], categorical: tuple[str, ...]) -> np.ndarray:
    """One uint64 per row over the learned columns; equal rows (NaN equal to NaN) hash equal."""
    combined = np.full(len(model_frame), 0x345678, dtype="uint64")
    for name in (*numeric, *categorical):
        if name in numeric:
            values = model_frame[name].to_numpy(dtype="float64") + 0.0  # -0.0 -> 0.0
            values = np.where(np.isnan(values), _NAN_KEY, values)
        else:
            column = model_frame[name]
            values = column.astype(object).where(column.notna(), "\0<NA>").to_numpy(dtype=object)
        with np.errstate(over="ignore"):
            combined = (combined ^ pd.util.hash_array(values)) * np.uint64(0x100000001B3)  # FNV-style mixing
    return combined


def nearest_distances(query_points: np.ndarray, query_codes: np.ndarray, ref_points: np.ndarray,
                      ref_codes: np.ndarray, *, cap: float | None = None) -> np.ndarray:
    """Distance from each query row to its closest reference row (numerics + one per differing label).

    With ``cap`` below 1, a row that close must share every label, so only rows with the same labels
    are compared (fast on wide tables): distances below 1 are exact, larger ones are upper bounds
    (``inf`` where no row has the same labels).
    """
    if len(ref_points) == 0:
        return np.full(len(query_points), np.inf)
    if cap is not None and cap < 1.0 and query_codes.shape[1]:
        return _nearest_within_blocks(query_points, query_codes, ref_points, ref_codes)
    n_labels = np.maximum(ref_codes.max(axis=0, initial=-1), query_codes.max(axis=0, initial=-1)) + 3
    return np.sqrt(_min_squared_distances(_embed(query_points, query_codes, n_labels),
                                          _embed(ref_points, ref_codes, n_labels)))


def _nearest_within_blocks(query_points: np.ndarray, query_codes: np.ndarray, ref_points: np.ndarray,
                           ref_codes: np.ndarray) -> np.ndarray:
    """Exact nearest numeric distance among reference rows with the same labels (inf if none)."""
    codes = np.concatenate([ref_codes, query_codes]).astype("int64") + 2       # (n_ref + n_query, n_labels) ≥ 0
    keys = np.zeros(len(codes), dtype="int64")
    for column in codes.T:                                                     # mixed radix, renumbered per column
        keys = np.unique(keys * (int(column.max()) + 1) + column, return_inverse=True)[1].astype("int64")
    group_ids = keys
    ref_groups, query_groups = group_ids[:len(ref_codes)], group_ids[len(ref_codes):]
    ref_order = np.argsort(ref_groups, kind="stable")
    starts = np.searchsorted(ref_groups[ref_order], np.arange(group_ids.max() + 2))
    no_labels = np.zeros(0, dtype=int)
    ref_embedded, query_embedded = _embed(ref_points, None, no_labels), _embed(query_points, None, no_labels)
    out = np.full(len(query_points), np.inf)
    query_order = np.argsort(query_groups, kind="stable")
    query_starts = np.searchsorted(query_groups[query_order], np.arange(group_ids.max() + 2))
    for group in np.unique(query_groups):
        members = ref_order[starts[group]:starts[group + 1]]
        if len(members):
            rows = query_order[query_starts[group]:query_starts[group + 1]]
            out[rows] = np.sqrt(_min_squared_distances(query_embedded[rows], ref_embedded[members]))
    return out


def _min_squared_distances(query: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """min_j ||query_i - ref_j||², in float64 chunks (|a|² + |b|² - 2ab, clipped at 0)."""
    ref_sq = np.einsum("ij,ij->i", ref, ref)
    out = np.empty(len(query))
    chunk = max(1, min(_QUERY_CHUNK, 2**24 // max(len(ref), 1)))
    for start in range(0, len(query), chunk):
        block = query[start:start + chunk]
        squared = np.einsum("ij,ij->i", block, block)[:, None] + ref_sq[None, :] - 2.0 * (block @ ref.T)
        out[start:start + chunk] = np.maximum(squared.min(axis=1), 0.0)
    return out


def _embed(points: np.ndarray, codes: np.ndarray | None, n_labels: np.ndarray) -> np.ndarray:
    """float64 numerics (missing → 0 plus a 0/1 indicator) and one-hot labels scaled by 1/√2.

    Scaling the one-hot blocks by 1/√2 makes each differing label add exactly 1 to the squared distance.
    """
    missing = np.isnan(points)
    parts = [np.where(missing, 0.0, points), missing.astype("float64")]
    if codes is not None and codes.shape[1]:
        offsets = np.concatenate([[0], np.cumsum(n_labels)[:-1]])
        one_hot = np.zeros((len(codes), int(n_labels.sum())))
        one_hot[np.arange(len(codes))[:, None], offsets[None, :] + codes + 2] = np.sqrt(0.5)
        parts.append(one_hot)
    return np.concatenate(parts, axis=1)


def _center_scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Training mean and standard deviation per numeric column (1 where a column does not vary)."""
    if values.shape[1] == 0 or len(values) == 0:
        return np.zeros(values.shape[1]), np.ones(values.shape[1])
    with np.errstate(all="ignore"):
        center, scale = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
    return np.nan_to_num(center), np.where(np.isfinite(scale) & (scale > 1e-12), scale, 1.0)


def _category_codes(model_frame: pd.DataFrame, categorical: tuple[str, ...],
                    categories: tuple[tuple[str, ...], ...]) -> np.ndarray:
    if not categorical:
        return np.zeros((len(model_frame), 0), dtype="int32")
    return np.stack([_codes_of(model_frame[name], labels) for name, labels in zip(categorical, categories)], axis=1)


def _codes_of(labels: pd.Series, categories: tuple[str, ...]) -> np.ndarray:
    """Category codes; missing is -1 and a label outside the training categories is -2."""
    codes = pd.Index(list(dict.fromkeys(categories)), dtype=object).get_indexer(labels.astype(object)).astype("int32")
    return np.where((codes < 0) & labels.notna().to_numpy(), -2, codes)
