"""DP models (``dp_mst``, ``dp_vae``) on Adult: fit seconds, peak memory, TSTR AUC, detection AUC, column shapes, copies.

    PYTHONPATH=src python benchmarks/dp.py --epsilons 1 --seeds 0,1,2 --json dp.json
    PYTHONPATH=src python benchmarks/dp.py --epsilons 1,3,10 --seeds 0,1,2,3,4 --json dp.json   # the issue's grid
    PYTHONPATH=src python benchmarks/dp.py --model dp_vae --epsilons 1 --seeds 0 --json dp_vae.json

Trains on Adult's train split, judges on its test split with the evaluation suite's metrics (the
same as ``privacy_parity.py``): TSTR AUC (income), detection AUC (holdout vs synthetic), column shapes
(mean 1 − KS / 1 − TVD, synthetic vs holdout), exact copies of training rows. The schema is inferred
from the training split and passed *as the public schema*: the category sets and bounds of Adult are
public knowledge (the UCI documentation lists them), and the ledger lists them as public. Peak memory
is the process's maximum resident size after each fit (JAX included). smartnoise-synth is not
installed in this environment; its numbers in ``docs/benchmarks.md`` come from the issue.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

import numpy as np

import synthloop as sl
from synthloop.metrics.detection import detection_auc
from synthloop.metrics.fidelity import ks_complement, tv_complement
from synthloop.metrics.privacy import exact_copy_rate
from synthloop.metrics.registry import NotApplicable
from synthloop.metrics.utility import tstr_auc

SEED = 0


def column_shapes(real, synthetic, schema) -> float:
    parts = []
    for metric in (ks_complement, tv_complement):
        try:
            parts.append(metric(real, synthetic, schema).details.iloc[:, 1].to_numpy())
        except NotApplicable:
            continue
    return float(np.mean(np.concatenate(parts)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epsilons", default="1")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--model", default="dp_mst", choices=["dp_mst", "dp_vae"])
    parser.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE",
                        help="extra model parameter, value as JSON (e.g. -p epochs=10)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    train = sl.datasets.load("adult", split="train")
    holdout = sl.datasets.load("adult", split="test")
    schema = sl.Schema.infer(train, target="income")
    rows = []
    for epsilon in [float(e) for e in args.epsilons.split(",")]:
        for seed in [int(s) for s in args.seeds.split(",")]:
            start = time.perf_counter()
            extra = {k: json.loads(v) for k, _, v in (p.partition("=") for p in args.param)}
            model = sl.synthesizers.get(args.model, epsilon=epsilon, delta=1e-5, seed=seed, **extra)
            model.fit(train, schema)
            fit_s = time.perf_counter() - start
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            synthetic = model.sample(len(train), seed=seed)
            row = {"model": args.model, "epsilon": epsilon, "seed": seed, "fit_s": round(fit_s, 1), "peak_mb": round(peak_mb),
                   "spent_epsilon": round(model.ledger_.spent_epsilon(), 4),
                   "tstr_auc": tstr_auc(train, synthetic, schema, holdout=holdout,
                                        rng=np.random.default_rng(SEED)).value,
                   "detection_auc": detection_auc(holdout, synthetic, schema, rng=np.random.default_rng(SEED)).value,
                   "column_shapes": column_shapes(holdout, synthetic, schema),
                   "copy_rate": exact_copy_rate(train, synthetic, schema).value}
            print(json.dumps(row), flush=True)
            rows.append(row)
    for epsilon in sorted({r["epsilon"] for r in rows}):
        some = [r for r in rows if r["epsilon"] == epsilon]
        tstr = [r["tstr_auc"] for r in some]
        print(f"epsilon={epsilon:g}: TSTR median {statistics.median(tstr):.3f} (range {min(tstr):.3f}-{max(tstr):.3f}), "
              f"detection median {statistics.median(r['detection_auc'] for r in some):.3f}, column shapes median "
              f"{statistics.median(r['column_shapes'] for r in some):.3f}, copies max {max(r['copy_rate'] for r in some):.4f}, "
              f"fit {min(r['fit_s'] for r in some):.0f}-{max(r['fit_s'] for r in some):.0f} s, "
              f"peak {max(r['peak_mb'] for r in some)} MB")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
