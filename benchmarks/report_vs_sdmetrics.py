"""synthloop's evaluation report against SDMetrics' QualityReport + DCROverfittingProtection, same data, one run.

Usage (from the repository root; SDMetrics lives in its own venv so it never enters our dependencies):

    python -m venv /work/benchenv/sdmetrics
    /work/benchenv/sdmetrics/bin/pip install -c constraints.txt sdmetrics
    PYTHONPATH=src python benchmarks/report_vs_sdmetrics.py [--peer-python /work/benchenv/sdmetrics/bin/python]

Real data: bundled Adult, train split (39,073 rows); holdout: the test split (9,769 rows); synthetic:
as many rows from the independent-marginals baseline (seed 0). The script times synthloop's default
report (all default metrics, each with its holdout baseline; subsamples seeded and listed in the
report), then runs the SDMetrics side in a subprocess with the peer venv's Python and prints both
times and their ratio, plus the headline scores of each.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PEER_SIDE = r"""
import json, sys, time, warnings
import pandas as pd
warnings.filterwarnings("ignore")
from sdmetrics.reports.single_table import QualityReport
from sdmetrics.single_table import DCROverfittingProtection

folder, rows = sys.argv[1], sys.argv[2]
real = pd.read_csv(f"{folder}/real.csv"); synthetic = pd.read_csv(f"{folder}/synthetic.csv")
holdout = pd.read_csv(f"{folder}/holdout.csv")
columns = json.load(open(f"{folder}/sdtypes.json"))
subsample = None if rows == "all" else int(rows)
start = time.perf_counter()
report = QualityReport()
report.generate(real, synthetic, {"columns": columns}, verbose=False)
quality_seconds = time.perf_counter() - start
start = time.perf_counter()
dcr = DCROverfittingProtection.compute_breakdown(real, synthetic, holdout, {"tables": {"adult": {"columns": columns}}},
                                                 "adult", num_rows_subsample=subsample)
dcr_seconds = time.perf_counter() - start
print(json.dumps({"quality_score": report.get_score(), "quality_seconds": quality_seconds,
                  "dcr": dcr, "dcr_seconds": dcr_seconds}, default=float))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", default="/work/benchenv/sdmetrics/bin/python")
    parser.add_argument("--dcr-rows", default="all", help="SDMetrics DCR subsample of synthetic rows ('all' = none)")
    args = parser.parse_args()

    import synthloop as sl

    real = sl.datasets.load("adult", split="train")
    holdout = sl.datasets.load("adult", split="test")
    schema = sl.Schema.infer(real, target="income")
    synthetic = sl.synthesizers.get("independent", seed=0).fit(real, schema).sample(len(real))

    with tempfile.TemporaryDirectory() as folder:
        for name, frame in (("real", real), ("synthetic", synthetic), ("holdout", holdout)):
            frame.to_csv(Path(folder) / f"{name}.csv", index=False)
        sdtypes = {c.name: {"sdtype": "numerical" if c.kind == "numeric" else "categorical"} for c in schema.columns}
        (Path(folder) / "sdtypes.json").write_text(json.dumps(sdtypes))

        start, cpu = time.perf_counter(), time.process_time()
        report = sl.evaluate(real, synthetic, schema, holdout=holdout, seed=0)
        ours_seconds, ours_cpu = time.perf_counter() - start, time.process_time() - cpu
        start = time.perf_counter()
        html_bytes = len(report.to_html(Path(folder) / "report.html").encode())
        html_seconds = time.perf_counter() - start

        env = {**os.environ, "PYTHONPATH": ""}
        peer = subprocess.run([args.peer_python, "-c", PEER_SIDE, folder, args.dcr_rows], capture_output=True,
                              text=True, env=env, check=True)
        theirs = json.loads(peer.stdout.strip().splitlines()[-1])

    peer_seconds = theirs["quality_seconds"] + theirs["dcr_seconds"]
    print(f"data: Adult train {len(real):,} rows, holdout {len(holdout):,}, synthetic {len(synthetic):,} (independent)")
    print(f"synthloop evaluate (default, {len(report.scores)} metrics, each with a holdout baseline): "
          f"{ours_seconds:.1f} s wall, {ours_cpu:.1f} s CPU; HTML {html_seconds:.1f} s, {html_bytes / 1024:.0f} KB")
    print(f"SDMetrics QualityReport: {theirs['quality_seconds']:.1f} s (score {theirs['quality_score']:.3f}); "
          f"DCROverfittingProtection ({args.dcr_rows} rows): {theirs['dcr_seconds']:.1f} s "
          f"(score {theirs['dcr']['score']:.3f})")
    print(f"ratio SDMetrics / synthloop wall time: {peer_seconds / ours_seconds:.2f}x")
    print("synthloop headline scores (value | holdout baseline):")
    for name in ("ks_complement", "tv_complement", "correlation_similarity", "contingency_similarity",
                 "detection_auc", "tstr_auc", "dcr_share", "exact_copy_rate", "membership_inference_auc"):
        print(f"  {name:26s} {report.value(name):.4f} | {report.baseline(name):.4f}")
    print(f"notes: {report.meta['notes']}")


if __name__ == "__main__":
    sys.exit(main())
