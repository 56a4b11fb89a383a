"""DP models on the privacy-parity tables: fit seconds, peak memory, TSTR, detection AUC, column shapes, copies.

    PYTHONPATH=src python benchmarks/dp.py --epsilons 1 --seeds 0,1,2 --json dp.json
    PYTHONPATH=src python benchmarks/dp.py --epsilons 1,3,10 --seeds 0,1,2,3,4 --json dp.json   # the issue's grid
    PYTHONPATH=src python benchmarks/dp.py --model dp_vae --epsilons 1 --seeds 0 --json dp_vae.json
    PYTHONPATH=src python benchmarks/dp.py --model dp_argn --epsilons 1 --seeds 0,1,2 --json dp_argn.json
    PYTHONPATH=src python benchmarks/dp.py --table islp_default --epsilons 1,3,10 --seeds 0,1,2 --json d.json
    PYTHONPATH=src python benchmarks/dp.py --model smartnoise-mst --epsilons 1 --seeds 0 --json sn.json

Trains on a table's train split (``--table``: Adult, or any table of ``tables.py``, which needs the
tables venv), judges on its test split with the evaluation suite's metrics (the same as
``privacy_parity.py``): TSTR (AUC for classification targets, R² for regression), detection AUC
(holdout vs synthetic), column shapes (mean 1 − KS / 1 − TVD, synthetic vs holdout), exact copies of
training rows. The schema is inferred from the training split and passed *as the public schema*: the
category sets and bounds of these tables are published with them, and the ledger lists them as
public. Peak memory is the process's maximum resident size after each fit (JAX included), or the
peer process's own. ``smartnoise-aim`` / ``smartnoise-mst`` run smartnoise-synth in its own venv
(``/work/benchenv/smartnoise``) through ``peers/smartnoise_runner.py``, which never imports synthloop;
they are given the same public category sets and bounds (no preprocessor budget needed).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import synthloop as sl
from synthloop.metrics.detection import detection_auc
from synthloop.metrics.fidelity import ks_complement, tv_complement
from synthloop.metrics.privacy import exact_copy_rate
from synthloop.metrics.registry import NotApplicable
from synthloop.metrics.utility import tstr_auc, tstr_r2

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tables  # the sibling catalogue of real tables

HERE = Path(__file__).resolve().parent
PEER_PYTHON = "/work/benchenv/smartnoise/bin/python"
MODELS = ["dp_mst", "dp_vae", "dp_argn", "smartnoise-aim", "smartnoise-mst"]
SEED = 0


def column_shapes(real, synthetic, schema) -> float:
    parts = []
    for metric in (ks_complement, tv_complement):
        try:
            parts.append(metric(real, synthetic, schema).details.iloc[:, 1].to_numpy())
        except NotApplicable:
            continue
    return float(np.mean(np.concatenate(parts)))


def fit_synthloop(name: str, train: pd.DataFrame, schema: sl.Schema, epsilon: float, seed: int,
                  extra: dict) -> tuple[pd.DataFrame, dict]:
    start = time.perf_counter()
    model = sl.synthesizers.get(name, epsilon=epsilon, delta=1e-5, seed=seed, **extra).fit(train, schema)
    fit_s = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return model.sample(len(train), seed=seed), {"fit_s": round(fit_s, 1), "peak_mb": round(peak_mb),
                                                 "spent_epsilon": round(model.ledger_.spent_epsilon(), 4)}


def fit_peer(name: str, train: pd.DataFrame, schema: sl.Schema, epsilon: float, seed: int,
             extra: dict) -> tuple[pd.DataFrame, dict]:
    """smartnoise-synth in its own venv; the public schema goes along as JSON (categories, bounds)."""
    public = {"categorical": {c.name: list(c.categories or ()) for c in schema.columns if c.kind != "numeric"},
              "continuous": {c.name: [c.low, c.high, bool(c.integer)] for c in schema.columns if c.kind == "numeric"}}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        train.to_parquet(folder / "train.parquet", index=False)
        (folder / "schema.json").write_text(json.dumps(public))
        command = [PEER_PYTHON, str(HERE / "peers" / "smartnoise_runner.py"), "--synth", name.split("-")[1],
                   "--epsilon", str(epsilon), "--delta", "1e-5", "--seed", str(seed), "--train",
                   str(folder / "train.parquet"), "--schema", str(folder / "schema.json"), "--out",
                   str(folder / "out.parquet"), *[f"--{k.replace('_', '-')}={v}" for k, v in extra.items()]]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
        info = json.loads(done.stdout.strip().splitlines()[-1])
        synthetic = pd.read_parquet(folder / "out.parquet")
    return synthetic, {"fit_s": round(info["fit_seconds"], 1), "peak_mb": round(info["peak_mb"]),
                       "spent_epsilon": epsilon}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="adult", choices=list(tables.TABLES))
    parser.add_argument("--epsilons", default="1")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--model", default="dp_mst", choices=MODELS)
    parser.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE",
                        help="extra model parameter, value as JSON (e.g. -p epochs=10)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.table == "adult":
        train, holdout = sl.datasets.load("adult", split="train"), sl.datasets.load("adult", split="test")
    else:
        train, holdout = tables.split(args.table)
    schema = tables.schema_of(args.table, train)
    classification = tables.TABLES[args.table].task == "classification"
    utility = tstr_auc if classification else tstr_r2
    extra = {k: json.loads(v) for k, _, v in (p.partition("=") for p in args.param)}
    fit = fit_peer if args.model.startswith("smartnoise") else fit_synthloop
    rows = []
    for epsilon in [float(e) for e in args.epsilons.split(",")]:
        for seed in [int(s) for s in args.seeds.split(",")]:
            synthetic, timing = fit(args.model, train, schema, epsilon, seed, extra)
            synthetic = synthetic[list(train.columns)]
            tstr = utility(train, synthetic, schema, holdout=holdout, rng=np.random.default_rng(SEED))
            row = {"table": args.table, "model": args.model, "epsilon": epsilon, "seed": seed, **timing,
                   "tstr": tstr.value, "trtr": tstr.baseline,
                   "detection_auc": detection_auc(holdout, synthetic, schema, rng=np.random.default_rng(SEED)).value,
                   "column_shapes": column_shapes(holdout, synthetic, schema),
                   "copy_rate": exact_copy_rate(train, synthetic, schema).value}
            print(json.dumps(row), flush=True)
            rows.append(row)
    for epsilon in sorted({r["epsilon"] for r in rows}):
        some = [r for r in rows if r["epsilon"] == epsilon]
        tstr = [r["tstr"] for r in some]
        print(f"{args.table} {args.model} epsilon={epsilon:g}: TSTR {'AUC' if classification else 'R2'} median "
              f"{statistics.median(tstr):.3f} (range {min(tstr):.3f}-{max(tstr):.3f}; real {some[0]['trtr']:.3f}), "
              f"detection median {statistics.median(r['detection_auc'] for r in some):.3f}, column shapes median "
              f"{statistics.median(r['column_shapes'] for r in some):.3f}, copies max {max(r['copy_rate'] for r in some):.4f}, "
              f"fit {min(r['fit_s'] for r in some):.0f}-{max(r['fit_s'] for r in some):.0f} s, "
              f"peak {max(r['peak_mb'] for r in some)} MB")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
