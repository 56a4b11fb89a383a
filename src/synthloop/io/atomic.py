"""Atomic writes: a file or directory appears whole, or not at all.

Modes follow the umask, as ``open`` and ``mkdir`` would (``mkstemp``/``mkdtemp`` alone would make
every output 0600/0700). ``private=True`` keeps the owner-only modes: model folders that hold
training-row hashes and a nearest-neighbour reference are as sensitive as the training data.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0o077)     # the only portable way to read it is to set it and put it back
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | Path, *, suffix: str = "", private: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed over ``path``.

    On error the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    if not private:
        tmp.chmod(0o666 & ~_umask())
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | Path, *, private: bool = False) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; on success it replaces ``path`` whole.

    A symbolic link at ``path`` is replaced, never followed: the folder it pointed to is left as it was.
    """
    path = Path(os.path.abspath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    if not private:
        tmp.chmod(0o777 & ~_umask())
    try:
        yield tmp
        backup = None
        if path.is_symlink() or path.exists():
            backup = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, backup)
        os.replace(tmp, path)
        if backup is not None:
            remove(backup)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def remove(path: Path) -> None:
    """Delete a file, a link (not what it points to) or a folder tree."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def check_writable(path: str | Path) -> None:
    """Raise ``OSError`` (naming the folder) unless ``path`` could be created: its nearest existing
    ancestor must be a folder this process can write to. Probed by creating and removing a folder,
    because permission bits say nothing for root, read-only mounts or ACLs."""
    ancestor = Path(os.path.abspath(path)).parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise NotADirectoryError(20, "it is a file, so no folder can be made inside it", str(ancestor))
    os.rmdir(tempfile.mkdtemp(prefix=".synthloop-probe-", dir=ancestor))
