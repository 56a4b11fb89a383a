"""The workbench end to end on bundled Adult: how long a `cart` fit takes through the app, and page times.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/workbench.py [--model cart] [--repeats 5] [--json out.json]

Creates a fresh data folder and a QA user, uploads Adult's training split as CSV (39,073 rows), fits
``--model`` as a background job (20% kept as holdout), samples as many rows as it trained on,
evaluates (default metrics, with the holdout), requests an internal release, uploads Adult's test
split and a copy whose ages moved by +10 years and monitors both against the training split (target
``income``: joint test and CBPE estimate per window); then times each page
(median of ``--repeats`` GETs, in process through the ASGI test client: server-side time without a
network). Job seconds are the worker's (start to finish); the app's responsiveness is measured by
timing a page while the fit job runs.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import statistics
import tempfile
import time

import synthloop as sl
from synthloop.workbench.app import create_app
from synthloop.workbench.auth import add_user

PASSWORD = "benchmark-password"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cart")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="workbench-bench-") as folder:
        out = measure(folder, args)
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(out, handle, indent=2)


def measure(folder: str, args) -> dict[str, object]:
    from fastapi.testclient import TestClient

    app = create_app(folder)
    add_user(app.state.workbench.state, "qa", PASSWORD, ["qa", "expert"])
    adult = sl.datasets.load("adult", split="train")
    body = io.BytesIO()
    adult.to_csv(body, index=False)
    out: dict[str, object] = {"model": args.model, "rows": len(adult)}
    with TestClient(app) as client:
        def token(url="/datasets"):
            return re.search(r'name="csrf" value="([^"]+)"', client.get(url).text).group(1)

        client.post("/login", data={"name": "qa", "password": PASSWORD, "csrf": token("/login")})
        start = time.perf_counter()
        client.post("/datasets/upload", data={"csrf": token()},
                    files={"file": ("adult.csv", body.getvalue(), "text/csv")})
        out["upload_s"] = round(time.perf_counter() - start, 2)

        def run(url, data, label):
            response = client.post(url, data={"csrf": token(), **data}, follow_redirects=False)
            job = response.headers["location"].rsplit("/", 1)[-1]
            busy = []
            while True:
                tick = time.perf_counter()
                status = client.get(f"/jobs/{job}/status").json()
                busy.append(time.perf_counter() - tick)
                if status["status"] in ("done", "failed"):
                    break
                time.sleep(0.5)
            if status["status"] != "done":
                raise SystemExit(f"{label} failed: {status['error']}")
            out[f"{label}_job_s"] = round(status["finished_at"] - status["started_at"], 2)
            out[f"{label}_status_ms_while_running"] = round(1000 * statistics.median(busy), 1)
            return job, status

        fit, fitted = run("/fit", {"data": "uploads/adult.csv", "model": args.model, "holdout": "0.2"}, "fit")
        out["fit_library_s"] = fitted["outputs"]["seconds"]
        sample, _ = run("/sample", {"fit_job": fit, "n_rows": str(fitted["outputs"]["n_rows"])}, "sample")
        evaluation, evaluated = run("/evaluate", {"sample_job": sample}, "evaluate")
        out["verdict"] = evaluated["outputs"]["verdict"]
        response = client.post("/releases", data={"csrf": token(), "evaluation": evaluation, "tier": "internal"},
                               follow_redirects=False)
        release = response.headers["location"].rsplit("/", 1)[-1]
        out["release_status"] = app.state.workbench.state.release(release)["status"]
        test = sl.datasets.load("adult", split="test")
        for name, frame in (("adult-test.csv", test), ("adult-test-older.csv", test.assign(age=test["age"] + 10))):
            body = io.BytesIO()
            frame.to_csv(body, index=False)
            client.post("/datasets/upload", data={"csrf": token()}, files={"file": (name, body.getvalue(), "text/csv")})
        monitor, monitored = run("/monitor", {"reference": "uploads/adult.csv", "target": "income",
                                              "windows": ["uploads/adult-test.csv", "uploads/adult-test-older.csv"]},
                                 "monitor")
        out["monitor_drifted_windows"] = monitored["outputs"]["drifted"]
        reference = monitored["outputs"]["reference_id"]
        pages = {"datasets": "/datasets", "dataset preview": "/datasets/view?name=uploads/adult.csv",
                 "schema review": "/schema?name=uploads/adult.csv", "jobs": "/jobs", "job": f"/jobs/{fit}",
                 "report": f"/reports/{evaluation}", "release": f"/releases/{release}", "lineage": "/lineage",
                 "monitor": "/monitor", "monitor timeline": f"/monitor/{reference}",
                 "drift report": f"/monitor/reports/{monitor}"}
        timings = {}
        for name, url in pages.items():
            spent = []
            for _ in range(args.repeats):
                tick = time.perf_counter()
                assert client.get(url).status_code == 200, url
                spent.append(time.perf_counter() - tick)
            timings[name] = round(1000 * statistics.median(spent), 1)
        out["pages_ms"] = timings
    return out


if __name__ == "__main__":
    main()
