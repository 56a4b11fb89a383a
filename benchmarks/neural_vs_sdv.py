"""synthloop's ctgan/tvae/tabddpm against SDV 2.0's CTGAN/TVAE on Adult, side by side in one run.

For each model: fixed cost before the first epoch (schema + encoder fit + transform for synthloop;
metadata + preprocessing + transformer for SDV), seconds per epoch, total fit time, sampling time,
quality on Adult's held-out test split (detection AUC of synthetic vs held-out real rows, and
train-synthetic-test-real AUC on ``income``, both from ``synthloop.metrics``), the share of zeros in
``capital_gain``, and mode collapse (share of training categories present in a sample of the training
size; synthetic/real frequency ratio of rare categories, those under 1% of rows). Then the ratios
SDV / synthloop, and the FLOP floor of each synthloop architecture: FLOPs per epoch (counted with
``torch.utils.flop_counter`` on real training steps, backward and gradient penalty included) over the
GFLOP/s this machine reaches on a same-shaped matmul.

SDV runs in its own environment (``/work/benchenv/sdv``, BSL-licensed, never a dependency) through
``benchmarks/peers/sdv_runner.py`` in a subprocess; both sides use the same epochs and batch size and
the same number of torch threads.

    PYTHONPATH=src python benchmarks/neural_vs_sdv.py --epochs 3 --batch-size 500
    PYTHONPATH=src python benchmarks/neural_vs_sdv.py --defaults tvae,tabddpm,ctgan --no-sdv   # the defaults
    PYTHONPATH=src python benchmarks/neural_vs_sdv.py --models "" --no-sdv --sweep tabddpm=10,20 # time to quality
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import synthloop as sl
from synthloop.metrics import get_metric

ROOT = Path(__file__).resolve().parents[1]
SDV_PYTHON = Path("/work/benchenv/sdv/bin/python")
SDV_RUNNER = ROOT / "benchmarks" / "peers" / "sdv_runner.py"
RARE = 0.01


# ---------------------------------------------------------------------- quality
def quality(synthetic: pd.DataFrame, train: pd.DataFrame, test: pd.DataFrame, schema: sl.Schema) -> dict[str, float]:
    rng = np.random.default_rng(0)
    detection = get_metric("detection_auc").function(test, synthetic, schema, rng=rng).value
    tstr = get_metric("tstr_auc").function(train, synthetic, schema, holdout=test, rng=np.random.default_rng(0))
    return {"detection_auc": round(detection, 4), "tstr_auc": round(tstr.value, 4), "tstr_auc_real": round(tstr.baseline, 4),
            "capital_gain_zero_share": round(float((synthetic["capital_gain"] == 0).mean()), 4),
            **collapse(synthetic, train, schema)}


def collapse(synthetic: pd.DataFrame, train: pd.DataFrame, schema: sl.Schema) -> dict[str, float]:
    """Category coverage and the synthetic/real mass of rare categories, over every categorical column."""
    seen = covered = 0
    rare_real = rare_synthetic = 0.0
    for column in schema.categorical():
        real = train[column.name].astype(object).value_counts(normalize=True)
        fake = synthetic[column.name].astype(object).value_counts(normalize=True)
        seen += len(real)
        covered += int(real.index.isin(fake.index).sum())
        rare = real[real < RARE]
        rare_real += float(rare.sum())
        rare_synthetic += float(fake.reindex(rare.index, fill_value=0.0).sum())
    return {"category_coverage": round(covered / seen, 4), "rare_mass_ratio": round(rare_synthetic / rare_real, 4)}


# ---------------------------------------------------------------------- synthloop side
def import_torch_side(name: str) -> float:
    """Import torch and the model's module before any clock starts (SDV's runner imports torch first too)."""
    begin = time.perf_counter()
    import torch  # noqa: F401

    type(sl.synthesizers.get(name))       # the registry imports the model's module (and synthloop.nn)
    return time.perf_counter() - begin


def run_synthloop(name: str, params: dict, train: pd.DataFrame, test: pd.DataFrame, threads: int) -> dict:
    import torch

    import_seconds = import_torch_side(name)
    torch.set_num_threads(threads)
    start = time.perf_counter()
    schema = sl.Schema.infer(train, target="income")
    marks: dict[str, float] = {"encode": time.perf_counter() - start}
    # Same threads as the SDV side; a seeded fit runs on exactly this many (synthloop.nn.runtime).
    model = sl.synthesizers.get(name, **params, seed=0, progress=False, threads=threads)
    epoch_times: list[float] = []
    _instrument(model, marks, epoch_times)
    model.fit(train, schema)
    fit_end = time.perf_counter()
    sample_start = time.perf_counter()
    synthetic = model.sample(len(train), seed=0)
    sample_seconds = time.perf_counter() - sample_start
    result = {"tool": "synthloop", "model": name, "params": params, "threads": threads,
              "import_seconds": round(import_seconds, 3),
              "encode_seconds": round(marks["encode"], 3),
              "fixed_seconds": round(marks["first_epoch"] - start, 3),
              "seconds_per_epoch": round(float(np.mean(epoch_times)), 3),
              "median_seconds_per_epoch": round(float(np.median(epoch_times)), 3),
              "epochs_run": len(epoch_times), "fit_seconds": round(fit_end - start, 3),
              "sample_seconds": round(sample_seconds, 3)}
    result.update(flop_floor(model, train, schema, result["median_seconds_per_epoch"]))
    result.update(quality(synthetic, train, test, schema))
    return result


# The run being timed: each synthloop run puts its own dicts here; the clocks below write into them.
_CLOCK: dict[str, object] = {"marks": {}, "epochs": []}


def _instrument(model, marks: dict[str, float], epoch_times: list[float]) -> None:
    """Record when the first epoch starts, each epoch's time, and the encoder's fit + transform before it."""
    from synthloop.nn.trainer import Trainer
    from synthloop.transforms import TableEncoder

    _CLOCK.update(marks=marks, epochs=epoch_times)
    if getattr(Trainer._run_epoch, "benchmark_clock", False):
        return
    for method in ("fit", "transform"):
        _clock_encoder(TableEncoder, method)
    original = Trainer._run_epoch

    def timed(self, *args, **kwargs):
        begin = time.perf_counter()
        _CLOCK["marks"].setdefault("first_epoch", begin)
        try:
            return original(self, *args, **kwargs)
        finally:
            _CLOCK["epochs"].append(time.perf_counter() - begin)

    timed.benchmark_clock = True
    Trainer._run_epoch = timed


def _clock_encoder(owner, method: str) -> None:
    original = getattr(owner, method)

    def timed(self, *args, **kwargs):
        begin = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            if "first_epoch" not in _CLOCK["marks"]:
                _CLOCK["marks"]["encode"] += time.perf_counter() - begin

    setattr(owner, method, timed)


def flop_floor(model, train: pd.DataFrame, schema: sl.Schema, seconds_per_epoch: float) -> dict[str, float]:
    """The matmul floor of one epoch: every matmul of a real training step (forward, backward, gradient
    penalty), each timed alone at its own shape on this machine, times the steps per epoch."""
    import torch

    encoded = torch.as_tensor(model.encoder_.transform(schema.to_model_frame(train)))
    batches = list(model.epoch_batches(len(encoded), model.batch_size, np.random.default_rng(0)))
    for net in model.nets_.values():
        net.train()
    rows, cond = batches[0]
    with _matmul_recorder()() as recorder:
        model.train_step(encoded[torch.as_tensor(rows)], None if cond is None else torch.as_tensor(cond))
    seconds = {shape: matmul_seconds(*shape) for shape in set(recorder.shapes)}
    floor = sum(seconds[shape] for shape in recorder.shapes) * len(batches)
    flops = sum(2 * m * k * n for m, k, n in recorder.shapes) * len(batches)
    return {"gflop_per_epoch": round(flops / 1e9, 2), "matmul_gflops": round(flops / floor / 1e9, 2),
            "floor_seconds_per_epoch": round(floor, 3), "epoch_over_floor": round(seconds_per_epoch / floor, 2),
            "matmul_share_in_step": matmul_share(model, encoded, batches[:10])}


def matmul_share(model, encoded, batches) -> float:
    """Share of a real step's CPU time spent inside matmuls (torch profiler, self time): where the rest goes."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        for rows, cond in batches:
            model.train_step(encoded[torch.as_tensor(rows)], None if cond is None else torch.as_tensor(cond))
    events = profiler.key_averages()
    total = sum(event.self_cpu_time_total for event in events)
    matmul = sum(event.self_cpu_time_total for event in events if event.key in ("aten::mm", "aten::addmm", "aten::bmm"))
    return round(matmul / total, 3)


