"""Budgeted generator search (issue 20): does the chosen model match or beat the best default model
on the held-out split the search never saw?

    PYTHONPATH=src python benchmarks/search.py --tables adult --budget 6m --models cart,gaussian_copula,independent
    PYTHONPATH=src python benchmarks/search.py --tables abalone,islp_wage --budget 3m --json out.json

For each table (``tables.py``: fixed 80/20 split): ``synthloop.search`` on the 80% with the budget
(it splits off its own validation part); then the chosen configuration and every candidate's defaults
are fitted on the whole 80% (seed 0), sampled to the holdout's size, and scored against the holdout
(detection AUC on one split, TSTR AUC or R², DCR share). Reported: budget overrun, the chosen
model, and on how many of the three the chosen model matches or beats the best default on that
score (0.005 tolerance: below the noise of one split).
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

TOLERANCE = 0.005


def holdout_scores(model: str, params: dict, train, holdout, schema) -> dict[str, float]:
    fitted = sl.synthesizers.get(model, **{**params, "seed": 0}).fit(train, schema)
    synthetic = fitted.sample(len(holdout), seed=1)
    rng = np.random.default_rng(0)
    utility = "tstr_r2" if schema[schema.target].kind == "numeric" else "tstr_auc"
    out = {"detection": get_metric("detection_auc_split")(holdout, synthetic, schema, rng=rng).value}
    try:
        out["utility"] = get_metric(utility)(train, synthetic, schema, holdout=holdout, rng=rng).value
    except NotApplicable:
        out["utility"] = float("nan")
    out["dcr_share"] = get_metric("dcr_share")(train, synthetic, schema, holdout=holdout, rng=rng).value
    return {k: round(float(v), 4) for k, v in out.items()}


def run_table(name: str, budget: str, models: str, jobs: int) -> dict:
    train, holdout = tables.split(name)
    schema = tables.schema_of(name, train)
    with tempfile.TemporaryDirectory() as folder:
        start = time.monotonic()
        result = sl.search(train, Path(folder) / "search", budget=budget, schema=schema, models=models, seed=0,
                           n_jobs=jobs)
        seconds = time.monotonic() - start
    chosen = result.chosen
    row = {"table": name, "budget_s": result.budget, "seconds": round(seconds, 1),
           "overrun": round(seconds / result.budget - 1, 4), "trials": len(result.trials),
           "states": {s: sum(t["state"] == s for t in result.trials) for s in ("COMPLETE", "PRUNED", "FAIL")},
           "chosen": {"model": chosen["model"], "params": chosen["params"], "defaults": chosen["defaults"]}}
    row["chosen_holdout"] = holdout_scores(chosen["model"], chosen["params"], train, holdout, schema)
    row["defaults_holdout"] = {m: holdout_scores(m, {}, train, holdout, schema) for m in models.split(",")}
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
    args = parser.parse_args(argv)
    rows = []
    for name in args.tables.split(","):
        row = run_table(name, args.budget, args.models, args.jobs)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("| table | budget | took (overrun) | trials (complete/pruned/failed) | chosen | holdout detection / TSTR / DCR share | "
          "matches or beats best default on |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        c, s = r["chosen_holdout"], r["states"]
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in r["chosen"]["params"].items())
        print(f"| {r['table']} | {r['budget_s']:.0f} s | {r['seconds']:.0f} s ({r['overrun']:+.1%}) | {r['trials']} "
              f"({s['COMPLETE']}/{s['PRUNED']}/{s['FAIL']}) | {r['chosen']['model']} {params or '(defaults)'} | "
              f"{c['detection']:.3f} / {c['utility']:.3f} / {c['dcr_share']:.3f} | {', '.join(r['matches_or_beats'])} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
