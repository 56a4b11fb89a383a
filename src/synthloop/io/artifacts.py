"""Model directories: ``config.json`` + ``schema.json`` + ``weights.safetensors``. Data, never code.

Loading reads JSON and safetensors only; nothing is unpickled, so a tampered file can corrupt a
model but cannot run code. Writes go to a temporary directory that replaces the target whole.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from synthloop.errors import ArtifactError
from synthloop.io.atomic import atomic_dir, check_writable

FORMAT = "synthloop-model"  # the marker in config.json that makes a folder a model synthloop may replace
FORMAT_VERSION = 1
CONFIG = "config.json"
SCHEMA = "schema.json"
WEIGHTS = "weights.safetensors"
# Files other synthloop commands add to a saved model folder (the lineage link of ``synthloop fit --lineage``).
ADDED_LATER = frozenset({"lineage.json"})


def save_artifact(path: str | Path, config: dict[str, Any], schema_json: str,
                  arrays: dict[str, np.ndarray], extra_files: dict[str, bytes] | None = None,
                  *, overwrite: bool = False) -> Path:
    """Write a model directory atomically; ``config.json`` lists every file written, so that a later
    save knows the folder holds nothing else and may replace it (see :func:`check_artifact_target`)."""
    from safetensors.numpy import save_file

    path = check_artifact_target(path, overwrite=overwrite)
    files = sorted({CONFIG, SCHEMA, WEIGHTS, *(extra_files or {})})
    config = {"format": FORMAT, "format_version": FORMAT_VERSION, **config, "files": files}
    with atomic_dir(path) as tmp:
        (tmp / CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False, default=_json_default))
        (tmp / SCHEMA).write_text(schema_json)
        contiguous = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
        save_file(contiguous, str(tmp / WEIGHTS), metadata={"format_version": str(FORMAT_VERSION)})
        for name, content in (extra_files or {}).items():
            (tmp / name).write_bytes(content)
    return path


def check_artifact_target(path: str | Path, *, overwrite: bool = False) -> Path:
    """Refuse, before any work, a target that saving would destroy or cannot write; return the target.

    A save replaces the model folder whole, so it may only replace an empty folder or a complete
    synthloop model (format marker in ``config.json``, the files it lists and nothing else), and the
    latter only with ``overwrite``. The current folder and its ancestors are never targets. A
    symbolic link is replaced, not followed. The nearest existing ancestor must be writable.
    """
    path = Path(path)
    absolute = Path(os.path.abspath(path))
    if absolute == Path.cwd() or absolute in Path.cwd().parents:
        raise ArtifactError(f"'{path}' is the current folder or one above it; saving would replace it whole. "
                            "Give a new folder for the model, e.g. models/my-model")
    if path.is_symlink() or path.exists():
        if path.exists() and not path.is_dir():
            raise ArtifactError(f"'{path}' exists and is a file; give a new folder for the model, e.g. models/{path.stem}")
        problem = model_folder_problem(path) if path.exists() and any(path.iterdir()) else None
        if path.is_symlink() and (problem or not path.exists()):
            raise ArtifactError(f"'{path}' is a symbolic link to something that is not a synthloop model; "
                                f"remove the link or give a new folder, e.g. {path.parent / 'model'}")
        if problem:
            raise ArtifactError(f"'{path}' is not a synthloop model folder ({problem}); saving replaces the folder "
                                f"whole, so it was left untouched. Give a new folder, e.g. {path / 'model'}")
        if not overwrite and path.exists() and any(path.iterdir()):
            raise ArtifactError(f"'{path}' already holds a synthloop model. Replace it with overwrite=True "
                                "(CLI: --force), or give a new folder.")
    try:
        check_writable(absolute)
    except OSError as exc:
        raise ArtifactError(f"Cannot save a model to '{path}': cannot write in '{exc.filename or absolute.parent}' "
                            f"({exc.strerror or exc}). Choose a folder you can write to.") from None
    return path


def model_folder_problem(path: Path) -> str | None:
    """Why the folder at ``path`` is not exactly a saved synthloop model, or None when it is one."""
    config_path = path / CONFIG
    if config_path.is_symlink() or not config_path.is_file():
        return f"it has no {CONFIG}"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return f"its {CONFIG} is not valid JSON"
    if not isinstance(config, dict):
        return f"its {CONFIG} is not a synthloop model config"
    if config.get("format") == FORMAT:
        files = config.get("files")
        if not isinstance(files, list) or not all(isinstance(f, str) and _plain_name(f) for f in files):
            return f"its {CONFIG} has no valid list of files"
        expected = {CONFIG, *files}
    elif isinstance(config.get("format_version"), int) and isinstance(config.get("synthesizer"), str):
        expected = {CONFIG, SCHEMA, WEIGHTS}  # written before the format marker existed
    else:
        return f"its {CONFIG} has no synthloop format marker"
    entries = {entry.name: entry for entry in path.iterdir()}
    others = sorted(set(entries) - expected - ADDED_LATER)
    if others:
        shown = ", ".join(others[:5]) + (" …" if len(others) > 5 else "")
        return f"it also holds {shown}"
    missing = sorted(expected - set(entries))
    if missing:
        return f"{', '.join(missing)} missing"
    odd = sorted(name for name, entry in entries.items() if entry.is_symlink() or not entry.is_file())
    if odd:
        return f"{', '.join(odd)} is not a plain file"
    return None


def _plain_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name


def load_artifact(path: str | Path) -> tuple[dict[str, Any], str, dict[str, np.ndarray]]:
    """Read ``(config, schema_json, arrays)`` from a model directory, refusing anything unsafe."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = Path(path)
    if not path.is_dir():
        raise ArtifactError(f"No model directory at '{path}'. Train one with: synthloop fit DATA -m MODEL -o {path}")
    for name in (CONFIG, SCHEMA, WEIGHTS):
        if not (path / name).is_file():
            raise ArtifactError(f"'{path}' is not a synthloop model: '{name}' is missing.")
    try:
        config = json.loads((path / CONFIG).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"'{path / CONFIG}' is not valid JSON: {exc}") from None
    if not isinstance(config, dict) or "synthesizer" not in config:
        raise ArtifactError(f"'{path / CONFIG}' does not describe a synthloop model (no 'synthesizer').")
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ArtifactError(f"'{path}' has model format {version!r}; this synthloop reads up to "
                            f"{FORMAT_VERSION}. Upgrade synthloop or re-train.")
    try:
        arrays = load_file(str(path / WEIGHTS))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ArtifactError(f"'{path / WEIGHTS}' is not a valid safetensors file ({exc}); "
                            "it was refused, not executed. Re-train the model.") from None
    return config, (path / SCHEMA).read_text(), arrays


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    raise TypeError(f"Cannot store {type(value).__name__} in config.json")
