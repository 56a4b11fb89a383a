"""The SQLite backend of the lineage store: one file, standard library, WAL mode.

Several processes may write at once (the lab's parallel workers): every write is one
``BEGIN IMMEDIATE`` transaction (a writer waits for the lock instead of failing, up to
``busy_timeout``), records are insert-or-ignore on their content id, and WAL mode lets readers
run while a writer commits. Opening a file checks, read-only, that it *is* a synthloop lineage
store before anything is written, so a wrong path is refused and left untouched.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from synthloop.errors import LineageError

FORMAT = "synthloop-lineage"
FORMAT_VERSION = 1
_BUSY_TIMEOUT_MS = 60_000

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('real', 'synthetic', 'mixed')),
    n_rows INTEGER NOT NULL,
    n_columns INTEGER NOT NULL,
    synthesizer TEXT,
    params TEXT NOT NULL DEFAULT '{}',
    depth INTEGER NOT NULL,
    synthetic_share REAL NOT NULL,
    name TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS edges (
    child TEXT NOT NULL REFERENCES datasets(id),
    parent TEXT NOT NULL,
    n_rows INTEGER,
    PRIMARY KEY (child, parent)
);
CREATE INDEX IF NOT EXISTS edges_parent ON edges(parent);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset_id TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    at REAL NOT NULL
);
"""

_COLUMNS = ("id", "kind", "n_rows", "n_columns", "synthesizer", "params", "depth", "synthetic_share", "name",
            "created_at")
_REQUIRED_COLUMNS = {"meta": {"key", "value"}, "datasets": set(_COLUMNS), "edges": {"child", "parent", "n_rows"},
                     "events": {"seq", "dataset_id", "action", "detail", "at"}}


