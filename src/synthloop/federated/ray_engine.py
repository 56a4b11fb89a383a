"""Simulation on Flower's simulation engine (Ray): each party a ClientApp on a virtual SuperNode.

The same :class:`~synthloop.federated.flower.CoordinatorStrategy` and
:class:`~synthloop.federated.flower.PartyClient` a localhost deployment runs, inside
``flwr.simulation.run_simulation`` with its Ray backend: the ServerApp runs in this process (so the
strategy's result and errors are read back directly), each party's ``fit`` runs in a Ray actor
process. Each party's table is written to its own Parquet file in a private temporary folder and a
ClientApp reads only its own (partition ``k`` → file ``k``), as a deployed party would.

Ray actors are reused across parties and rounds, and a round of party ``k`` may land on another
actor than its previous round. A party is therefore kept per actor process (keyed by the run's
folder and the partition) and the strategy sends the plan with every round (``plan_every_round``),
so an actor that meets a party for the first time rebuilds it from the plan; the global weights
come with every round anyway. Seeds are per (party, round), so the result does not depend on
which actor ran what.

On a 2-core machine Ray's start-up (a few seconds, a worker per CPU) makes this slower than the
in-process default; it is the path that scales to parties on many cores or machines of a Ray cluster.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from synthloop.errors import DataError, require
from synthloop.federated.coordinator import Coordinator
from synthloop.schema import Schema

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
require("flwr", "federated", "Simulation on Flower's engine")

#: Parties built in this process (a Ray actor), by (run folder, partition).
_PARTIES: dict[tuple[str, int], Any] = {}


def run_ray(coordinator: Coordinator, tables: Mapping[str, pd.DataFrame], *, schema: Schema | None = None,
            target: str | None = None, drop: Mapping[str, Sequence[int]] | None = None, num_cpus: int | None = None,
            round_timeout: float = 600.0, secure_aggregation: bool = False) -> Path:
    """Run a whole federation on Flower's Ray simulation engine; returns the saved model folder.

    ``tables`` maps party names to their tables; ``drop`` maps a name to the rounds (0-based) it fails
    (the ClientApp raises, which Flower reports as a failure of that round). ``secure_aggregation``: the
    training rounds run Flower's SecAgg+ protocol (see :func:`_secure_server_app`).
    """
    import logging

    from flwr.client import ClientApp
    from flwr.server import ServerApp, ServerAppComponents, ServerConfig
    from flwr.simulation import run_simulation

    from synthloop.federated.flower import _JOIN_ROUNDS, CoordinatorStrategy, quiet_flower

    quiet_flower()
    logging.getLogger("ray").setLevel(logging.ERROR)
    coordinator.transport = "flower-simulation (ray)"
    names = list(tables)
    strategy = CoordinatorStrategy(coordinator, len(names), join_timeout=120.0, plan_every_round=True)
    config = ServerConfig(num_rounds=_JOIN_ROUNDS + coordinator.settings.rounds + 1, round_timeout=round_timeout)
    if secure_aggregation:
        coordinator.secure_aggregation = True
        server_app = _secure_server_app(strategy, config, len(names))
    else:
        server_app = ServerApp(server_fn=lambda context: ServerAppComponents(strategy=strategy, config=config))
    with tempfile.TemporaryDirectory(prefix="synthloop-ray-") as folder:
        for index, name in enumerate(names):
            tables[name].to_parquet(Path(folder) / f"{index}.parquet", index=False)
        spec = {"folder": folder, "names": names, "schema": schema.to_json() if schema is not None else None,
                "target": target, "drop": {name: list(rounds) for name, rounds in (drop or {}).items()}}
        client_app = ClientApp(client_fn=lambda context: _client(spec, int(context.node_config["partition-id"])),
                               mods=[_secaggplus_when_asked] if secure_aggregation else None)
        cpus = num_cpus or max(1, min(len(names), os.cpu_count() or 1))
        backend = {"client_resources": {"num_cpus": 1, "num_gpus": 0.0},
                   "init_args": {"num_cpus": cpus, "log_to_driver": False, "configure_logging": True,
                                 "logging_level": logging.ERROR}}
        try:
            run_simulation(server_app=server_app, client_app=client_app, num_supernodes=len(names),
                           backend_name="ray", backend_config=backend)
        finally:
            import ray

            if ray.is_initialized():
                ray.shutdown()
    if strategy.error is not None:
        raise strategy.error
    if strategy.result is None:
        raise DataError("The Ray simulation ended before the model was saved (no party answered the last round).")
    return strategy.result


#: SecAgg+ clips every weight to ±CLIP_RANGE before quantising it (Flower's default is 8); a TVAE's weights
#: stay well inside 16, and 2**22 quantisation levels over ±16 leave an error below 1e-5 per weight.
CLIP_RANGE = 16.0


def _secure_server_app(strategy: Any, config: Any, n_parties: int) -> Any:
    """A ServerApp whose training rounds run SecAgg+ (Bell et al. 2020, Flower's ``SecAggPlusWorkflow``).

    The legacy ``Strategy`` runs under Flower's ``DefaultWorkflow``; the join rounds (schemas, sketches)
    and the final statistics stay plain Flower rounds (they carry summaries in their metrics, which SecAgg+
    does not protect), the ``fit`` rounds take the secure workflow: each party masks ``[n_rows, n_rows ·
    weights]`` with pairwise and private masks, the server unmasks only the sum, and the strategy receives
    every answer with the weighted mean in place of the party's own weights.
    """
    from flwr.server import LegacyContext, ServerApp
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
    from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, Key
    from flwr.server.workflow.default_workflows import default_fit_workflow

    total_rows = sum(p["n_rows"] for p in getattr(strategy.coordinator, "parties", {}).values()) or 10**9
    secure = SecAggPlusWorkflow(num_shares=n_parties, reconstruction_threshold=max(2, n_parties - 1),
                                max_weight=float(total_rows), clipping_range=CLIP_RANGE)

    def fit_round(grid: Any, context: Any) -> None:
        current = int(context.state.config_records[MAIN_CONFIGS_RECORD][Key.CURRENT_ROUND])
        phase, _ = strategy.phase(current)
        if phase == "fit" and strategy.error is None and strategy.result is None:
            secure.max_weight = float(sum(p["n_rows"] for p in strategy.coordinator.parties.values()))
            secure(grid, context)
        else:
            default_fit_workflow(grid, context)

    app = ServerApp()

    @app.main()
    def main(grid: Any, context: Any) -> None:
        DefaultWorkflow(fit_workflow=fit_round)(grid, LegacyContext(context=context, config=config, strategy=strategy))

    return app


def _secaggplus_when_asked(message: Any, context: Any, call_next: Any) -> Any:
    """Flower's ``secaggplus_mod`` for the rounds that run SecAgg+; the plain rounds (join, statistics) pass by."""
    from flwr.client.mod import secaggplus_mod
    from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS

    if RECORD_KEY_CONFIGS not in message.content.config_records:
        return call_next(message, context)
    return secaggplus_mod(message, context, call_next)


def _client(spec: Mapping[str, Any], partition: int) -> Any:
    """The ClientApp's client for partition ``partition``: this actor's party, built from its own file once."""
    from synthloop.federated.flower import PartyClient
    from synthloop.federated.party import Party

    key = (spec["folder"], partition)
    if key not in _PARTIES:
        name = spec["names"][partition]
        schema = Schema.from_json(spec["schema"]) if spec["schema"] is not None else None
        party = Party(name, pd.read_parquet(Path(spec["folder"]) / f"{partition}.parquet"), schema=schema,
                      target=spec["target"], drop_rounds=spec["drop"].get(name, ()))
        _PARTIES[key] = PartyClient(party)
    return _PARTIES[key].to_client()
