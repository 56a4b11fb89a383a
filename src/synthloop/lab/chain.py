"""One chain of the lab: one policy, one seed, generation after generation, with checkpoints.

Each generation ``g`` fits ``synthesizer.clone()`` on ``policy.training_set(real, history, rng)``,
samples (with the run's ``privacy`` setting), measures the sample against the frozen holdout and writes
``<chain_dir>/gen-<g>/{synthetic.parquet, metrics.json}`` atomically. A chain that finds finished
generation folders reloads them and continues with the next generation; every random draw of
generation ``g`` comes from ``(seed, g)``, so a resumed chain gives the same numbers as an
uninterrupted one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthloop.errors import PrivacyError
from synthloop.io.atomic import atomic_dir
from synthloop.io.tables import write_table
from synthloop.lab.measures import MEASURES, measure
from synthloop.lineage.fingerprint import fingerprint, row_hashes
from synthloop.lineage.store import LineageStore
from synthloop.loop.policies import Policy
from synthloop.schema import Schema
from synthloop.synthesizers.base import Synthesizer

SYNTHETIC_FILE = "synthetic.parquet"
METRICS_FILE = "metrics.json"

#: Called after every finished generation (including ones reloaded on resume): (label, seed, generation).
OnGeneration = Callable[[str, int, int], None]


@dataclass
class ChainSpec:
    """Everything a worker needs to run one chain (plain data, sent to the worker process)."""

    label: str
    policy: Policy
    seed: int
    real: pd.DataFrame
    holdout: pd.DataFrame
    schema: Schema
    synthesizer: Synthesizer
    generations: int
    n_rows: int
    privacy: str = "parity"
    chain_dir: Path | None = None
    store: LineageStore | None = None
    real_id: str | None = None
    measures: tuple[str, ...] = MEASURES


def run_chain(spec: ChainSpec, on_generation: OnGeneration | None = None) -> list[dict[str, Any]]:
    """Run (or resume) one chain; returns one result row per generation."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        rows, history, ids = _resume(spec)
        for row in rows if on_generation is not None else ():
            on_generation(spec.label, spec.seed, int(row["generation"]))
        real_hashes = row_hashes(spec.real)
        for generation in range(len(rows) + 1, spec.generations + 1):
            row, synthetic, synthetic_id = _generation(spec, generation, history, ids, real_hashes)
            rows.append(row)
            history.append(synthetic)
            ids.append(synthetic_id)
            if on_generation is not None:
                on_generation(spec.label, spec.seed, generation)
    return rows


def _generation(spec: ChainSpec, generation: int, history: list[pd.DataFrame], ids: list[str | None],
                real_hashes: np.ndarray) -> tuple[dict[str, Any], pd.DataFrame, str | None]:
    rng = np.random.default_rng([spec.seed, generation])
    train = spec.policy.training_set(spec.real, history, rng).reset_index(drop=True)
    share = _synthetic_share(train, spec.real, history, real_hashes)
    model = spec.synthesizer.clone()
    if "seed" in model.get_params():
        model.set_params(seed=int(rng.integers(2**31)))
    model.fit(train, spec.schema)
    factor = float(getattr(spec.policy, "sample_factor", 1.0))
    try:
        synthetic = model.sample(math.ceil(spec.n_rows * factor), seed=int(rng.integers(2**31)), privacy=spec.privacy)
    except PrivacyError as exc:
        raise PrivacyError(f"Lab chain {spec.label} (seed {spec.seed}), generation {generation}: {exc} In a lab "
                           "config, set privacy = \"off\" under [run] to study the loop without the privacy step.") from None
    scores = measure(synthetic.iloc[:spec.n_rows], spec.holdout, spec.schema, rng, spec.measures, real=spec.real)
    synthetic_id, metadata = _record(spec, train, synthetic, history, ids, model)
    row = {"policy": spec.label, "seed": spec.seed, "generation": generation, "privacy": spec.privacy,
           "n_train": len(train), "train_synthetic_share": share, "synthetic_id": synthetic_id, **scores}
    if spec.chain_dir is not None:
        with atomic_dir(spec.chain_dir / f"gen-{generation:03d}") as tmp:
            write_table(synthetic, tmp / SYNTHETIC_FILE, metadata=metadata)
            (tmp / METRICS_FILE).write_text(json.dumps(row, indent=2, default=_json_number))
    return row, synthetic, synthetic_id


