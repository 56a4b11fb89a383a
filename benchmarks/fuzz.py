"""The long fuzz run (issue 11): many random awkward tables per registered model through fit → sample →
save → load, with the properties of ``synthloop.testing.fuzz.check_table`` (only synthloop errors,
every dtype restored, samples in the training domain, a saved model samples what it sampled before).

    PYTHONPATH=src python benchmarks/fuzz.py                               # 300 tables per cheap model, 40 per neural
    PYTHONPATH=src python benchmarks/fuzz.py --models cart --examples 2000 --seed 3 --json fuzz.json
    PYTHONPATH=src python benchmarks/fuzz.py --models independent --last-year 2200  # the known datetime limit

Prints, per model, how many tables were sampled or refused (with which synthloop error) and the
first failure hypothesis shrank to, with its table; exits 1 when any model failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import synthloop as sl
from synthloop.testing.fuzz import fuzz

CHEAP = ("independent", "gaussian_copula", "cart")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=sl.synthesizers.available())
    parser.add_argument("--examples", type=int, default=300, help="tables per cheap model")
    parser.add_argument("--neural-examples", type=int, default=40, help="tables per neural model")
    parser.add_argument("--max-rows", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--last-year", type=int, default=2100,
                        help="latest datetime drawn; 2200 shows the float-second limit after 2106 (see tables())")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    results, failed = {}, False
    for name in args.models:
        examples = args.examples if name in CHEAP else args.neural_examples
        start = time.perf_counter()
        found = fuzz([name], examples=examples, seed=args.seed, max_rows=args.max_rows,
                     last_year=args.last_year)[name]
        found["seconds"] = round(time.perf_counter() - start, 1)
        results[name] = found
        outcomes = ", ".join(f"{count} {outcome}" for outcome, count in sorted(found["outcomes"].items()))
        print(f"{name:16s} {found['seconds']:7.1f} s  {outcomes}", flush=True)
        if found["failure"]:
            failed = True
            print(f"  FAILED: {found['failure']['error']}\n  {found['failure']['example']}", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
