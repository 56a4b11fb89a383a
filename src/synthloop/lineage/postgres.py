"""The PostgreSQL backend of the lineage store, for a team sharing one server (extra: ``workbench``).

The same rows as :mod:`synthloop.lineage.sqlite` (a dataset per content id, parent edges, an
append-only event log), behind the same :class:`~synthloop.lineage.store.LineageBackend` methods,
so every lineage rule stays in :class:`~synthloop.lineage.store.LineageStore`. Open it by giving the
store a DSN instead of a file: ``LineageStore("postgresql://user@host/db")``.

Concurrency: every write is one transaction; records are ``INSERT ... ON CONFLICT DO NOTHING`` on
their content id, so two workers registering the same table agree. Creating the tables takes a
transaction-scoped advisory lock, because two ``CREATE TABLE IF NOT EXISTS`` racing on a fresh
database can both miss the table and one then fails on the catalogue's unique index.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

from synthloop.errors import LineageError, require

FORMAT = "synthloop-lineage"
FORMAT_VERSION = 1
_LOCK_ID = 0x5F17_100B          # any constant: the advisory lock that serialises table creation
DSN_PREFIXES = ("postgresql://", "postgres://")

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('real', 'synthetic', 'mixed')),
    n_rows BIGINT NOT NULL,
    n_columns BIGINT NOT NULL,
    synthesizer TEXT,
    params TEXT NOT NULL DEFAULT '{}',
    depth INTEGER NOT NULL,
    synthetic_share DOUBLE PRECISION NOT NULL,
    name TEXT,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS edges (
    child TEXT NOT NULL REFERENCES datasets(id),
    parent TEXT NOT NULL,
    n_rows BIGINT,
    PRIMARY KEY (child, parent)
);
CREATE INDEX IF NOT EXISTS edges_parent ON edges(parent);
CREATE TABLE IF NOT EXISTS events (
    seq BIGSERIAL PRIMARY KEY,
    dataset_id TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    at DOUBLE PRECISION NOT NULL
)
"""

_COLUMNS = ("id", "kind", "n_rows", "n_columns", "synthesizer", "params", "depth", "synthetic_share", "name",
            "created_at")


def is_dsn(location: object) -> bool:
    """True when a store location names a PostgreSQL server rather than a file."""
    return isinstance(location, str) and location.startswith(DSN_PREFIXES)


def safe_dsn(dsn: str) -> str:
    """The DSN without its password, for messages and reprs."""
    head, sep, tail = dsn.partition("://")
    if "@" in tail.split("/", 1)[0]:
        credentials, _, rest = tail.partition("@")
        tail = f"{credentials.split(':', 1)[0]}:***@{rest}" if ":" in credentials else tail
    return head + sep + tail


