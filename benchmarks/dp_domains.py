"""What ``domain_share`` buys on Adult when the schema gives no bound and no category list at all.

    PYTHONPATH=src python benchmarks/dp_domains.py --epsilon 1 --share 0.1 --seeds 0,1

Strips every numeric column's bounds and every categorical column's labels from the schema inferred
from Adult's train split, buys them as a DP model's fit does (``synthloop.privacy.domains``: a noisy
histogram on the public grid per numeric column, partition selection per categorical column, half of
delta reserved for it), and prints, per column, the public values next to the DP ones: the share of
rows clipped below and above the DP bounds, how many labels were kept, and the share of rows kept
(rows with a dropped label are left out of the fit). Fast: no model is trained.
"""

from __future__ import annotations

import argparse

import numpy as np

import synthloop as sl
from synthloop.privacy.accounting import Ledger
from synthloop.privacy.domains import DomainPlan, buy_domains


def bare_schema(schema: sl.Schema) -> sl.Schema:
    """The schema with every numeric bound and every category list left out (kinds and nullability kept)."""
    return schema.with_columns(**{c.name: {"low": None, "high": None} if c.kind == "numeric" else {"categories": None}
                                  for c in schema.columns if c.kind in ("numeric", "categorical")})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--share", type=float, default=0.1)
    parser.add_argument("--seeds", default="0,1")
    args = parser.parse_args()
    train = sl.datasets.load("adult", split="train")
    schema = sl.Schema.infer(train)
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


if __name__ == "__main__":
    main()
