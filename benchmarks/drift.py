"""Drift detection on the scenario library: synthloop's default monitor next to Evidently's default preset.

The environment is ``cart`` fitted on Adult's training split; the reference is 20,000 rows drawn from
it, and each scenario in ``examples/scenarios/`` streams ``--windows`` 5,000-row windows from it (its
own seed per scenario and benchmark seed, so no two scenarios share a window) with drift from its change
point (window 10) on. Both detectors see the same windows: the windows where no drift acts (intensity 0:
every pre-change window, and the post-change windows where a recurring or seasonal drift is off) give the
false-alarm rate; the detection delay is the windows from the change point to the first alarm ("miss"
when none before the stream ends); the alarm rate where the drift acts is the share of windows with
intensity > 0 that alarm. Evidently runs from its own virtual environment
(``benchmarks/peers/evidently_runner.py``; never a synthloop dependency), with ``DataDriftPreset()``
defaults (normed Wasserstein / Jensen–Shannon at 0.1, dataset drift at ≥ 50% of columns), on the first
``--evidently-seeds`` seeds; it is skipped when that environment is missing.

    PYTHONPATH=src python benchmarks/drift.py --seeds 5 --windows 20 --json drift.json
    PYTHONPATH=src python benchmarks/drift.py --seeds 1 --windows 12 --no-evidently      # quick look
    PYTHONPATH=src python benchmarks/drift.py --summarize drift.json                     # summary of a saved run
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
from synthloop.io.atomic import atomic_write
from synthloop.monitor import Monitor
from synthloop.simulate import Scenario, stream

ROOT = Path(__file__).resolve().parents[1]
EVIDENTLY_PYTHON = Path(os.environ.get("EVIDENTLY_PYTHON", "/work/benchenv/evidently/bin/python"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--windows", type=int, default=20, help="windows per scenario, pre-change ones included")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--scenarios", nargs="*", default=None, help="scenario names (default: all)")
    parser.add_argument("--evidently-seeds", type=int, default=None, help="run Evidently on the first N seeds")
    parser.add_argument("--no-evidently", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--summarize", type=Path, default=None, help="only recompute the summary of a saved --json run")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    scenarios = [Scenario.from_toml(p) for p in sorted((ROOT / "examples" / "scenarios").glob("*.toml"))]
    if args.scenarios:
        scenarios = [s for s in scenarios if s.name in args.scenarios]
    if args.summarize is not None:
        saved = json.loads(args.summarize.read_text())
        names = {r["scenario"] for r in saved["rows"]}
        args.seeds = saved["summary"]["seeds"]
        summary = _summary(saved["rows"], [s for s in scenarios if s.name in names],
                           any("evidently" in r for r in saved["rows"]), args)
        summary["load_average_1_5_15"] = saved["summary"]["load_average_1_5_15"]     # the run's, not now's
        print(json.dumps({**saved["summary"], **summary, "resummarized": True}, indent=2))
        return
    if any(s.change_point is None or s.change_point >= args.windows for s in scenarios):
        raise SystemExit(f"--windows {args.windows} leaves a scenario without post-change windows")
    train = sl.datasets.load("adult", split="train")
    start = time.perf_counter()
    environment = sl.synthesizers.get("cart", seed=0).fit(train)
    reference = environment.sample(20_000, seed=10_000)
    print(f"cart fitted and reference drawn in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    monitor = Monitor(reference, target="income", seed=0)
    evidently = not args.no_evidently and EVIDENTLY_PYTHON.is_file()
    evidently_seeds = args.seeds if args.evidently_seeds is None else min(args.evidently_seeds, args.seeds)
    rows = []          # one per (seed, scenario, window)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if evidently:
            reference.to_parquet(tmp / "reference.parquet", index=False)
        for seed in range(args.seeds):
            for number, scenario in enumerate(scenarios):
                # Own seed per (benchmark seed, scenario): the pre-change windows are fresh draws for each.
                plan = replace(scenario, seed=1000 * seed + number, rows=args.rows, windows=args.windows)
                for window in stream(environment, plan):
                    drawn = time.perf_counter()
                    rows.append(_check(monitor, window.frame, seed, scenario, window.index, window.intensity,
                                       tmp, evidently and seed < evidently_seeds))
                    rows[-1]["wall_seconds"] = time.perf_counter() - drawn
            if evidently and seed < evidently_seeds:
                checked = [r for r in rows if "file" in r]
                found = _evidently(tmp / "reference.parquet", [r.pop("file") for r in checked])
                for row, result in zip(checked, found, strict=True):
                    row["evidently"], row["evidently_seconds"] = result["dataset_drift"], result["seconds"]
                    Path(result["window"]).unlink()
            print(f"seed {seed} done at {time.perf_counter() - started:.0f} s", file=sys.stderr)
            summary = _summary(rows, scenarios, evidently, args)
            summary["seeds"] = seed + 1          # so far: each seed's results are kept if the run is stopped
            summary["evidently_seeds"] = min(seed + 1, evidently_seeds) if evidently else 0
            summary["total_seconds"] = time.perf_counter() - started
            if args.json is not None:
                with atomic_write(args.json) as temporary:
                    temporary.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2))
    print(json.dumps(summary, indent=2))


def _check(monitor: Monitor, frame, seed: int, scenario: Scenario, index: int, intensity: float, tmp: Path,
           evidently: bool) -> dict:
    report = monitor.check(frame)
    row = {"seed": seed, "scenario": scenario.name, "window": index, "after_change": index >= scenario.change_point,
           "intensity": intensity, "synthloop": report.drifted, "synthloop_seconds": report.seconds,
           "est_auc": report.performance.estimated_auc, "real_auc": report.performance.realised_auc}
    if evidently:
        path = tmp / f"w-{seed}-{scenario.name}-{index}.parquet"
        frame.to_parquet(path, index=False)
        row["file"] = str(path)
    return row


def _evidently(reference: Path, files: list[str]) -> list[dict]:
    found = subprocess.run([str(EVIDENTLY_PYTHON), str(ROOT / "benchmarks" / "peers" / "evidently_runner.py"),
                            str(reference), *files], capture_output=True, text=True, check=True)
    return [json.loads(line) for line in found.stdout.splitlines() if line.startswith("{")]


def _summary(rows: list[dict], scenarios: list[Scenario], evidently: bool, args) -> dict:
    tools = ["synthloop"] + (["evidently"] if evidently and any("evidently" in r for r in rows) else [])
    out = {"seeds": args.seeds, "windows_per_scenario": args.windows, "rows": args.rows,
           "load_average_1_5_15": list(os.getloadavg())}
    for tool in tools:
        checked = [r for r in rows if tool in r]
        # No drift acts where the intensity is 0: every pre-change window, and the post-change windows where a
        # recurring or seasonal drift is off (an alarm there is a false alarm too).
        quiet = [r for r in checked if r["intensity"] == 0]
        out[f"{tool}_windows"] = len(checked)
        out[f"{tool}_no_drift_windows"] = len(quiet)
        out[f"{tool}_no_drift_windows_pre_change"] = sum(not r["after_change"] for r in quiet)
        out[f"{tool}_false_alarms"] = int(np.sum([r[tool] for r in quiet]))
        out[f"{tool}_false_alarm_rate"] = float(np.mean([r[tool] for r in quiet]))
        out[f"{tool}_seconds_per_window"] = float(np.mean([r[f"{tool}_seconds"] for r in checked]))
        delays, alarm_rates, false_alarms = {}, {}, {}
        for scenario in scenarios:
            mine = [r for r in checked if r["scenario"] == scenario.name]
            per_seed = []
            for seed in sorted({r["seed"] for r in mine}):
                alarms = [r["window"] - scenario.change_point for r in mine
                          if r["seed"] == seed and r["after_change"] and r[tool]]
                per_seed.append(min(alarms) if alarms else None)
            delays[scenario.name] = per_seed
            alarm_rates[scenario.name] = float(np.mean([r[tool] for r in mine if r["intensity"] > 0]))
            false_alarms[scenario.name] = int(np.sum([r[tool] for r in mine if r["intensity"] == 0]))
        out[f"{tool}_delays"] = delays
        out[f"{tool}_alarm_rate_where_drift_acts"] = alarm_rates
        out[f"{tool}_false_alarms_per_scenario"] = false_alarms
    out["synthloop_wall_seconds_per_window"] = float(np.mean([r["wall_seconds"] for r in rows]))
    covariate = ("age-mean-shift", "workclass-gradual", "hours-scale-incremental")
    labelled = [r for r in rows if r["real_auc"] is not None and (not r["after_change"] or r["scenario"] in covariate)]
    errors = np.array([abs(r["est_auc"] - r["real_auc"]) for r in labelled])
    out["cbpe_windows"] = len(labelled)
    out["cbpe_abs_error_covariate"] = float(errors.mean())
    out["cbpe_p95_error_covariate"] = float(np.quantile(errors, 0.95))
    out["cbpe_max_error_covariate"] = float(errors.max())
    return out


if __name__ == "__main__":
    main()
