"""The closed loop on Adult: drift arrives → the monitor alarms → the synthesizer is refitted on the fresh
real rows under a loop policy → a downstream model trained on the refreshed synthetic data recovers.

The "real world" is Adult's real rows replayed as a stream by a scenario (concept shift from window 4:
for people above the median age, a third of the income labels flip, so P(income | age, …) moves).
Every step is recorded in one lineage store and shown in one HTML page (drift timeline, refit gate,
downstream AUCs, lineage).

    PYTHONPATH=src python examples/closed_loop.py --out out/closed_loop            # 5,000-row windows
    PYTHONPATH=src python examples/closed_loop.py --out out/closed_loop --fast     # 2,000-row windows, 5,000 before
    PYTHONPATH=src python examples/closed_loop.py --out out/closed_loop --seeds 0 1 2 3 4   # per-seed and median
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

import synthloop as sl
from synthloop.lineage import LineageStore
from synthloop.loop import MixReal, audit
from synthloop.monitor import Monitor, write_drift_html
from synthloop.simulate import Scenario, stream
from synthloop.synthesizers import Synthesizer
from synthloop.workflows import fit_table, refit_table

SCENARIO = Path(__file__).resolve().parent / "scenarios" / "income-concept-shift.toml"
TARGET = "income"


def downstream_auc(train: pd.DataFrame, test: pd.DataFrame, seed: int = 0) -> float:
    """AUC on real ``test`` rows of gradient boosting trained on ``train`` (synthetic or real)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    features = [c for c in train.columns if c != TARGET]
    frame = pd.concat([train[features], test[features]], ignore_index=True)
    for name in features:
        if not pd.api.types.is_numeric_dtype(frame[name].dtype):
            frame[name] = pd.Categorical(frame[name].astype(str)).codes
    x_train, x_test = frame.iloc[:len(train)].to_numpy(float), frame.iloc[len(train):].to_numpy(float)
    mask = np.array([not pd.api.types.is_numeric_dtype(train[c].dtype) for c in features])
    model = HistGradientBoostingClassifier(categorical_features=mask, random_state=seed)
    model.fit(x_train, (train[TARGET] == ">50K").to_numpy())
    return float(roc_auc_score((test[TARGET] == ">50K").to_numpy(), model.predict_proba(x_test)[:, 1]))


