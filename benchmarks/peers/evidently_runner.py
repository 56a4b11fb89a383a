"""Evidently's default data-drift preset on windows, for benchmarks/drift.py (run with the peer venv's python).

    /work/benchenv/evidently/bin/python benchmarks/peers/evidently_runner.py REFERENCE.parquet WINDOW.parquet...

Prints one JSON line per window: the share and count of drifted columns, dataset drift (Evidently's
default: at least half the columns drift), the drifted columns and the seconds the report took.
Never imports synthloop.
"""

from __future__ import annotations

import json
import sys
import time

import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset


def main(reference_path: str, window_paths: list[str]) -> None:
    reference = pd.read_parquet(reference_path)
    for path in window_paths:
        window = pd.read_parquet(path)
        start = time.perf_counter()
        found = Report([DataDriftPreset()]).run(current_data=window, reference_data=reference).dict()
        seconds = time.perf_counter() - start
        count = next(m for m in found["metrics"] if m["metric_name"].startswith("DriftedColumnsCount"))
        drifted = [m["config"]["column"] for m in found["metrics"]
                   if m["metric_name"].startswith("ValueDrift") and m["value"] >= m["config"]["threshold"]]
        print(json.dumps({"window": path, "share": count["value"]["share"], "count": count["value"]["count"],
                          "dataset_drift": count["value"]["share"] >= 0.5, "drifted": drifted,
                          "seconds": seconds}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