def _matmul_recorder():
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    matmuls = {torch.ops.aten.mm.default: (0, 1), torch.ops.aten.addmm.default: (1, 2)}

    class MatmulRecorder(TorchDispatchMode):
        """Records (m, k, n) of every matrix multiply run (torch's FlopCounterMode trips over autograd.grad)."""

        def __init__(self):
            super().__init__()
            self.shapes: list[tuple[int, int, int]] = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func in matmuls:
                left, right = (args[i] for i in matmuls[func])
                self.shapes.append((left.shape[0], left.shape[1], right.shape[1]))
            return func(*args, **(kwargs or {}))

    return MatmulRecorder


def matmul_seconds(rows: int, d_in: int, d_out: int, repeats: int = 50) -> float:
    """Best time of (rows × d_in) @ (d_in × d_out) in float32 on this machine, with the current threads.

    Best of many: noisy neighbours only ever slow a timing down (20 repeats once read a batch-2000 floor
    at 101 GFLOP/s where another run of the same script read 189).
    """
    import torch

    a, b = torch.randn(rows, d_in), torch.randn(d_in, d_out)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        begin = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - begin)
    return best


# ---------------------------------------------------------------------- SDV side
def run_sdv(model: str, epochs: int, batch_size: int, train: pd.DataFrame, test: pd.DataFrame, threads: int,
            workdir: Path, runner: Path = SDV_RUNNER) -> dict:
    train_path = workdir / "adult_train.parquet"
    if not train_path.exists():
        train.to_parquet(train_path, index=False)
    out = workdir / f"sdv_{model}.parquet"
    command = [str(SDV_PYTHON), str(runner), "--model", model, "--epochs", str(epochs), "--batch-size",
               str(batch_size), "--train", str(train_path), "--n-rows", str(len(train)), "--out", str(out),
               "--threads", str(threads)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode:
        return {"tool": "sdv", "model": model, "error": completed.stderr[-2000:]}
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["median_seconds_per_epoch"] = round(float(np.median(result["epoch_seconds"])), 3)
    # The same scope as synthloop's encode_seconds: type detection, then fitting and applying the transformers.
    result["encode_seconds"] = round(result["metadata_seconds"] + result["preprocess_seconds"]
                                     + result["model_transformer_seconds"], 3)
    synthetic = pd.read_parquet(out)
    schema = sl.Schema.infer(train, target="income")
    synthetic = synthetic.astype({c: train[c].dtype for c in train.columns if c in synthetic}, errors="ignore")
    result.update(quality(synthetic, train, test, schema))
    return result


# ---------------------------------------------------------------------- report
def print_table(results: list[dict]) -> None:
    columns = ["tool", "model", "epochs_run", "encode_seconds", "fixed_seconds", "seconds_per_epoch", "median_seconds_per_epoch",
               "fit_seconds", "sample_seconds", "detection_auc", "tstr_auc", "capital_gain_zero_share",
               "category_coverage", "rare_mass_ratio", "gflop_per_epoch", "floor_seconds_per_epoch", "epoch_over_floor",
               "matmul_share_in_step"]
    frame = pd.DataFrame(results)
    if "epochs_run" not in frame:
        frame["epochs_run"] = np.nan
    frame["epochs_run"] = frame["epochs_run"].fillna(frame.get("epochs", np.nan))
    print(frame.reindex(columns=columns).to_string(index=False))


def print_ratios(results: list[dict]) -> None:
    by_key = {(r["tool"], r["model"]): r for r in results if "error" not in r}
    for model in ("ctgan", "tvae"):
        ours, theirs = by_key.get(("synthloop", model)), by_key.get(("sdv", model))
        if not (ours and theirs):
            continue
        print(f"{model}: encode (schema + encoder fit + transform) SDV/synthloop = "
              f"{theirs['encode_seconds'] / ours['encode_seconds']:.1f}x, "
              f"fixed cost SDV/synthloop = {theirs['fixed_seconds'] / ours['fixed_seconds']:.1f}x, "
              f"s/epoch SDV/synthloop = {theirs['seconds_per_epoch'] / ours['seconds_per_epoch']:.2f}x "
              f"(median epochs {theirs['median_seconds_per_epoch'] / ours['median_seconds_per_epoch']:.2f}x), "
              f"fit SDV/synthloop = {theirs['fit_seconds'] / ours['fit_seconds']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--models", default="ctgan,tvae", help="models run on both sides with --epochs/--batch-size")
    parser.add_argument("--defaults", default="", help="synthloop models also run with their own defaults (time to quality)")
    parser.add_argument("--sweep", action="append", default=[], metavar="MODEL=E1,E2",
                        help="time to quality: the model with its defaults but these epochs (repeatable)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-sdv", action="store_true")
    parser.add_argument("--sdv-runner", type=Path, default=SDV_RUNNER)
    parser.add_argument("--json", type=Path, default=None, help="also write every result here")
    args = parser.parse_args()
    train = sl.datasets.load("adult", split="train")
    test = sl.datasets.load("adult", split="test")
    print(f"Adult train {train.shape}, test {test.shape}; {args.threads} torch threads; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at start", flush=True)
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        for model in filter(None, args.models.split(",")):
            same = {"epochs": args.epochs, "batch_size": args.batch_size}
            results.append(run_synthloop(model, same, train, test, args.threads))
            print(json.dumps(results[-1]), flush=True)
            if not args.no_sdv:
                results.append(run_sdv(model, args.epochs, args.batch_size, train, test, args.threads, Path(workdir),
                                       args.sdv_runner))
                print(json.dumps(results[-1])[:3000], flush=True)
        for model in filter(None, args.defaults.split(",")):
            results.append(run_synthloop(model, {}, train, test, args.threads))
            results[-1]["model"] = f"{model} (defaults)"
            print(json.dumps(results[-1]), flush=True)
        for sweep in args.sweep:
            model, _, epochs = sweep.partition("=")
            for count in map(int, epochs.split(",")):
                results.append(run_synthloop(model, {"epochs": count}, train, test, args.threads))
                results[-1]["model"] = f"{model} ({count} epochs)"
                print(json.dumps(results[-1]), flush=True)
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    print_table(results)
    print_ratios(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