class PostgresBackend:
    """Rows in, rows out, on a PostgreSQL server; no lineage logic lives here."""

    def __init__(self, dsn: str, *, create: bool = True):
        self._psycopg = require("psycopg", "workbench", "A PostgreSQL lineage store")
        self.dsn = dsn
        self.where = safe_dsn(dsn)
        with self._transaction() as db:
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            found = db.execute("SELECT to_regclass('meta') IS NOT NULL AS here").fetchone()["here"]
            if not found and not create:
                raise LineageError(f"No lineage store at {self.where} (its database has no lineage tables).")
            if found:
                stored = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
                if stored is None or stored["value"] != FORMAT:
                    raise LineageError(f"The database at {self.where} has a 'meta' table but is not a synthloop "
                                       "lineage store; it was left untouched.")
            for statement in filter(str.strip, _TABLES.split(";")):
                db.execute(statement)
            db.execute("INSERT INTO meta VALUES ('format', %s), ('version', %s) ON CONFLICT (key) DO NOTHING",
                       (FORMAT, str(FORMAT_VERSION)))

    def __repr__(self) -> str:
        return f"PostgresBackend('{self.where}')"

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        from psycopg.rows import dict_row

        try:
            with self._psycopg.connect(self.dsn, row_factory=dict_row, connect_timeout=10) as db, db.transaction():
                yield db
        except self._psycopg.OperationalError as exc:
            raise LineageError(f"Cannot reach the lineage store at {self.where}: {str(exc).strip()}") from None
        except self._psycopg.DatabaseError as exc:
            raise LineageError(f"The lineage store at {self.where} refused the operation: "
                               f"{str(exc).strip()}") from None

    # ------------------------------------------------------------------ writes
    def insert(self, row: dict[str, Any], edges: Sequence[tuple[str, int | None]], action: str,
               detail: dict[str, Any]) -> bool:
        """Insert a dataset and its parent edges unless the id exists; log the event. True if new."""
        values = [row[c] if c != "params" else json.dumps(row[c], sort_keys=True, default=str) for c in _COLUMNS]
        with self._transaction() as db:
            cursor = db.execute(f"INSERT INTO datasets ({', '.join(_COLUMNS)}) "
                                f"VALUES ({', '.join(['%s'] * len(_COLUMNS))}) ON CONFLICT (id) DO NOTHING", values)
            is_new = cursor.rowcount == 1
            if is_new and edges:
                with db.cursor() as many:
                    many.executemany("INSERT INTO edges VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                                     [(row["id"], parent, n_rows) for parent, n_rows in edges])
            self._event(db, row["id"], action, detail)
        return is_new

    def log(self, dataset_id: str, action: str, detail: dict[str, Any]) -> None:
        with self._transaction() as db:
            self._event(db, dataset_id, action, detail)

    @staticmethod
    def _event(db, dataset_id: str, action: str, detail: dict[str, Any]) -> None:
        db.execute("INSERT INTO events (dataset_id, action, detail, at) VALUES (%s, %s, %s, %s)",
                   (dataset_id, action, json.dumps(detail, sort_keys=True, default=str), time.time()))

    # ------------------------------------------------------------------ reads
    def fetch(self, dataset_id: str) -> dict[str, Any] | None:
        with self._transaction() as db:
            row = db.execute("SELECT * FROM datasets WHERE id = %s", (dataset_id,)).fetchone()
            if row is None:
                return None
            edges = db.execute("SELECT parent, n_rows FROM edges WHERE child = %s ORDER BY parent",
                               (dataset_id,)).fetchall()
        return self._row(row, edges)

    def ids_with_prefix(self, prefix: str) -> list[str]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self._transaction() as db:
            rows = db.execute("SELECT id FROM datasets WHERE id LIKE %s ORDER BY id LIMIT 10",
                              (escaped + "%",)).fetchall()
        return [r["id"] for r in rows]

    def children(self, dataset_id: str) -> list[str]:
        with self._transaction() as db:
            rows = db.execute("SELECT child FROM edges WHERE parent = %s ORDER BY child", (dataset_id,)).fetchall()
        return [r["child"] for r in rows]

    def all(self) -> list[dict[str, Any]]:
        with self._transaction() as db:
            rows = db.execute("SELECT * FROM datasets ORDER BY created_at, id").fetchall()
            edges = db.execute("SELECT child, parent, n_rows FROM edges ORDER BY parent").fetchall()
        by_child: dict[str, list[dict[str, Any]]] = {}
        for edge in edges:
            by_child.setdefault(edge["child"], []).append(edge)
        return [self._row(row, by_child.get(row["id"], [])) for row in rows]

    def events(self, dataset_id: str | None = None) -> list[dict[str, Any]]:
        query, args = "SELECT * FROM events ORDER BY seq", ()
        if dataset_id is not None:
            query, args = "SELECT * FROM events WHERE dataset_id = %s ORDER BY seq", (dataset_id,)
        with self._transaction() as db:
            rows = db.execute(query, args).fetchall()
        return [{**r, "detail": self._json(r["detail"], f"the detail of event {r['seq']}")} for r in rows]

    def _row(self, row: dict[str, Any], edges: Sequence[dict[str, Any]]) -> dict[str, Any]:
        out = dict(row)
        out["params"] = self._json(out["params"], f"the params of dataset {out.get('id')!r}")
        out["parents"] = tuple(e["parent"] for e in edges)
        out["parent_rows"] = {e["parent"]: e["n_rows"] for e in edges}
        return out

    def _json(self, text: str | None, what: str) -> dict[str, Any]:
        try:
            value = json.loads(text or "{}")
        except (ValueError, TypeError, RecursionError):
            value = None
        if not isinstance(value, dict):
            raise LineageError(f"The lineage store at {self.where} is damaged ({what} is not a JSON object); "
                               "it was left as it is.")
        return value
