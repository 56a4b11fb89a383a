"""Lineage of a federated fit: each party's table by fingerprint, their union, the model's link.

The server never holds the rows, so it records what the parties sent at the join: the fingerprint
(a content hash) of each table, its size, and the party's name. The pooled training set is a dataset
of its own whose id hashes the parties' fingerprints and whose parents are the parties' tables, so
samples of the federated model sit one generation below all of them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from synthloop.io.atomic import atomic_write
from synthloop.lineage import LineageStore, link_model
from synthloop.lineage.fingerprint import ID_LENGTH

PROVENANCE_FILE = "federated.json"


def publish(model_dir: Path, provenance: Mapping[str, Any], lineage: str | Path | None) -> None:
    """Write ``federated.json`` next to the saved model and, with a lineage store, record the federation."""
    with atomic_write(model_dir / PROVENANCE_FILE) as tmp:
        tmp.write_text(json.dumps(provenance, indent=2))
    if lineage is not None:
        record_federation(lineage, model_dir, provenance["parties"], provenance)


def pooled_id(fingerprints: list[str]) -> str:
    """The id of the union of the parties' tables: a hash of their sorted fingerprints."""
    digest = hashlib.blake2b(b"federated:" + ",".join(sorted(fingerprints)).encode(), digest_size=ID_LENGTH // 2)
    return digest.hexdigest()


def record_federation(store_path: str | Path, model_dir: Path, parties: Mapping[str, Mapping[str, Any]],
                      provenance: Mapping[str, Any]) -> str:
    """Register every party's table and their union, log the federated fit, link the model; returns the union's id."""
    store = LineageStore(store_path)
    for name, party in parties.items():
        if party["fingerprint"] not in store:
            store.add_fingerprint(party["fingerprint"], n_rows=party["n_rows"], n_columns=party["n_columns"],
                                  kind="real", name=f"party {name}", action="federated-join")
    union = pooled_id([p["fingerprint"] for p in parties.values()])
    n_columns = max((p["n_columns"] for p in parties.values()), default=0)
    record = store.add_fingerprint(union, n_rows=sum(p["n_rows"] for p in parties.values()), n_columns=n_columns,
                                   kind="real", parents={p["fingerprint"]: p["n_rows"] for p in parties.values()},
                                   name=f"federation of {', '.join(sorted(parties))}", action="federated-fit")
    settings = provenance["settings"]
    model = provenance.get("model", settings.get("model"))               # the DP models name theirs at the top
    params = settings.get("params", settings)
    store.log(union, "federated-fit", synthesizer=model, params=dict(params),
              parties={name: p["fingerprint"] for name, p in parties.items()}, strategy=provenance["strategy"],
              rounds=len(provenance["rounds"]),
              epsilon_per_party=provenance.get("epsilon_per_party"))
    link_model(model_dir, record, store)
    return union
