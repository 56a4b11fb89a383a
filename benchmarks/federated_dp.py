"""Federated DP marginal model on Adult vs central ``dp_mst`` at the same epsilon (issue 19).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/federated_dp.py --parties 3 --split iid --seeds 0,1,2
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/federated_dp.py --parties 5 --split column --column race --seeds 0
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/federated_dp.py --central --seeds 0,1,2

Adult's train split is divided into parties (``synthloop.federated.split``); every party measures under
the same ``--epsilon`` (so each row is protected at that epsilon, as in a central fit at that epsilon)
and the public schema inferred from the train split (Adult's categories and ranges are published with it,
as in ``benchmarks/dp.py``). Judged on the test split with the metrics of ``benchmarks/dp.py``: TSTR AUC
(income), detection AUC, column shapes, exact copies; plus wall seconds and the bytes the parties send.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from dp import column_shapes  # benchmarks/dp.py: the same metrics as the central DP benchmark

import synthloop as sl
from synthloop.federated.marginal import MarginalSettings, simulate_marginal
from synthloop.metrics.detection import detection_auc
from synthloop.metrics.privacy import exact_copy_rate
from synthloop.metrics.utility import tstr_auc
from synthloop.synthesizers.base import Synthesizer


def judge(train, holdout, synthetic, schema) -> dict[str, float]:
    rng = np.random.default_rng
    return {"tstr_auc": round(tstr_auc(train, synthetic, schema, holdout=holdout, rng=rng(0)).value, 4),
            "detection_auc": round(detection_auc(holdout, synthetic, schema, rng=rng(0)).value, 4),
            "column_shapes": round(column_shapes(holdout, synthetic, schema), 4),
            "copy_rate": exact_copy_rate(train, synthetic, schema).value}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, default=3)
    parser.add_argument("--split", default="iid", choices=["iid", "label", "column"])
    parser.add_argument("--column", default="income")
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--structure", default="private", choices=["private", "public"])
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--central", action="store_true", help="central dp_mst on the pooled rows instead")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    train, holdout = sl.datasets.load("adult", split="train"), sl.datasets.load("adult", split="test")
    schema = sl.Schema.infer(train, target="income")
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        start = time.perf_counter()
        row: dict[str, object] = {"seed": seed, "epsilon": args.epsilon}
        if args.central:
            model = sl.synthesizers.get("dp_mst", epsilon=args.epsilon, delta=1e-5, seed=seed).fit(train, schema)
            row["arm"] = "central dp_mst"
        else:
            with tempfile.TemporaryDirectory() as tmp:
                settings = MarginalSettings(epsilon=args.epsilon, structure=args.structure, seed=seed)
                out = simulate_marginal(train, Path(tmp) / "m", schema=schema, n_parties=args.parties, how=args.split,
                                        column=args.column if args.split != "iid" else None, alpha=args.alpha,
                                        settings=settings)
                provenance = json.loads((out / "federated.json").read_text())
                model = Synthesizer.load(out)
            row.update(arm=f"federated {args.parties} parties, {args.split}", tree=provenance["tree"],
                       party_rows=[p["n_rows"] for p in provenance["parties"].values()],
                       bytes_per_exchange=[r["bytes_sent"] for r in provenance["rounds"]])
        row["seconds"] = round(time.perf_counter() - start, 1)
        row.update(judge(train, holdout, model.sample(len(train), seed=seed), schema))
        print(json.dumps(row), flush=True)
        rows.append(row)
    tstr = [r["tstr_auc"] for r in rows]
    print(f"{rows[0]['arm']} at epsilon={args.epsilon:g}: TSTR median {statistics.median(tstr):.3f} "
          f"({min(tstr):.3f}-{max(tstr):.3f}), detection median {statistics.median(r['detection_auc'] for r in rows):.3f}, "
          f"column shapes median {statistics.median(r['column_shapes'] for r in rows):.3f}, "
          f"seconds {min(r['seconds'] for r in rows):.0f}-{max(r['seconds'] for r in rows):.0f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
