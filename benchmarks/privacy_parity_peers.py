"""Peer side of ``privacy_parity.py``: runs INSIDE a peer's own venv (never imports synthloop).

    python privacy_parity_peers.py synthpop TRAIN.csv OUT.csv SEED   # synthpop-py CART (EUPL, benchmark venv only)
    python privacy_parity_peers.py mostlyai TRAIN.csv OUT.csv SEED   # mostlyai-engine, default TABULAR model

Prints one JSON line ``{"fit_s": ..., "sample_s": ...}``. Columns that the parent marked categorical
(in ``TRAIN.columns.json``) come in as strings and go back as strings; datetime columns come in as
datetimes and go back as ISO text.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def run_synthpop(train: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, float, float]:
    from synthpop import Synthesiser

    stamps = [name for name in train.columns if pd.api.types.is_datetime64_any_dtype(train[name])]
    day = 86_400 * 10**9   # whole days since the epoch: exact in float32, which synthpop-py passes values through
    train = train.assign(**{name: train[name].astype("datetime64[ns]").astype("int64") // day for name in stamps})
    start = time.perf_counter()
    synthesiser = Synthesiser(random_seed=seed).fit(train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    synthetic = synthesiser.generate(len(train))
    sample_s = time.perf_counter() - start
    for name in stamps:   # back to the day they stand for
        synthetic[name] = pd.to_datetime(pd.to_numeric(synthetic[name], errors="coerce").round(), unit="D")
    return synthetic, fit_s, sample_s


def run_mostlyai(train: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, float, float]:
    import torch
    from mostlyai import engine

    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory() as workspace:
        start = time.perf_counter()
        engine.split(tgt_data=train, model_type="TABULAR", workspace_dir=workspace)
        engine.analyze(workspace_dir=workspace)
        engine.encode(workspace_dir=workspace)
        engine.train(workspace_dir=workspace)                # defaults: up to 100 epochs, early stopping
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        engine.generate(sample_size=len(train), workspace_dir=workspace)
        synthetic = pd.read_parquet(Path(workspace) / "SyntheticData")
        return synthetic, fit_s, time.perf_counter() - start


def snap_to_training(values: pd.Series, training: pd.Series) -> np.ndarray:
    """Each value replaced by the training value it rounds from (within float32 precision), if any."""
    support = np.unique(training.dropna().to_numpy(dtype="float64"))
    numbers = values.to_numpy(dtype="float64")
    if len(support) < 2:
        return numbers
    right = np.clip(np.searchsorted(support, numbers), 1, len(support) - 1)
    below, above = support[right - 1], support[right]
    nearest = np.where(np.abs(numbers - below) <= np.abs(above - numbers), below, above)
    close = np.abs(nearest - numbers) <= 1e-6 * np.maximum(np.abs(numbers), 1e-12)
    return np.where(close, nearest, numbers)


def main(argv: list[str]) -> None:
    kind, train_path, out_path, seed = argv[0], argv[1], argv[2], int(argv[3])
    train = pd.read_csv(train_path)
    kinds = json.loads(Path(train_path).with_suffix(".columns.json").read_text())
    categorical = kinds["categorical"]
    train[categorical] = train[categorical].astype(object).where(train[categorical].notna(), None)
    for name in kinds["datetime"]:
        train[name] = pd.to_datetime(train[name])
    runner = {"synthpop": run_synthpop, "mostlyai": run_mostlyai}[kind]
    synthetic, fit_s, sample_s = runner(train, seed)
    synthetic = synthetic[train.columns].copy()
    for name in synthetic.columns:  # synthpop-py passes values through float32: 0.13 comes back as
        if pd.api.types.is_float_dtype(train[name].dtype):  # 0.12999999523162842, which a detector spots at once
            synthetic[name] = snap_to_training(pd.to_numeric(synthetic[name], errors="coerce"), train[name])
    synthetic.to_csv(out_path, index=False)
    print(json.dumps({"fit_s": fit_s, "sample_s": sample_s}))


if __name__ == "__main__":
    main(sys.argv[1:])
