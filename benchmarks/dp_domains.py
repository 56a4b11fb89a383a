"""What ``domain_share`` buys on Adult when the schema gives no bound and no category list at all.

    PYTHONPATH=src python benchmarks/dp_domains.py --epsilon 1 --share 0.1 --seeds 0,1
    PYTHONPATH=src python benchmarks/dp_domains.py --epsilon 1 --share 0.1 --seeds 0,1 --model dp_mst

Strips every numeric column's bounds and every categorical column's labels from the schema inferred
from Adult's train split, buys them as a DP model's fit does (``synthloop.privacy.domains``: a noisy
histogram on the public grid per numeric column, partition selection per categorical column, half of
delta reserved for it), and prints, per column, the public values next to the DP ones: the share of
rows clipped below and above the DP bounds, how many labels were kept, and the share of rows kept
(rows with a dropped label are left out of the fit). Fast: no model is trained.

With ``--model``, it also fits that DP model on the bare schema with ``domain_share`` (it buys the same
things inside its fit) and scores it as ``dp.py`` does (TSTR AUC, detection AUC, column shapes, on
Adult's test split), next to the same model given the full public schema.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import synthloop as sl
from synthloop.privacy.accounting import Ledger
from synthloop.privacy.domains import DomainPlan, buy_domains


def bare_schema(schema: sl.Schema) -> sl.Schema:
    """The schema with every numeric bound and every category list left out (kinds and nullability kept)."""
    return schema.with_columns(**{c.name: {"low": None, "high": None} if c.kind == "numeric" else {"categories": None}
                                  for c in schema.columns if c.kind in ("numeric", "categorical")})


def score(model: str, train, holdout, fit_schema: sl.Schema, judge: sl.Schema, epsilon: float, seed: int,
          extra: dict) -> str:
    """Fit ``model`` on ``fit_schema`` and score its sample as ``dp.py`` does (judged on the public schema)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import dp  # the sibling benchmark: same fit and metrics

    synthetic, timing = dp.fit_synthloop(model, train, fit_schema, epsilon, seed, extra)
    synthetic = synthetic[list(train.columns)]
    tstr = dp.tstr_auc(train, synthetic, judge, holdout=holdout, rng=np.random.default_rng(dp.SEED)).value
    detection = dp.detection_auc(holdout, synthetic, judge, rng=np.random.default_rng(dp.SEED)).value
    return (f"TSTR {tstr:.3f}, detection {detection:.3f}, column shapes "
            f"{dp.column_shapes(holdout, synthetic, judge):.3f}, fit {timing['fit_s']:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--share", type=float, default=0.1)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--model", choices=["dp_mst", "dp_argn", "dp_vae"], help="also fit and score this model")
    args = parser.parse_args()
    train = sl.datasets.load("adult", split="train")
    schema = sl.Schema.infer(train, target="income")          # as dp.py (tables.schema_of) has it
    bare = bare_schema(schema)
    frame = bare.to_model_frame(train)
    plan = DomainPlan.of(bare)
    for seed in [int(s) for s in args.seeds.split(",")]:
        ledger = Ledger(args.epsilon, 1e-5, n_rows=len(train), reserved_delta=5e-6)
        bought, kept = buy_domains(plan, bare, frame, args.share * ledger.rho, ledger, np.random.default_rng(seed))
        print(f"seed {seed}: {len(plan.bounds)} bounds + {len(plan.categories)} category sets at epsilon = "
              f"{args.epsilon:g}, share {args.share:g}: sigma {ledger.entries[0].detail['sigma']:.1f}, "
              f"rows kept {len(kept) / len(frame):.4f}")
        for name in plan.bounds:
            values, low, high = frame[name].to_numpy(), bought[name].low, bought[name].high
            print(f"  {name}: public [{schema[name].low}, {schema[name].high}], DP [{low:g}, {high:g}]; clipped "
                  f"below {(values < low).mean():.4f}, above {(values > high).mean():.4f}")
        for name in plan.categories:
            print(f"  {name}: {len(bought[name].categories)} of {len(schema[name].categories or ())} labels kept")
        if args.model:
            holdout = sl.datasets.load("adult", split="test")
            extra = {"progress": False} if args.model == "dp_argn" else {}
            for label, fit_schema, more in (("public schema", schema, {}),
                                            (f"bare schema, domain_share={args.share:g}", bare, {"domain_share": args.share})):
                print(f"  {args.model} with the {label}: "
                      f"{score(args.model, train, holdout, fit_schema, schema, args.epsilon, seed, {**extra, **more})}",
                      flush=True)


if __name__ == "__main__":
    main()
