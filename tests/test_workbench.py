"""The workbench: every write needs its role and a CSRF token, names stay inside the data folder,
passwords are argon2 hashes, jobs run the library's workflows, and a release is bound to the hashes
of what was evaluated and decided by someone else than its requester."""

import io
import json
import re
import time

import pandas as pd
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("argon2")
pytest.importorskip("itsdangerous")

from fastapi.testclient import TestClient

from synthloop.errors import ConfigError
from synthloop.workbench.app import create_app
from synthloop.workbench.auth import SESSION_COOKIE, add_user
from synthloop.workbench.jobs import sha256_of
from synthloop.workbench.releases import TIERS, check_tier
from synthloop.workbench.roles import PERMISSIONS, ROLES
from synthloop.workbench.serve import check_bind

PASSWORD = "a-long-password"


def _token(client, url="/datasets"):
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(url).text)
    return found.group(1)


def _login(client, name, password=PASSWORD):
    response = client.post("/login", data={"name": name, "password": password, "csrf": _token(client, "/login")},
                           follow_redirects=False)
    return response


def _csv(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue()


def _wait(client, job_id, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = client.get(f"/jobs/{job_id}/status").json()
        if status["status"] in ("done", "failed"):
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def _job(response):
    assert response.status_code == 303, response.text[:500]
    return response.headers["location"].rsplit("/", 1)[-1]


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """One app with a user per role, and one who holds both QA and privacy."""
    folder = tmp_path_factory.mktemp("bench")
    app = create_app(folder)
    state = app.state.workbench.state
    for role in ROLES:
        add_user(state, role, PASSWORD, [role])
    add_user(state, "both", PASSWORD, ["qa", "privacy"])
    with TestClient(app) as client:
        yield app, folder, client


@pytest.fixture(scope="module")
def as_user(bench):
    """A signed-in client per user, made once (each login is an argon2 verification)."""
    app, _, _ = bench
    clients = {}

    def client_for(name):
        if name not in clients:
            clients[name] = TestClient(app)
            assert _login(clients[name], name).status_code == 303
        return clients[name]
    return client_for


@pytest.fixture(scope="module")
def pipeline(bench, penguins):
    """Upload → fit → sample → evaluate, as QA, through the routes."""
    app, folder, _ = bench
    client = TestClient(app)
    assert _login(client, "qa").status_code == 303
    upload = client.post("/datasets/upload", data={"csrf": _token(client)},
                         files={"file": ("penguins.csv", _csv(penguins), "text/csv")}, follow_redirects=False)
    assert upload.status_code == 303
    fit = _job(client.post("/fit", data={"csrf": _token(client), "data": "uploads/penguins.csv",
                                         "model": "independent", "params": "seed=3", "holdout": "0.25"},
                           follow_redirects=False))
    fitted = _wait(client, fit)
    sample = _job(client.post("/sample", data={"csrf": _token(client), "fit_job": fit, "n_rows": "200"},
                              follow_redirects=False))
    sampled = _wait(client, sample)
    evaluation = _job(client.post("/evaluate", data={"csrf": _token(client), "sample_job": sample,
                                                     "gates": "detection_auc<=0.99\ndcr_share<=baseline+0.05"},
                                  follow_redirects=False))
    evaluated = _wait(client, evaluation)
    return {"client": client, "folder": folder, "fit": fitted, "sample": sampled, "evaluate": evaluated}


# ---------------------------------------------------------------- roles and CSRF
def test_every_write_route_names_an_action_and_refuses_every_other_role(bench, as_user):
    app, _, anonymous = bench
    posts = {route.path for route in app.routes if "POST" in getattr(route, "methods", ())}
    assert posts == set(app.state.writes)                      # no POST route bypasses Routes.write
    assert set(app.state.writes.values()) - {None} == set(PERMISSIONS)
    clients = {role: as_user(role) for role in ROLES}
    jobs_before = len(app.state.workbench.state.jobs())
    for path, action in app.state.writes.items():
        url = re.sub(r"\{[^}]+\}", "x", path)
        if path != "/login":
            assert anonymous.post(url, data={"csrf": "x"}).status_code == 401, path
        if action is None:
            continue
        for role, client in clients.items():
            if role in PERMISSIONS[action]:
                continue
            response = client.post(url, data={"csrf": _token(client), "name": "intruder", "password": PASSWORD,
                                              "roles": "admin", "data": "uploads/x.csv", "model": "independent"})
            assert response.status_code == 403, (path, role, response.status_code)
            assert "needs the role" in response.text
    assert len(app.state.workbench.state.jobs()) == jobs_before
    assert app.state.workbench.state.user("intruder") is None


def test_writes_without_a_valid_csrf_token_are_refused(bench, as_user, penguins):
    folder = bench[1]
    expert, other = as_user("expert"), as_user("qa")
    files = {"file": ("csrf.csv", _csv(penguins.head(20)), "text/csv")}
    for token in (None, "0" * 64, _token(other)):              # none, forged, another session's
        data = {} if token is None else {"csrf": token}
        response = expert.post("/datasets/upload", data=data, files=files)
        assert response.status_code == 403 and "security token" in response.text
    assert not (folder / "uploads" / "csrf.csv").exists()
    assert expert.post("/datasets/upload", data={"csrf": _token(expert)}, files=files,
                       follow_redirects=False).status_code == 303


def test_cookies_are_httponly_strict_and_logout_needs_the_token(bench):
    app, _, _ = bench
    client = TestClient(app)
    response = _login(client, "qa")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.post("/logout", data={"csrf": "wrong"}).status_code == 403
    assert client.get("/datasets", follow_redirects=False).status_code == 200


# ---------------------------------------------------------------- login
def test_passwords_are_argon2_hashes_and_login_rotates_the_session(bench):
    app, _, _ = bench
    stored = app.state.workbench.state.user("qa")["password_hash"]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    client = TestClient(app)
    _token(client, "/login")
    before = client.cookies.get(SESSION_COOKIE)
    assert _login(client, "qa", "wrong-password").status_code == 401
    assert _login(client, "nobody").status_code == 401
    assert client.get("/datasets", follow_redirects=False).status_code == 303     # still signed out
    assert _login(client, "qa").status_code == 303
    assert client.cookies.get(SESSION_COOKIE) != before
    assert client.get("/datasets", follow_redirects=False).status_code == 200
    client.cookies.set(SESSION_COOKIE, client.cookies.get(SESSION_COOKIE)[:-3] + "abc")    # tampered
    assert client.get("/datasets", follow_redirects=False).status_code == 303


def test_signing_out_ends_the_session_even_for_a_kept_cookie(bench):
    app = bench[0]
    client = TestClient(app)
    _login(client, "expert")
    kept = client.cookies.get(SESSION_COOKIE)
    assert client.post("/logout", data={"csrf": _token(client)}, follow_redirects=False).status_code == 303
    replay = TestClient(app)
    replay.cookies.set(SESSION_COOKIE, kept)                  # a copy of the cookie taken before signing out
    assert replay.get("/datasets", follow_redirects=False).status_code == 303


def test_repeated_failed_sign_ins_pause_that_name(tmp_path):
    app = create_app(tmp_path)
    add_user(app.state.workbench.state, "ann", PASSWORD, ["qa"])
    with TestClient(app) as client:
        codes = [_login(client, "ann", f"wrong-{i}").status_code for i in range(6)]
        assert codes == [401] * 5 + [429]
        assert _login(client, "ann").status_code == 429               # even the right password, for a while
        assert _login(client, "other").status_code == 401             # other names are not paused


def test_users_need_strong_passwords_known_roles_and_unique_names(bench):
    state = bench[0].state.workbench.state
    for name, password, roles in (("short", "x", ["qa"]), ("Bad Name", PASSWORD, ["qa"]),
                                  ("norole", PASSWORD, []), ("odd", PASSWORD, ["boss"]), ("qa", PASSWORD, ["qa"])):
        with pytest.raises(ConfigError):
            add_user(state, name, password, roles)


# ---------------------------------------------------------------- the data folder
def test_names_outside_the_data_folder_are_refused(bench, as_user, tmp_path):
    folder = bench[1]
    expert = as_user("expert")
    outside = tmp_path / "secret.csv"
    outside.write_text("a,b\n1,2\n")
    (folder / "uploads" / "link.csv").symlink_to(outside)
    for name in ("../../../etc/passwd", str(outside), "uploads/../../secret.csv", "uploads/link.csv",
                 ".workbench/workbench.db"):
        assert expert.get("/datasets/view", params={"name": name}).status_code == 400, name
        assert expert.get("/schema", params={"name": name}).status_code == 400, name
        response = expert.post("/fit", data={"csrf": _token(expert), "data": name, "model": "independent"})
        assert response.status_code == 400 and ("outside" in response.text or "not a table" in response.text), name
    response = expert.post("/datasets/upload", data={"csrf": _token(expert)},
                           files={"file": ("../../escape.csv", b"a,b\n1,2\n", "text/csv")}, follow_redirects=False)
    assert response.status_code == 303                      # stored under its base name, inside uploads/
    assert (folder / "uploads" / "escape.csv").is_file() and not (folder.parent / "escape.csv").exists()


def test_uploads_are_size_limited_and_must_be_tables(tmp_path, penguins):
    app = create_app(tmp_path, max_upload_bytes=4096)
    add_user(app.state.workbench.state, "ann", PASSWORD, ["expert"])
    with TestClient(app) as client:
        _login(client, "ann")
        big = client.post("/datasets/upload", data={"csrf": _token(client)},
                          files={"file": ("big.csv", _csv(penguins), "text/csv")})
        assert big.status_code == 413
        for name, body in (("x.exe", b"MZ"), ("bad.parquet", b"not parquet at all"), ("empty.csv", b"")):
            response = client.post("/datasets/upload", data={"csrf": _token(client)},
                                   files={"file": (name, body, "application/octet-stream")})
            assert response.status_code == 400, name
        assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == []


# ---------------------------------------------------------------- jobs, reports, lineage
def test_fit_sample_evaluate_run_as_jobs_and_are_recorded(pipeline, bench):
    app = bench[0]
    fit, sample, evaluation = pipeline["fit"], pipeline["sample"], pipeline["evaluate"]
    assert (fit["status"], sample["status"], evaluation["status"]) == ("done", "done", "done"), \
        (fit["error"], sample["error"], evaluation["error"])
    folder, client = pipeline["folder"], pipeline["client"]
    assert (folder / fit["outputs"]["model_dir"] / "config.json").is_file()
    table = pd.read_csv(folder / sample["outputs"]["table"])
    assert len(table) == 200
    report = client.get(f"/reports/{evaluation['id']}")
    assert report.status_code == 200 and "membership_inference_auc" in report.text
    store = app.state.workbench.worker.store()
    actions = {(e["action"], e["detail"].get("user")) for e in store.events()}
    assert {("workbench-upload", "qa"), ("workbench-fit", "qa"), ("workbench-sample", "qa"),
            ("workbench-evaluate", "qa")} <= actions
    assert store.get(sample["outputs"]["sample_id"]).kind == "synthetic"
    from synthloop.report import Report

    checked = Report.from_json(folder / evaluation["outputs"]["report"]).check(
        ["detection_auc<=0.99", "dcr_share<=baseline+0.05"]).results
    assert [g["passed"] for g in evaluation["outputs"]["gates"]] == checked["passed"].tolist()
    comparison = client.get("/evaluations").text
    assert evaluation["id"] in comparison and "membership_inference_auc" in comparison
    graph = client.get("/lineage").text
    assert graph.count("<rect") == len(store.records())               # one box per dataset
    assert graph.count("<line") == sum(len(r.parents) for r in store.records())


def test_a_lab_run_is_a_job_with_its_report(pipeline, as_user):
    qa = as_user("qa")
    response = qa.post("/lab", data={"csrf": _token(qa, "/lab"), "data": "uploads/penguins.csv",
                                     "model": "independent", "policies": ["accumulate"],
                                     "generations": "2"}, follow_redirects=False)
    status = _wait(qa, _job(response))
    assert status["status"] == "done", status["error"]
    assert status["outputs"]["rows"] == 2                            # one row per generation of the one chain
    page = qa.get(f"/lab/{status['id']}")
    assert page.status_code == 200 and "accumulate" in page.text
    assert status["id"] in qa.get("/lab").text
    refused = qa.post("/lab", data={"csrf": _token(qa, "/lab"), "data": "uploads/penguins.csv",
                                    "model": "independent", "policies": "bogus", "generations": "2"})
    assert refused.status_code == 400


@pytest.fixture(scope="module")
def monitored(bench, as_user, penguins):
    """QA uploads a reference, a window like it and a window whose body mass moved, and monitors both."""
    qa = as_user("qa")
    shuffled = penguins.sample(frac=1.0, random_state=0).reset_index(drop=True)
    reference, window = shuffled.iloc[:200], shuffled.iloc[200:]
    moved = window.assign(body_mass_g=window["body_mass_g"] + 1500)
    for name, frame in (("mon_ref.csv", reference), ("mon_same.csv", window), ("mon_moved.csv", moved)):
        upload = qa.post("/datasets/upload", data={"csrf": _token(qa)},
                         files={"file": (name, _csv(frame), "text/csv")}, follow_redirects=False)
        assert upload.status_code == 303, upload.text[:300]
    job = _job(qa.post("/monitor", data={"csrf": _token(qa), "reference": "uploads/mon_ref.csv",
                                         "windows": ["uploads/mon_same.csv", "uploads/mon_moved.csv"],
                                         "target": "sex"}, follow_redirects=False))
    return _wait(qa, job)


def test_a_monitor_run_is_a_job_and_its_timeline_shows_the_drift(bench, as_user, monitored):
    from synthloop.lineage import LineageStore
    from synthloop.monitor import timeline

    assert monitored["status"] == "done", monitored["error"]
    outputs = monitored["outputs"]
    assert outputs["windows"] == 2 and outputs["drifted"] == 1
    events = timeline(LineageStore(bench[1] / "lineage.db"), outputs["reference_id"])
    assert list(events["window"]) == ["uploads/mon_same.csv", "uploads/mon_moved.csv"]
    assert list(events["drifted"]) == [False, True] and "body_mass_g" in events["drifted_columns"].iloc[1]
    privacy = as_user("privacy")                                  # every signed-in role reads the timeline
    page = privacy.get(f"/monitor/{outputs['reference_id']}")
    assert page.status_code == 200
    table = page.text.split('id="timeline"')[1].split("</table>")[0]
    rows = table.split("<tr>")[2:]
    assert len(rows) == 2 and ">ok<" in rows[0] and ">drift<" in rows[1] and "body_mass_g" in rows[1]
    assert f"{events['joint_auc'].iloc[1]:.4g}" in rows[1] and f"{events['estimated_auc'].iloc[1]:.4g}" in rows[1]
    assert f'src="/monitor/reports/{monitored["id"]}"' in page.text
    report = privacy.get(f"/monitor/reports/{monitored['id']}")
    assert report.status_code == 200 and "mon_moved.csv" in report.text and "DRIFT" in report.text
    assert report.headers["x-frame-options"] == "SAMEORIGIN"
    listing = privacy.get("/monitor").text
    assert f'href="/monitor/{outputs["reference_id"]}"' in listing and "uploads/mon_ref.csv" in listing
    assert 'id="run-monitor"' not in listing and 'id="run-monitor"' in as_user("qa").get("/monitor").text
    assert privacy.get("/monitor/nope1234").status_code == 404
    assert privacy.get("/monitor/reports/nope").status_code == 404


def test_the_monitor_needs_qa_a_token_and_tables_inside_the_data_folder(bench, as_user, monitored, tmp_path):
    app, folder = bench[0], bench[1]
    state = app.state.workbench.state
    form = {"reference": "uploads/mon_ref.csv", "windows": ["uploads/mon_moved.csv"]}
    before = len(state.jobs(kind="monitor"))
    for role in ("expert", "privacy", "admin"):
        client = as_user(role)
        response = client.post("/monitor", data={"csrf": _token(client), **form})
        assert response.status_code == 403 and "needs the role" in response.text, role
    qa = as_user("qa")
    assert qa.post("/monitor", data=form).status_code == 403                       # no token
    assert qa.post("/monitor", data={"csrf": "forged", **form}).status_code == 403
    outside = tmp_path / "outside.csv"
    outside.write_text("a,b\n1,2\n")
    (folder / "uploads" / "mon_link.csv").symlink_to(outside)
    for bad in ("../../../etc/passwd", str(outside), "uploads/../../outside.csv", "uploads/mon_link.csv",
                ".workbench/workbench.db"):
        for fields in ({"reference": bad, "windows": ["uploads/mon_moved.csv"]},
                       {"reference": "uploads/mon_ref.csv", "windows": ["uploads/mon_same.csv", bad]}):
            response = qa.post("/monitor", data={"csrf": _token(qa), **fields})
            assert response.status_code == 400 and ("outside" in response.text or "not a table" in response.text), bad
    for fields in ({"reference": "uploads/mon_ref.csv"},
                   {"reference": "uploads/mon_ref.csv", "windows": ["uploads/mon_ref.csv"]}):
        assert qa.post("/monitor", data={"csrf": _token(qa), **fields}).status_code == 400
    assert len(state.jobs(kind="monitor")) == before


def test_a_window_that_does_not_match_the_reference_fails_and_logs_nothing(bench, as_user, monitored, penguins):
    from synthloop.lineage import LineageStore

    qa = as_user("qa")
    store = LineageStore(bench[1] / "lineage.db")
    upload = qa.post("/datasets/upload", data={"csrf": _token(qa)},
                     files={"file": ("mon_narrow.csv", _csv(penguins.drop(columns=["island"])), "text/csv")},
                     follow_redirects=False)
    assert upload.status_code == 303
    events = len(store.events())
    job = _wait(qa, _job(qa.post("/monitor", data={"csrf": _token(qa), "reference": "uploads/mon_ref.csv",
                                                   "windows": ["uploads/mon_same.csv", "uploads/mon_narrow.csv"]},
                                 follow_redirects=False)))
    assert job["status"] == "failed" and "mon_narrow.csv" in job["error"] and "island" in job["error"]
    assert not [e for e in store.events()[events:] if e["action"] == "monitor"]


def test_an_uploaded_synthetic_file_stays_synthetic(pipeline, bench, as_user, tmp_path):
    from synthloop.io.tables import write_table

    store = bench[0].state.workbench.worker.store()
    sample = pipeline["sample"]["outputs"]
    record = store.get(sample["sample_id"])
    parquet = write_table(pd.read_csv(pipeline["folder"] / sample["table"]), tmp_path / "looks-real.parquet",
                          metadata=record.provenance())
    qa = as_user("qa")
    response = qa.post("/datasets/upload", data={"csrf": _token(qa)},
                       files={"file": ("looks-real.parquet", parquet.read_bytes(), "application/octet-stream")},
                       follow_redirects=False)
    assert response.status_code == 303
    uploaded = [e for e in store.events() if e["action"] == "workbench-upload"
                and e["detail"]["file"] == "uploads/looks-real.parquet"]
    assert store.get(uploaded[0]["dataset_id"]).kind == "synthetic"
    fit = _wait(qa, _job(qa.post("/fit", data={"csrf": _token(qa), "data": "uploads/looks-real.parquet",
                                               "model": "independent"}, follow_redirects=False)))
    assert fit["status"] == "done", fit["error"]
    assert store.get(fit["outputs"]["training_id"]).depth >= 1            # trained on synthetic data, and says so
    assert any("model collapse" in note for note in fit["outputs"]["notes"])   # the guard's warning, shown


def test_bad_parameters_are_refused_before_a_job_starts(bench, as_user, pipeline):
    app = bench[0]
    qa = as_user("qa")
    before = len(app.state.workbench.state.jobs())
    response = qa.post("/fit", data={"csrf": _token(qa), "data": "uploads/penguins.csv", "model": "independent",
                                     "params": "no_such_parameter=3"})
    assert response.status_code == 400
    sample = pipeline["sample"]["id"]
    response = qa.post("/evaluate", data={"csrf": _token(qa), "sample_job": sample, "gates": "detection_auc is low"})
    assert response.status_code == 400 and "Cannot read gate" in response.text
    assert len(app.state.workbench.state.jobs()) == before



def test_the_fit_forms_seed_makes_the_split_and_the_model_repeat(bench, as_user, pipeline):
    """Two fits from the form with the same seed sample the same rows; another seed does not; a fraction is refused."""
    from synthloop.io import read_table

    folder = bench[1]
    qa = as_user("qa")

    def fit_and_sample(seed):
        fit = _wait(qa, _job(qa.post("/fit", data={"csrf": _token(qa), "data": "uploads/penguins.csv",
                                                   "model": "cart", "seed": seed}, follow_redirects=False)))
        assert fit["status"] == "done", fit
        sample = _wait(qa, _job(qa.post("/sample", data={"csrf": _token(qa), "fit_job": fit["id"], "n_rows": "80"},
                                        follow_redirects=False)))
        assert sample["status"] == "done", sample
        return (read_table(folder / fit["outputs"]["holdout"]),
                read_table(folder / sample["outputs"]["table"]))

    (holdout_a, rows_a), (holdout_b, rows_b), (holdout_c, rows_c) = (fit_and_sample(s) for s in ("5", "5", "6"))
    assert holdout_a.equals(holdout_b) and rows_a.equals(rows_b)
    assert not holdout_a.equals(holdout_c) and not rows_a.equals(rows_c)
    response = qa.post("/fit", data={"csrf": _token(qa), "data": "uploads/penguins.csv", "model": "cart",
                                     "seed": "1.5"})
    assert response.status_code == 400 and "whole number" in response.text

def test_the_schema_page_saves_kinds_and_constraints_and_shows_violations(bench, as_user, pipeline, penguins):
    folder = bench[1]
    expert = as_user("expert")
    response = expert.post("/schema", data={"csrf": _token(expert), "name": "uploads/penguins.csv",
                                            "kind:year": "categorical", "target": "species",
                                            "constraints": "body_mass_g > 4000"})
    assert response.status_code == 200                     # followed to the schema page
    expected = int((~(penguins["body_mass_g"] > 4000)).sum())
    shown = re.search(r'id="n-violating">(\d+)<', response.text)
    assert shown is not None and int(shown.group(1)) == expected
    saved = json.loads((folder / "schemas" / "penguins.csv.schema.json").read_text())
    assert saved["target"] == "species"
    assert {c["name"]: c["kind"] for c in saved["columns"]}["year"] == "categorical"
    qa = as_user("qa")
    assert qa.post("/schema", data={"csrf": _token(qa), "name": "uploads/penguins.csv"}).status_code == 403


# ---------------------------------------------------------------- releases
def _request(client, evaluation, tier):
    response = client.post("/releases", data={"csrf": _token(client), "evaluation": evaluation, "tier": tier},
                           follow_redirects=False)
    assert response.status_code == 303, response.text[:500]
    return response.headers["location"].rsplit("/", 1)[-1]


def test_a_release_is_bound_to_its_hashes_and_decided_by_someone_else(pipeline, bench, as_user):
    app = bench[0]
    state, folder = app.state.workbench.state, pipeline["folder"]
    evaluation = pipeline["evaluate"]["id"]
    both, qa, privacy = as_user("both"), as_user("qa"), as_user("privacy")
    release_id = _request(both, evaluation, "internal")
    release = state.release(release_id)
    table = folder / release["file"]
    assert release["sha256"] == sha256_of(table)
    from synthloop.report import Report

    gates = check_tier(Report.from_json(folder / release["report"]), "internal")
    assert release["status"] == ("requested" if all(g["passed"] for g in gates) else "blocked")
    if release["status"] == "blocked":
        pytest.skip("the internal tier's gates failed on this sample; nothing to approve")
    decide = f"/releases/{release_id}/decide"
    own = both.post(decide, data={"csrf": _token(both), "decision": "approve", "reason": "mine"})
    assert own.status_code == 400 and "someone other" in own.text                # four eyes
    assert privacy.post(decide, data={"csrf": _token(privacy), "decision": "approve", "reason": " "}).status_code == 400
    original = table.read_bytes()
    table.write_bytes(original + b"\n")                                         # changed after the request
    tampered = privacy.post(decide, data={"csrf": _token(privacy), "decision": "approve", "reason": "ok"})
    assert tampered.status_code == 400 and "changed since the request" in tampered.text
    table.write_bytes(original)
    approved = privacy.post(decide, data={"csrf": _token(privacy), "decision": "approve", "reason": "gates pass"},
                            follow_redirects=False)
    assert approved.status_code == 303
    again = privacy.post(decide, data={"csrf": _token(privacy), "decision": "refuse", "reason": "changed my mind"})
    assert again.status_code == 400                                             # decided once
    manifest = qa.get(f"/releases/{release_id}/manifest.json").json()
    assert manifest["status"] == "approved" and manifest["decided_by"] == "privacy"
    assert manifest["table"]["sha256"] == sha256_of(table)
    assert manifest["evaluation"]["sha256"] == sha256_of(folder / release["report"])
    on_disk = json.loads((folder / "releases" / release_id / "manifest.json").read_text())
    assert on_disk == manifest
    events = app.state.workbench.worker.store().events(release["dataset_id"])
    decided = [e for e in events if e["action"] == "release-approved"]
    assert len(decided) == 1 and decided[0]["detail"]["user"] == "privacy"
    assert decided[0]["detail"]["sha256"] == release["sha256"] and decided[0]["detail"]["reason"] == "gates pass"
    assert any(e["action"] == "release-tampered" for e in events)


def test_a_refusal_is_recorded_with_its_reason(pipeline, bench, as_user):
    app = bench[0]
    qa, privacy = as_user("qa"), as_user("privacy")
    release_id = _request(qa, pipeline["evaluate"]["id"], "internal")
    if app.state.workbench.state.release(release_id)["status"] == "blocked":
        pytest.skip("the internal tier's gates failed on this sample")
    response = privacy.post(f"/releases/{release_id}/decide",
                            data={"csrf": _token(privacy), "decision": "refuse", "reason": "too few rows"})
    assert response.status_code == 200 and "refused" in response.text
    release = app.state.workbench.state.release(release_id)
    assert (release["status"], release["decided_by"], release["reason"]) == ("refused", "privacy", "too few rows")
    events = app.state.workbench.worker.store().events(release["dataset_id"])
    assert any(e["action"] == "release-refused" and e["detail"]["reason"] == "too few rows" for e in events)


def test_a_release_whose_gates_fail_is_blocked_and_can_not_be_approved(pipeline, bench, as_user):
    app = bench[0]
    folder, evaluation = pipeline["folder"], pipeline["evaluate"]
    report_path = folder / evaluation["outputs"]["report"]
    original = report_path.read_text()
    data = json.loads(original)
    for row in data["scores"]:
        if row["metric"] == "membership_inference_auc":
            row["value"] = 0.99                                    # an attack that wins: every tier must fail
    report_path.write_text(json.dumps(data))
    try:
        qa, privacy = as_user("qa"), as_user("privacy")
        for tier in TIERS:
            release_id = _request(qa, evaluation["id"], tier)
            release = app.state.workbench.state.release(release_id)
            assert release["status"] == "blocked"
            failed = [g["gate"] for g in release["gates"] if not g["passed"]]
            assert any(g.startswith("membership_inference_auc") for g in failed)
            response = privacy.post(f"/releases/{release_id}/decide",
                                    data={"csrf": _token(privacy), "decision": "approve", "reason": "ok"})
            assert response.status_code == 400 and "blocked" in response.text
    finally:
        report_path.write_text(original)


def test_the_lineage_store_can_be_a_team_server(lineage_location, tmp_path, penguins):
    """SQLite by default; with a postgresql:// DSN the app records into the shared server."""
    from synthloop.lineage import LineageStore

    app = create_app(tmp_path / "data", lineage=lineage_location)
    add_user(app.state.workbench.state, "ann", PASSWORD, ["expert"])
    with TestClient(app) as client:
        _login(client, "ann")
        response = client.post("/datasets/upload", data={"csrf": _token(client)},
                               files={"file": ("p.csv", _csv(penguins), "text/csv")}, follow_redirects=False)
        assert response.status_code == 303
        assert "workbench-upload" in client.get("/lineage").text
    events = LineageStore(lineage_location).events()
    assert [e["detail"].get("user") for e in events if e["action"] == "workbench-upload"] == ["ann"]


# ---------------------------------------------------------------- serving
def test_only_loopback_binds_without_a_proxy_and_users():
    check_bind("127.0.0.1", behind_proxy=False, n_users=0)
    check_bind("::1", behind_proxy=False, n_users=0)
    for proxy, users in ((False, 1), (True, 0), (False, 0)):
        with pytest.raises(ConfigError, match="Refusing to listen"):
            check_bind("0.0.0.0", behind_proxy=proxy, n_users=users)
    check_bind("0.0.0.0", behind_proxy=True, n_users=1)


def test_pages_answer_for_signed_in_users_only(pipeline, bench, as_user):
    app = bench[0]
    anonymous = TestClient(app)
    job = pipeline["fit"]["id"]
    pages = ["/datasets", "/jobs", f"/jobs/{job}", "/releases", "/lineage", "/datasets/view?name=uploads/penguins.csv"]
    for page in pages:
        assert anonymous.get(page, follow_redirects=False).status_code == 303, page
    qa = as_user("qa")
    for page in pages:
        assert qa.get(page).status_code == 200, page
    sample = pipeline["sample"]
    download = qa.get(f"/samples/{sample['id']}.csv")
    assert download.status_code == 200 and download.content == (pipeline["folder"] / sample["outputs"]["table"]).read_bytes()
    assert qa.get("/users").status_code == 403 and as_user("admin").get("/users").status_code == 200
    assert qa.get("/jobs/nope").status_code == 404


def test_cli_adds_and_lists_users(tmp_path):
    from typer.testing import CliRunner

    from synthloop.cli import app

    runner = CliRunner()
    added = runner.invoke(app, ["workbench", "user", "add", "ann", "--role", "qa", "--role", "privacy",
                                "--data", str(tmp_path), "--password-stdin"], input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["workbench", "user", "list", "--data", str(tmp_path)])
    assert "ann" in listed.output and "privacy, qa" in listed.output
    weak = runner.invoke(app, ["workbench", "user", "add", "bob", "--role", "qa", "--data", str(tmp_path),
                               "--password-stdin"], input="short\n")
    assert weak.exit_code == 2
    exposed = runner.invoke(app, ["serve", "--data", str(tmp_path), "--host", "0.0.0.0"])
    assert exposed.exit_code == 2 and "Refusing to listen" in exposed.output
