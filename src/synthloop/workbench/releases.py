"""Releases: a synthetic table bundled with its evaluation, a tier's gates, and a privacy officer's decision.

A release binds to bytes, not names: the SHA-256 of the table and of the report JSON are taken when
it is requested and checked again when it is decided, so a file changed in between can not be
approved. Tiers set gates anchored on the holdout's own scores (``baseline`` is the same metric
for real rows the model never saw): what counts as a leak is measured against unseen real data,
not a fixed number. A request whose gates fail is recorded as ``blocked`` and can not be approved;
a metric the report lacks fails its gate. Every step is an event in the lineage store on the
released table (who, when, which hashes, which gates), and the decision is exported as a manifest.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from typing import Any

from synthloop.errors import ConfigError, PrivacyError
from synthloop.workbench.folders import Folders
from synthloop.workbench.jobs import Worker, sha256_of

TIERS: dict[str, tuple[str, ...]] = {
    # inside the organisation: no more copies than unseen real rows give, attacks near chance
    "internal": ("exact_copy_rate<=baseline+0.01", "dcr_share<=baseline+0.1",
                 "membership_inference_auc<=baseline+0.15"),
    # leaving it: as close to unseen real data as the evaluation can tell
    "external": ("exact_copy_rate<=baseline", "dcr_share<=baseline+0.02", "membership_inference_auc<=baseline+0.05",
                 "detection_auc<=baseline+0.15"),
}
MANIFEST_FORMAT = "synthloop-release"


def check_tier(report, tier: str) -> list[dict[str, Any]]:
    """One row per gate of ``tier``: gate, value, threshold, passed, reason (a missing metric fails)."""
    if tier not in TIERS:
        raise ConfigError(f"Unknown release tier '{tier}'; choose one of {', '.join(TIERS)}.")
    rows = []
    for gate in TIERS[tier]:
        try:
            row = report.check([gate]).results.iloc[0].to_dict()
        except ConfigError as exc:
            row = {"gate": gate, "value": math.nan, "threshold": math.nan, "passed": False, "reason": str(exc)}
        rows.append({"gate": gate, "value": _number(row["value"]), "threshold": _number(row["threshold"]),
                     "passed": bool(row["passed"]), "reason": str(row["reason"])})
    return rows


def request_release(worker: Worker, evaluation_job: str, tier: str, user: str) -> dict[str, Any]:
    """Record a release request for the sample an evaluation scored; ``blocked`` when the tier's gates fail."""
    from synthloop.report import Report

    state, folders = worker.state, worker.folders
    evaluation = state.job(str(evaluation_job))
    if evaluation is None or evaluation["kind"] != "evaluate" or evaluation["status"] != "done":
        raise ConfigError(f"'{evaluation_job}' is not a finished evaluation job.")
    sample = state.job(evaluation["outputs"]["sample_job"])
    table = folders.inside(sample["outputs"]["table"])
    report_path = folders.inside(evaluation["outputs"]["report"])
    gates = check_tier(Report.from_json(report_path), tier)
    passed = all(g["passed"] for g in gates)
    release = {"id": uuid.uuid4().hex[:12], "evaluation": evaluation["id"], "tier": tier,
               "file": folders.relative(table), "sha256": sha256_of(table), "report": folders.relative(report_path),
               "report_sha256": sha256_of(report_path), "dataset_id": sample["outputs"].get("sample_id"),
               "gates": gates, "status": "requested" if passed else "blocked", "requested_by": user,
               "requested_at": time.time()}
    state.add_release(release)
    _log(worker, release, "release-request" if passed else "release-blocked", user,
         failed=[g["gate"] for g in gates if not g["passed"]])
    return state.release(release["id"])


def decide_release(worker: Worker, release_id: str, *, approve: bool, user: str, reason: str) -> dict[str, Any]:
    """Approve or refuse a requested release, bound to the hashes taken at the request."""
    state = worker.state
    release = state.release(release_id)
    if release is None:
        raise ConfigError(f"No release '{release_id}'.")
    if release["status"] != "requested":
        raise PrivacyError(f"Release {release_id} is {release['status']}; only a requested release can be decided.")
    if release["requested_by"] == user:
        raise PrivacyError("A release is decided by someone other than the person who requested it.")
    if not reason.strip():
        raise ConfigError("Give the reason for the decision; it is recorded with it.")
    if approve:
        now = {"sha256": _current_hash(worker.folders, release["file"]),
               "report_sha256": _current_hash(worker.folders, release["report"])}
        changed = [key for key, value in now.items() if value != release[key]]
        if changed:
            _log(worker, release, "release-tampered", user, changed=changed)
            raise PrivacyError(f"The released files changed since the request ({', '.join(changed)} differ); "
                               "it can not be approved. Request the release again.")
    status = "approved" if approve else "refused"
    if not state.decide_release(release_id, status, user, reason.strip()):
        raise PrivacyError(f"Release {release_id} was decided meanwhile.")
    decided = state.release(release_id)
    _log(worker, decided, f"release-{status}", user, reason=reason.strip())
    write_manifest(worker.folders, decided)
    return decided


def manifest(release: dict[str, Any]) -> dict[str, Any]:
    """What was released, on which evidence, decided by whom (the JSON written beside the release)."""
    return {"format": MANIFEST_FORMAT, "format_version": 1, "release": release["id"], "tier": release["tier"],
            "status": release["status"],
            "table": {"path": release["file"], "sha256": release["sha256"], "lineage_id": release["dataset_id"]},
            "evaluation": {"job": release["evaluation"], "report": release["report"],
                           "sha256": release["report_sha256"]},
            "gates": release["gates"], "requested_by": release["requested_by"],
            "requested_at": release["requested_at"], "decided_by": release["decided_by"],
            "decided_at": release["decided_at"], "reason": release["reason"]}


def write_manifest(folders: Folders, release: dict[str, Any]):
    from synthloop.io.atomic import atomic_write

    path = folders.releases / release["id"] / "manifest.json"
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(manifest(release), indent=2, allow_nan=False), encoding="utf-8")
    return path


def _current_hash(folders: Folders, name: str) -> str | None:
    path = folders.inside(name)
    return sha256_of(path) if path.is_file() else None


def _log(worker: Worker, release: dict[str, Any], action: str, user: str, **extra: Any) -> None:
    if release.get("dataset_id"):
        worker.store().log(release["dataset_id"], action, user=user, release=release["id"], tier=release["tier"],
                           sha256=release["sha256"], report_sha256=release["report_sha256"], **extra)


def _number(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value
