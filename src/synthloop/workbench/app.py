"""The workbench web app: server-rendered pages over the library's workflows (FastAPI + jinja2).

Every POST route is registered through :meth:`Routes.write`, which checks, in order: a signed-in
user, the request size, the CSRF token, and the role the route's action needs
(:data:`~synthloop.workbench.roles.PERMISSIONS`). There is no other way to add a write, so none
can skip a check; ``app.state.writes`` lists them for the tests. Pages that read need a signed-in
user; every file name a user gives is resolved by :meth:`Folders.inside` into the data folder.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from synthloop.errors import ConfigError, DataError, SynthloopError, require
from synthloop.workbench.auth import SESSION_COOKIE, SESSION_SECONDS, Sessions, add_user, check_password, secret_key
from synthloop.workbench.folders import Folders, upload_name
from synthloop.workbench.jobs import Worker, register_upload
from synthloop.workbench.releases import TIERS, decide_release, manifest, request_release
from synthloop.workbench.roles import PERMISSIONS, ROLES, allowed
from synthloop.workbench.state import State

MAX_UPLOAD_BYTES = 100 * 2**20
MAX_FAILURES, LOCKOUT_SECONDS = 5, 300      # failed sign-ins per name before a pause (argon2 alone slows guessing)
PREVIEW_ROWS = 20
COMPARED = ("tv_complement", "ks_complement", "correlation_similarity", "detection_auc", "tstr_auc", "dcr_share",
            "exact_copy_rate", "membership_inference_auc")      # the side-by-side columns of the Evaluations page
_PAGE_HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
                 "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                            "form-action 'self'; frame-ancestors 'none'"}


def create_app(data: str | Path, *, lineage: str | Path | None = None, threads: int = 1,
               secure_cookies: bool = False, max_upload_bytes: int = MAX_UPLOAD_BYTES):
    """The ASGI app over the data folder ``data`` (created when missing).

    ``lineage`` is the lineage store (a file, or a ``postgresql://`` DSN for a team's server;
    default ``DATA/lineage.db``); ``threads`` runs that many jobs at once; ``secure_cookies`` marks
    the session cookie ``Secure`` (set it behind a TLS-terminating proxy).
    """
    fastapi = require("fastapi", "workbench", "The workbench")
    if importlib.util.find_spec("python_multipart") is None:      # its import name before 0.0.13
        require("multipart", "workbench", "Workbench forms")
    folders = Folders.create(data)
    state = State(folders.private / "workbench.db")
    worker = Worker(state, folders, lineage if lineage is not None else folders.lineage, threads=threads)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        worker.shutdown()

    app = fastapi.FastAPI(title="synthloop workbench", docs_url=None, redoc_url=None, openapi_url=None,
                          lifespan=lifespan)
    routes = Routes(app, folders, state, worker, Sessions(secret_key(folders.private)), secure_cookies,
                    max_upload_bytes)
    routes.register()
    app.state.workbench = routes
    app.state.writes = routes.writes
    return app


class Routes:
    """The pages and writes of one app, sharing its folders, state, worker and session key."""

    def __init__(self, app, folders: Folders, state: State, worker: Worker, sessions: Sessions,
                 secure_cookies: bool, max_upload_bytes: int):
        jinja2 = require("jinja2", "workbench", "Workbench pages")
        self.app, self.folders, self.state, self.worker, self.sessions = app, folders, state, worker, sessions
        self.secure_cookies, self.max_upload_bytes = secure_cookies, max_upload_bytes
        self.writes: dict[str, str | None] = {}
        self.failures: dict[str, list[float]] = {}          # user name -> times of recent failed sign-ins
        templates = resources.files("synthloop.workbench") / "templates"
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates)), autoescape=True)
        self.env.filters["when"] = lambda t: "" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))
        self.env.filters["num"] = lambda v: "—" if v is None else f"{v:.4g}"

    # ------------------------------------------------------------------ plumbing
    def session(self, request) -> dict[str, Any] | None:
        return self.sessions.read(request.cookies.get(SESSION_COOKIE))

    def user(self, request) -> dict[str, Any] | None:
        """The signed-in user: a signed cookie whose session id is still on record (sign-out deletes it)."""
        session = self.session(request)
        if not session or not session.get("user"):
            return None
        if self.state.session_user(session["sid"], SESSION_SECONDS) != session["user"]:
            return None
        return self.state.user(session["user"])

    def render(self, request, template: str, *, status: int = 200, **context: Any):
        from fastapi.responses import HTMLResponse

        cookie, session = None, self.session(request)
        if session is None:                           # anonymous visitors get a session for the login form's token
            cookie, session = self.sessions.new()
        user = self.user(request) if session.get("user") else None
        can = {action: user is not None and allowed(user["roles"], action) for action in PERMISSIONS}
        page = self.env.get_template(template).render(user=user, csrf=self.sessions.csrf(session), can=can,
                                                      roles=ROLES, **context)
        response = HTMLResponse(page, status_code=status, headers=_PAGE_HEADERS)
        if cookie is not None:
            self.set_cookie(response, cookie)
        return response

    def set_cookie(self, response, cookie: str) -> None:
        response.set_cookie(SESSION_COOKIE, cookie, max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                            secure=self.secure_cookies, path="/")

    def error(self, request, status: int, message: str):
        return self.render(request, "error.html.j2", status=status, message=message)

    def redirect(self, url: str):
        from fastapi.responses import RedirectResponse

        return RedirectResponse(url, status_code=303)

    def page(self, path: str):
        """A GET page for signed-in users (others are sent to the login page)."""
        def register(handler: Callable[..., Awaitable[Any]]):
            async def endpoint(request):
                user = self.user(request)
                if user is None:
                    return self.redirect("/login")
                try:
                    return await handler(request, user, **request.path_params)
                except SynthloopError as exc:
                    return self.error(request, 404 if str(exc).startswith("No ") else 400, str(exc))
            self._add(path, endpoint, "GET", handler.__name__)
            return handler
        return register

    def write(self, path: str, action: str | None):
        """A POST route: signed-in user, size limit, CSRF token, then the role ``action`` needs."""
        def register(handler: Callable[..., Awaitable[Any]]):
            async def endpoint(request):
                session, user = self.session(request), self.user(request)
                if user is None:
                    return self.error(request, 401, "Sign in first.")
                refused = await self._refuse_body(request)
                if refused is not None:
                    return refused
                form = await request.form(max_files=1, max_fields=200)
                if not self.sessions.csrf_ok(session, form.get("csrf")):
                    return self.error(request, 403, "The form's security token is missing or out of date; reload "
                                                    "the page and try again.")
                if action is not None and not allowed(user["roles"], action):
                    needed = " or ".join(ROLES[r] for r in PERMISSIONS[action])
                    return self.error(request, 403, f"This needs the role {needed}; you are "
                                                    f"{', '.join(ROLES[r] for r in user['roles'])}.")
                try:
                    return await handler(request, user, form, **request.path_params)
                except SynthloopError as exc:
                    return self.error(request, 400, str(exc))
            self._add(path, endpoint, "POST", handler.__name__)
            self.writes[path] = action
            return handler
        return register

    async def _refuse_body(self, request):
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            return self.error(request, 411, "Send the form with its length (Content-Length).")
        if int(length) > self.max_upload_bytes:
            return self.error(request, 413, f"The upload is larger than the workbench's limit of "
                                            f"{self.max_upload_bytes / 2**20:.0f} MiB.")
        return None

    def _add(self, path: str, endpoint, method: str, name: str) -> None:
        from fastapi import Request

        endpoint.__annotations__ = {"request": Request}
        self.app.add_api_route(path, endpoint, methods=[method], name=f"{method.lower()}_{name}",
                               include_in_schema=False)

    # ------------------------------------------------------------------ routes
    def register(self) -> None:
        folders, state, worker = self.folders, self.state, self.worker

        async def login_page(request):
            return self.render(request, "login.html.j2", message=None)

        async def login(request):
            session = self.session(request)
            refused = await self._refuse_body(request)
            if refused is not None:
                return refused
            form = await request.form(max_files=0, max_fields=10)
            if not self.sessions.csrf_ok(session, form.get("csrf")):
                return self.error(request, 403, "The form's security token is missing or out of date; reload the "
                                                "page and try again.")
            name = str(form.get("name", ""))
            now = time.time()
            recent = [t for t in self.failures.get(name, []) if now - t < LOCKOUT_SECONDS]
            if len(recent) >= MAX_FAILURES:
                return self.render(request, "login.html.j2", status=429,
                                   message=f"Too many failed sign-ins for this name; wait "
                                           f"{LOCKOUT_SECONDS // 60} minutes.")
            found = check_password(state, name, str(form.get("password", "")))
            if found is None:
                self.failures[name] = [*recent, now]
                return self.render(request, "login.html.j2", status=401, message="Wrong user name or password.")
            self.failures.pop(name, None)
            cookie, fresh = self.sessions.new(found["name"])      # a fresh session id: no fixation
            state.add_session(fresh["sid"], found["name"])
            response = self.redirect("/datasets")
            self.set_cookie(response, cookie)
            return response

        self._add("/login", login_page, "GET", "login_page")
        self._add("/login", login, "POST", "login")
        self.writes["/login"] = None

        @self.write("/logout", None)
        async def logout(request, user, form):
            state.drop_session(self.session(request)["sid"])       # the cookie, if kept, no longer signs in
            response = self.redirect("/login")
            response.delete_cookie(SESSION_COOKIE, path="/")
            return response

        @self.page("/")
        async def home(request, user):
            return self.redirect("/datasets")

        @self.page("/datasets")
        async def datasets(request, user):
            tables = [{"name": folders.relative(p), "bytes": p.stat().st_size}
                      for p in sorted(folders.uploads.iterdir()) if p.is_file()]
            from synthloop.synthesizers import available

            return self.render(request, "datasets.html.j2", tables=tables, models=available(),
                               jobs=state.jobs()[:10])

        @self.write("/datasets/upload", "upload")
        async def upload(request, user, form):
            from synthloop.io import read_table

            sent = form.get("file")
            if sent is None or not hasattr(sent, "read"):
                raise DataError("Choose a file to upload.")
            name = upload_name(sent.filename)
            target = folders.uploads / name
            if target.exists():
                raise DataError(f"'{name}' is already in the data folder; rename the file to upload it again.")
            body = await sent.read(self.max_upload_bytes + 1)
            if len(body) > self.max_upload_bytes:
                return self.error(request, 413, "The upload is larger than the workbench's limit.")
            partial = target.with_name(f".{uuid.uuid4().hex}{target.suffix}")   # hidden until it reads as a table
            try:
                partial.write_bytes(body)
                table = read_table(partial)
                partial.replace(target)
            finally:
                partial.unlink(missing_ok=True)
            record = register_upload(worker.store(), target, table, folders.relative(target))
            worker.store().log(record.id, "workbench-upload", user=user["name"], file=folders.relative(target))
            return self.redirect(f"/datasets/view?name={folders.relative(target)}")

        @self.page("/datasets/view")
        async def view(request, user):
            from synthloop.io import read_table

            name = request.query_params.get("name", "")
            table = read_table(folders.table(name))
            from synthloop.synthesizers import available

            return self.render(request, "dataset.html.j2", name=name, shape=table.shape,
                               columns=list(table.columns), rows=table.head(PREVIEW_ROWS).astype(str).values.tolist(),
                               models=available())

        @self.page("/schema")
        async def schema_page(request, user):
            return self._schema_view(request, request.query_params.get("name", ""))

        @self.write("/schema", "schema")
        async def schema_save(request, user, form):
            from synthloop.io import read_table
            from synthloop.io.atomic import atomic_write
            from synthloop.schema import Schema
            from synthloop.schema.constraints import Predicate

            name = str(form.get("name", ""))
            path = folders.table(name)
            table = read_table(path)
            kinds = {str(c): str(form.get(f"kind:{c}")) for c in table.columns if form.get(f"kind:{c}")}
            rules = [line.strip() for line in str(form.get("constraints", "")).splitlines() if line.strip()]
            schema = Schema.infer(table, target=str(form.get("target") or "") or None, kinds=kinds,
                                  constraints=[Predicate(rule) for rule in rules])
            target = folders.schemas / f"{path.name}.schema.json"
            with atomic_write(target) as tmp:
                tmp.write_text(schema.to_json(), encoding="utf-8")
            record = register_upload(worker.store(), path, table, name)
            worker.store().log(record.id, "workbench-schema", user=user["name"], kinds=kinds, constraints=rules,
                               target=schema.target)
            return self.redirect(f"/schema?name={name}")

        @self.write("/fit", "fit")
        async def fit(request, user, form):
            from synthloop.synthesizers import get_class
            from synthloop.synthesizers.params import check_params

            name, model = str(form.get("data", "")), str(form.get("model", ""))
            folders.table(name)
            params = _key_values(str(form.get("params", "")))
            check_params(get_class(model), params, text=True)        # refused now, not after the job starts
            holdout = _number(form.get("holdout", "0.2"), "holdout share", 0.0, 0.5)
            seed = _number(form.get("seed", "0"), "seed", 0, 2**31 - 1)
            if seed != int(seed):
                raise ConfigError(f"The seed must be a whole number (got {seed:g}).")
            params.setdefault("seed", str(int(seed)))             # a seed in the parameters box wins for the model
            job = worker.submit("fit", {"data": name, "model": model, "params": params, "holdout": holdout,
                                        "seed": int(seed)}, user["name"])
            return self.redirect(f"/jobs/{job}")

        @self.write("/sample", "sample")
        async def sample(request, user, form):
            n_rows = int(_number(form.get("n_rows", "1000"), "rows", 1, 10_000_000))
            fit_job = state.job(str(form.get("fit_job", "")))
            if fit_job is None or fit_job["kind"] != "fit" or fit_job["status"] != "done":
                raise ConfigError("Choose a finished fit job to sample from.")
            job = worker.submit("sample", {"fit_job": fit_job["id"], "n_rows": n_rows}, user["name"])
            return self.redirect(f"/jobs/{job}")

        @self.write("/evaluate", "evaluate")
        async def evaluate(request, user, form):
            sample_job = state.job(str(form.get("sample_job", "")))
            if sample_job is None or sample_job["kind"] != "sample" or sample_job["status"] != "done":
                raise ConfigError("Choose a finished sample job to evaluate.")
            from synthloop.workbench.jobs import check_gate_syntax

            gates = [line.strip() for line in str(form.get("gates", "")).splitlines() if line.strip()]
            check_gate_syntax(gates)
            job = worker.submit("evaluate", {"sample_job": sample_job["id"], "gates": gates}, user["name"])
            return self.redirect(f"/jobs/{job}")

        @self.page("/lab")
        async def lab(request, user):
            from synthloop.synthesizers import available
            from synthloop.workbench.jobs import POLICIES

            tables = [folders.relative(p) for p in sorted(folders.uploads.iterdir()) if p.is_file()]
            return self.render(request, "lab.html.j2", jobs=state.jobs(kind="lab"), tables=tables,
                               models=available(), policies=POLICIES)

        @self.write("/lab", "lab")
        async def lab_run(request, user, form):
            from synthloop.synthesizers import get_class
            from synthloop.workbench.jobs import POLICIES

            name, model = str(form.get("data", "")), str(form.get("model", ""))
            folders.table(name)
            get_class(model)
            policies = [str(p) for p in form.getlist("policies")]
            if not policies or set(policies) - set(POLICIES):
                raise ConfigError(f"Choose one or more policies from {', '.join(POLICIES)}.")
            generations = int(_number(form.get("generations", "3"), "number of generations", 1, 20))
            job = worker.submit("lab", {"data": name, "model": model, "policies": policies,
                                        "generations": generations}, user["name"])
            return self.redirect(f"/jobs/{job}")

        @self.page("/lab/{job_id}")
        async def lab_report(request, user, job_id):
            return self._job_html(job_id, "lab", "report")

        @self.page("/monitor")
        async def monitor_page(request, user):
            tables = [folders.relative(p) for p in sorted(folders.uploads.iterdir()) if p.is_file()]
            return self.render(request, "monitor.html.j2", jobs=state.jobs(kind="monitor"), tables=tables,
                               references=self._monitored())

        @self.write("/monitor", "monitor")
        async def monitor_run(request, user, form):
            reference = str(form.get("reference", ""))
            windows = list(dict.fromkeys(str(w) for w in form.getlist("windows")))
            folders.table(reference)
            if not windows:
                raise ConfigError("Choose one or more window tables to compare with the reference.")
            if reference in windows:
                raise ConfigError("A window can not be the reference itself; choose other tables.")
            for window in windows:
                folders.table(window)
            target = str(form.get("target", "")).strip()
            job = worker.submit("monitor", {"reference": reference, "windows": windows, "target": target or None},
                                user["name"])
            return self.redirect(f"/jobs/{job}")

        @self.page("/monitor/{reference_id}")
        async def monitor_timeline(request, user, reference_id):
            from synthloop.monitor import timeline

            store = worker.store()
            if reference_id not in store:
                raise ConfigError(f"No dataset '{reference_id}' in the lineage store.")
            record = store.get(reference_id)
            frame = timeline(store, record.id)
            rows = [] if frame.empty else frame.astype(object).where(frame.notna(), None).to_dict("records")
            jobs = [j for j in state.jobs(kind="monitor", status="done")
                    if j["outputs"].get("reference_id") == record.id]
            return self.render(request, "monitor_timeline.html.j2", record=record, rows=rows, jobs=jobs,
                               n_drifted=sum(bool(r["drifted"]) for r in rows))

        @self.page("/monitor/reports/{job_id}")
        async def monitor_report(request, user, job_id):
            from fastapi.responses import HTMLResponse

            job = _found(state.job(job_id), "job", job_id)
            if job["kind"] != "monitor" or job["status"] != "done":
                raise ConfigError(f"No drift report for job '{job_id}'.")
            page = folders.inside(job["outputs"]["html"]).read_text(encoding="utf-8")
            # framed by the timeline page (same origin only); the report is self-contained, no script
            return HTMLResponse(page, headers={"X-Frame-Options": "SAMEORIGIN", "X-Content-Type-Options": "nosniff",
                                               "Content-Security-Policy": "default-src 'none'; "
                                               "style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"})

        @self.page("/evaluations")
        async def evaluations(request, user):
            from synthloop.report import Report

            rows = []
            for job in state.jobs(kind="evaluate", status="done"):
                report = Report.from_json(folders.inside(job["outputs"]["report"]))
                scores = {r.metric: (r.value, r.baseline) for r in report.scores.itertuples()}
                sample = state.job(job["outputs"]["sample_job"])
                fit = state.job(sample["outputs"]["fit_job"]) if sample else None
                rows.append({"job": job, "scores": scores, "model": fit["params"]["model"] if fit else "?",
                             "data": fit["params"]["data"] if fit else "?"})
            return self.render(request, "evaluations.html.j2", rows=rows, metrics=COMPARED)

        @self.page("/jobs")
        async def jobs(request, user):
            return self.render(request, "jobs.html.j2", jobs=state.jobs())

        @self.page("/jobs/{job_id}")
        async def job_page(request, user, job_id):
            job = _found(state.job(job_id), "job", job_id)
            return self.render(request, "job.html.j2", job=job, tiers=TIERS,
                               releases=[r for r in state.releases() if r["evaluation"] == job_id])

        @self.page("/jobs/{job_id}/status")
        async def job_status(request, user, job_id):
            from fastapi.responses import JSONResponse

            job = _found(state.job(job_id), "job", job_id)
            keep = ("id", "kind", "status", "message", "progress", "error", "outputs", "created_at", "started_at",
                    "finished_at")
            return JSONResponse({key: job[key] for key in keep})

        @self.page("/reports/{job_id}")
        async def report(request, user, job_id):
            return self._job_html(job_id, "evaluate", "html")

        @self.page("/samples/{job_id}.csv")
        async def sample_file(request, user, job_id):
            from fastapi.responses import FileResponse

            job = _found(state.job(job_id), "job", job_id)
            if job["kind"] != "sample" or job["status"] != "done":
                raise ConfigError(f"No sample table for job '{job_id}'.")
            return FileResponse(folders.inside(job["outputs"]["table"]), media_type="text/csv",
                                filename=f"sample-{job_id}.csv")

        @self.page("/releases")
        async def releases(request, user):
            return self.render(request, "releases.html.j2", releases=state.releases())

        @self.write("/releases", "release-request")
        async def release_request(request, user, form):
            release = request_release(worker, str(form.get("evaluation", "")), str(form.get("tier", "")),
                                      user["name"])
            return self.redirect(f"/releases/{release['id']}")

        @self.page("/releases/{release_id}")
        async def release_page(request, user, release_id):
            release = _found(state.release(release_id), "release", release_id)
            return self.render(request, "release.html.j2", release=release)

        @self.write("/releases/{release_id}/decide", "release-decide")
        async def release_decide(request, user, form, release_id):
            decision = str(form.get("decision", ""))
            if decision not in ("approve", "refuse"):
                raise ConfigError("Choose approve or refuse.")
            decide_release(worker, release_id, approve=decision == "approve", user=user["name"],
                           reason=str(form.get("reason", "")))
            return self.redirect(f"/releases/{release_id}")

        @self.page("/releases/{release_id}/manifest.json")
        async def release_manifest(request, user, release_id):
            from fastapi.responses import Response

            release = _found(state.release(release_id), "release", release_id)
            return Response(json.dumps(manifest(release), indent=2), media_type="application/json")

        @self.page("/lineage")
        async def lineage(request, user):
            from synthloop.workbench.graph import COLUMN, layout

            store = worker.store()
            records = store.records()
            nodes, edges, width, height = layout(records)
            return self.render(request, "lineage.html.j2", records=records, events=store.events()[::-1][:200],
                               nodes=nodes, edges=edges, width=width, height=height, box=COLUMN - 40)

        @self.page("/users")
        async def users(request, user):
            if not allowed(user["roles"], "users"):
                return self.error(request, 403, "Only an administrator sees the users.")
            return self.render(request, "users.html.j2", users=state.users())

        @self.write("/users", "users")
        async def user_add(request, user, form):
            add_user(state, str(form.get("name", "")), str(form.get("password", "")),
                     [str(r) for r in form.getlist("roles")])
            return self.redirect("/users")

        @self.write("/users/{name}/delete", "users")
        async def user_remove(request, user, form, name):
            if name == user["name"]:
                raise ConfigError("You can not remove yourself; ask another administrator.")
            if not state.remove_user(name):
                raise ConfigError(f"No user '{name}'.")
            return self.redirect("/users")

    def _job_html(self, job_id: str, kind: str, output: str):
        """A finished job's HTML output (a report), from inside the data folder, never framed."""
        from fastapi.responses import HTMLResponse

        job = _found(self.state.job(job_id), "job", job_id)
        if job["kind"] != kind or job["status"] != "done":
            raise ConfigError(f"No report for job '{job_id}' (it is a {job['status']} {job['kind']} job).")
        page = self.folders.inside(job["outputs"][output]).read_text(encoding="utf-8")
        return HTMLResponse(page, headers={"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"})

    def _monitored(self) -> list[dict[str, Any]]:
        """Each reference the lineage store has monitor events for: its record, windows checked, windows drifted."""
        from synthloop.monitor import timeline

        store = self.worker.store()
        frame = timeline(store)
        out = []
        if frame.empty:
            return out
        for reference, rows in frame.groupby("reference", sort=False):
            record = store.get(str(reference)) if str(reference) in store else None
            out.append({"id": str(reference), "name": record.name if record else None,
                        "kind": record.kind if record else "?", "windows": len(rows),
                        "drifted": int(rows["drifted"].astype(bool).sum()), "last": str(rows["window"].iloc[-1])})
        return out

    def _schema_view(self, request, name: str):
        from synthloop.io import read_table
        from synthloop.schema import Schema
        from synthloop.schema.column import KINDS
        from synthloop.schema.constraints import valid_mask

        path = self.folders.table(name)
        table = read_table(path)
        stored = self.folders.schemas / f"{path.name}.schema.json"
        schema = Schema.from_json(stored.read_text(encoding="utf-8")) if stored.is_file() else Schema.infer(table)
        rules = [c.expression for c in schema.constraints if isinstance(getattr(c, "expression", None), str)]
        violating = table[~valid_mask(schema.constraints, table)] if schema.constraints else table.iloc[:0]
        return self.render(request, "schema.html.j2", name=name, schema=schema, kinds=KINDS, rules=rules,
                           saved=stored.is_file(), n_violating=len(violating), columns=list(table.columns),
                           violating=violating.head(PREVIEW_ROWS).astype(str).values.tolist())


def _found(row: dict[str, Any] | None, what: str, key: str) -> dict[str, Any]:
    if row is None:
        raise ConfigError(f"No {what} '{key}'.")
    return row


def _key_values(text: str) -> dict[str, str]:
    """``key=value`` lines (a form's parameters box) into a dict; values are read by the parameter checker."""
    out = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"Write each parameter as name=value (got {line.strip()!r}).")
        out[key.strip()] = value.strip()
    return out


def _number(text: object, what: str, low: float, high: float) -> float:
    try:
        value = float(str(text))
    except ValueError:
        raise ConfigError(f"The {what} must be a number (got {text!r}).") from None
    if not low <= value <= high:
        raise ConfigError(f"The {what} must be between {low:g} and {high:g} (got {value:g}).")
    return value
