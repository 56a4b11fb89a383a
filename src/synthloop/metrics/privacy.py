"""Privacy: how close synthetic rows sit to the training rows, compared with unseen real rows.

- ``dcr_share``: the chance that a synthetic row lies closer to its closest training record (DCR)
  than a holdout row does, i.e. P(DCR_synthetic < DCR_holdout) (0.5: no closer to the training
  data than new real data would be; a copy of the training data scores near 1).
- ``dcr_median`` and ``nndr_median``: median distance to the closest training row, and the nearest-
  neighbour distance ratio (closest / second closest; Lowe 2004, used for synthetic data by
  Zhao et al. 2021); the holdout's own values are the baseline.
- ``exact_copy_rate``: share of synthetic rows identical to a training row.
- ``membership_inference_auc``: DOMIAS (van Breugel et al., AISTATS 2023): a row is called a member
  when the synthetic density at it exceeds the population density; densities are estimated with
  nearest-neighbour distances (log d(x, reference) − log d(x, synthetic)). Members are training rows,
  non-members and the reference are the two halves of the holdout. AUC 0.5: no leak.
- ``attribute_inference_risk``: an attacker who knows every other column guesses each sensitive
  column from its nearest synthetic row; risk = (success on training rows − success on holdout rows)
  / (1 − success on holdout rows), as in Anonymeter (Giomi et al., PoPETs 2023).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthloop.metrics.cache import frame_key, memo, rng_key
from synthloop.metrics.encoding import MixedEncoding, model_view, resolve_schema, subsample, subsample_note
from synthloop.metrics.neighbours import nearest
from synthloop.metrics.registry import NotApplicable, Score, metric
from synthloop.schema import Schema

MAX_QUERY_ROWS = 3_000
MAX_TRAINING_ROWS = 50_000
MAX_ATTACK_ROWS = 2_000
_EPS = 1e-8


@dataclass(frozen=True)
class Distances:
    """Distances from (subsampled) synthetic rows, and holdout rows when given, to the training rows."""

    synthetic_to_train: np.ndarray            # (n_synthetic, 2): closest and second-closest training row
    holdout_to_train: np.ndarray | None       # (n_holdout, 2)
    notes: tuple[str, ...]


def distances(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
              holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Distances:
    """Closest-record distances on the shared dense encoding (cached inside ``evaluate``).

    Every training row is a candidate (up to ``MAX_TRAINING_ROWS``), so a copied row is always found.
    """
    schema = resolve_schema(real, schema)
    key = ("dcr", *frame_key(real, synthetic, holdout, schema), rng_key(rng))
    rng = rng if rng is not None else np.random.default_rng(0)
    return memo(key, lambda: _distances(real, synthetic, schema, holdout, rng))


def _distances(real, synthetic, schema: Schema, holdout, rng: np.random.Generator) -> Distances:
    encoding = MixedEncoding.for_schema(real, schema)
    train = encoding.dense(subsample(model_view(real, schema), MAX_TRAINING_ROWS, rng))
    rows = encoding.dense(subsample(model_view(synthetic, schema), MAX_QUERY_ROWS, rng))
    notes = (*subsample_note({"training": len(real)}, MAX_TRAINING_ROWS),
             *subsample_note({"synthetic": len(synthetic)}, MAX_QUERY_ROWS))
    holdout_to_train = None
    if holdout is not None:
        held = encoding.dense(subsample(model_view(holdout, schema), MAX_QUERY_ROWS, rng))
        holdout_to_train = nearest(held, train, k=2)[0]
        notes = (*notes, *subsample_note({"holdout": len(holdout)}, MAX_QUERY_ROWS))
    return Distances(nearest(rows, train, k=2)[0], holdout_to_train, notes)


def _histogram(values: np.ndarray, label: str, upper: float) -> pd.DataFrame:
    edges = np.linspace(0.0, max(upper, _EPS), 31)
    counts, _ = np.histogram(np.clip(values, 0, edges[-1]), bins=edges)
    return pd.DataFrame({"from": label, "bin_low": edges[:-1], "bin_high": edges[1:], "share": counts / max(len(values), 1)})


def _nndr(pairs: np.ndarray) -> np.ndarray:
    closest, second = pairs[:, 0], pairs[:, -1]
    return np.where(closest <= _EPS, 0.0, closest / np.maximum(second, _EPS))


@metric("dcr_share", family="privacy", goal="min", bounds=(0.0, 1.0), uses_holdout=True)
def dcr_share(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
              holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """Chance a synthetic row is closer to the training data than a holdout row is (0.5 = like new data).

    P(DCR_synthetic < DCR_holdout) + ½ P(tie), both distances to the same training rows; the
    details hold both DCR histograms.
    """
    if holdout is None:
        raise NotApplicable("needs a holdout of real rows the synthesizer never saw")
    found = distances(real, synthetic, schema, holdout=holdout, rng=rng)
    synthetic_dcr, holdout_dcr = found.synthetic_to_train[:, 0], np.sort(found.holdout_to_train[:, 0])
    below = np.searchsorted(holdout_dcr, synthetic_dcr, side="left")
    not_above = np.searchsorted(holdout_dcr, synthetic_dcr, side="right")
    share = np.mean(len(holdout_dcr) - not_above + 0.5 * (not_above - below)) / len(holdout_dcr)
    upper = float(np.quantile(np.r_[synthetic_dcr, holdout_dcr], 0.99))
    details = pd.concat([_histogram(synthetic_dcr, "synthetic", upper), _histogram(holdout_dcr, "holdout", upper)],
                        ignore_index=True)
    return Score(float(share), details=details, baseline=0.5, notes=found.notes)


@metric("dcr_median", family="privacy", goal="max", bounds=(0.0, float("inf")))
def dcr_median(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
               holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """Median distance from a synthetic row to its closest training row (baseline: holdout rows)."""
    found = distances(real, synthetic, schema, holdout=holdout, rng=rng)
    baseline = None if found.holdout_to_train is None else float(np.median(found.holdout_to_train[:, 0]))
    return Score(float(np.median(found.synthetic_to_train[:, 0])), baseline=baseline, notes=found.notes)


@metric("nndr_median", family="privacy", goal="max", bounds=(0.0, 1.0))
def nndr_median(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """Median ratio of closest to second-closest training-row distance (near 0: sits on one real row)."""
    found = distances(real, synthetic, schema, holdout=holdout, rng=rng)
    baseline = None if found.holdout_to_train is None else float(np.median(_nndr(found.holdout_to_train)))
    return Score(float(np.median(_nndr(found.synthetic_to_train))), baseline=baseline, notes=found.notes)


def _row_hashes(view: pd.DataFrame) -> np.ndarray:
    rounded = view.copy()
    for name in rounded.columns:
        if rounded[name].dtype.kind == "f":
            rounded[name] = rounded[name].round(6)
    return pd.util.hash_pandas_object(rounded.astype(object).where(rounded.notna(), None), index=False).to_numpy()


@metric("exact_copy_rate", family="privacy", goal="min", bounds=(0.0, 1.0))
def exact_copy_rate(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                    holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """Share of synthetic rows identical (all learned columns) to some training row."""
    schema = resolve_schema(real, schema)
    real_hashes = memo(("row_hashes", *frame_key(real, schema)), lambda: _row_hashes(model_view(real, schema)))
    copies = np.isin(_row_hashes(model_view(synthetic, schema)), real_hashes)
    return Score(float(copies.mean()), details=pd.DataFrame({"copies": [int(copies.sum())], "rows": [len(copies)]}))
