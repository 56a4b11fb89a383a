"""Fixed cost before a neural model's first epoch on Adult: Schema.infer + model view + TableEncoder fit + transform.

    PYTHONPATH=src python benchmarks/encoder_fixed_cost.py [--repeats 3]

Prints one line per run and encoding (the peer side of this cost, SDV's metadata detection, RDT and
ctgan DataTransformer, is timed by benchmarks/peers/sdv_runner.py as ``fixed_seconds``).
"""

from __future__ import annotations

import argparse
import time

import synthloop as sl
from synthloop.transforms import TableEncoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    train = sl.datasets.load("adult", split="train")
    for numeric in ("mode_specific", "quantile"):
        for _ in range(args.repeats):
            start = time.perf_counter()
            schema = sl.Schema.infer(train)
            inferred = time.perf_counter()
            model_frame = schema.to_model_frame(train)
            viewed = time.perf_counter()
            encoder = TableEncoder(schema, numeric=numeric).fit(model_frame)
            fitted = time.perf_counter()
            encoded = encoder.transform(model_frame)
            done = time.perf_counter()
            print(f"{numeric:13s} rows={len(train)} width={encoded.shape[1]} infer={inferred - start:.2f}s "
                  f"model_view={viewed - inferred:.2f}s fit={fitted - viewed:.2f}s "
                  f"transform={done - fitted:.2f}s total={done - start:.2f}s")


if __name__ == "__main__":
    main()
