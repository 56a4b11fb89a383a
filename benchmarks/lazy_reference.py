"""Fit time without the eager privacy reference (issue 12 item 2), and the default sample's quality.

    PYTHONPATH=src python benchmarks/lazy_reference.py [--repeats 3] [--json out.json]

For ``independent`` and ``cart`` on bundled Adult (39,073 training rows): fit seconds (best of
``--repeats``), seconds of ``sample(privacy="off")``, of the first default ``sample`` (which now builds
the privacy reference) and of the next one, detection AUC of the default sample against the held-out
split and its exact-copy rate. Runs against any
synthloop checkout (set PYTHONPATH to its src), so before and after can be compared on one machine.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import synthloop as sl
from synthloop.metrics import get_metric

MODELS = ("independent", "cart")


def measure(name: str, train, holdout, schema, repeats: int) -> dict[str, float]:
    fits = []
    for _ in range(repeats):
        start = time.perf_counter()
        model = sl.synthesizers.get(name, seed=0).fit(train, schema)
        fits.append(time.perf_counter() - start)
    start = time.perf_counter()
    model.sample(len(train), seed=1, privacy="off")
    off_s = time.perf_counter() - start
    start = time.perf_counter()
    synthetic = model.sample(len(train), seed=1)
    sample_s = time.perf_counter() - start
    start = time.perf_counter()
    model.sample(len(train), seed=1)
    next_s = time.perf_counter() - start
    rng = np.random.default_rng(0)
    detection = get_metric("detection_auc")(train, synthetic, schema, holdout=holdout, rng=rng).value
    copies = get_metric("exact_copy_rate")(train, synthetic, schema).value
    return {"model": name, "fit_s": min(fits), "off_s": off_s, "first_sample_s": sample_s, "next_sample_s": next_s,
            "detection_auc": float(detection),
            "exact_copy_rate": float(copies), "replaced": int(model.last_sample_info_.n_replaced)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    train, holdout = sl.datasets.load("adult", split="train"), sl.datasets.load("adult", split="test")
    schema = sl.Schema.infer(train, target="income")
    rows = [measure(name, train, holdout, schema, args.repeats) for name in MODELS]
    print("| model | fit s | off s | first parity sample s | next parity sample s | detection AUC | copies | replaced |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['model']} | {row['fit_s']:.2f} | {row['off_s']:.2f} | {row['first_sample_s']:.2f} | "
              f"{row['next_sample_s']:.2f} | {row['detection_auc']:.3f} | "
              f"{row['exact_copy_rate']:.4f} | {row['replaced']:,} |")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(rows, out, indent=2)


if __name__ == "__main__":
    main()
