"""Simulation: one table split into parties (:func:`~synthloop.federated.rehearsal.split`), trained round by round.

The driver runs the same :class:`~synthloop.federated.coordinator.Coordinator` and
:class:`~synthloop.federated.party.Party` objects a localhost deployment runs behind Flower, one
party after another in this process (the fast default: on a small machine this is what Ray would do
anyway, without its start-up), or, with ``engine="ray"``, as Flower ClientApps on Flower's simulation
engine (:mod:`synthloop.federated.ray_engine`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from synthloop.errors import ConfigError
from synthloop.federated.coordinator import Coordinator, FederatedSettings, RoundResult
from synthloop.federated.party import Party
from synthloop.federated.rehearsal import PartyDropped, split
from synthloop.schema import Schema


def run_inprocess(coordinator: Coordinator, parties: Sequence[Party]) -> Path:
    """Run a whole federation with every party in this process; returns the saved model folder."""
    names = [party.name for party in parties]
    if len(set(names)) != len(names):
        raise ConfigError(f"Party names must be unique; got {names}.")
    schema = coordinator.merge({party.name: party.local_schema() for party in parties})
    n_quantiles = coordinator.settings.n_quantiles
    sketches = {party.name: party.sketch(schema, n_quantiles=n_quantiles) for party in parties}
    plan, weights, start = coordinator.begin(sketches)
    for index, party in enumerate(sorted(parties, key=lambda p: p.name)):
        party.start(plan, index)
    for round_index in range(start, coordinator.settings.rounds):
        began = time.perf_counter()
        results, failures = {}, []
        for party in parties:
            try:
                update, n_rows, metrics = party.fit(weights, coordinator.round_config(round_index))
            except PartyDropped:
                failures.append(party.name)
                continue
            results[party.name] = RoundResult(update, n_rows, metrics["loss"])
        weights = coordinator.aggregate(round_index, results, failures, seconds=time.perf_counter() - began)
    return coordinator.finish({party.name: party.stats(weights) for party in parties})


def simulate(data: pd.DataFrame, out: str | Path, *, n_parties: int = 3, how: str = "iid",
             column: str | None = None, alpha: float = 0.5, settings: FederatedSettings | None = None,
             schema: Schema | None = None, drop: Mapping[str, Sequence[int]] | None = None,
             checkpoint_dir: str | Path | None = None, lineage: str | Path | None = None, overwrite: bool = False,
             on_round: Callable[[dict[str, Any]], None] | None = None, engine: str = "inprocess",
             secure_aggregation: bool = False, ray_cpus: int | None = None) -> Path:
    """Split ``data`` into parties and train one model federatedly; returns the saved model folder.

    ``drop`` maps a party name (``party_1``, …) to the rounds (1-based) it misses, to rehearse dropouts.
    ``engine``: ``"inprocess"`` (parties one after another in this process; the fast default) or ``"ray"``
    (Flower's simulation engine, :mod:`synthloop.federated.ray_engine`). ``secure_aggregation`` runs the
    training rounds under Flower's SecAgg+ (Ray engine only: it needs Flower's ServerApp/ClientApp).
    ``ray_cpus``: CPUs Ray may use, one party at a time per CPU (default: one per party, at most the machine's).
    """
    if engine not in ("inprocess", "ray"):
        raise ConfigError(f"engine '{engine}' is unknown; choose 'inprocess' or 'ray'.")
    if secure_aggregation and engine != "ray":
        raise ConfigError("secure_aggregation runs on Flower's simulation engine: set engine = \"ray\" (--engine ray).")
    settings = settings or FederatedSettings()
    tables = split(data, n_parties, how=how, column=column, alpha=alpha, seed=settings.seed)
    drop = dict(drop or {})
    names = [f"party_{k + 1}" for k in range(n_parties)]
    unknown = sorted(set(drop) - set(names))
    if unknown:
        raise ConfigError(f"drop names unknown parties {unknown}; the parties are {names}.")
    coordinator = Coordinator(settings, out, checkpoint_dir=checkpoint_dir, schema=schema, lineage=lineage,
                              overwrite=overwrite, on_round=on_round)
    if engine == "ray":
        from synthloop.federated.ray_engine import run_ray

        return run_ray(coordinator, dict(zip(names, tables, strict=True)), schema=schema, target=settings.target,
                       drop={name: [r - 1 for r in rounds] for name, rounds in drop.items()},
                       secure_aggregation=secure_aggregation, num_cpus=ray_cpus)
    parties = [Party(name, table, schema=schema, target=settings.target,
                     drop_rounds=[r - 1 for r in drop.get(name, ())]) for name, table in zip(names, tables, strict=True)]
    return run_inprocess(coordinator, parties)
