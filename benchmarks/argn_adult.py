"""TabularARGN (``argn``) with its defaults on Adult next to synthloop's other neural models, judged on held-out rows.

For each model: fit and sample seconds (39,073 rows), then synthloop's own evaluator
(``sl.evaluate(train, synthetic, schema, holdout=test)``): detection AUC, TSTR AUC, DCR share, membership
inference AUC, exact copies (each with the held-out real rows' value as the baseline where the metric has
one); plus the share of zeros in ``capital_gain`` and the synthetic/real mass of rare categories (under 1%
of rows) with category coverage. Each model samples twice: ``privacy="off"`` (the raw model) and the
default ``privacy="parity"``. The machine's load average is printed with the timings: on a shared
machine, times are upper bounds.

``mostlyai`` in ``--models`` trains mostlyai-engine's default TABULAR model (TabularARGN by its authors) on
the same rows in its own venv (``/work/benchenv/mostlyai``, see ``benchmarks/peers/README.md``) through
``privacy_parity_peers.py`` in a subprocess, never imported; its one sample is scored like the others'
``privacy="off"`` rows (it has no privacy step).

    PYTHONPATH=src python benchmarks/argn_adult.py                       # argn, mostlyai, tabddpm, tvae
    PYTHONPATH=src python benchmarks/argn_adult.py --models argn,mostlyai
    PYTHONPATH=src python benchmarks/argn_adult.py --models argn --params '{"hidden": 64}'
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

import synthloop as sl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from neural_vs_sdv import collapse  # the benchmarks folder is not a package
from privacy_parity import run_peer

METRICS = ["detection_auc", "tstr_auc", "dcr_share", "membership_inference_auc", "exact_copy_rate"]


def score(train: pd.DataFrame, test: pd.DataFrame, synthetic: pd.DataFrame, schema: sl.Schema) -> dict[str, float]:
    report = sl.evaluate(train, synthetic, schema, metrics=METRICS, holdout=test)
    out = {}
    for name in METRICS:
        out[name] = round(report.value(name), 4)
        baseline = report.baseline(name)
        if baseline == baseline:                       # not NaN
            out[f"{name}_baseline"] = round(baseline, 4)
    out["capital_gain_zero_share"] = round(float((synthetic["capital_gain"] == 0).mean()), 4)
    out.update(collapse(synthetic, train, schema))
    return out


def run(name: str, params: dict, train: pd.DataFrame, test: pd.DataFrame) -> dict:
    schema = sl.Schema.infer(train, target="income")
    model = sl.synthesizers.get(name, **{"seed": 0, "progress": False, **params})
    load_before = os.getloadavg()[0]
    start, cpu_start = time.perf_counter(), time.process_time()
    model.fit(train, schema)
    fit_seconds, fit_cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    start = time.perf_counter()
    raw = model.sample(len(train), seed=0, privacy="off")
    sample_seconds = time.perf_counter() - start
    default = model.sample(len(train), seed=1)
    history = getattr(model, "history_", [])
    result = {"model": name, "params": params, "fit_seconds": round(fit_seconds, 1),
              "fit_cpu_seconds": round(fit_cpu_seconds, 1),
              "sample_seconds": round(sample_seconds, 2), "epochs_run": len(history),
              "load_average": round((load_before + os.getloadavg()[0]) / 2, 1),
              "privacy_off": score(train, test, raw, schema), "privacy_parity": score(train, test, default, schema),
              "replaced_by_parity": model.last_sample_info_.n_replaced}
    return result


def run_mostlyai(train: pd.DataFrame, test: pd.DataFrame, timeout: float) -> dict:
    """mostlyai-engine's defaults in its own venv (a subprocess), scored like synthloop's models."""
    schema = sl.Schema.infer(train, target="income")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as workdir:
        peer = run_peer("mostlyai", "adult", train, schema, Path(workdir), timeout)
    return {"model": "mostlyai-engine", "params": {}, "fit_seconds": round(peer.fit_s, 1),
            "sample_seconds": round(peer.sample_s, 2),
            "load_average": round((load_before + os.getloadavg()[0]) / 2, 1),
            "privacy_off": score(train, test, peer.synthetic, schema)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="argn,mostlyai,tabddpm,tvae")
    parser.add_argument("--params", default="{}", help="JSON parameters for argn")
    parser.add_argument("--peer-timeout", type=float, default=1800.0, help="seconds before mostlyai is given up")
    args = parser.parse_args()
    train = sl.datasets.load("adult", split="train")
    test = sl.datasets.load("adult", split="test")
    print(f"Adult train {train.shape}, test {test.shape}; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores", flush=True)
    for name in filter(None, args.models.split(",")):
        if name == "mostlyai":
            print(json.dumps(run_mostlyai(train, test, args.peer_timeout)), flush=True)
            continue
        params = json.loads(args.params) if name == "argn" else {}
        print(json.dumps(run(name, params, train, test)), flush=True)


if __name__ == "__main__":
    main()
