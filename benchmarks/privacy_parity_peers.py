"""Peer side of ``privacy_parity.py``: runs INSIDE a peer's own venv (never imports synthloop).

    python privacy_parity_peers.py datasets OUT_DIR                 # abalone (scikit-lego), wage (ISLP) as CSV
    python privacy_parity_peers.py synthpop TRAIN.csv OUT.csv SEED   # synthpop-py CART (EUPL, benchmark venv only)
    python privacy_parity_peers.py mostlyai TRAIN.csv OUT.csv SEED   # mostlyai-engine, default TABULAR model

Prints one JSON line ``{"fit_s": ..., "sample_s": ...}`` for the model runs. Columns that the parent
marked categorical come in as strings and go back as strings.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def write_datasets(out_dir: str) -> None:
    from ISLP import load_data
    from sklego.datasets import load_abalone

    out = Path(out_dir)
    load_abalone(as_frame=True).to_csv(out / "abalone.csv", index=False)
    wage = load_data("Wage").drop(columns=["logwage"])  # log(wage) would hand the regression target over
    wage.to_csv(out / "islp_wage.csv", index=False)


def run_synthpop(train: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, float, float]:
    from synthpop import Synthesiser

    start = time.perf_counter()
    synthesiser = Synthesiser(random_seed=seed).fit(train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    synthetic = synthesiser.generate(len(train))
    return synthetic, fit_s, time.perf_counter() - start


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
    if argv[0] == "datasets":
        write_datasets(argv[1])
        return
    kind, train_path, out_path, seed = argv[0], argv[1], argv[2], int(argv[3])
    train = pd.read_csv(train_path)
    categorical = json.loads(Path(train_path).with_suffix(".categorical.json").read_text())
    train[categorical] = train[categorical].astype(object).where(train[categorical].notna(), None)
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
