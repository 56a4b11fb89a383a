"""The workbench's own records in one SQLite file (``DATA/.workbench/workbench.db``): users, jobs, releases.

Lineage (what data came from what) lives in the lineage store; this file holds what only the app
needs. Every call opens its own connection, so request handlers and the job worker threads never
share one; WAL mode lets pages read while a job writes its progress.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_TABLES = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, roles TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (sid TEXT PRIMARY KEY, user TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL DEFAULT '',
    progress REAL NOT NULL DEFAULT 0, params TEXT NOT NULL, outputs TEXT NOT NULL DEFAULT '{}',
    error TEXT, user TEXT NOT NULL, created_at REAL NOT NULL, started_at REAL, finished_at REAL);
CREATE TABLE IF NOT EXISTS releases (
    id TEXT PRIMARY KEY, evaluation TEXT NOT NULL, tier TEXT NOT NULL, file TEXT NOT NULL,
    sha256 TEXT NOT NULL, report TEXT NOT NULL, report_sha256 TEXT NOT NULL, dataset_id TEXT,
    gates TEXT NOT NULL, status TEXT NOT NULL, requested_by TEXT NOT NULL, requested_at REAL NOT NULL,
    decided_by TEXT, decided_at REAL, reason TEXT)
"""
_JSON_FIELDS = ("params", "outputs", "roles", "gates")


class State:
    """Rows in, dicts out; JSON columns are decoded."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.parent.chmod(0o700)        # password hashes and the session key live here
        with self._db() as db:
            db.execute("PRAGMA journal_mode = WAL")
            for statement in filter(str.strip, _TABLES.split(";")):
                db.execute(statement)

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            with db:
                yield db
        finally:
            db.close()

    def _rows(self, query: str, args: tuple = ()) -> list[dict[str, Any]]:
        with self._db() as db:
            rows = db.execute(query, args).fetchall()
        return [{k: json.loads(r[k]) if k in _JSON_FIELDS and r[k] is not None else r[k] for k in r.keys()}  # noqa: SIM118 - a Row iterates values
                for r in rows]

    # ------------------------------------------------------------------ users
    def add_user(self, name: str, password_hash: str, roles: list[str]) -> None:
        with self._db() as db:
            db.execute("INSERT INTO users VALUES (?, ?, ?, ?)", (name, password_hash, json.dumps(sorted(roles)),
                                                                time.time()))

    def set_password(self, name: str, password_hash: str) -> None:
        with self._db() as db:
            db.execute("UPDATE users SET password_hash = ? WHERE name = ?", (password_hash, name))

    def remove_user(self, name: str) -> bool:
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE user = ?", (name,))
            return db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 1

    def user(self, name: str) -> dict[str, Any] | None:
        found = self._rows("SELECT * FROM users WHERE name = ?", (name,))
        return found[0] if found else None

    def users(self) -> list[dict[str, Any]]:
        return self._rows("SELECT name, roles, created_at FROM users ORDER BY name")

    # ------------------------------------------------------------------ sessions
    def add_session(self, sid: str, user: str) -> None:
        with self._db() as db:
            db.execute("INSERT INTO sessions VALUES (?, ?, ?)", (sid, user, time.time()))

    def session_user(self, sid: str, max_age: float) -> str | None:
        """The user of a signed-in session that was not signed out (nor expired)."""
        found = self._rows("SELECT user FROM sessions WHERE sid = ? AND created_at > ?", (sid, time.time() - max_age))
        return found[0]["user"] if found else None

    def drop_session(self, sid: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE sid = ? OR created_at < ?", (sid, time.time() - 7 * 86400))

    # ------------------------------------------------------------------ jobs
    def add_job(self, kind: str, params: dict[str, Any], user: str) -> str:
        job_id = uuid.uuid4().hex[:12]
        with self._db() as db:
            db.execute("INSERT INTO jobs (id, kind, status, params, user, created_at) VALUES (?, ?, 'queued', ?, ?, ?)",
                       (job_id, kind, json.dumps(params), user, time.time()))
        return job_id

    def update_job(self, job_id: str, **fields: Any) -> None:
        values = {k: json.dumps(v) if k in _JSON_FIELDS else v for k, v in fields.items()}
        with self._db() as db:
            db.execute(f"UPDATE jobs SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                       (*values.values(), job_id))

    def job(self, job_id: str) -> dict[str, Any] | None:
        found = self._rows("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return found[0] if found else None

    def jobs(self, kind: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        query, args = "SELECT * FROM jobs WHERE 1=1", []
        if kind is not None:
            query, args = query + " AND kind = ?", [*args, kind]
        if status is not None:
            query, args = query + " AND status = ?", [*args, status]
        return self._rows(query + " ORDER BY created_at DESC", tuple(args))

    # ------------------------------------------------------------------ releases
    def add_release(self, row: dict[str, Any]) -> None:
        values = {k: json.dumps(v) if k in _JSON_FIELDS else v for k, v in row.items()}
        with self._db() as db:
            db.execute(f"INSERT INTO releases ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                       tuple(values.values()))

    def decide_release(self, release_id: str, status: str, user: str, reason: str) -> bool:
        """Record a decision once: a release already decided is left as it is (False)."""
        with self._db() as db:
            cursor = db.execute("UPDATE releases SET status = ?, decided_by = ?, decided_at = ?, reason = ? "
                                "WHERE id = ? AND status = 'requested'", (status, user, time.time(), reason,
                                                                          release_id))
            return cursor.rowcount == 1

    def release(self, release_id: str) -> dict[str, Any] | None:
        found = self._rows("SELECT * FROM releases WHERE id = ?", (release_id,))
        return found[0] if found else None

    def releases(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM releases ORDER BY requested_at DESC")