def _resume(spec: ChainSpec) -> tuple[list[dict[str, Any]], list[pd.DataFrame], list[str | None]]:
    """Finished generations from the chain folder, in order; stops at the first gap."""
    rows: list[dict[str, Any]] = []
    history: list[pd.DataFrame] = []
    if spec.chain_dir is None:
        return rows, history, []
    for generation in range(1, spec.generations + 1):
        folder = spec.chain_dir / f"gen-{generation:03d}"
        if not (folder / METRICS_FILE).is_file() or not (folder / SYNTHETIC_FILE).is_file():
            break
        rows.append(json.loads((folder / METRICS_FILE).read_text()))
        history.append(pd.read_parquet(folder / SYNTHETIC_FILE))
    return rows, history, [row.get("synthetic_id") for row in rows]


def _synthetic_share(train: pd.DataFrame, real: pd.DataFrame, history: list[pd.DataFrame],
                     real_hashes: np.ndarray) -> float:
    """Fraction of training rows that are not real rows (matched by content)."""
    if not history:
        return 0.0
    is_real = np.isin(row_hashes(train[list(real.columns)]), real_hashes)
    return float(1.0 - is_real.mean())


def _record(spec: ChainSpec, train: pd.DataFrame, synthetic: pd.DataFrame, history: list[pd.DataFrame],
            ids: list[str | None], model: Synthesizer) -> tuple[str | None, dict[str, Any] | None]:
    """Register the training set and the sample in the lineage store (when there is one)."""
    if spec.store is None or spec.real_id is None:
        return None, None
    train_id = _training_id(spec, train, history, ids)
    params = {k: v for k, v in model.get_params().items() if isinstance(v, (int, float, str, bool, type(None)))}
    # "lab-fit", not "fit": experiments that train on generated data on purpose do not fail an audit
    spec.store.log(train_id, "lab-fit", synthesizer=model.name, params=params, lab=spec.label, seed=spec.seed)
    record = spec.store.add(synthetic, kind="synthetic", parents=[train_id], synthesizer=model.name, params=params,
                            name=f"lab {spec.label} seed {spec.seed}", action="sample")
    return record.id, record.provenance()


def _training_id(spec: ChainSpec, train: pd.DataFrame, history: list[pd.DataFrame], ids: list[str | None]) -> str:
    """The training set's id: an existing dataset when it is one, else a new ``mixed`` record of its sources."""
    train_id = fingerprint(train)
    if train_id in spec.store:
        return train_id
    sources = [(spec.real_id, spec.real), *[(i, h) for i, h in zip(ids, history) if i is not None]]
    hashes = row_hashes(train[list(spec.real.columns)])
    remaining = np.ones(len(hashes), dtype=bool)
    parents: dict[str, int] = {}
    for source_id, frame in reversed(sources[1:]):
        parents[source_id] = _take(hashes, remaining, frame)
    parents[spec.real_id] = _take(hashes, remaining, spec.real)
    parents = {k: v for k, v in parents.items() if v}
    if remaining.any() and ids and ids[-1] is not None:  # rows changed by the policy count as synthetic
        parents[ids[-1]] = parents.get(ids[-1], 0) + int(remaining.sum())
    return spec.store.add(train, kind="mixed", parents=parents, name=f"lab {spec.label} training set",
                          action="register").id


def _take(hashes: np.ndarray, remaining: np.ndarray, frame: pd.DataFrame) -> int:
    found = remaining & np.isin(hashes, row_hashes(frame))
    remaining &= ~found
    return int(found.sum())


def _json_number(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"Cannot store {type(value).__name__} in JSON")
