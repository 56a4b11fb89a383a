"""Sequential CART with donor sampling: synthpop's default model (Reiter 2005; Nowok, Raab & Dibben 2016).

Columns are visited in an order. The first is drawn from its marginal; every later column has a
decision tree fitted on the columns visited before it. To sample, each synthetic row is dropped down
the column's tree and a value is drawn from the training values in the leaf it reaches (a *donor*),
so every value lies on the real support: spikes, repeated values and rare labels survive.

Trees are stored as plain arrays (``children_left/right``, ``feature``, ``threshold``,
``missing_go_to_left``) plus each leaf's donor values, in safetensors; sampling walks these arrays
with a vectorised numpy loop (:func:`synthloop.synthesizers._trees.walk`), so a loaded model needs no
scikit-learn object and nothing is unpickled.

Privacy-aware fixed setting (issue 7; ``calibrate=False``)
---------------------------------------------------------
Measured on bundled Adult (39,073 training rows; judged against the 9,769 held-out rows, of which
0.18% equal a training row exactly), with ``benchmarks/cart_privacy.py`` on 2 shared cores.
DCR ratio: median distance synthetic→train over held-out→train (target ≥ 0.95); detection: gradient
boosting, real vs synthetic (target ≤ 0.55); TSTR: income AUC, train-real-test-real = 0.931.

=============================================  =======  =====  =========  =====
setting                                         copies   DCR   detection  TSTR
=============================================  =======  =====  =========  =====
synthpop-like: table order, ``min_leaf=5``       2.11%   0.75     0.53    0.919
auto order, ``min_leaf=5``                      10.59%   0.75     0.53    0.930
``min_leaf=20`` + ``avoid_copies``               0.00%   0.92     0.52    0.930
``min_leaf=40``, no copy check                   1.09%   0.98     0.53    0.929
``min_leaf=40`` + ``avoid_copies`` (fixed)      0.00%   0.98     0.52    0.929
default + ``smoothing=0.5`` (jitter)             0.00%   0.97     0.63    0.918
=============================================  =======  =====  =========  =====

Two mechanisms, because each fixes a different failure:

- **Leaf size sets how close rows sit.** With leaves of 5, a row's later columns are drawn from the
  few training rows that share its earlier values, so synthetic rows sit nearer to training rows
  than unseen real rows do (DCR 0.75, as for synthpop). Leaves of at least 40 donors mix more rows
  into each draw and reach parity (0.98; 0.92 at 20, 1.03 at 50) at no measurable cost in detection
  and 0.003 TSTR AUC.
- **Copy avoidance stops verbatim rows.** Even with leaves of 40, 1.1% of rows (6× the held-out
  rate) reproduced a training row: common profiles complete a copy by chance. A sampled row whose
  64-bit hash matches a training row's gets its last column redrawn from the same leaf (up to 4
  times), then is regenerated whole (up to 16 times). This touches about 1% of rows and keeps every
  value a real donor value, so spikes and repeated values survive. The training-row hashes are not
  saved (they would be an exact membership oracle): a model loaded without its privacy reference
  samples without this redraw.

What a saved model keeps: the leaf size and copy allowance the fit chose, the tree splits and, per
leaf, the training values of its column (the donors) in random order, so rows cannot be re-linked
across columns; a categorical target with more than 256 labels chooses splits on its 255 most
frequent labels plus one pooled class.

Jitter within the observed support (``smoothing``) also stops copies, but moved values are easy to
detect (0.63–0.67), so it is off by default.

Calibrated to the table (issue 13; the default, ``calibrate=True``)
-------------------------------------------------------------------
A leaf of 40 and zero copies were right for Adult and wrong elsewhere, in two opposite ways:

- **Where unseen rows repeat training rows** (coded or small-integer columns), zero copies is not
  privacy but distortion: redrawing nine rows in ten towards rare combinations makes the output easy
  to detect and its utility collapse. The copy allowance is now the rate at which *held-out* rows
  equal training rows, measured at fit time by 5-fold cross-fitting on the training rows
  (:func:`heldout_copy_rate`); sampling redraws only the copies beyond it (chosen at random).
- **Where a few continuous columns carry the table**, donor values are exact training values, so a
  row that takes one column from a donor sits on that donor's coordinate; with small leaves the rows
  sit much closer to training rows than unseen rows do (DCR ratio far below 1). The leaf size is now
  the smallest of ``min_leaf`` (default 5) × 2^k, up to 1/8 of the rows and half the target's rarest
  class (larger leaves could not split it off, and every column would lose its dependence on the
  target), at which a *probe* model
  reaches parity: grown on the training rows less a held-out part (at most 10,000 reference rows),
  it draws as many rows as were held out and passes when copy avoidance had to redraw at most 5% of
  them (copies beyond 1.5 × the held-out rate + 0.2 points) and the rows returned sit no closer to
  the reference than the held-out rows (DCR share ≤ 0.51 and median DCR ratio ≥ 1, in the
  evaluation suite's encoding; :func:`at_parity`). Bounding the redraws matters: redrawn copies
  also move rows away from training rows, but by distorting the joint distribution.
- **Where a continuous column's values never repeat** (a single float column; measurements), a donor
  value is still an exact training value, so a one-column table drew nothing but copies (parity
  could not be met) and a few-column table stayed close even at the largest leaf the target allows.
  The fit measures, per numeric column, the cross-fitted share of unseen values (not point masses)
  that no training row holds (``fresh_share_``: near 1 for measurements, near 0 for ages or codes).
  When no leaf reaches parity, the probe tries *fresh values*: that share of the drawn values moves
  by Gaussian noise of 2, 8, 32 or 128 local spacings (the mean gap between neighbouring observed
  values, so the noise follows the density), reflected into the observed range; the smallest spread
  that reaches parity is kept (``jitter_``). Point masses, missing values and repeating columns keep
  exact donors. Leaves come first because fresh values tried at every leaf chose small leaves with
  large spreads and were easier to detect (abalone 0.556 → 0.603, ISLP Wage 0.541 → 0.558).

- **Where a categorical column is a key** (more labels than the trees' 256 split classes: business
  names, product codes), visited last it was a pooled tree target, so its link with the columns
  before it was lost for all but its most frequent labels. With ``order="auto"`` such columns are now
  visited *first* (drawn from their marginal, like an entity), the target after them, and every later
  tree splits them in *level order* (levels ranked by their mean of the tree's target, so levels
  that behave alike are contiguous; :mod:`synthloop.synthesizers._trees`). Measured on the restaurant
  inspections of ``benchmarks/tables.py`` (1,585 business names; held-out rows keep their business's
  number of locations 99% of the time): synthetic rows kept it 63% → 100% of the time, detection AUC
  0.572 → 0.555 (held-out 0.528; fit seed 1: 0.538), TSTR R² 0.313 → 0.338 (0.335; TRTR 0.349),
  copies 28.8% → 62.1% (held-out 67.1%), every issue-13 target met at both seeds. Visiting the name first without level order
  gave 0.578-0.584, with level order but after the target 0.547-0.563 and R² 0.328-0.330 (short
  of 0.95 × TRTR). Not a win everywhere: on keys built from Adult with 6-9 rows per label
  (occupation/education/country) detection was 0.63-0.67 either way (key first 0.004-0.03 worse);
  those keys are mostly unseen in held-out rows. Tables without such a column are unchanged.

- **Where a numeric column follows earlier ones inside a leaf** (abalone's eight sizes and weights of
  one animal), a leaf's donors come from rows whose earlier values differ, so a drawn value ignores
  where the row sits inside its leaf, and leaves large enough for parity flatten the relation. With
  ``trend=True`` (the default) each numeric column's tree fits one pooled within-leaf regression on
  the earlier numeric columns (:func:`synthloop.synthesizers._trees.leaf_trend`) and keeps it only
  where it lowers the cross-fitted error of the leaf mean by at least 2% (5 folds of the training
  rows). A drawn donor then moves along it to the row (``donor + slope · (row − donor)``) and is
  snapped to the nearest observed value of the column, so it keeps the column's range and resolution
  (and copy avoidance sees the copies that rounding would make). Point masses and missing values are
  never moved. Measured on abalone (fit seeds 0-7, default privacy step): detection 0.552 → 0.539 and
  TSTR R² 0.507 → 0.534 (TRTR 0.547), every issue-13 target met at 7 of 8 seeds instead of none
  (on the ten tables of ``benchmarks/privacy_parity.py``, fit seeds 0-3: tables meeting every target
  7 / 4 / 8 / 6 → 8 / 6 / 8 / 7; breast_cancer detection 0.525 → 0.520);
  without the snapping 0.549 / 0.537 (5 of 8 missed). The gate keeps ISLP Wage, NYSE and penguins
  as they were (no trend predicts there, or their values are point masses). The leaf probe measures
  plain donors: with the trend inside it the probe chose leaves of 40 instead of 20 on abalone and
  detection rose to 0.577 (seeds 0-3); the shared privacy step still holds the sample at parity
  (abalone DCR share 0.471, ratio 1.04). A condition on a numeric column with a trend reweights the
  earlier columns only for the column's point masses (the moved donors no longer hold exact values;
  other values are set as given).

Nothing is tuned on a holdout: all three measurements use the training rows only. Measured effect (seed
0, privacy step off, judged against each table's own held-out 20%; the first and third rows are
the tests in ``tests/test_cart_calibration.py``; breast_cancer: the mean over fit seeds 0-7 of
1,820 drawn rows each, range 0.79-0.87, its leaf at the cap of 1/8 of the rows):

======================================================  ===============  ===============
table                                                    fixed (issue 7)  calibrated
======================================================  ===============  ===============
Adult, 5 coded columns (2k rows; 93.5% held-out copies)  copies 38.9%,    copies 91.3%,
                                                         detection 0.756  detection 0.532
Adult, fnlwgt + age + income (2.4k rows)                 detection 0.625, detection 0.526,
                                                         DCR ratio 1.37   DCR ratio 0.95
breast_cancer, 2 continuous columns, from ``min_leaf=5``  DCR ratio 0.22   DCR ratio 0.83
======================================================  ===============  ===============

On the ten tables of ``benchmarks/privacy_parity.py`` (default privacy step on; ``docs/benchmarks.md``)
the default meets every issue-13 target on 5 tables instead of 2: charity (41% held-out copies:
detection 0.626 → 0.540), mortgages (98%: detection 0.633 → 0.514, TSTR 0.748 → 0.773) and
breast_cancer join Adult and ISLP Wage. ISLP Default (two continuous columns) moves from DCR ratio
0.61 to 0.84, short of parity: the leaf is also capped at half the target's rarest class, since
larger leaves cannot split it off (TSTR fell below chance without the cap). The price is fit time:
each probe grows trees on at most 10,000 rows (four probes on Adult). Conditions on the first
visited column (with ``order="auto"`` the target, unless a key column comes first) are exact; later
ones use sampling-importance-resampling (see ``_draw_rows``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from synthloop.errors import ConfigError
from synthloop.synthesizers import _trees
from synthloop.synthesizers._stored import ArrayCheck, CartMeta, check_names
from synthloop.synthesizers.base import Synthesizer
from synthloop.synthesizers.params import NON_NEGATIVE, POSITIVE_INT, SEED, Choices, Either, Interval, Items
from synthloop.synthesizers.seeds import SeedTree

# Candidate rows drawn per requested row when a condition sits after the first visited column.
_CANDIDATES_PER_ROW = 4
_MAX_CANDIDATES = 400_000
_LAST_COLUMN_ROUNDS = 4   # redraws of the last column for rows that copy a training row
_WHOLE_ROW_ROUNDS = 16   # then redraws of whole rows
# Fit-time calibration (``calibrate=True``): see "Calibrated to the table" in the module docstring.
_COPY_FOLDS = 5            # folds for the cross-fitted rate at which unseen rows equal training rows
_PROBE_ROWS = 2_000        # held-out rows of the training data the probe's samples are compared with
_PROBE_REFERENCE = 10_000  # most training rows the probe grows on
_FIRST_LEAF = 5            # smallest leaf a calibrated fit tries (synthpop's minbucket)
_FIXED_LEAF = 40           # leaf without calibration (chosen on Adult, issue 7)
_LEAF_GROWTH = 2           # each probe multiplies the leaf size by this
_LARGEST_LEAF_SHARE = 1 / 8
_COPY_FACTOR, _COPY_POINTS = 1.5, 0.002   # copies a probe may make: 1.5 × the held-out rate + 0.2 points ...
_REDRAW_SHARE = 0.05       # ... before copy avoidance, give or take this share of rows it would redraw
_SHARE_SLACK = 0.01        # probe accepts a DCR share up to 0.5 + this ...
_RATIO_FLOOR = 1.0         # ... and a median DCR ratio of at least this (where held-out median > 0)
_JITTER_STEPS = (2.0, 8.0, 32.0, 128.0)   # fresh-value spreads a probe tries, in local spacings of the column
_SPACING_RANKS = 5         # local spacing: mean gap between observed values within this many ranks
_TREND_FOLDS = 5           # folds of the cross-fitted gate of a leaf trend (``_trees.leaf_trend``) ...
_TREND_GAIN = 0.02         # ... kept where it lowers the held-out error of the leaf mean by this share


class SequentialCART(Synthesizer):
    """Sequential decision trees with donor sampling; values stay on the real support.

    Parameters
    ----------
    min_leaf
        Fewest training rows in a leaf (synthpop's ``minbucket``). Larger leaves mix donors from
        more rows, so synthetic rows are combinations rather than replicas of training rows. With
        ``calibrate`` the smallest leaf tried (default 5); without it the leaf (default 40).
    max_depth
        Depth limit of each tree (None: grow until ``min_leaf`` stops it).
    order
        Visiting order: ``"auto"`` (key-like categoricals with more than 256 labels first, then the
        target, then columns from fewest to most distinct values, so near-unique columns such as
        weights are never used to pick donors), ``"data"``
        (the table's order) or an explicit list of column names.
    smoothing
        Jitter for numeric values that are not point masses: a donor value moves to a nearby value
        *of the observed support* (by rank, with spread ``smoothing`` × the leaf's rank spread).
        0 disables it. Values that hold at least ``atom_share`` of a column are never moved.
    atom_share
        Share of rows at which a numeric value counts as a point mass (kept exactly).
    avoid_copies
        Redraw rows that would reproduce a training row exactly (first the last column's donor,
        then the whole row). With ``calibrate`` only the copies beyond the rate at which unseen real
        rows equal training rows are redrawn; without it, every copy.
    calibrate
        Fit the copy allowance and the leaf size to this table by cross-fitting on the training rows
        (``min_leaf`` is then the smallest leaf tried); see the module docstring.
    trend
        Give each numeric column's tree a within-leaf linear trend on the earlier numeric columns where
        cross-fitting shows it predicts, and move drawn donors along it to the row (module docstring).
    seed
        Seed for fitting and sampling.
    """

    name = "cart"
    meta_schema = CartMeta
    native_conditions = True
    param_constraints: ClassVar = {"min_leaf": POSITIVE_INT, "max_depth": POSITIVE_INT, "smoothing": NON_NEGATIVE,
                         "atom_share": Interval(0, 1), "seed": SEED,
                         "order": Either((Choices(("auto", "data")), Items()))}
    test_params: ClassVar = {"min_leaf": 3}

    def __init__(self, *, min_leaf: int | None = None, max_depth: int | None = None, order: str | Sequence[str] = "auto",
                 smoothing: float = 0.0, atom_share: float = 0.01, avoid_copies: bool = True,
                 calibrate: bool = True, trend: bool = True, seed: int | None = None):
        self.min_leaf = min_leaf
        self.max_depth = max_depth
        self.order = order
        self.smoothing = smoothing
        self.atom_share = atom_share
        self.avoid_copies = avoid_copies
        self.calibrate = calibrate
        self.trend = trend
        self.seed = seed

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {"min_leaf": trial.suggest_int("min_leaf", 5, 100, log=True)}

    # ------------------------------------------------------------------ fit
    def _fit(self, data: pd.DataFrame, seeds: SeedTree) -> None:
        rng = seeds.generator("model")
        self.order_ = self._visit_order(data, self.schema_.model_kinds())
        matrix = self._encode(data)
        self.fresh_share_ = np.zeros(len(self.order_))
        self.jitter_ = 0.0
        if self.calibrate:
            hashes = self._row_hashes(data)     # the shared row hash, as copy avoidance compares rows
            self.copy_allowance_ = heldout_copy_rate(hashes, rng)
            self.fresh_share_ = self._fresh_shares(matrix, rng)
            self.min_leaf_, self.jitter_ = self._calibrated_leaf(data, matrix, hashes, rng)
        else:
            self.copy_allowance_, self.min_leaf_ = 0.0, self._first_leaf()
        self.trees_ = self._grow(matrix, self.min_leaf_, rng)

    def _fresh_shares(self, matrix: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Per column, the cross-fitted share of unseen values that no training row holds (0 for categories).

        Counted over values that are not point masses (a value held by at least ``atom_share`` of the
        rows), since those are kept exactly. A continuous column scores near 1 (an unseen real value is
        new), an integer age or a coded count near 0 (it repeats a training value): only the first kind
        gets fresh values when sampling (:meth:`_draw_values`), at this rate.
        """
        kinds = self.schema_.model_kinds()
        shares = np.zeros(len(self.order_))
        fold = rng.permutation(len(matrix)) % _COPY_FOLDS
        for position, name in enumerate(self.order_):
            values = matrix[:, position]
            known = ~np.isnan(values)
            if kinds[name] != "numeric" or known.sum() < 2 * _COPY_FOLDS:
                continue
            distinct, counts = np.unique(values[known], return_counts=True)
            atoms = distinct[counts >= max(self.atom_share * len(values), 2)]
            fresh = []
            for k in range(_COPY_FOLDS):
                held = values[known & (fold == k)]
                held = held[~np.isin(held, atoms)]
                if len(held):
                    fresh.append(1.0 - np.isin(held, values[known & (fold != k)]).mean())
            shares[position] = float(np.mean(fresh)) if fresh else 0.0
        return shares

    def _rarest_target_class(self, matrix: np.ndarray) -> int:
        """Rows of the target's rarest class: leaves must stay small enough to split it off, or every
        later column loses its dependence on the target (utility collapses on imbalanced targets)."""
        target = self.schema_.target
        if target is None or target not in self.order_ or self.schema_.model_kinds()[target] != "categorical":
            return len(matrix)
        codes = matrix[:, self.order_.index(target)]
        counts = np.unique(np.where(np.isnan(codes), -1, codes), return_counts=True)[1]
        return int(counts.min())

    def _first_leaf(self) -> int:
        if self.min_leaf is not None:
            return int(self.min_leaf)
        return _FIRST_LEAF if self.calibrate else _FIXED_LEAF

    def _grow(self, matrix: np.ndarray, min_leaf: int, rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
        kinds = self.schema_.model_kinds()
        levels = [len(self.schema_[name].categories or ()) if kinds[name] == "categorical" else 0 for name in self.order_]
        trees = []
        with threadpool_limits(1):
            for position, name in enumerate(self.order_):
                seed = int(rng.integers(2**31))
                tree = _trees.fit_tree(matrix[:, :position], matrix[:, position], categorical=kinds[name] == "categorical",
                                       min_leaf=min_leaf, max_depth=self.max_depth, seed=seed, levels=levels[:position])
                if kinds[name] == "numeric":
                    tree.update(_trees.support_arrays(tree, self.atom_share))
                    if self.trend:
                        tree.update(_trees.leaf_trend(tree, matrix[:, :position], matrix[:, position],
                                                      numeric=[n == 0 for n in levels[:position]], seed=seed,
                                                      folds=_TREND_FOLDS, min_gain=_TREND_GAIN))
                trees.append(tree)
        return trees

    def _calibrated_leaf(self, data: pd.DataFrame, matrix: np.ndarray, hashes: np.ndarray,
                         rng: np.random.Generator) -> tuple[int, float]:
        """The smallest leaf (``min_leaf`` × 2^k) whose draws sit no closer to training rows than unseen rows do.

        Cross-fitting: a probe grows on part of the training rows (``reference``) and draws as many
        rows as are held out of it. The leaf passes when copy avoidance would have to redraw at most
        5% of those rows (copies beyond 1.5 × the held-out rows' own rate + 0.2 points) and the rows
        it returns are no closer to the reference than the held-out rows (DCR share and median, in
        the evaluation suite's encoding, ``MixedEncoding``). Bounding the redraws matters: redrawn
        copies also move rows away, but by distorting the joint distribution. The probe's leaf holds
        as many donors as the candidate (how mixed a draw is depends on the count, not the share).
        The probe holds its reference rows in memory as a fitted model holds its training rows, so its
        copy avoidance compares against them (``hashes``: the shared row hash of each training row).
        """
        from synthloop.metrics.encoding import MixedEncoding
        from synthloop.metrics.neighbours import nearest

        n_rows, leaf = len(matrix), self._first_leaf()
        largest = max(leaf, min(int(n_rows * _LARGEST_LEAF_SHARE), self._rarest_target_class(matrix) // 2))
        if n_rows < 4 * leaf:
            return leaf, 0.0
        shuffled = rng.permutation(n_rows)
        n_held = min(max(n_rows // 5, 1), _PROBE_ROWS)
        held, reference = shuffled[:n_held], np.sort(shuffled[n_held:][:_PROBE_REFERENCE])
        encoding = MixedEncoding.fit(data.iloc[reference], self.schema_.model_kinds())
        reference_points = encoding.dense(data.iloc[reference])
        held_dcr = nearest(encoding.dense(data.iloc[held]), reference_points)[0][:, 0]
        probe = self.clone().set_params(calibrate=False, trend=False)
        probe.schema_, probe.order_, probe.copy_allowance_ = self.schema_, self.order_, self.copy_allowance_
        probe.fresh_share_, probe.jitter_ = self.fresh_share_, 0.0
        probe._training_rows, probe._privacy_reference = data.iloc[reference], None
        reference_hashes = probe._training_hashes()
        copies_allowed = _COPY_FACTOR * np.isin(hashes[held], reference_hashes).mean() + _COPY_POINTS

        def passes() -> bool:
            drawn, leaves = probe._draw_rows(n_held, {}, rng)
            excess = probe._copies(probe._decode(drawn), reference_hashes).mean() - copies_allowed
            if self.avoid_copies:
                drawn = probe._replace_copies(drawn, leaves, {}, rng)
            synthetic_dcr = nearest(encoding.dense(probe._decode(drawn)), reference_points)[0][:, 0]
            return bool(excess <= _REDRAW_SHARE and at_parity(synthetic_dcr, held_dcr))

        def passes_at(candidate: int) -> bool:
            probe.trees_ = probe._grow(matrix[reference], candidate, rng)
            return passes()

        while True:                      # first mix donors: the smallest leaf that reaches parity
            if passes_at(leaf):
                return leaf, 0.0
            if leaf >= largest:
                break
            leaf = min(leaf * _LEAF_GROWTH, largest)
        if not self.fresh_share_.any():
            return leaf, 0.0
        for jitter in _JITTER_STEPS:     # then fresh values: the smallest spread that reaches parity
            probe.jitter_ = jitter
            if passes():
                return leaf, jitter
        return leaf, _JITTER_STEPS[-1]

    def _visit_order(self, data: pd.DataFrame, kinds: dict[str, str]) -> list[str]:
        names = list(kinds)
        if isinstance(self.order, str) and self.order == "data":
            return names
        if isinstance(self.order, str) and self.order == "auto":
            distinct = {name: data[name].nunique(dropna=False) for name in names}
            target = [self.schema_.target] if self.schema_.target in kinds else []
            keys = sorted((n for n in names if n not in target and kinds[n] == "categorical"
                           and distinct[n] > _trees.MAX_SPLIT_CLASSES), key=lambda n: (distinct[n], names.index(n)))
            rest = sorted((n for n in names if n not in target + keys), key=lambda n: (distinct[n], names.index(n)))
            return keys + target + rest
        given = [str(n) for n in self.order] if not isinstance(self.order, str) else []
        if sorted(given) != sorted(names):
            missing, extra = sorted(set(names) - set(given)), sorted(set(given) - set(names))
            raise ConfigError(f"cart order must be 'auto', 'data' or a list of every learned column once; "
                              f"missing {missing}, unknown {extra}.")
        return given

    def _encode(self, frame: pd.DataFrame) -> np.ndarray:
        """The model view as floats in visiting order: numerics as is, categoricals as codes, NaN missing."""
        kinds = self.schema_.model_kinds()
        columns = []
        for name in self.order_:
            if kinds[name] == "numeric":
                columns.append(frame[name].to_numpy(dtype="float64"))
            else:
                codes = pd.Categorical(frame[name], categories=list(self.schema_[name].categories or ())).codes
                columns.append(np.where(codes < 0, np.nan, codes).astype("float64"))
        return np.column_stack(columns) if columns else np.zeros((len(frame), 0))

    def _decode(self, matrix: np.ndarray) -> pd.DataFrame:
        kinds = self.schema_.model_kinds()
        out = {}
        for position, name in enumerate(self.order_):
            values = matrix[:, position]
            if kinds[name] == "numeric":
                out[name] = pd.Series(values, dtype="float64")
                continue
            labels = np.array([*(self.schema_[name].categories or ()), None], dtype=object)
            codes = np.where(np.isnan(values), len(labels) - 1, values).astype(int)
            out[name] = pd.Series(labels[codes], dtype=object)
        return pd.DataFrame({name: out[name] for name in kinds}, index=pd.RangeIndex(len(matrix)))

    # ------------------------------------------------------------------ sample
    def _sample(self, n_rows: int, conditions: pd.DataFrame | None, rng: np.random.Generator) -> pd.DataFrame:
        if conditions is not None and len(conditions.drop_duplicates()) > 1:   # one condition per call
            groups = pd.MultiIndex.from_frame(conditions.astype(object).fillna("\0nan")).factorize()[0]
            parts = [self._sample(int((groups == g).sum()), conditions[groups == g].reset_index(drop=True), rng)
                     .set_axis(np.flatnonzero(groups == g)) for g in np.unique(groups)]
            return pd.concat(parts).sort_index().reset_index(drop=True)
        fixed = self._encoded_conditions(conditions)
        matrix, leaves = self._draw_rows(n_rows, fixed, rng)
        if self.avoid_copies:
            matrix = self._replace_copies(matrix, leaves, fixed, rng)
        return self._decode(matrix)

    def _encoded_conditions(self, conditions: pd.DataFrame | None) -> dict[int, np.ndarray]:
        if conditions is None:
            return {}
        encoded = self._encode_partial(conditions)
        return {self.order_.index(name): encoded[name] for name in conditions.columns}

    def _encode_partial(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        kinds = self.schema_.model_kinds()
        out = {}
        for name in frame.columns:
            if kinds[name] == "numeric":
                out[name] = frame[name].to_numpy(dtype="float64")
            else:
                codes = pd.Categorical(frame[name], categories=list(self.schema_[name].categories or ())).codes
                out[name] = np.where(codes < 0, np.nan, codes).astype("float64")
        return out

    def _draw_rows(self, n_rows: int, fixed: dict[int, np.ndarray], rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Visit the columns in order; conditioned columns weight and resample the partial rows.

        A condition on column ``k`` is met by sampling-importance-resampling (Rubin 1988): partial
        rows are kept with probability proportional to the share of their leaf's donors that hold the
        wanted value, then the value is set. This draws the earlier columns from their distribution
        *given* the condition, and every returned row matches it exactly, without rejection. (A
        numeric value that no reached leaf holds is set as given, with the earlier columns unweighted.)
        """
        late = any(position > 0 for position in fixed)
        n_candidates = min(max(n_rows * _CANDIDATES_PER_ROW, n_rows), _MAX_CANDIDATES) if late else n_rows
        n_candidates = max(n_candidates, n_rows)
        matrix = np.full((n_candidates, len(self.order_)), np.nan)
        leaves = np.zeros((n_candidates, len(self.order_)), dtype=np.int64)
        wanted = {k: v[np.arange(n_candidates) % len(v)] for k, v in fixed.items()}
        for position, tree in enumerate(self.trees_):
            leaves[:, position] = _trees.walk(tree, matrix[:, :position])
            if position in wanted:
                keep = _trees.resample_by_donor_share(tree, leaves[:, position], wanted[position], rng)
                matrix, leaves = matrix[keep], leaves[keep]
                wanted = {k: v[keep] for k, v in wanted.items()}
                matrix[:, position] = wanted[position]
                continue
            matrix[:, position] = self._draw_values(position, leaves[:, position], matrix[:, :position], rng)
        return matrix[:n_rows], leaves[:n_rows]

    def _draw_values(self, position: int, leaves: np.ndarray, features: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
        """Donors from each row's leaf, moved along the leaf trend to the row (where the tree has one),
        then jittered or given fresh values as the fit chose; ``features``: the rows' earlier columns."""
        tree = self.trees_[position]
        values = _trees.follow_trend(tree, _trees.draw_donors(tree, leaves, rng), leaves, features)
        if self.smoothing > 0 and "support" in tree:
            values = _trees.jitter_on_support(tree, values, leaves, self.smoothing, rng)
        fresh = float(self.fresh_share_[position]) if len(self.fresh_share_) else 0.0
        if self.jitter_ > 0 and fresh > 0 and "support" in tree:
            values = _trees.fresh_values(tree, values, fresh, self.jitter_, _SPACING_RANKS, rng)
        return values

    def _replace_copies(self, matrix: np.ndarray, leaves: np.ndarray, fixed: dict[int, np.ndarray],
                        rng: np.random.Generator) -> np.ndarray:
        """Redraw rows equal to a training row beyond the allowance: the last free column first, then whole rows.

        Equality is the shared row hash (:mod:`synthloop.tabular.hashing`) against the training rows
        the base class holds: in memory after ``fit``, or the privacy reference of a model folder that
        kept it. A model loaded without them cannot tell copies (the folder holds no per-row hashes),
        so it samples without this redraw. The copies kept (``copy_allowance_`` of the rows) are chosen
        at random, so which rows repeat is not decided by the model's order.
        """
        training = self._training_hashes()
        free = [p for p in range(len(self.order_)) if p not in fixed]
        allowed = round(self.copy_allowance_ * len(matrix))
        rows = np.arange(len(matrix))
        for round_ in range(_LAST_COLUMN_ROUNDS + _WHOLE_ROW_ROUNDS):
            if training is None or len(rows) == 0 or not free:
                break
            copies = rows[self._copies(self._decode(matrix[rows]), training)]
            if round_ == 0 and allowed:     # keep the allowance; later rounds check only the rows redrawn
                if len(copies) <= allowed:
                    break
                copies = np.sort(rng.choice(copies, size=len(copies) - allowed, replace=False))
            rows = copies
            if len(copies) == 0:
                break
            if round_ < _LAST_COLUMN_ROUNDS:
                last = free[-1]
                matrix[copies, last] = self._draw_values(last, leaves[copies, last], matrix[copies, :last], rng)
            else:
                subset = {k: v[copies] if len(v) == len(matrix) else v for k, v in fixed.items()}
                matrix[copies], leaves[copies] = self._draw_rows(len(copies), subset, rng)
        return matrix

    # ------------------------------------------------------------------ persistence
    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {}
        for position, tree in enumerate(self.trees_):
            arrays.update({f"tree/{position}/{key}": value for key, value in tree.items()})
        return arrays, {"order": self.order_, "min_leaf": int(self.min_leaf_), "copy_allowance": self.copy_allowance_,
                        "fresh_share": [float(v) for v in self.fresh_share_], "jitter": float(self.jitter_)}

    def _check_state(self, check: ArrayCheck, meta: dict[str, Any]) -> None:
        check_names(check, meta["order"], self.schema_.model_kinds(), "stored column order")
        for position in range(len(meta["order"])):
            nodes = check.take(f"tree/{position}/left", "i", (None,))
            n_nodes = None if nodes is None else len(nodes)
            for key in ("right", "feature", "leaf_start", "leaf_count"):
                check.take(f"tree/{position}/{key}", "i", (n_nodes,))
            check.take(f"tree/{position}/threshold", "f", (n_nodes,), finite=False)   # NaN: split on missing
            check.take(f"tree/{position}/missing_left", "ub", (n_nodes,))
            pool = check.take(f"tree/{position}/pool", "f", (None,), finite=False)
            check.require(pool is None or len(pool) <= self.n_training_rows_,
                          f"tree/{position}/pool holds more donors than training rows")
            if f"tree/{position}/level_start" in check.arrays:        # categorical features split in level order
                check.take(f"tree/{position}/level_start", "i", (position,))
                check.take(f"tree/{position}/level_rank", "f", (None,))
            if f"tree/{position}/support" in check.arrays:            # numeric columns: the smoothing support
                support = check.take(f"tree/{position}/support", "f", (None,))
                check.take(f"tree/{position}/atom", "ub", (None if support is None else len(support),))
                check.take(f"tree/{position}/leaf_rank_spread", "f", (n_nodes,))
            if f"tree/{position}/trend_slope" in check.arrays:        # numeric columns: the leaf trend
                check.take(f"tree/{position}/trend_slope", "f", (position,))
                check.take(f"tree/{position}/trend_center", "f", (n_nodes, position))

    def from_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.order_ = [str(name) for name in meta["order"]]
        if sorted(self.order_) != sorted(self.schema_.model_kinds()):
            raise ValueError("stored column order does not match the schema")
        self.min_leaf_, self.copy_allowance_ = int(meta["min_leaf"]), float(meta["copy_allowance"])
        fresh = meta.get("fresh_share") or [0.0] * len(self.order_)
        if len(fresh) != len(self.order_):
            raise ValueError("stored fresh_share does not match the column order")
        self.fresh_share_, self.jitter_ = np.asarray(fresh, dtype=np.float64), float(meta.get("jitter", 0.0))
        self.trees_ = []
        for position in range(len(self.order_)):
            prefix = f"tree/{position}/"
            tree = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            integer_keys = ("left", "right", "feature", "leaf_start", "leaf_count")
            for key in (*integer_keys, *(("level_start",) if "level_start" in tree else ())):
                tree[key] = np.asarray(tree.get(key, ()), dtype=np.int64)
            _trees.check_tree(tree, n_features=position)
            self.trees_.append(tree)


def heldout_copy_rate(hashes: np.ndarray, rng: np.random.Generator, folds: int = _COPY_FOLDS) -> float:
    """Cross-fitted share of rows equal to a row of the other folds: how often unseen real rows repeat training rows.

    ``hashes``: one row hash per training row (:func:`synthloop.tabular.hashing.hash_rows`).
    """
    if len(hashes) < 2 * folds:
        return 0.0
    fold = rng.permutation(len(hashes)) % folds
    repeats = [np.isin(hashes[fold == k], hashes[fold != k]).mean() for k in range(folds)]
    return float(np.mean(repeats))


def at_parity(synthetic_dcr: np.ndarray, held_dcr: np.ndarray) -> bool:
    """Synthetic rows no closer to the training rows than held-out rows: DCR share and median ratio."""
    from synthloop.metrics.privacy import closer_share

    share = closer_share(synthetic_dcr, held_dcr)
    held_median = float(np.median(held_dcr))
    ratio_ok = held_median <= 0 or float(np.median(synthetic_dcr)) >= _RATIO_FLOOR * held_median
    return share <= 0.5 + _SHARE_SLACK and ratio_ok