def run(out: Path, *, fast: bool = False, seed: int = 0, fraction: float = 0.8,
        real: pd.DataFrame | None = None) -> dict:
    """Run the loop into the folder ``out``; ``real`` is Adult's training split unless given. ``fast``: smaller
    windows and cart without its fit-time calibration (the test's setting)."""
    warnings.simplefilter("ignore")
    out.mkdir(parents=True, exist_ok=True)
    store = out / "lineage.db"
    for stale_file in (store, store.with_name(store.name + "-wal"), store.with_name(store.name + "-shm")):
        stale_file.unlink(missing_ok=True)
    rows, n_before = (2000, 5000) if fast else (5000, 10_000)
    real = sl.datasets.load("adult", split="train") if real is None else real
    real = real.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    before, world = real.iloc[:n_before].reset_index(drop=True), real.iloc[n_before:].reset_index(drop=True)
    before.to_csv(out / "real_before.csv", index=False)
    params = {"seed": seed, "calibrate": False} if fast else {"seed": seed}
    fit_table(out / "real_before.csv", "cart", out / "model", params=params, lineage=store, force=True)

    scenario = Scenario.from_toml(SCENARIO)
    scenario = replace(scenario, schedule=replace(scenario.schedule, start=4), windows=8, rows=rows, seed=seed)
    monitor = Monitor(before, target=TARGET, lineage=store, seed=seed)
    reports, feedback, test = [], [], None
    alarm_at = None
    for window in stream(world, scenario):
        path = out / f"window-{window.index:02d}.csv"
        window.frame.to_csv(path, index=False)
        if alarm_at is not None and len(feedback) >= 2:       # a later window stays unseen: the test set
            test = window.frame
            break
        report = monitor.check(window.frame, name=path.name)
        reports.append(report)
        if report.drifted and alarm_at is None:
            alarm_at = window.index
        if alarm_at is not None:
            feedback.append(path)
    if alarm_at is None or test is None:
        raise RuntimeError("the monitor did not alarm within the stream")

    start = time.perf_counter()
    refit = refit_table(out / "model", feedback, out / "model-refit", policy=MixReal(fraction), lineage=store,
                        sample_out=out / "refreshed.csv", seed=seed, force=True)
    loop_seconds = time.perf_counter() - start

    old_model = Synthesizer.load(out / "model")
    stale = old_model.sample(len(before), seed=seed, privacy="off")
    refreshed = pd.read_csv(out / "refreshed.csv") if refit.sample_out is not None else \
        Synthesizer.load(out / "model-refit").sample(len(before), seed=seed, privacy="off")
    post = pd.concat([pd.read_csv(p) for p in feedback], ignore_index=True)
    oracle = sl.synthesizers.get("cart", **params).fit(post).sample(len(before), seed=seed, privacy="off")
    auc = {"stale": downstream_auc(stale, test), "refreshed": downstream_auc(refreshed, test),
           "oracle": downstream_auc(oracle, test)}
    drop = auc["oracle"] - auc["stale"]
    recovered = (auc["refreshed"] - auc["stale"]) / drop if drop > 0 else float("nan")

    lineage = audit(LineageStore(store))
    sections = [
        ("Refit (alarm → refit → gate → lineage)", ["policy", "training rows", "synthetic share", "C2ST AUC old → new",
                                                    "released", "seconds"],
         [[refit.policy["name"] + f" λ={refit.policy.get('fraction', '')}", f"{refit.n_training:,}",
           f"{refit.synthetic_share:.0%}",
           f"{refit.before.joint.auc:.3f} → {refit.after.joint.auc:.3f}" if refit.before else "—",
           str(refit.released), f"{loop_seconds:.1f}"]]),
        ("Downstream model AUC on unseen post-drift real rows", ["trained on", "AUC"],
         [[name, f"{value:.3f}"] for name, value in auc.items()] + [["recovered share of the oracle's gain",
                                                                    f"{recovered:.0%}"]]),
        ("Lineage", list(lineage.columns), lineage.astype(str).to_numpy().tolist()),
    ]
    write_drift_html(reports, out / "closed_loop.html", title="synthloop closed loop on Adult", sections=sections)
    result = {"alarm_at": alarm_at, "change_point": scenario.change_point, "loop_seconds": loop_seconds,
              "released": refit.released, "auc": auc,
              "gate": None if refit.after is None else {
                  "c2st_before": refit.before.joint.auc, "c2st_after": refit.after.joint.auc,
                  "drifted_before": list(refit.before.drifted_columns),
                  "drifted_after": list(refit.after.drifted_columns)}, "recovered": recovered,
              "events": [e["action"] for e in LineageStore(store).events()]}
    (out / "closed_loop.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/closed_loop"))
    parser.add_argument("--fast", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="*", default=None,
                        help="run the loop once per seed (into OUT/seed-N) and print per-seed and median results")
    parser.add_argument("--fraction", type=float, default=0.8, help="mix-real λ: the share of fresh real rows")
    args = parser.parse_args()
    if args.seeds is None:
        print(json.dumps(run(args.out, fast=args.fast, seed=args.seed, fraction=args.fraction), indent=2))
    else:
        results = {seed: run(args.out / f"seed-{seed}", fast=args.fast, seed=seed, fraction=args.fraction)
                   for seed in args.seeds}
        summary = {"per_seed": {seed: {"alarm_delay": r["alarm_at"] - r["change_point"],
                                       "loop_seconds": r["loop_seconds"], "released": r["released"],
                                       "recovered": r["recovered"], **r["auc"]} for seed, r in results.items()},
                   "median_recovered": float(np.nanmedian([r["recovered"] for r in results.values()])),
                   "median_loop_seconds": float(np.median([r["loop_seconds"] for r in results.values()])),
                   "max_loop_seconds": float(np.max([r["loop_seconds"] for r in results.values()]))}
        (args.out / "closed_loop_seeds.json").write_text(json.dumps(summary, indent=2))
        print(json.dumps(summary, indent=2))
