"""Quick trials of ``argn`` on the privacy-parity tables: detection AUC and TSTR over several fit seeds.

What docs/benchmarks.md ("`argn` sized to its table") used to choose ``argn``'s size rule: each table's
fixed 80/20 split (``tables.py``), ``argn`` fitted with the given parameters (the rest sized to the table,
``argn.size_rule``) once per seed, ``len(train)`` rows sampled with the same seed (default privacy, as in
``privacy_parity.py``), judged against the held-out rows with ``synthloop.metrics`` (detection AUC, TSTR
AUC or R²; their own random state fixed at 0). One line per table: the mean and each seed's detection, the mean TSTR, the fit
seconds, the epochs run and the settings the fit used (``settings_``).

    PYTHONPATH=src python benchmarks/argn_small_tables.py --tables penguins,breast_cancer --seeds 0,1
    PYTHONPATH=src python benchmarks/argn_small_tables.py --tables abalone --params '{"bins": 24, "fine_bins": 3}'
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import synthloop as sl
from synthloop.metrics.detection import detection_auc
from synthloop.metrics.utility import tstr_auc, tstr_r2

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tables  # the sibling catalogue of real tables


def trial(table: str, params: dict, seeds: list[int]) -> str:
    train, holdout = tables.split(table)
    schema = tables.schema_of(table, train)
    utility = tstr_auc if schema[schema.target].kind in ("categorical", "boolean") else tstr_r2
    detections, tstrs, fits = [], [], []
    for seed in seeds:
        start = time.perf_counter()
        model = sl.synthesizers.get("argn", seed=seed, progress=False, **params).fit(train, schema)
        fits.append(time.perf_counter() - start)
        synthetic = model.sample(len(train), seed=seed)
        detections.append(detection_auc(holdout, synthetic, schema, rng=np.random.default_rng(0)).value)
        tstrs.append(utility(train, synthetic, schema, holdout=holdout, rng=np.random.default_rng(0)).value)
    return (f"{table} ({len(train):,} rows) | detection {np.mean(detections):.3f} "
            f"({', '.join(f'{d:.3f}' for d in detections)}) | TSTR {np.mean(tstrs):.3f} | fit {np.mean(fits):.1f} s | "
            f"{len(model.history_)} epochs | {model.settings_}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="penguins,breast_cancer,abalone,nyse")
    parser.add_argument("--params", default="{}", help="JSON parameters for argn (the rest: sized)")
    parser.add_argument("--seeds", default="0,1")
    args = parser.parse_args(argv)
    params = json.loads(args.params)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"argn {params or 'sized'}, seeds {seeds}", flush=True)
    for table in args.tables.split(","):
        print(trial(table, params, seeds), flush=True)


if __name__ == "__main__":
    main()
