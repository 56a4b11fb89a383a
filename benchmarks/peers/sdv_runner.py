"""Time SDV 2.0's CTGAN or TVAE on one training table; print one JSON line, write the samples.

Run with the peer venv's python (never synthloop's; this file does not import synthloop):

    /work/benchenv/sdv/bin/python benchmarks/peers/sdv_runner.py --model ctgan --epochs 5 \
        --batch-size 500 --train adult_train.parquet --n-rows 39073 --out sdv_ctgan.parquet

What is measured (one fit, no repeated work; seconds from ``time.perf_counter``):

- ``metadata_seconds``: ``Metadata.detect_from_dataframes`` (SDV's type detection).
- ``fixed_seconds``: metadata detection plus everything ``synthesizer.fit`` does before its first
  epoch starts: SDV's ``preprocess`` (RDT HyperTransformer fit + transform, in ``preprocess_seconds``)
  and the ctgan package's ``DataTransformer`` fit + transform (a Bayesian Gaussian mixture per numeric
  column and one-hot encoders, in ``model_transformer_seconds``), plus building the networks.
  The end of the fixed cost is taken when the model's epoch loop asks for its first epoch: the
  ``tqdm`` that ctgan wraps around ``range(epochs)`` is replaced by a clock that records a timestamp
  as each epoch starts and when the loop ends.
- ``epoch_seconds`` (per epoch) and ``seconds_per_epoch`` (their mean): the training loop only.
- ``fit_seconds``: the whole ``synthesizer.fit`` call (excludes metadata detection).
- ``sample_seconds``: ``synthesizer.sample(n_rows)``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import ClassVar


class EpochClock:
    """Stands in for ``tqdm(range(epochs))`` in ctgan's fit loops and records when each epoch starts."""

    instances: ClassVar[list[EpochClock]] = []

    def __init__(self, iterable, *args, **kwargs):
        self.iterable = iterable
        self.loop_start: float | None = None
        self.epoch_starts: list[float] = []
        self.loop_end: float | None = None
        EpochClock.instances.append(self)

    def __iter__(self):
        self.loop_start = time.perf_counter()
        for item in self.iterable:
            self.epoch_starts.append(time.perf_counter())
            self._report()
            yield item
        self.loop_end = time.perf_counter()
        self._report()

    def _report(self) -> None:
        """Progress on stderr (stdout carries only the result line)."""
        now = time.perf_counter()
        previous = self.epoch_starts[-2] if len(self.epoch_starts) > 1 and self.loop_end is None else None
        if self.loop_end is not None and self.epoch_starts:
            previous = self.epoch_starts[-1]
        if previous is not None:
            print(f"epoch done in {now - previous:.1f}s", file=sys.stderr, flush=True)

    def set_description(self, *args, **kwargs) -> None:
        """ctgan calls this when verbose; nothing to show here."""


def _timed(owner, name: str, bucket: dict[str, float]) -> None:
    """Wrap ``owner.name`` so the seconds spent in it add up under ``bucket[name]``."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            bucket[name] = bucket.get(name, 0.0) + time.perf_counter() - start

    setattr(owner, name, wrapper)


def _read_table(path: Path):
    import pandas as pd

    if path.suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return pd.read_csv(path)


def _write_table(frame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if path.suffix in (".parquet", ".pq"):
        frame.to_parquet(tmp, index=False)
    else:
        frame.to_csv(tmp, index=False)
    tmp.replace(path)


def run(model: str, epochs: int, batch_size: int, train: Path, n_rows: int, out: Path, seed: int,
        threads: int | None) -> dict:
    import numpy as np
    import torch
    from ctgan.data_transformer import DataTransformer
    from ctgan.synthesizers import ctgan as ctgan_module
    from ctgan.synthesizers import tvae as tvae_module
    from sdv import __version__ as sdv_version
    from sdv.metadata import Metadata
    from sdv.single_table import CTGANSynthesizer, TVAESynthesizer

    if threads:
        torch.set_num_threads(threads)
    np.random.seed(seed)
    torch.manual_seed(seed)
    ctgan_module.tqdm = EpochClock
    tvae_module.tqdm = EpochClock
    inner: dict[str, float] = {}
    _timed(DataTransformer, "fit", inner)
    _timed(DataTransformer, "transform", inner)

    data = _read_table(train)
    start = time.perf_counter()
    metadata = Metadata.detect_from_dataframes({"table": data})
    metadata_seconds = time.perf_counter() - start

    synthesizer_type = {"ctgan": CTGANSynthesizer, "tvae": TVAESynthesizer}[model]
    synthesizer = synthesizer_type(metadata, epochs=epochs, batch_size=batch_size, enable_gpu=False)
    _timed(synthesizer, "preprocess", inner)
    fit_start = time.perf_counter()
    synthesizer.fit({"table": data})
    fit_end = time.perf_counter()
    transformer_seconds = inner.pop("transform", 0.0)   # fit + transform of ctgan's DataTransformer
    transformer_seconds += inner.pop("fit", 0.0)
    preprocess_seconds = inner.pop("preprocess", 0.0)

    (clock,) = EpochClock.instances
    boundaries = [*clock.epoch_starts, clock.loop_end]
    epoch_seconds = [b - a for a, b in itertools.pairwise(boundaries)]

    sample_start = time.perf_counter()
    synthetic = synthesizer.sample(n_rows)
    if isinstance(synthetic, dict):   # SDV 2 may return {table name: frame}
        (synthetic,) = synthetic.values()
    sample_seconds = time.perf_counter() - sample_start
    _write_table(synthetic, out)
    return {
        "tool": "sdv", "sdv_version": sdv_version, "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(), "model": model, "epochs": epochs, "batch_size": batch_size,
        "train_rows": len(data), "train_columns": data.shape[1], "seed": seed,
        "metadata_seconds": round(metadata_seconds, 3),
        "preprocess_seconds": round(preprocess_seconds, 3),
        "model_transformer_seconds": round(transformer_seconds, 3),
        "fixed_seconds": round(metadata_seconds + clock.loop_start - fit_start, 3),
        "epoch_seconds": [round(s, 3) for s in epoch_seconds],
        "seconds_per_epoch": round(sum(epoch_seconds) / len(epoch_seconds), 3) if epoch_seconds else None,
        "fit_seconds": round(fit_end - fit_start, 3),
        "sample_seconds": round(sample_seconds, 3),
        "n_rows": n_rows, "out": str(out),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["ctgan", "tvae"], required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--train", type=Path, required=True, help="training table (.csv or .parquet)")
    parser.add_argument("--n-rows", type=int, required=True, help="rows to sample after fitting")
    parser.add_argument("--out", type=Path, required=True, help="where to write the samples (.csv or .parquet)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch and BLAS threads (default: the libraries' own choice)")
    args = parser.parse_args()
    if args.threads:
        # Before numpy/torch load: BLAS (used by the Gaussian mixtures) gets the same thread budget.
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[variable] = str(args.threads)
    if args.model == "ctgan" and args.batch_size % 10:
        parser.error("--batch-size must be a multiple of 10 for CTGAN (PacGAN packs 10 rows per critic input)")
    # Anything the libraries print goes to stderr, so stdout holds exactly one JSON line.
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("ignore")
        result = run(args.model, args.epochs, args.batch_size, args.train, args.n_rows, args.out,
                     args.seed, args.threads)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
