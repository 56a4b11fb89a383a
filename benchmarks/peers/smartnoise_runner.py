"""Fit smartnoise-synth's AIM or MST on a training table and write samples; never imports synthloop.

    /work/benchenv/smartnoise/bin/python benchmarks/peers/smartnoise_runner.py --synth mst --epsilon 1 \
        --train train.parquet --schema public.json --out synthetic.parquet [--rounds 24] [--bins 32]

``public.json`` holds the public domain: ``{"categorical": {name: [labels]}, "continuous": {name: [low,
high, integer]}}``. Continuous columns get a ``BinTransformer`` over those public bounds (no
preprocessor budget spent; values come back as bin midpoints, smartnoise's behaviour); categorical
columns a ``LabelTransformer``, which takes its label set from the training data (smartnoise offers
no way to pass it; here it equals the public one). Prints one JSON line: fit and sample seconds, the
process's peak memory. smartnoise's noise cannot be seeded through its API; ``--seed`` seeds NumPy's
and Python's global generators, which is all that can be done from outside.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synth", choices=["aim", "mst"], required=True)
    parser.add_argument("--epsilon", type=float, required=True)
    parser.add_argument("--delta", type=float, default=1e-5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", required=True)
    parser.add_argument("--schema", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--rounds", type=int, default=24, help="AIM rounds (its default did not finish in 12 min)")
    parser.add_argument("--bins", type=int, default=32)
    args = parser.parse_args()
    from snsynth import Synthesizer
    from snsynth.transform import BinTransformer, LabelTransformer

    train = pd.read_parquet(args.train)
    public = json.loads(Path(args.schema).read_text(encoding="utf-8"))
    constraints = {name: LabelTransformer(nullable=True) for name in public["categorical"]}
    for name, (low, high, _integer) in public["continuous"].items():
        constraints[name] = BinTransformer(bins=args.bins, lower=low, upper=high,
                                           nullable=bool(train[name].isna().any()))
    data = train[list(constraints)].copy()
    for name in public["categorical"]:
        data[name] = data[name].astype(object).where(data[name].notna(), None)
    if args.synth == "aim" and args.rounds <= 0.9 * len(constraints):
        # AIM measures every 1-way marginal first at sigma^2 = rounds / (1.8 rho): 0.9 * columns / rounds
        # of the budget rho. At 1 or more nothing is left, its next noise scale is sqrt(negative) = NaN and
        # fit stops with "probabilities contain NaN" (seen on breast_cancer: 31 columns, 24 rounds).
        parser.error(f"AIM with --rounds {args.rounds} spends {0.9 * len(constraints) / args.rounds:.2f} of its budget "
                 f"on the {len(constraints)} one-way marginals alone; use --rounds > {0.9 * len(constraints):g}")
    random.seed(args.seed)
    np.random.seed(args.seed)
    options = {"rounds": args.rounds} if args.synth == "aim" else {}
    model = Synthesizer.create(args.synth, epsilon=args.epsilon, delta=args.delta, **options)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stdout, sys.stdout = sys.stdout, sys.stderr       # smartnoise prints progress on stdout
        try:
            model.fit(data, transformer=constraints, preprocessor_eps=0.0)
            fit_seconds = time.perf_counter() - start
            start = time.perf_counter()
            synthetic = model.sample(len(train))
        finally:
            sys.stdout = stdout
    sample_seconds = time.perf_counter() - start
    synthetic = pd.DataFrame(synthetic, columns=list(constraints))[list(train.columns)]
    for name in public["continuous"]:
        synthetic[name] = pd.to_numeric(synthetic[name], errors="coerce")
    synthetic.to_parquet(args.out, index=False)
    print(json.dumps({"synth": args.synth, "epsilon": args.epsilon, "fit_seconds": fit_seconds,
                      "sample_seconds": sample_seconds,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
