"""Drift detection on the scenario library: synthloop's default monitor next to Evidently's default preset.

The environment is ``cart`` fitted on Adult's training split; the reference is 20,000 rows drawn from
it, and each scenario in ``examples/scenarios/`` streams 5,000-row windows from it with drift from window
10 on. Both detectors see the same windows: the 10 pre-change windows of each seed (no drift: the
false-alarm rate) and, per scenario, windows 10 to 10 + ``--horizon`` - 1 (detection delay: windows
from the change point to the first alarm; "miss" when none within the horizon). Evidently runs from
its own virtual environment (``benchmarks/peers/evidently_runner.py``; never a synthloop dependency),
with ``DataDriftPreset()`` defaults (normed Wasserstein / Jensen–Shannon at 0.1, dataset drift at ≥ 50%
of columns); it is skipped when that environment is missing.

    PYTHONPATH=src python benchmarks/drift.py --seeds 5 --horizon 3
    PYTHONPATH=src python benchmarks/drift.py --seeds 1 --no-evidently      # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

import synthloop as sl
from synthloop.monitor import Monitor
from synthloop.simulate import Scenario, stream

ROOT = Path(__file__).resolve().parents[1]
EVIDENTLY_PYTHON = Path(os.environ.get("EVIDENTLY_PYTHON", "/work/benchenv/evidently/bin/python"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--horizon", type=int, default=3)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--no-evidently", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    scenarios = [Scenario.from_toml(p) for p in sorted((ROOT / "examples" / "scenarios").glob("*.toml"))]
    train = sl.datasets.load("adult", split="train")
    start = time.perf_counter()
    environment = sl.synthesizers.get("cart", seed=0).fit(train)
    reference = environment.sample(20_000, seed=10_000)
    print(f"cart fitted and reference drawn in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    monitor = Monitor(reference, target="income", seed=0)
    evidently = not args.no_evidently and EVIDENTLY_PYTHON.is_file()
    rows = []          # one per (seed, scenario or "none", window)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if evidently:
            reference.to_parquet(tmp / "reference.parquet", index=False)
        for seed in range(args.seeds):
            first = scenarios[0]
            plan = replace(first, seed=seed, rows=args.rows, windows=first.change_point)
            for window in stream(environment, plan):   # the pre-change windows are the same for every scenario
                rows.append(_check(monitor, window.frame, seed, "none", window.index, window.intensity, tmp, evidently))
            for scenario in scenarios:
                plan = replace(scenario, seed=seed, rows=args.rows,
                               windows=scenario.change_point + args.horizon)
                for window in stream(environment, plan, first=scenario.change_point):
                    rows.append(_check(monitor, window.frame, seed, scenario.name, window.index, window.intensity,
                                       tmp, evidently))
            print(f"seed {seed} done", file=sys.stderr)
        if evidently:
            files = [r.pop("file") for r in rows]
            found = _evidently(tmp / "reference.parquet", files)
            for row, result in zip(rows, found, strict=True):
                row["evidently"], row["evidently_seconds"] = result["dataset_drift"], result["seconds"]
    summary = _summary(rows, scenarios, evidently, args)
    print(json.dumps(summary, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2))


def _check(monitor: Monitor, frame, seed: int, scenario: str, index: int, intensity: float, tmp: Path,
           evidently: bool) -> dict:
    report = monitor.check(frame)
    row = {"seed": seed, "scenario": scenario, "window": index, "intensity": intensity,
           "synthloop": report.drifted, "synthloop_seconds": report.seconds,
           "est_auc": report.performance.estimated_auc, "real_auc": report.performance.realised_auc}
    if evidently:
        path = tmp / f"w-{seed}-{scenario}-{index}.parquet"
        frame.to_parquet(path, index=False)
        row["file"] = str(path)
    return row


def _evidently(reference: Path, files: list[str]) -> list[dict]:
    found = subprocess.run([str(EVIDENTLY_PYTHON), str(ROOT / "benchmarks" / "peers" / "evidently_runner.py"),
                            str(reference), *files], capture_output=True, text=True, check=True)
    return [json.loads(line) for line in found.stdout.splitlines() if line.startswith("{")]


def _summary(rows: list[dict], scenarios: list[Scenario], evidently: bool, args) -> dict:
    tools = ["synthloop"] + (["evidently"] if evidently else [])
    quiet = [r for r in rows if r["scenario"] == "none"]
    out = {"windows_no_drift": len(quiet), "seeds": args.seeds, "rows": args.rows, "horizon": args.horizon,
           "load_average": os.getloadavg()[0]}
    for tool in tools:
        out[f"{tool}_false_alarm_rate"] = float(np.mean([r[tool] for r in quiet]))
        out[f"{tool}_seconds_per_window"] = float(np.mean([r[f"{tool}_seconds"] for r in rows]))
        delays = {}
        for scenario in scenarios:
            per_seed = []
            for seed in range(args.seeds):
                alarms = [r["window"] - scenario.change_point for r in rows
                          if r["scenario"] == scenario.name and r["seed"] == seed and r[tool]]
                per_seed.append(min(alarms) if alarms else None)
            delays[scenario.name] = per_seed
        out[f"{tool}_delays"] = delays
    labelled = [r for r in rows if r["real_auc"] is not None and r["scenario"] in ("none", "age-mean-shift",
                                                                                    "workclass-gradual",
                                                                                    "hours-scale-incremental")]
    out["cbpe_abs_error_covariate"] = float(np.mean([abs(r["est_auc"] - r["real_auc"]) for r in labelled]))
    out["cbpe_max_error_covariate"] = float(np.max([abs(r["est_auc"] - r["real_auc"]) for r in labelled]))
    return out


if __name__ == "__main__":
    main()
