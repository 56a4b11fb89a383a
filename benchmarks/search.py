"""Budgeted generator search (issue 20): does the chosen model match or beat the best default model
on the held-out split the search never saw?

    PYTHONPATH=src python benchmarks/search.py --tables adult --budget 6m --models cart,gaussian_copula,independent
    PYTHONPATH=src python benchmarks/search.py --tables abalone,islp_wage --budget 3m --json out.json
    PYTHONPATH=src python benchmarks/search.py --tables adult --models argn --defaults-only --cache d.json

For each table (``tables.py``: fixed 80/20 split): ``synthloop.search`` on the 80% with the budget
(it splits off its own validation part); then the chosen configuration and every candidate's defaults
are fitted on the whole 80% (seed 0), sampled to the holdout's size ``HOLDOUT_REPEATS`` times (seeds
1, 2, …) and scored against the holdout: detection AUC (one split per sample) and TSTR AUC or R²
averaged over the samples, DCR share on the first. Reported: budget overrun, the chosen model, and
on how many of the three the chosen model matches or beats the best default on that score (0.005
tolerance). A chosen default is the default's own fit (same seed), so its scores are the default's.

``--cache FILE`` keeps the defaults' holdout scores by table and model (a JSON file), so a slow
default (a neural model's full fit) is scored once, by a ``--defaults-only`` run, and reused.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import tables

import synthloop as sl
from synthloop.metrics import NotApplicable, get_metric
from synthloop.synthesizers.params import param_names

TOLERANCE = 0.005
HOLDOUT_REPEATS = 3


def holdout_scores(model: str, params: dict, train, holdout, schema) -> dict[str, float]:
    start = time.monotonic()
    extra = {"progress": False} if "progress" in param_names(sl.synthesizers.get_class(model)) else {}
    fitted = sl.synthesizers.get(model, **{**params, **extra, "seed": 0}).fit(train, schema)
    samples = [fitted.sample(len(holdout), seed=1 + r) for r in range(HOLDOUT_REPEATS)]
    rng = np.random.default_rng(0)
    utility = "tstr_r2" if schema[schema.target].kind == "numeric" else "tstr_auc"
    detection = [get_metric("detection_auc_split")(holdout, s, schema, rng=rng).value for s in samples]
    try:
        utilities = [get_metric(utility)(train, s, schema, holdout=holdout, rng=rng).value for s in samples]
    except NotApplicable:
        utilities = [float("nan")]
    out = {"detection": np.mean(detection), "detection_sd": np.std(detection, ddof=1),
           "utility": np.mean(utilities), "utility_sd": np.std(utilities, ddof=1) if len(utilities) > 1 else np.nan,
           "dcr_share": get_metric("dcr_share")(train, samples[0], schema, holdout=holdout, rng=rng).value,
           "seconds": time.monotonic() - start}
    return {k: round(float(v), 4) for k, v in out.items()}


def defaults_holdout(name: str, models: list[str], train, holdout, schema, cache: Path | None) -> dict[str, dict]:
    stored = json.loads(cache.read_text()) if cache is not None and cache.is_file() else {}
    out = {}
    for model in models:
        key = f"{name}/{model}/repeats={HOLDOUT_REPEATS}"
        if key not in stored:
            stored[key] = holdout_scores(model, {}, train, holdout, schema)
            if cache is not None:
                cache.write_text(json.dumps(stored, indent=2))
        out[model] = stored[key]
    return out


def run_table(name: str, budget: str, models: str, jobs: int, cache: Path | None, defaults_only: bool) -> dict:
    train, holdout = tables.split(name)
    schema = tables.schema_of(name, train)
    candidates = models.split(",")
    if defaults_only:
        return {"table": name, "defaults_holdout": defaults_holdout(name, candidates, train, holdout, schema, cache)}
    with tempfile.TemporaryDirectory() as folder:
        start = time.monotonic()
        result = sl.search(train, Path(folder) / "search", budget=budget, schema=schema, models=models, seed=0,
                           n_jobs=jobs)
        seconds = time.monotonic() - start
    chosen = result.chosen
    row = {"table": name, "budget_s": result.budget, "seconds": round(seconds, 1),
           "overrun": round(seconds / result.budget - 1, 4), "trials": len(result.trials),
           "states": {s: sum(t["state"] == s for t in result.trials) for s in ("COMPLETE", "PRUNED", "FAIL")},
           "timed_out": sum("timed out" in (t.get("error") or "") for t in result.trials),
           "neural_epochs": {t["number"]: (t["model"], t["params"]["epochs"]) for t in result.trials
                             if "epochs" in t["params"]},
           "chosen": {"number": chosen["number"], "model": chosen["model"], "params": chosen["params"],
                      "defaults": chosen["defaults"]},
           "notes": list(result.notes),
           "trial_states": [f"{t['number']} {t['model']}{' (defaults)' if t['defaults'] else ''} {t['state']}"
                            + (f" epochs={t['params']['epochs']}" if "epochs" in t["params"] else "")
                            + (f": {t['error'][:60]}" if t.get("error") else "") for t in result.trials]}
    row["defaults_holdout"] = defaults_holdout(name, candidates, train, holdout, schema, cache)
    row["chosen_holdout"] = (row["defaults_holdout"][chosen["model"]] if chosen["defaults"] and not chosen["params"]
                             else holdout_scores(chosen["model"], chosen["params"], train, holdout, schema))
    best = {"detection": min(d["detection"] for d in row["defaults_holdout"].values()),
            "utility": max(d["utility"] for d in row["defaults_holdout"].values()),
            "dcr_share": min(d["dcr_share"] for d in row["defaults_holdout"].values())}
    c = row["chosen_holdout"]
    row["matches_or_beats"] = [key for key in best if (c[key] >= best[key] - TOLERANCE if key == "utility"
                                                       else c[key] <= best[key] + TOLERANCE)]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="adult")
    parser.add_argument("--budget", default="10m")
    parser.add_argument("--models", default="cart,gaussian_copula,independent")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--json", default=None)
    parser.add_argument("--cache", type=Path, default=None, help="JSON file of the defaults' holdout scores")
    parser.add_argument("--defaults-only", action="store_true", help="score the defaults on the holdout only")
    args = parser.parse_args(argv)
    rows = []
    for name in args.tables.split(","):
        row = run_table(name, args.budget, args.models, args.jobs, args.cache, args.defaults_only)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.defaults_only:
        return 0
    print("| table | budget | took (overrun) | trials (complete/pruned/failed) | chosen | holdout detection / TSTR / DCR share | "
          "matches or beats best default on |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        c, s = r["chosen_holdout"], r["states"]
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in r["chosen"]["params"].items())
        what = "(defaults)" if r["chosen"]["defaults"] and not params else params
        print(f"| {r['table']} | {r['budget_s']:.0f} s | {r['seconds']:.0f} s ({r['overrun']:+.1%}) | {r['trials']} "
              f"({s['COMPLETE']}/{s['PRUNED']}/{s['FAIL']}) | {r['chosen']['model']} {what} | "
              f"{c['detection']:.3f} / {c['utility']:.3f} / {c['dcr_share']:.3f} | {', '.join(r['matches_or_beats'])} |")
    for r in rows:
        print(f"{r['table']} defaults on the holdout: " + "; ".join(
            f"{m} {d['detection']:.3f} / {d['utility']:.3f} / {d['dcr_share']:.3f}" for m, d in r["defaults_holdout"].items()))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