class SQLiteBackend:
    """Rows in, rows out; no lineage logic lives here (see :class:`~synthloop.lineage.store.LineageStore`)."""

    def __init__(self, path: str | Path, *, create: bool = True):
        self.path = Path(path)
        if self.path.exists():
            _check_is_store(self.path)
        elif not create:
            raise LineageError(f"No lineage store at '{self.path}'. Create one by recording into it, e.g. "
                               f"synthloop fit DATA -m independent -o MODEL --lineage {self.path}")
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._transaction() as db:
            for statement in filter(str.strip, _TABLES.split(";")):
                db.execute(statement)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?), ('version', ?)",
                       (FORMAT, str(FORMAT_VERSION)))

    # ------------------------------------------------------------------ connections
    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        return db

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._damage_reported():
            db = _retry(self._connect)
            try:
                _retry(lambda: db.execute("BEGIN IMMEDIATE"))
                try:
                    yield db
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            finally:
                db.close()

    @contextlib.contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        with self._damage_reported():
            db = _retry(self._connect)
            try:
                yield db
            finally:
                db.close()

    @contextlib.contextmanager
    def _damage_reported(self) -> Iterator[None]:
        """A damaged database file or table (malformed pages, a dropped column) is one LineageError."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise damaged(self.path, str(exc)) from None

    # ------------------------------------------------------------------ writes
    def insert(self, row: dict[str, Any], edges: Sequence[tuple[str, int | None]], action: str,
               detail: dict[str, Any]) -> bool:
        """Insert a dataset and its parent edges unless the id exists; log the event. True if new."""
        values = [row[c] if c != "params" else json.dumps(row[c], sort_keys=True, default=str) for c in _COLUMNS]
        with self._transaction() as db:
            cursor = db.execute(f"INSERT OR IGNORE INTO datasets ({', '.join(_COLUMNS)}) "
                                f"VALUES ({', '.join('?' * len(_COLUMNS))})", values)
            is_new = cursor.rowcount == 1
            if is_new:
                db.executemany("INSERT OR IGNORE INTO edges VALUES (?, ?, ?)",
                               [(row["id"], parent, n_rows) for parent, n_rows in edges])
            db.execute("INSERT INTO events (dataset_id, action, detail, at) VALUES (?, ?, ?, ?)",
                       (row["id"], action, json.dumps(detail, sort_keys=True, default=str), time.time()))
        return is_new

    def log(self, dataset_id: str, action: str, detail: dict[str, Any]) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO events (dataset_id, action, detail, at) VALUES (?, ?, ?, ?)",
                       (dataset_id, action, json.dumps(detail, sort_keys=True, default=str), time.time()))

    # ------------------------------------------------------------------ reads
    def fetch(self, dataset_id: str) -> dict[str, Any] | None:
        with self._reader() as db:
            row = db.execute("SELECT * FROM datasets WHERE id = ?", (dataset_id,)).fetchone()
            if row is None:
                return None
            edges = db.execute("SELECT parent, n_rows FROM edges WHERE child = ? ORDER BY parent",
                               (dataset_id,)).fetchall()
        return _row_dict(row, edges, self.path)

    def ids_with_prefix(self, prefix: str) -> list[str]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self._reader() as db:
            rows = db.execute("SELECT id FROM datasets WHERE id LIKE ? ESCAPE '\\' LIMIT 10",
                              (escaped + "%",)).fetchall()
        return [r["id"] for r in rows]

    def children(self, dataset_id: str) -> list[str]:
        with self._reader() as db:
            rows = db.execute("SELECT child FROM edges WHERE parent = ? ORDER BY child", (dataset_id,)).fetchall()
        return [r["child"] for r in rows]

    def all(self) -> list[dict[str, Any]]:
        with self._reader() as db:
            rows = db.execute("SELECT * FROM datasets ORDER BY created_at, id").fetchall()
            edges = db.execute("SELECT child, parent, n_rows FROM edges ORDER BY parent").fetchall()
        by_child: dict[str, list[sqlite3.Row]] = {}
        for edge in edges:
            by_child.setdefault(edge["child"], []).append(edge)
        return [_row_dict(row, by_child.get(row["id"], []), self.path) for row in rows]

    def events(self, dataset_id: str | None = None) -> list[dict[str, Any]]:
        query, args = "SELECT * FROM events ORDER BY seq", ()
        if dataset_id is not None:
            query, args = "SELECT * FROM events WHERE dataset_id = ? ORDER BY seq", (dataset_id,)
        with self._reader() as db:
            rows = db.execute(query, args).fetchall()
        return [{**dict(r), "detail": _json_object(r["detail"], self.path, f"the detail of event {r['seq']}")}
                for r in rows]

    def integrity(self) -> str:
        with self._reader() as db:
            return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def damaged(path: Path, detail: str) -> LineageError:
    """The error for a store whose file or rows were damaged; nothing is repaired or rewritten."""
    return LineageError(f"The lineage store '{path}' is damaged ({detail}); it was left as it is. Check it with: "
                        f"sqlite3 '{path}' 'PRAGMA integrity_check', restore a backup, or start a new store.")


def _json_object(text: str | None, path: Path, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except (ValueError, TypeError, RecursionError):
        raise damaged(path, f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise damaged(path, f"{what} is not a JSON object")
    return value


def _row_dict(row: sqlite3.Row, edges: Sequence[sqlite3.Row], path: Path) -> dict[str, Any]:
    out = dict(row)
    out["params"] = _json_object(out["params"], path, f"the params of dataset {out.get('id')!r}")
    out["parents"] = tuple(e["parent"] for e in edges)
    out["parent_rows"] = {e["parent"]: e["n_rows"] for e in edges}
    return out


def _check_is_store(path: Path) -> None:
    """Refuse, without writing, any existing file that is not a synthloop lineage store."""
    if path.is_dir():
        raise LineageError(f"'{path}' is a directory; give the path of a lineage store file (e.g. lineage.db).")
    for _ in range(50):  # another process may be creating this very store right now
        if time.time() - path.stat().st_mtime > 2 or not _maybe_being_created(path):
            break
        time.sleep(0.05)
    hint = "Give the path of a lineage store, or a new file name to create one."
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT_MS / 1000)
        try:
            found = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            version = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
            tables = {name: {column[1] for column in db.execute(f"PRAGMA table_info({name})")}
                      for name in _REQUIRED_COLUMNS}
        finally:
            db.close()
    except sqlite3.DatabaseError:
        raise LineageError(f"'{path}' is not a synthloop lineage store (not an SQLite database with "
                           f"synthloop lineage tables); it was left untouched. {hint}") from None
    if found is None or found[0] != FORMAT:
        raise LineageError(f"'{path}' is an SQLite database but not a synthloop lineage store; it was left "
                           f"untouched. {hint}")
    stored = str(version[0]) if version else "?"
    if not stored.isdigit() or int(stored) > FORMAT_VERSION:
        raise LineageError(f"'{path}' is a lineage store of format {stored!r}; this synthloop reads up to "
                           f"{FORMAT_VERSION}. Upgrade synthloop, or check that the file is not damaged.")
    lacking = [f"{name} ({', '.join(sorted(columns - tables[name]))})" if tables[name] else name
               for name, columns in _REQUIRED_COLUMNS.items() if not columns <= tables[name]]
    if lacking:          # refuse rather than recreate: CREATE TABLE IF NOT EXISTS would hide lost records
        raise damaged(path, f"missing tables or columns: {'; '.join(lacking)}")


def _maybe_being_created(path: Path) -> bool:
    """An empty file, or an SQLite file with no tables yet: what a store looks like mid-creation."""
    with path.open("rb") as handle:
        header = handle.read(16)
    if not header:
        return True
    if header != b"SQLite format 3\x00":
        return False
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return False


def _retry(action, attempts: int = 20):
    """Retry an SQLite call that hit a lock (WAL setup races between brand-new connections)."""
    for attempt in range(attempts):
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == attempts - 1:
                raise LineageError(f"The lineage store is busy or unwritable: {exc}. Retry, or check "
                                   "that the folder is writable and on a local disk.") from None
            time.sleep(0.05 * (attempt + 1))
    return None
