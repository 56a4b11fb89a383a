"""Model directories: ``config.json`` + ``schema.json`` + ``weights.safetensors``. Data, never code.

Loading reads JSON and safetensors only; nothing is unpickled, so a tampered file can corrupt a
model but cannot run code. Writes go to a temporary directory that replaces the target whole.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from synthloop.errors import ArtifactError
from synthloop.io.atomic import atomic_dir

FORMAT_VERSION = 1
CONFIG = "config.json"
SCHEMA = "schema.json"
WEIGHTS = "weights.safetensors"


def save_artifact(path: str | Path, config: dict[str, Any], schema_json: str,
                  arrays: dict[str, np.ndarray], extra_files: dict[str, bytes] | None = None) -> Path:
    """Write a model directory atomically."""
    from safetensors.numpy import save_file

    path = Path(path)
    check_artifact_target(path)
    config = {"format_version": FORMAT_VERSION, **config}
    with atomic_dir(path, private=holds_training_rows(config)) as tmp:
        (tmp / CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False, default=_json_default))
        (tmp / SCHEMA).write_text(schema_json)
        contiguous = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
        save_file(contiguous, str(tmp / WEIGHTS), metadata={"format_version": str(FORMAT_VERSION)})
        for name, content in (extra_files or {}).items():
            (tmp / name).write_bytes(content)
    return path


def holds_training_rows(config: dict[str, Any]) -> bool:
    """A model saved with its privacy reference keeps training-row hashes and nearest-neighbour rows:
    its folder is written owner-only (0700) whatever the umask."""
    return bool(config.get("privacy_reference"))


def check_artifact_target(path: str | Path) -> None:
    """Refuse a target that saving would destroy: a file, or a non-empty folder that is not a model.

    A save replaces the model folder whole, so without this check a user's folder of other files
    would be lost.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ArtifactError(f"'{path}' exists and is a file; give a new directory for the model, e.g. models/{path.stem}")
    if path.is_dir() and any(path.iterdir()) and not (path / CONFIG).is_file():
        raise ArtifactError(f"'{path}' is a non-empty directory that is not a synthloop model; saving would replace it. "
                            f"Give a new directory, e.g. {path / 'model'}")


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
