"""Long work (fit, sample, evaluate, lab, monitor) in background threads, so pages stay responsive.

A job is a row in the workbench's state (queued → running → done | failed) with a progress message,
a fraction when the work reports one, and its outputs. Each runner is one library call
(:func:`~synthloop.workflows.fit_table`, :func:`~synthloop.workflows.sample_table`,
:func:`~synthloop.report.evaluate`) plus the lineage event that says who did it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
import traceback
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from synthloop.errors import ConfigError, DataError, SynthloopError, SynthloopWarning
from synthloop.workbench.folders import Folders
from synthloop.workbench.state import State

log = logging.getLogger("synthloop.workbench")
Progress = Callable[..., None]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Worker:
    """Runs jobs on a small thread pool and records their progress in ``state``."""

    def __init__(self, state: State, folders: Folders, lineage: str | Path, *, threads: int = 1):
        self.state, self.folders, self.lineage = state, folders, lineage
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="workbench-job")
        for job in state.jobs(status="running") + state.jobs(status="queued"):   # a restart lost them
            state.update_job(job["id"], status="failed", error="the server stopped before this job finished",
                             finished_at=time.time())

    def store(self):
        from synthloop.lineage import LineageStore

        return LineageStore(self.lineage)

    def submit(self, kind: str, params: dict[str, Any], user: str) -> str:
        if kind not in RUNNERS:
            raise ConfigError(f"Unknown job kind '{kind}'.")
        job_id = self.state.add_job(kind, params, user)
        self._pool.submit(self._run, job_id)
        return job_id

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, job_id: str) -> None:
        job = self.state.job(job_id)
        self.state.update_job(job_id, status="running", started_at=time.time(), message="starting")

        def progress(message: str | None = None, fraction: float | None = None) -> None:
            fields: dict[str, Any] = {}
            if message is not None:
                fields["message"] = message
            if fraction is not None:
                fields["progress"] = float(fraction)
            if fields:
                self.state.update_job(job_id, **fields)

        try:
            outputs = RUNNERS[job["kind"]](self, job, progress)
        except SynthloopError as exc:
            self.state.update_job(job_id, status="failed", error=str(exc), finished_at=time.time())
        except Exception as exc:  # a job must end as failed, never hang as running; the log keeps the trace
            log.error("job %s failed:\n%s", job_id, traceback.format_exc())
            self.state.update_job(job_id, status="failed", error=f"internal error ({type(exc).__name__}: {exc})",
                                  finished_at=time.time())
        else:
            self.state.update_job(job_id, status="done", outputs=outputs, progress=1.0, message="done",
                                  finished_at=time.time())


def register_upload(store, path: Path, table, name: str):
    """Register a table from the data folder; provenance it carries (a synthetic Parquet file) wins over
    "real", so synthetic data can not be laundered into real data by uploading it."""
    from synthloop.lineage import provenance_of, register_table

    return register_table(store, table, provenance=provenance_of(path), name=name)


def _display(progress: Progress):
    @contextlib.contextmanager
    def display(message: str):
        progress(message)
        yield
    return display


def run_fit(worker: Worker, job: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Split off a holdout (kept for evaluation and privacy baselines), then fit on the rest."""
    from synthloop.io import read_table, write_table
    from synthloop.schema import Schema
    from synthloop.workflows import fit_table

    params, folders = job["params"], worker.folders
    source = folders.table(params["data"])
    progress("reading the table")
    data = read_table(source)
    holdout_share = float(params.get("holdout", 0.2))
    holdout = data.sample(frac=holdout_share, random_state=int(params.get("seed", 0))) if holdout_share > 0 else None
    train = data.drop(holdout.index) if holdout is not None else data
    store = worker.store()
    full = register_upload(store, source, data, params["data"])
    split_kind = "real" if full.kind == "real" else "mixed"      # a split of synthetic data stays synthetic
    train_path = folders.splits / f"{job['id']}.train.csv"
    write_table(train.reset_index(drop=True), train_path)
    store.add(train, kind=split_kind, parents=[full.id], name=folders.relative(train_path), action="split")
    holdout_path = None
    if holdout is not None:
        holdout_path = folders.splits / f"{job['id']}.holdout.csv"
        write_table(holdout.reset_index(drop=True), holdout_path)
        store.add(holdout, kind=split_kind, parents=[full.id], name=folders.relative(holdout_path), action="split")
    schema_path = folders.schemas / f"{source.name}.schema.json"
    schema = Schema.from_json(schema_path.read_text(encoding="utf-8")) if schema_path.is_file() else None
    out = folders.models / job["id"]
    # The collapse guard warns (SynthloopWarning) when the training data is too synthetic or too deep;
    # the job page shows it. Warning filters are process-wide: with --jobs > 1 a note can be recorded
    # by whichever fit is running, so the guard's own record is what lineage keeps.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SynthloopWarning)
        result = fit_table(train_path, params["model"], out, schema=schema, params=params.get("params") or {},
                           params_as_text=True, lineage=worker.lineage, display=_display(progress))
    cautions = [str(w.message) for w in caught if issubclass(w.category, SynthloopWarning)]
    store.log(result.training_id, "workbench-fit", user=job["user"], job=job["id"], model=params["model"])
    return {"model_dir": folders.relative(out), "train": folders.relative(train_path),
            "holdout": None if holdout_path is None else folders.relative(holdout_path),
            "schema": None if schema is None else folders.relative(schema_path),
            "training_id": result.training_id, "seconds": round(result.seconds, 2), "n_rows": result.n_rows,
            "notes": [*cautions, *result.schema_notes, *result.privacy_notes]}


