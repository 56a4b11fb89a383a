"""Privacy: how close synthetic rows sit to the training rows, compared with unseen real rows.

- ``dcr_share``: the chance that a synthetic row lies closer to its closest training record (DCR)
  than a holdout row does, i.e. P(DCR_synthetic < DCR_holdout) (0.5: no closer to the training
  data than new real data would be; a copy of the training data scores near 1).
- ``dcr_median`` and ``nndr_median``: median distance to the closest training row, and the nearest-
  neighbour distance ratio (closest / second closest; Lowe 2004, used for synthetic data by
  Zhao et al. 2021); the holdout's own values are the baseline.
- ``exact_copy_rate``: share of synthetic rows identical to a training row (the shared row hash of
  :mod:`synthloop.tabular.hashing`, so it agrees row by row with the ``no-copies`` privacy step).
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
from synthloop.metrics.intervals import auc_interval, mean_interval, median_interval
from synthloop.metrics.neighbours import nearest
from synthloop.metrics.registry import NotApplicable, Score, metric
from synthloop.schema import Schema
from synthloop.tabular.hashing import hash_rows

MAX_QUERY_ROWS = 2_000
MAX_TRAINING_ROWS = 50_000
MAX_ATTACK_ROWS = 1_000
_EPS = 1e-8


@dataclass(frozen=True)
class Distances:
    """Distances from (subsampled) synthetic rows, and holdout rows when given, to the training rows."""

    synthetic_to_train: np.ndarray            # (n_synthetic, 2): closest and second-closest training row
    holdout_to_train: np.ndarray | None       # (n_holdout, 2)
    notes: tuple[str, ...]
    synthetic_authentic: np.ndarray           # (n_synthetic,) bool, see ``authenticity``
    holdout_authentic: np.ndarray | None


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
    holdout_to_train = holdout_authentic = None
    if holdout is not None:
        held = encoding.dense(subsample(model_view(holdout, schema), MAX_QUERY_ROWS, rng))
        holdout_to_train = nearest(held, train, k=2)[0]
        holdout_authentic = _authentic(held, train)
        notes = (*notes, *subsample_note({"holdout": len(holdout)}, MAX_QUERY_ROWS))
    return Distances(nearest(rows, train, k=2)[0], holdout_to_train, notes, _authentic(rows, train), holdout_authentic)


def _authentic(rows: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Alaa et al. 2022: a row is authentic unless it is closer to its nearest training row than
    that training row is to its own nearest training neighbour."""
    to_train, closest = nearest(rows, train, k=2)
    partners = np.unique(closest[:, 0])
    partner_gap = np.zeros(len(train))
    partner_gap[partners] = nearest(train[partners], train, k=1, exclude_self=True)[0][:, 0]
    return to_train[:, 0] >= partner_gap[closest[:, 0]]


def _histogram(values: np.ndarray, label: str, upper: float) -> pd.DataFrame:
    edges = np.linspace(0.0, max(upper, _EPS), 31)
    counts, _ = np.histogram(np.clip(values, 0, edges[-1]), bins=edges)
    return pd.DataFrame({"from": label, "bin_low": edges[:-1], "bin_high": edges[1:], "share": counts / max(len(values), 1)})


def _nndr(pairs: np.ndarray) -> np.ndarray:
    closest, second = pairs[:, 0], pairs[:, -1]
    return np.where(closest <= _EPS, 0.0, closest / np.maximum(second, _EPS))


def closer_shares(synthetic_dcr: np.ndarray, holdout_dcr: np.ndarray) -> np.ndarray:
    """Per synthetic row: P(its DCR < a holdout row's DCR) + ½ P(tie), over the holdout rows."""
    holdout_dcr = np.sort(holdout_dcr)
    below = np.searchsorted(holdout_dcr, synthetic_dcr, side="left")
    not_above = np.searchsorted(holdout_dcr, synthetic_dcr, side="right")
    return (len(holdout_dcr) - not_above + 0.5 * (not_above - below)) / len(holdout_dcr)


