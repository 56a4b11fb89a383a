"""Sampling at scale (issue 20): rows per second of the single-process sampler against Parquet
partitions written by 1 and 2 workers on the local pool and on a local Ray, and peak memory per worker.

    PYTHONPATH=src python benchmarks/scale.py --rows 200000 --partition-rows 50000
    PYTHONPATH=src python benchmarks/scale.py --rows 10000000 --partition-rows 1000000   # the issue's size

``cart`` (defaults, seed 0) is fitted once on bundled Adult's training split and saved with its
privacy reference, so every run samples with privacy parity, as ``synthloop sample`` does. The
single-process row is one ``model.sample(N)`` call in this process (its peak memory is this process's
whole peak, fit included); the other rows are ``synthloop.partitions.sample_partitions`` (chunks of
``--chunk-rows``), each worker's peak resident memory as reported by the worker itself.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import synthloop as sl
from synthloop.partitions import sample_partitions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--partition-rows", type=int, default=50_000)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--runs", default="single,local1,local2,ray1,ray2")
    args = parser.parse_args(argv)
    runs = args.runs.split(",")
    with tempfile.TemporaryDirectory() as folder:
        model_dir = Path(folder) / "cart"
        train = sl.datasets.load("adult", split="train")
        model = sl.synthesizers.get("cart", seed=0).fit(train, sl.Schema.infer(train, target="income"))
        model.save(model_dir)
        model.save_privacy_reference(Path(folder) / "cart.privacy")
        print("| run | rows | seconds | rows/s | peak memory per worker (MB) |\n|---|---|---|---|---|", flush=True)
        if "single" in runs:
            start = time.perf_counter()
            rows = len(model.sample(args.rows, seed=1))
            seconds = time.perf_counter() - start
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"| single process, one sample() call | {rows:,} | {seconds:.1f} | {rows / seconds:,.0f} | {peak:,.0f} |",
                  flush=True)
        del model, train
        for run in runs:
            if run == "single":
                continue
            backend, jobs = run[:-1], int(run[-1])
            if backend == "ray":
                import ray

                if ray.is_initialized():
                    ray.shutdown()
                ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False)
                warm = time.perf_counter()
                sample_partitions(model_dir, jobs * 1000, Path(folder) / f"warm{run}", partition_rows=1000,
                                  backend="ray", n_jobs=jobs)            # workers import synthloop once, not timed
                print(f"(ray: {jobs} workers warmed in {time.perf_counter() - warm:.1f} s)", file=sys.stderr)
            done = sample_partitions(model_dir, args.rows, Path(folder) / run, partition_rows=args.partition_rows,
                                     chunk_rows=args.chunk_rows, backend=backend, n_jobs=jobs, seed=1)
            print(f"| {backend}, {jobs} worker{'s' * (jobs > 1)} ({done.n_partitions} partitions) | {done.n_rows:,} | "
                  f"{done.seconds:.1f} | {done.rows_per_second:,.0f} | {done.peak_rss_mb:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