def run_sample(worker: Worker, job: dict[str, Any], progress: Progress) -> dict[str, Any]:
    from synthloop.workflows import sample_table

    params, folders = job["params"], worker.folders
    fit = _done_job(worker, params["fit_job"], "fit")
    out = folders.samples / f"{job['id']}.csv"
    result = sample_table(folders.inside(fit["outputs"]["model_dir"]), int(params["n_rows"]), out,
                          seed=int(params.get("seed", 0)), lineage=worker.lineage, display=_display(progress))
    if result.sample_id is not None:
        worker.store().log(result.sample_id, "workbench-sample", user=job["user"], job=job["id"],
                           sha256=sha256_of(out))
    return {"table": folders.relative(out), "sample_id": result.sample_id, "n_rows": result.n_rows,
            "fit_job": fit["id"], "seconds": round(result.seconds, 2), "notes": list(result.notes)}


def run_evaluate(worker: Worker, job: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Score a sample against the rows its model was fitted on, next to the holdout's own scores."""
    from synthloop.io import read_table
    from synthloop.report import evaluate
    from synthloop.schema import Schema

    params, folders = job["params"], worker.folders
    sample = _done_job(worker, params["sample_job"], "sample")
    fit = _done_job(worker, sample["outputs"]["fit_job"], "fit")
    outputs = fit["outputs"]
    schema = Schema.from_json(folders.inside(outputs["schema"]).read_text(encoding="utf-8")) \
        if outputs.get("schema") else None
    holdout = read_table(folders.inside(outputs["holdout"])) if outputs.get("holdout") else None
    report = evaluate(read_table(folders.inside(outputs["train"])), read_table(folders.inside(sample["outputs"]["table"])),
                      schema, holdout=holdout, seed=int(params.get("seed", 0)),
                      on_step=lambda name, done, total: progress(f"scoring {name}", done / max(total, 1)))
    progress("writing the report")
    gates = list(params.get("gates") or [])
    json_path, html_path = folders.reports / f"{job['id']}.json", folders.reports / f"{job['id']}.html"
    report.to_json(json_path)
    report.to_html(html_path, title=f"Evaluation of sample {sample['id']}", gates=gates)
    decision = report.decide(gates)
    verdict = decision.verdict
    yours = [{"gate": row.gate, "passed": bool(row.passed), "reason": str(row.reason)}
             for row in decision.gates.itertuples() if row.source == "yours"]
    if sample["outputs"].get("sample_id"):
        worker.store().log(sample["outputs"]["sample_id"], "workbench-evaluate", user=job["user"], job=job["id"],
                           report_sha256=sha256_of(json_path), verdict=verdict)
    return {"report": folders.relative(json_path), "html": folders.relative(html_path), "verdict": verdict,
            "sample_job": sample["id"], "gates": yours}


POLICIES = ("replace", "accumulate", "mix-real")


def run_lab_job(worker: Worker, job: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """A collapse-lab run: each policy refits ``model`` on its own output for some generations."""
    from synthloop.io import read_table
    from synthloop.lab import Accumulate, MixReal, Replace, run_lab
    from synthloop.synthesizers import get

    params, folders = job["params"], worker.folders
    made = {"replace": Replace, "accumulate": Accumulate, "mix-real": lambda: MixReal(0.5)}
    policies = [made[name]() for name in params["policies"]]
    generations = int(params["generations"])
    total, done = generations * len(policies), []
    out = folders.lab / job["id"]

    def step(label: str, seed: int, generation: int) -> None:
        done.append(1)
        progress(f"{label}: generation {generation} of {generations}", len(done) / total)

    result = run_lab(read_table(folders.table(params["data"])), get(params["model"]), policies,
                     generations=generations, out_dir=out, n_jobs=1, store=worker.lineage, on_generation=step)
    return {"folder": folders.relative(out), "report": folders.relative(out / "report.html"),
            "rows": len(result.results)}


def run_monitor_job(worker: Worker, job: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Compare uploaded windows with a reference (:class:`~synthloop.monitor.Monitor`), in order.

    Every window is read and checked against the reference's columns before any is compared, so a
    bad window logs nothing; each check is a ``monitor`` event in the lineage store (the timeline).
    """
    from synthloop.io import read_table
    from synthloop.lineage import provenance_of
    from synthloop.monitor import Monitor, write_drift_html

    params, folders = job["params"], worker.folders
    progress("reading the tables")
    source = folders.table(params["reference"])
    reference = read_table(source)
    store = worker.store()
    # Registered first under its data-folder name, so the monitor finds it as lineage has it (a synthetic
    # upload stays synthetic) rather than registering the frame afresh.
    register_upload(store, source, reference, params["reference"])
    windows = [(name, folders.table(name)) for name in params["windows"]]
    frames = [(name, path, read_table(path)) for name, path in windows]
    monitor = Monitor(reference, target=params.get("target") or None, seed=int(params.get("seed", 0)))
    for name, _, frame in frames:
        try:
            monitor.check_columns(frame)
        except DataError as exc:
            raise DataError(f"{name}: {exc}") from None
    monitor.attach(store)
    reports = []
    for i, (name, path, frame) in enumerate(frames):
        progress(f"checking {name}", i / len(frames))
        reports.append(monitor.check(frame, name=name, provenance=provenance_of(path)))
    progress("writing the report")
    out = folders.monitor / job["id"]
    out.mkdir(parents=True, exist_ok=True)
    html = write_drift_html(reports, out / "drift.html", title=f"Drift of {len(reports)} window(s) against "
                                                                 f"{params['reference']}")
    store.log(monitor.reference_id, "workbench-monitor", user=job["user"], job=job["id"],
              windows=list(params["windows"]), drifted=[r.window for r in reports if r.drifted])
    return {"reference_id": monitor.reference_id, "reference_kind": monitor.reference_kind,
            "html": folders.relative(html), "windows": len(reports), "drifted": sum(r.drifted for r in reports),
            "notes": [r.summary() for r in reports]}


def check_gate_syntax(gates: list[str]) -> None:
    """Refuse a gate that can not be read (``detection_auc<=0.7``, ``dcr_share<=baseline+0.05``) before a job starts."""
    import pandas as pd

    from synthloop.report import Report

    empty = Report(scores=pd.DataFrame(columns=list(Report.SCORE_COLUMNS)))
    for gate in gates:
        try:
            empty.check([gate])
        except ConfigError as exc:
            if str(exc).startswith("Cannot read gate"):
                raise
            # a readable gate naming a metric this (empty) report lacks: fine here


def _done_job(worker: Worker, job_id: str, kind: str) -> dict[str, Any]:
    found = worker.state.job(str(job_id))
    if found is None or found["kind"] != kind:
        raise ConfigError(f"No {kind} job '{job_id}'.")
    if found["status"] != "done":
        raise ConfigError(f"The {kind} job '{job_id}' is {found['status']}, not done.")
    return found


RUNNERS: dict[str, Callable[[Worker, dict[str, Any], Progress], dict[str, Any]]] = {
    "fit": run_fit, "sample": run_sample, "evaluate": run_evaluate, "lab": run_lab_job,
    "monitor": run_monitor_job}
