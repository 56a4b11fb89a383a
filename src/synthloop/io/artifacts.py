"""Model directories: ``config.json`` + ``schema.json`` + ``weights.safetensors``. Data, never code.

Loading reads JSON and safetensors only; nothing is unpickled, so a tampered file cannot run code.
A model folder may come from someone else, so loading trusts nothing in it: files are read only
when they are regular files inside the folder and under a size limit, JSON is checked against strict
pydantic models and array headers against their data before anything is built, and every problem
is one :class:`~synthloop.errors.ArtifactError`. Writes go to a temporary directory that replaces
the target whole.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from synthloop.errors import ArtifactError
from synthloop.io.atomic import atomic_dir, check_writable

FORMAT = "synthloop-model"  # the marker in config.json that makes a folder a model synthloop may replace
FORMAT_VERSION = 1
CONFIG = "config.json"
SCHEMA = "schema.json"
WEIGHTS = "weights.safetensors"
MAX_JSON_BYTES = 256 * 2**20           # config.json and schema.json: a million long category labels fit
MAX_WEIGHTS_BYTES = 16 * 2**30
_MAX_HEADER_BYTES = 100 * 2**20        # the safetensors library's own limit
_LIMIT_VARIABLE = "SYNTHLOOP_MAX_MODEL_BYTES"
# Files other synthloop commands add to a saved model folder (the lineage link of ``synthloop fit --lineage``,
# the provenance of a federated fit).
ADDED_LATER = frozenset({"lineage.json", "federated.json"})


def save_artifact(path: str | Path, config: dict[str, Any], schema_json: str,
                  arrays: dict[str, np.ndarray], extra_files: dict[str, bytes] | None = None,
                  *, overwrite: bool = False) -> Path:
    """Write a model directory atomically; ``config.json`` lists every file written, so that a later
    save knows the folder holds nothing else and may replace it (see :func:`check_artifact_target`)."""
    from safetensors.numpy import save_file

    path = check_artifact_target(path, overwrite=overwrite)
    files = sorted({CONFIG, SCHEMA, WEIGHTS, *(extra_files or {})})
    config = {"format": FORMAT, "format_version": FORMAT_VERSION, **config, "files": files}
    with atomic_dir(path, private=bool(extra_files)) as tmp:   # the privacy reference: owner-only
        (tmp / CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False, default=_json_default))
        (tmp / SCHEMA).write_text(schema_json)
        contiguous = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
        save_file(contiguous, str(tmp / WEIGHTS), metadata={"format_version": str(FORMAT_VERSION)})
        for name, content in (extra_files or {}).items():
            check_plain_name(path, name)
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
    """Read ``(config, schema_json, arrays)`` from a model directory, refusing anything unsafe.

    Each file is read once, as bytes, after checking that it is a regular file inside the folder (a
    symlink may not lead out of it) and no larger than its limit. ``config.json`` must match
    :class:`ConfigFile`; the safetensors header is checked (names, dtypes, offsets, no truncation)
    before any array is built. The caller checks params, meta and arrays against the synthesizer.
    """
    path = Path(path)
    if not path.is_dir():
        raise ArtifactError(f"No model directory at '{path}'. Train one with: synthloop fit DATA -m MODEL -o {path}")
    for name in (CONFIG, SCHEMA, WEIGHTS):
        if not (path / name).exists() and not (path / name).is_symlink():
            raise ArtifactError(f"'{path}' is not a synthloop model: '{name}' is missing.")
    config = read_config(path)
    schema_json = _decode(path / SCHEMA, read_member(path, SCHEMA, MAX_JSON_BYTES))
    weights = read_member(path, WEIGHTS, max_weights_bytes())
    return config, schema_json, read_safetensors(weights, path / WEIGHTS)


def read_member(folder: Path, name: str, limit: int) -> bytes:
    """The bytes of file ``name`` in ``folder``: a plain name, a regular file inside the folder, at most ``limit``."""
    check_plain_name(folder, name)
    member = folder / name
    try:
        inside = member.resolve(strict=True).is_relative_to(folder.resolve(strict=True))
        info = member.stat()
    except (OSError, RuntimeError) as exc:                      # RuntimeError: a symlink loop
        raise ArtifactError(f"'{member}' cannot be read ({type(exc).__name__}).") from None
    if not inside:
        raise ArtifactError(f"'{member}' is a link to a file outside the model folder; refused, not read.")
    if not stat.S_ISREG(info.st_mode):
        raise ArtifactError(f"'{member}' is not a regular file; refused, not read.")
    if info.st_size > limit:
        raise ArtifactError(f"'{member}' is {info.st_size:,} bytes, over the {limit:,}-byte limit for this file; "
                            f"refused. Raise {_LIMIT_VARIABLE} if the model is genuinely this large.")
    with open(member, "rb") as handle:
        content = handle.read(min(limit, info.st_size) + 1)   # never allocate the whole limit up front
    if len(content) > min(limit, info.st_size):
        raise ArtifactError(f"'{member}' grew past the {limit:,}-byte limit while being read; refused.")
    return content


def check_plain_name(folder: Path, name: str) -> None:
    """Refuse a member name that could reach outside the folder: separators, ``..``, NUL, empty."""
    if not name or name in (".", "..") or Path(name).name != name or "\\" in name or "\0" in name:
        raise ArtifactError(f"'{folder}' names a file {name!r} that is not a plain file name; refused.")


def read_config(folder: Path) -> dict[str, Any]:
    """``config.json`` parsed and checked against :class:`ConfigFile` (format version first)."""
    file = folder / CONFIG
    config = parse_json(_decode(file, read_member(folder, CONFIG, MAX_JSON_BYTES)), file)
    if not isinstance(config, dict) or "synthesizer" not in config:
        raise ArtifactError(f"'{file}' does not describe a synthloop model (no 'synthesizer').")
    version = config.get("format_version")
    if type(version) is not int or version > FORMAT_VERSION:
        raise ArtifactError(f"'{folder}' has model format {version!r}; this synthloop reads up to "
                            f"{FORMAT_VERSION}. Upgrade synthloop or re-train.")
    return check_json(ConfigFile, config, file).model_dump()


def parse_json(text: str, file: Path) -> Any:
    """JSON without the traps: deep nesting and huge numbers become an ArtifactError, not a crash."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"'{file}' is not valid JSON: {exc}") from None
    except (RecursionError, ValueError) as exc:
        raise ArtifactError(f"'{file}' is not valid JSON ({type(exc).__name__}: nesting or a number too large).") from None


