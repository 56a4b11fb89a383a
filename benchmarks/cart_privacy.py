"""Privacy and fidelity of synthloop's cheap models on Adult, judged against the real held-out split.

For each configuration: fit and sample seconds, exact-copy rate (synthetic rows equal to a training
row) next to the held-out rate, DCR ratio (median distance synthetic→train over median distance
holdout→train on a normalised encoding: numerics by their training ECDF, categoricals one-hot
scaled so a mismatch costs 1), detection AUC (HistGradientBoosting, real held-out vs synthetic,
5-fold, 5k + 5k rows), TSTR AUC on ``income`` next to train-real-test-real, and mean marginal
fidelity (1 - KS for numerics, 1 - TVD for categoricals) against the held-out split.

    PYTHONPATH=src python benchmarks/cart_privacy.py                       # the default sweep
    PYTHONPATH=src python benchmarks/cart_privacy.py cart:min_leaf=5,avoid_copies=False cart

The machine may be shared with other jobs while this runs; timings are wall-clock.
"""

from __future__ import annotations

import inspect
import sys
import time

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

import synthloop as sl

DEFAULT_RUNS = ["independent", "gaussian_copula", "cart:min_leaf=5,avoid_copies=False", "cart"]
N_DETECTION = 5000
N_DCR = 4000
# Measure each model itself: switch off a base-class privacy filter where the library has one.
RAW = {"privacy": "off"} if "privacy" in inspect.signature(sl.synthesizers.Synthesizer.sample).parameters else {}


def parse_run(text: str) -> tuple[str, dict[str, object]]:
    name, _, rest = text.partition(":")
    params: dict[str, object] = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        params[key] = {"True": True, "False": False, "None": None}.get(value, _number(value))
    return name, params


def _number(value: str) -> object:
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value


def row_keys(frame: pd.DataFrame) -> pd.Series:
    """A 64-bit hash per row over every column, independent of integer vs float dtypes."""
    canonical = {name: (values.astype("float64") if pd.api.types.is_numeric_dtype(values.dtype)
                        else values.astype(object).where(values.notna(), "<NA>").astype(str))
                 for name, values in frame.items()}
    return pd.util.hash_pandas_object(pd.DataFrame(canonical), index=False)


def copy_rate(rows: pd.DataFrame, train_keys: pd.Series) -> float:
    return float(np.isin(row_keys(rows).to_numpy(), train_keys.to_numpy()).mean())


class Encoder:
    """Numerics → training ECDF in [0, 1] (missing → -0.5); categoricals → one-hot / √2."""

    def __init__(self, train: pd.DataFrame, schema: sl.Schema):
        self.numeric = {c.name: np.sort(train[c.name].dropna().to_numpy(float)) for c in schema.numeric()}
        self.categories = {c.name: list(c.categories or ()) for c in schema.categorical()}

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        parts = []
        for name, sorted_values in self.numeric.items():
            values = frame[name].to_numpy(float)
            ecdf = np.searchsorted(sorted_values, values, side="right") / len(sorted_values)
            parts.append(np.where(np.isnan(values), -0.5, ecdf)[:, None])
        for name, categories in self.categories.items():
            codes = pd.Categorical(frame[name].astype(object), categories=categories).codes
            onehot = np.zeros((len(frame), len(categories) + 1))
            onehot[np.arange(len(frame)), np.where(codes < 0, len(categories), codes)] = 1 / np.sqrt(2)
            parts.append(onehot)
        return np.hstack(parts)


def dcr_ratio(train_encoded: np.ndarray, encode: Encoder, synthetic: pd.DataFrame, holdout: pd.DataFrame) -> float:
    neighbours = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(train_encoded)
    synthetic_distance = neighbours.kneighbors(encode(synthetic.iloc[:N_DCR]))[0][:, 0]
    holdout_distance = neighbours.kneighbors(encode(holdout.iloc[:N_DCR]))[0][:, 0]
    return float(np.median(synthetic_distance) / np.median(holdout_distance))


