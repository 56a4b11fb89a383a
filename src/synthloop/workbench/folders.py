"""The workbench's data folder: where each kind of file lives, and the one rule for names users give.

No route reads or writes a path a user names unless :func:`inside` resolved it into the data folder
(symbolic links and ``..`` are resolved first, so neither can step out).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from synthloop.errors import ConfigError, DataError

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")
_UPLOAD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class Folders:
    """``root`` and the folders under it; ``.workbench`` holds users, jobs, releases and the session key."""

    root: Path

    @classmethod
    def create(cls, root: str | Path) -> Folders:
        root = Path(root).resolve()
        if root.exists() and not root.is_dir():
            raise ConfigError(f"The data folder '{root}' is a file; give a folder.")
        folders = cls(root)
        for path in (folders.uploads, folders.models, folders.samples, folders.reports, folders.releases,
                     folders.schemas, folders.splits, folders.lab, folders.monitor):
            path.mkdir(parents=True, exist_ok=True)
        return folders

    @property
    def private(self) -> Path:
        return self.root / ".workbench"

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    @property
    def schemas(self) -> Path:
        return self.root / "schemas"

    @property
    def splits(self) -> Path:
        return self.root / "splits"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    @property
    def lab(self) -> Path:
        return self.root / "lab"

    @property
    def monitor(self) -> Path:
        return self.root / "monitor"

    @property
    def lineage(self) -> Path:
        return self.root / "lineage.db"

    def inside(self, name: str) -> Path:
        """``name`` (relative to the data folder) resolved; refused when it lands outside, or in ``.workbench``."""
        if not name or "\x00" in name:
            raise ConfigError("Give a file inside the workbench's data folder.")
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root) or path.is_relative_to(self.private.resolve()):
            raise ConfigError(f"'{name}' is outside the workbench's data folder; only files under it can be used.")
        return path

    def table(self, name: str) -> Path:
        """A table file inside the data folder (CSV, TSV or Parquet) that exists."""
        path = self.inside(name)
        if path.suffix.lower() not in TABLE_SUFFIXES or not path.is_file():
            raise DataError(f"'{name}' is not a table in the data folder (CSV, TSV or Parquet).")
        return path

    def relative(self, path: Path) -> str:
        """The name of a path under the data folder (links are not followed: a name, not a target)."""
        return Path(os.path.abspath(path)).relative_to(self.root).as_posix()


def upload_name(filename: str | None) -> str:
    """The name an upload is stored under: the file's own base name, checked (no folders, a table suffix)."""
    name = Path((filename or "").replace("\\", "/")).name
    if not _UPLOAD_NAME.match(name) or Path(name).suffix.lower() not in TABLE_SUFFIXES:
        raise DataError(f"Upload a .csv, .tsv or .parquet file whose name is letters, digits, '.', '_' or '-' "
                        f"(got {filename!r}).")
    return name
