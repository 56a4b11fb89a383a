"""What a saved model folder holds, read from its JSON alone: ``describe(path)`` → :class:`ModelCard`.

``synthloop models show DIR`` prints it. Nothing is imported but the registry entry's source (read
with :mod:`ast`), so describing a neural model does not import torch; the weights are not read (load
the model to check them). The privacy ledger of a DP model is rebuilt with
:meth:`~synthloop.privacy.accounting.Ledger.from_dict`, so a stored ledger that overspends or does not
match its own budget is refused here as on load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthloop.errors import ArtifactError, ConfigError, PrivacyError, SchemaError
from synthloop.io.artifacts import MAX_JSON_BYTES, SCHEMA, read_config, read_member
from synthloop.privacy.accounting import Ledger
from synthloop.schema import Schema


@dataclass(frozen=True)
class ModelCard:
    """A saved model's kind, parameters, training size, columns and (DP models) privacy ledger."""

    path: Path
    kind: str                          # registry name, e.g. "dp_mst"
    summary: str                       # first line of the class docstring ("" for an unregistered kind)
    params: dict[str, Any]             # as saved (the learned hyperparameters; run options are never saved)
    n_training_rows: int               # DP models: a noisy estimate, or the public row count their ledger lists
    synthloop_version: str
    schema: Schema
    ledger: Ledger | None              # None: not differentially private (parity protects its samples)
    privacy_reference: bool            # training rows kept inside the folder (sensitive)
    size_bytes: int

    @property
    def private(self) -> bool:
        return self.ledger is not None


def describe(path: str | Path) -> ModelCard:
    """Read a saved model folder's config and schema (never its weights, never code) into a :class:`ModelCard`."""
    path = Path(path)
    if not path.is_dir():
        raise ArtifactError(f"No model directory at '{path}'. Train one with: synthloop fit DATA -m MODEL -o {path}")
    config = read_config(path)
    try:
        schema = Schema.from_json(read_member(path, SCHEMA, MAX_JSON_BYTES).decode("utf-8"))
    except (SchemaError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"'{path / SCHEMA}' is not a valid schema: {exc}") from None
    stored = config["meta"].get("ledger")
    ledger = None
    if stored is not None:
        try:
            ledger = Ledger.from_dict(stored)
        except (PrivacyError, ConfigError, KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"'{path}' holds an invalid privacy ledger: {exc}") from None
    files = config.get("files") or []
    return ModelCard(path=path, kind=config["synthesizer"], summary=_summary(config["synthesizer"]),
                     params=dict(config["params"]), n_training_rows=config["n_training_rows"],
                     synthloop_version=config["synthloop_version"], schema=schema, ledger=ledger,
                     privacy_reference=any(name.startswith("privacy_reference") for name in files),
                     size_bytes=sum(f.stat().st_size for f in path.iterdir() if f.is_file() and not f.is_symlink()))


def _summary(kind: str) -> str:
    from synthloop.synthesizers import REGISTRY
    from synthloop.synthesizers.params import read_signature

    if kind not in REGISTRY.names():
        return ""
    target = REGISTRY.target(kind)
    static = read_signature(target) if isinstance(target, str) else None
    return static[0] if static is not None else ""