def closer_share(synthetic_dcr: np.ndarray, holdout_dcr: np.ndarray) -> float:
    """P(a synthetic row's DCR < a holdout row's DCR) + ½ P(tie), over all pairs."""
    return float(closer_shares(synthetic_dcr, holdout_dcr).mean())


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
    synthetic_dcr, holdout_dcr = found.synthetic_to_train[:, 0], found.holdout_to_train[:, 0]
    per_row = closer_shares(synthetic_dcr, holdout_dcr)
    share = per_row.mean()
    upper = float(np.quantile(np.r_[synthetic_dcr, holdout_dcr], 0.99))
    details = pd.concat([_histogram(synthetic_dcr, "synthetic", upper), _histogram(holdout_dcr, "holdout", upper)],
                        ignore_index=True)
    return Score(float(share), details=details, baseline=0.5, notes=found.notes, interval=mean_interval(per_row))


@metric("dcr_median", family="privacy", goal="max", bounds=(0.0, float("inf")))
def dcr_median(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
               holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """Median distance from a synthetic row to its closest training row (baseline: holdout rows)."""
    found = distances(real, synthetic, schema, holdout=holdout, rng=rng)
    held = None if found.holdout_to_train is None else found.holdout_to_train[:, 0]
    return Score(float(np.median(found.synthetic_to_train[:, 0])), notes=found.notes,
                 baseline=None if held is None else float(np.median(held)),
                 interval=median_interval(found.synthetic_to_train[:, 0]),
                 baseline_interval=None if held is None else median_interval(held))


@metric("nndr_median", family="privacy", goal="max", bounds=(0.0, 1.0))
def nndr_median(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """Median ratio of closest to second-closest training-row distance (near 0: sits on one real row)."""
    found = distances(real, synthetic, schema, holdout=holdout, rng=rng)
    held = None if found.holdout_to_train is None else _nndr(found.holdout_to_train)
    return Score(float(np.median(_nndr(found.synthetic_to_train))), notes=found.notes,
                 baseline=None if held is None else float(np.median(held)),
                 interval=median_interval(_nndr(found.synthetic_to_train)),
                 baseline_interval=None if held is None else median_interval(held))


def _row_hashes(view: pd.DataFrame, schema: Schema) -> np.ndarray:
    """The shared row hash (the ``no-copies`` privacy step's): exact numbers, canonical labels."""
    kinds = schema.model_kinds()
    return hash_rows(view, [n for n, k in kinds.items() if k == "numeric"], [n for n, k in kinds.items() if k != "numeric"])


@metric("exact_copy_rate", family="privacy", goal="min", bounds=(0.0, 1.0))
def exact_copy_rate(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                    holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """Share of synthetic rows identical (all learned columns) to some training row."""
    schema = resolve_schema(real, schema)
    real_hashes = memo(("row_hashes", *frame_key(real, schema)), lambda: _row_hashes(model_view(real, schema), schema))
    copies = np.isin(_row_hashes(model_view(synthetic, schema), schema), real_hashes)
    return Score(float(copies.mean()), details=pd.DataFrame({"copies": [int(copies.sum())], "rows": [len(copies)]}),
                 interval=mean_interval(copies))


@metric("authenticity", family="privacy", goal="max", bounds=(0.0, 1.0))
def authenticity(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                 holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """Share of synthetic rows that are not closer to a training row than its own nearest neighbour is (Alaa 2022)."""
    found = distances(real, synthetic, schema, holdout=holdout, rng=rng)
    held = found.holdout_authentic
    return Score(float(found.synthetic_authentic.mean()), notes=found.notes,
                 baseline=None if held is None else float(held.mean()),
                 interval=mean_interval(found.synthetic_authentic),
                 baseline_interval=None if held is None else mean_interval(held))


@metric("membership_inference_auc", family="privacy", goal="min", bounds=(0.0, 1.0), uses_holdout=True)
def membership_inference_auc(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                             holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """AUC of a DOMIAS-style density-ratio attack telling training rows from unseen rows (0.5 = no leak)."""
    from sklearn.metrics import roc_auc_score

    if holdout is None or len(holdout) < 20:
        raise NotApplicable("needs a holdout of at least 20 real rows the synthesizer never saw")
    schema = resolve_schema(real, schema)
    rng = rng if rng is not None else np.random.default_rng(0)
    encoding = MixedEncoding.for_schema(real, schema)
    held = model_view(holdout, schema)
    order = rng.permutation(len(held))
    half = min(len(held) // 2, MAX_ATTACK_ROWS)
    reference = encoding.dense(held.iloc[order[:half]])
    non_members = encoding.dense(held.iloc[order[half: 2 * half]])
    members = encoding.dense(subsample(model_view(real, schema), half, rng))
    synthetic_rows = encoding.dense(subsample(model_view(synthetic, schema), MAX_TRAINING_ROWS, rng))
    candidates = np.vstack([members, non_members])
    is_member = np.r_[np.ones(len(members)), np.zeros(len(non_members))]
    # log p_synthetic(x) - log p_reference(x) with 1-NN density estimates, up to the dimension factor.
    attack_score = (np.log(nearest(candidates, reference, k=1)[0][:, 0] + _EPS)
                    - np.log(nearest(candidates, synthetic_rows, k=1)[0][:, 0] + _EPS))
    auc = float(roc_auc_score(is_member, attack_score))
    interval = auc_interval(is_member, attack_score)
    notes = (f"attack on {len(members):,} training and {len(non_members):,} holdout rows; reference density from "
             f"{len(reference):,} other holdout rows",)
    # Unseen rows against unseen rows score 0.5 by construction: that is the reference, not a noisy
    # re-run of the attack on two halves of the holdout.
    return Score(auc, baseline=0.5, baseline_interval=(0.5, 0.5), notes=notes, interval=interval)


@metric("attribute_inference_risk", family="privacy", goal="min", bounds=(0.0, 1.0), uses_holdout=True)
def attribute_inference_risk(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None, *,
                             holdout: pd.DataFrame | None = None, rng: np.random.Generator | None = None) -> Score:
    """Worst excess success, over sensitive columns, of guessing the column from the nearest synthetic row."""
    schema = resolve_schema(real, schema)
    sensitive = [c.name for c in schema.sensitive() if c.name in schema.model_kinds()]
    if not sensitive:
        raise NotApplicable("no column is marked sensitive in the schema")
    if holdout is None:
        raise NotApplicable("needs a holdout of real rows the synthesizer never saw (the attack's control group)")
    rng = rng if rng is not None else np.random.default_rng(0)
    n_targets = min(len(real), len(holdout), MAX_ATTACK_ROWS)
    targets = {"training": subsample(model_view(real, schema), n_targets, rng),
               "holdout": subsample(model_view(holdout, schema), n_targets, rng)}
    synthetic_view = subsample(model_view(synthetic, schema), MAX_TRAINING_ROWS, rng)
    rows = [_attack_column(name, real, schema, targets, synthetic_view) for name in sensitive]
    details = pd.DataFrame(rows)
    return Score(float(details["risk"].max()), details=details)


def _attack_column(name: str, real: pd.DataFrame, schema: Schema, targets: dict[str, pd.DataFrame],
                   synthetic_view: pd.DataFrame) -> dict[str, object]:
    full = MixedEncoding.for_schema(real, schema)
    known = full.without(name)
    synthetic_known = known.dense(synthetic_view)
    guesses_right = {}
    for group, frame in targets.items():
        _, closest = nearest(known.dense(frame), synthetic_known, k=1)
        guess, truth = synthetic_view[name].to_numpy()[closest[:, 0]], frame[name].to_numpy()
        if full.kinds[name] == "numeric":
            tolerance = 0.05 * full.stds[name]
            right = np.abs(guess.astype("float64") - truth.astype("float64")) <= tolerance
        else:
            right = pd.Series(guess).astype(str).to_numpy() == pd.Series(truth).astype(str).to_numpy()
        guesses_right[group] = float(np.mean(right))
    control = guesses_right["holdout"]
    risk = (guesses_right["training"] - control) / max(1.0 - control, 1e-9)
    return {"column": name, "success_training": guesses_right["training"], "success_holdout": control,
            "risk": float(np.clip(risk, 0.0, 1.0))}
