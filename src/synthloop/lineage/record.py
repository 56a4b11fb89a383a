"""Recording fits, samples and files into a lineage store, and provenance on written tables.

Synthetic tables carry their lineage with them: Parquet in its file metadata, CSV in a
``.meta.json`` sidecar (``synthloop.io.tables.write_table(..., metadata=record.provenance())``).
:func:`register_file` reads it back, so a synthetic file registered again (in this store or
another one) is recognised as synthetic, with its depth, even after it was copied or renamed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from synthloop.errors import LineageError
from synthloop.io.atomic import atomic_write
from synthloop.io.tables import read_metadata, read_table
from synthloop.lineage.fingerprint import fingerprint
from synthloop.lineage.store import KINDS, PROVENANCE_KEY, DatasetRecord, Kind, LineageStore

MODEL_LINK = "lineage.json"


def provenance_of(path: str | Path) -> dict[str, Any] | None:
    """The lineage provenance written with a table file, if any."""
    metadata = read_metadata(path)
    found = (metadata or {}).get(PROVENANCE_KEY)
    return found if isinstance(found, dict) and found.get("kind") in KINDS else None


def register_table(store: LineageStore, data: pd.DataFrame, *, provenance: Mapping[str, Any] | None = None,
                   kind: Kind | None = None, name: str | None = None, action: str = "register") -> DatasetRecord:
    """Register a table, trusting its provenance over ``kind``; already-registered content is returned as is."""
    dataset_id = fingerprint(data)
    if dataset_id in store:
        record = store.get(dataset_id)
        if kind is not None and kind != record.kind:
            raise LineageError(f"This data is already registered as {record.kind} ({dataset_id}); it cannot also "
                               f"be {kind}.")
        store.log(dataset_id, action, name=name)
        return record
    if provenance is not None and provenance.get("kind") != "real":
        if kind == "real":
            raise LineageError(f"{name or 'This table'} carries synthloop provenance saying it is "
                               f"{provenance['kind']} (depth {provenance.get('depth')}); it cannot be registered "
                               "as real. Drop kind='real' to record it as it is.")
        return store.add_fingerprint(
            dataset_id, n_rows=len(data), n_columns=data.shape[1], kind=provenance["kind"],
            parents=list(provenance.get("parents", ())), synthesizer=provenance.get("synthesizer"),
            params=provenance.get("params") or {}, name=name, inherited=provenance, action=action)
    return store.add_fingerprint(dataset_id, n_rows=len(data), n_columns=data.shape[1], kind=kind or "real",
                                 name=name, action=action)


def register_file(store: LineageStore, path: str | Path, *, kind: Kind | None = None) -> DatasetRecord:
    """Register a CSV/Parquet file; its provenance (if any) decides whether it is synthetic."""
    return register_table(store, read_table(path), provenance=provenance_of(path), kind=kind, name=str(path))


def record_fit(store: LineageStore, data: pd.DataFrame, *, synthesizer: str, params: Mapping[str, Any] | None = None,
               source: str | Path | None = None) -> DatasetRecord:
    """Register the training data of a fit (a file's provenance is honoured) and log the fit."""
    provenance = provenance_of(source) if source is not None else None
    record = register_table(store, data, provenance=provenance, name=None if source is None else str(source),
                            action="fit")
    store.log(record.id, "fit", synthesizer=synthesizer, params=dict(params or {}))
    return record


def record_sample(store: LineageStore, synthetic: pd.DataFrame, *, training_id: str | None, synthesizer: str,
                  params: Mapping[str, Any] | None = None, name: str | None = None) -> DatasetRecord:
    """Register generated rows as synthetic, child of the data the synthesizer was fitted on."""
    parents = [store.get(training_id).id] if training_id is not None else []
    return store.add(synthetic, kind="synthetic", parents=parents, synthesizer=synthesizer,
                     params=params, name=name, action="sample")


@dataclass(frozen=True)
class ModelLink:
    """The training data a saved model came from (``lineage.json`` in the model folder)."""

    training_id: str
    depth: int
    synthetic_share: float
    store: str | None = None


def link_model(model_dir: str | Path, training: DatasetRecord, store: LineageStore | None = None) -> Path:
    """Write ``lineage.json`` into a saved model folder so its samples know their parent and depth."""
    path = Path(model_dir) / MODEL_LINK
    link = {"training_id": training.id, "depth": training.depth, "synthetic_share": training.synthetic_share,
            "store": None if store is None else str(Path(store.path).resolve())}
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(link, indent=2))
    return path


def model_link(model_dir: str | Path) -> ModelLink | None:
    """The lineage link of a saved model, if it was fitted with lineage tracking."""
    path = Path(model_dir) / MODEL_LINK
    if not path.is_file():
        return None
    try:
        found = json.loads(path.read_text())
        return ModelLink(training_id=str(found["training_id"]), depth=int(found["depth"]),
                         synthetic_share=float(found["synthetic_share"]), store=found.get("store"))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise LineageError(f"'{path}' is not a valid lineage link; delete it or re-fit the model.") from None


def training_record(data: pd.DataFrame, *, source: str | Path | None = None) -> DatasetRecord:
    """What lineage says about training data without a store: its file provenance, else real."""
    provenance = provenance_of(source) if source is not None else None
    dataset_id = fingerprint(data)
    if provenance is None:
        return DatasetRecord(id=dataset_id, kind="real", n_rows=len(data), n_columns=data.shape[1])
    return DatasetRecord(id=dataset_id, kind=provenance["kind"], n_rows=len(data), n_columns=data.shape[1],
                         parents=tuple(provenance.get("parents", ())), synthesizer=provenance.get("synthesizer"),
                         depth=int(provenance.get("depth", 1)),
                         synthetic_share=float(provenance.get("synthetic_share", 1.0)))


def sample_provenance(synthetic: pd.DataFrame, model_dir: str | Path, *, synthesizer: str,
                      params: Mapping[str, Any] | None = None, store: LineageStore | None = None) -> dict[str, Any]:
    """Provenance for generated rows (registered in ``store`` when given), to write with the table."""
    link = model_link(model_dir)
    parents = [link.training_id] if link is not None else []
    inherited = {"depth": (link.depth if link is not None else 0) + 1, "synthetic_share": 1.0}
    if store is None:
        record = DatasetRecord(id=fingerprint(synthetic), kind="synthetic", n_rows=len(synthetic),
                               n_columns=synthetic.shape[1], parents=tuple(parents), synthesizer=synthesizer,
                               params=dict(params or {}), depth=inherited["depth"], synthetic_share=1.0)
        return record.provenance()
    if link is not None and link.training_id in store:
        return record_sample(store, synthetic, training_id=link.training_id, synthesizer=synthesizer,
                             params=params).provenance()
    record = store.add_fingerprint(fingerprint(synthetic), n_rows=len(synthetic), n_columns=synthetic.shape[1],
                                   kind="synthetic", parents=parents, synthesizer=synthesizer, params=params,
                                   inherited=inherited, action="sample")
    return record.provenance()