def as_features(frame: pd.DataFrame, schema: sl.Schema) -> pd.DataFrame:
    out = {}
    for column in schema.columns:
        if column.kind == "numeric":
            out[column.name] = frame[column.name].astype(float)
        else:
            out[column.name] = pd.Categorical(frame[column.name].astype(object), categories=list(column.categories))
    return pd.DataFrame(out)


def detection_auc(holdout: pd.DataFrame, synthetic: pd.DataFrame, schema: sl.Schema, seed: int = 0) -> float:
    real = holdout.sample(N_DETECTION, random_state=seed)
    fake = synthetic.sample(N_DETECTION, random_state=seed)
    features = as_features(pd.concat([real, fake], ignore_index=True), schema)
    labels = np.r_[np.zeros(len(real)), np.ones(len(fake))]
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
    return float(cross_val_score(model, features, labels, cv=5, scoring="roc_auc").mean())


def utility_auc(train: pd.DataFrame, test: pd.DataFrame, schema: sl.Schema, target: str = "income") -> float:
    columns = [c for c in schema.columns if c.name != target]
    features = sl.Schema(tuple(columns))
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    model.fit(as_features(train, features), train[target] == ">50K")
    return float(roc_auc_score(test[target] == ">50K", model.predict_proba(as_features(test, features))[:, 1]))


def marginal_fidelity(test: pd.DataFrame, synthetic: pd.DataFrame, schema: sl.Schema) -> float:
    scores = []
    for column in schema.columns:
        if column.kind == "numeric":
            scores.append(1 - ks_2samp(test[column.name].dropna(), synthetic[column.name].dropna()).statistic)
        else:
            real = test[column.name].astype(object).fillna("<NA>").value_counts(normalize=True)
            fake = synthetic[column.name].astype(object).fillna("<NA>").value_counts(normalize=True)
            scores.append(1 - 0.5 * real.sub(fake, fill_value=0).abs().sum())
    return float(np.mean(scores))


def main(runs: list[str]) -> None:
    train = sl.datasets.load("adult", split="train")
    test = sl.datasets.load("adult", split="test")
    schema = sl.Schema.infer(train, target="income")
    train_keys = row_keys(train)
    encode = Encoder(train, schema)
    train_encoded = encode(train)
    shuffled_test = test.sample(frac=1.0, random_state=1).reset_index(drop=True)
    print(f"held-out: exact-copy rate {copy_rate(test, train_keys):.4%}, "
          f"detection AUC (train vs held-out) {detection_auc(test, train, schema):.3f}, "
          f"TRTR AUC {utility_auc(train, test, schema):.4f}, fidelity {marginal_fidelity(test, train, schema):.4f}")
    header = f"{'run':45s} {'fit s':>6s} {'samp s':>6s} {'copies':>7s} {'DCR':>5s} {'detect':>6s} {'TSTR':>6s} {'fidel':>6s}"
    print(header)
    for run in runs:
        name, params = parse_run(run)
        started = time.perf_counter()
        model = sl.synthesizers.get(name, **{"seed": 0, **params}).fit(train, schema)
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        synthetic = model.sample(len(train), seed=1, **RAW)
        sample_seconds = time.perf_counter() - started
        print(f"{run:45s} {fit_seconds:6.2f} {sample_seconds:6.2f} {copy_rate(synthetic, train_keys):7.3%} "
              f"{dcr_ratio(train_encoded, encode, synthetic, shuffled_test):5.3f} "
              f"{detection_auc(test, synthetic, schema):6.3f} {utility_auc(synthetic, test, schema):6.4f} "
              f"{marginal_fidelity(test, synthetic, schema):6.4f}", flush=True)


if __name__ == "__main__":
    with threadpool_limits(1):  # the machine is shared; OpenMP oversubscription is far slower
        main(sys.argv[1:] or DEFAULT_RUNS)
