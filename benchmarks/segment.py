"""Targeted generation of a rare segment with ``argn`` on Adult (issue 15): time and within-segment detection.

``argn`` (defaults, seed 0) is fitted on Adult's training split. It then samples ``--rows`` unconditional rows
and ``--rows`` rows of a segment (by default ``hours_per_week>=60`` and ``sex=Female``: 1.2% of the training
rows), each ``--repeats`` times with the default privacy step, and the script prints the median seconds of
both and their ratio (target: the segment at most 2× the unconditional time). The segment's range is met
while drawing (masked tokens, rows kept by their admissible mass: ``TabularARGN._sample_within``); with
``--rejection`` the same model also samples the segment by drawing unconditional rows and keeping those
inside it, for comparison.

Within-segment detection (target ≤ 0.65): ``synthloop.metrics``' detection AUC telling the real rows of the
segment (training and held-out rows together: ~600 rows) from the synthetic segment rows, next to the same
classifier telling the segment's held-out rows from its training rows (what real rows score). The
synthetic side is subsampled to the real side's size by the metric.

    PYTHONPATH=src python benchmarks/segment.py
    PYTHONPATH=src python benchmarks/segment.py --where "age>=65" --where "occupation in (Sales,Tech-support)"
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
import pandas as pd

import synthloop as sl
from synthloop.metrics.detection import detection_auc
from synthloop.synthesizers.conditions import FilterStep, parse_where, split_conditions

DEFAULT_WHERE = ["hours_per_week>=60", "sex=Female"]


def segment_mask(frame: pd.DataFrame, schema: sl.Schema, conditions: dict) -> np.ndarray:
    """Which rows of a real frame fall in the segment (equality conditions and ranges/sets)."""
    equal, predicates = split_conditions(conditions)
    view = schema.to_model_frame(frame)
    ok = FilterStep(schema, predicates).matches(view) if predicates else np.ones(len(frame), dtype=bool)
    for name, value in equal.items():
        ok &= view[name].astype(str).to_numpy() == str(value)
    return ok


def timed(call) -> tuple[float, pd.DataFrame]:
    start = time.perf_counter()
    rows = call()
    return time.perf_counter() - start, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--where", action="append", help=f"a condition as for `synthloop sample` (default: "
                        f"{' '.join(DEFAULT_WHERE)})")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--params", default="{}", help="JSON parameters for argn")
    parser.add_argument("--rejection", action="store_true", help="also time the segment by rejection")
    args = parser.parse_args()
    conditions = dict(parse_where(text) for text in (args.where or DEFAULT_WHERE))
    train = sl.datasets.load("adult", split="train")
    test = sl.datasets.load("adult", split="test")
    schema = sl.Schema.infer(train, target="income")
    in_train, in_test = segment_mask(train, schema, conditions), segment_mask(test, schema, conditions)
    print(f"segment {args.where or DEFAULT_WHERE}: {in_train.sum()} of {len(train):,} training rows "
          f"({in_train.mean():.2%}), {in_test.sum()} of {len(test):,} held-out rows; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)

    model = sl.synthesizers.get("argn", **{"seed": 0, "progress": False, **json.loads(args.params)})
    fit_seconds, _ = timed(lambda: model.fit(train, schema))
    print(f"fit {fit_seconds:.1f} s ({len(model.history_)} epochs)", flush=True)

    model.sample(100, seed=99)                   # builds the privacy reference, once, outside the clocks
    plain, segment = [], []
    for repeat in range(args.repeats):           # interleaved, so load changes hit both alike
        seconds, unconditional = timed(lambda r=repeat: model.sample(args.rows, seed=r))
        plain.append(seconds)
        seconds, rows = timed(lambda r=repeat: model.sample(args.rows, conditions=conditions, seed=r))
        segment.append(seconds)
        n_replaced = model.last_sample_info_.n_replaced
    assert segment_mask(rows, schema, conditions).all(), "a synthetic row outside the segment"
    result = {"conditions": args.where or DEFAULT_WHERE, "params": json.loads(args.params),
              "train_prevalence": round(float(in_train.mean()), 4), "fit_seconds": round(fit_seconds, 1),
              "rows": args.rows, "unconditional_seconds": [round(s, 2) for s in plain],
              "segment_seconds": [round(s, 2) for s in segment],
              "time_ratio": round(statistics.median(segment) / statistics.median(plain), 2),
              "segment_rows_replaced_by_privacy": n_replaced}
    real_segment = pd.concat([train[in_train], test[in_test]], ignore_index=True)
    rng = lambda: np.random.default_rng(0)  # noqa: E731 - the same draws for every comparison
    result["segment_detection_auc"] = round(detection_auc(real_segment, rows, schema, rng=rng()).value, 4)
    result["segment_detection_auc_vs_training_rows"] = round(detection_auc(train[in_train], rows, schema,
                                                                           rng=rng()).value, 4)
    result["segment_holdout_vs_training_auc"] = round(detection_auc(test[in_test], train[in_train], schema,
                                                                    rng=rng()).value, 4)
    result["unconditional_detection_auc"] = round(detection_auc(test, unconditional, schema, rng=rng()).value, 4)
    high = ">50K"
    result["segment_share_income_high"] = {"real": round(float((real_segment["income"] == high).mean()), 4),
                                           "synthetic": round(float((rows["income"] == high).mean()), 4)}
    if args.rejection:
        model.native_predicates = False           # the instance draws unconditional rows and filters them
        seconds, _ = timed(lambda: model.sample(args.rows, conditions=conditions, seed=0))
        result["rejection_segment_seconds"] = round(seconds, 2)
    result["load_average"] = round(os.getloadavg()[0], 1)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