def check_json(model: type[BaseModel], data: Any, file: Path | str) -> BaseModel:
    """Validate ``data`` against a strict pydantic model; every problem in one ArtifactError."""
    try:
        return model.model_validate_json(json.dumps(data, allow_nan=False))
    except ValueError as exc:                                   # ValidationError, or NaN/inf in the data
        problems = ([f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in exc.errors()[:10]]
                    if isinstance(exc, ValidationError) else [str(exc)])
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ArtifactError(f"'{file}' does not match what synthloop writes; refused:\n{lines}\n"
                            "It was damaged or edited; re-train the model.") from None


def read_safetensors(content: bytes, file: Path) -> dict[str, np.ndarray]:
    """Arrays of a safetensors file, after checking its header: names, dtypes, shapes, offsets, length."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    refused = f"'{file}' is not a valid safetensors file"
    fix = "it was refused, not executed. Re-train the model."
    if len(content) < 8:
        raise ArtifactError(f"{refused} (only {len(content)} bytes); {fix}")
    header_length = int.from_bytes(content[:8], "little")
    if header_length > min(len(content) - 8, _MAX_HEADER_BYTES):
        raise ArtifactError(f"{refused} (header of {header_length:,} bytes in a {len(content):,}-byte file); {fix}")
    try:
        header = json.loads(content[8:8 + header_length])
        header.pop("__metadata__", None)
        entries = _TensorHeader.model_validate({"tensors": header}).tensors
    except (ValueError, AttributeError, RecursionError, UnicodeDecodeError):
        raise ArtifactError(f"{refused} (its header does not describe arrays); {fix}") from None
    position = 0
    for name, entry in sorted(entries.items(), key=lambda item: item[1].data_offsets):
        start, stop = entry.data_offsets
        size = _ITEM_SIZE[entry.dtype] * math.prod(entry.shape)
        if start != position or stop - start != size:
            raise ArtifactError(f"{refused} (array '{name}' does not fit its offsets); {fix}")
        position = stop
    if 8 + header_length + position != len(content):
        raise ArtifactError(f"{refused} (truncated or padded: {len(content):,} bytes, the header describes "
                            f"{8 + header_length + position:,}); {fix}")
    try:
        return load(content)
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        raise ArtifactError(f"{refused} ({exc}); {fix}") from None


def max_weights_bytes() -> int:
    """The largest ``weights.safetensors`` loading accepts (``SYNTHLOOP_MAX_MODEL_BYTES`` overrides)."""
    value = os.environ.get(_LIMIT_VARIABLE, "")
    return int(value) if value.isdigit() else MAX_WEIGHTS_BYTES


def _decode(file: Path, content: bytes) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        raise ArtifactError(f"'{file}' is not valid JSON: it is not UTF-8 text.") from None


_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, defer_build=True)  # built on first load
_ITEM_SIZE = {"F64": 8, "F32": 4, "I64": 8, "I32": 4, "U64": 8, "U32": 4, "U8": 1, "I8": 1, "BOOL": 1}
_ARRAY_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*(/[A-Za-z0-9_][A-Za-z0-9_.\-]*)*$"   # segments never start with '.'


class _TensorEntry(BaseModel):
    model_config = _STRICT
    dtype: Literal["F64", "F32", "I64", "I32", "U64", "U32", "U8", "I8", "BOOL"]
    shape: list[Annotated[int, Field(ge=0, le=2**40)]] = Field(max_length=4)
    data_offsets: list[Annotated[int, Field(ge=0)]] = Field(min_length=2, max_length=2)


class _TensorHeader(BaseModel):
    model_config = _STRICT
    tensors: dict[Annotated[str, Field(max_length=300, pattern=_ARRAY_NAME)], _TensorEntry]


class ConfigFile(BaseModel):
    """``config.json``: every key and type checked; params and meta are checked by the synthesizer."""

    model_config = _STRICT
    format: Literal["synthloop-model"] | None = None       # absent in folders written before the marker
    format_version: Annotated[int, Field(ge=1, le=FORMAT_VERSION)]
    synthesizer: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")]
    synthloop_version: Annotated[str, Field(max_length=100)]
    params: dict[str, JsonValue]
    n_training_rows: Annotated[int, Field(ge=0)]
    meta: dict[str, JsonValue]
    privacy_reference: dict[str, JsonValue] | None = None   # older folders: the reference sat in the weights
    files: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")]] | None = None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    raise TypeError(f"Cannot store {type(value).__name__} in config.json")
