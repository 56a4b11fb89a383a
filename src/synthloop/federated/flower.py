"""A real deployment on Flower: one server process and one process per party, over gRPC.

The server runs Flower's server loop with :class:`CoordinatorStrategy`, a Flower ``Strategy`` whose
rounds are, in order: ``schema`` and ``sketch`` (the join), ``rounds`` × ``fit`` (the plan travels in
the config of the first fit round), and ``stats``. A party process that restarts mid-run has no plan
and counts as dropped until the next run. Each
party process runs :class:`PartyClient`, reading only its own file.

A party that disconnects mid-round is a Flower failure: the round is aggregated over the others
(as long as ``min_parties`` answered) and the party is left out of later rounds. Errors raised
while aggregating (a schema mismatch at the join) end every later round at once and are raised
again by :func:`serve` after Flower has shut down, so the CLI prints them and exits with code 2.

Flower's own server/client entry points used here (``start_server``, ``start_client``) are the
"grpc-bidi" ones Flower marks deprecated since 1.13 in favour of SuperLink/SuperNode processes;
they still ship in Flower 1.32 and need no extra daemons, which is why a localhost run uses them.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from synthloop.errors import DataError, require
from synthloop.federated.coordinator import Coordinator, RoundResult
from synthloop.federated.model import decode_plan, encode_plan
from synthloop.federated.party import Party
from synthloop.schema import Schema

# Flower reads this when it is imported and otherwise sends usage telemetry to flower.ai; a privacy tool does not
# phone home (and offline, the attempts delayed each process's exit by many seconds). Set it to 1 to opt in.
os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
require("flwr", "federated", "A federated deployment")

from flwr.client import NumPyClient  # noqa: E402
from flwr.common import FitIns, Parameters, ndarrays_to_parameters, parameters_to_ndarrays  # noqa: E402
from flwr.server.strategy import Strategy  # noqa: E402

_JOIN_ROUNDS = 2


def quiet_flower() -> None:
    """Flower logs every message at INFO and warns that its grpc-bidi entry points are deprecated: keep errors only."""
    logging.getLogger("flwr").setLevel(logging.ERROR)


class CoordinatorStrategy(Strategy):
    """Flower's view of a :class:`Coordinator`: which phase each server round is, and what to aggregate."""

    def __init__(self, coordinator: Coordinator, n_parties: int, join_timeout: float, *, plan_every_round: bool = False):
        self.coordinator = coordinator
        self.plan_every_round = plan_every_round     # parties may come back without state (Ray actors)
        self.n_parties = n_parties
        self.join_timeout = join_timeout
        self.names: dict[str, str] = {}            # Flower client id → party name
        self.error: BaseException | None = None
        self.result: Path | None = None
        self.plan_text = ""
        self.asked: list[str] = []                 # client ids asked in the current round
        self.start = 0
        self.round_began = time.perf_counter()

    def phase(self, server_round: int) -> tuple[str, int]:
        if server_round <= _JOIN_ROUNDS:
            return ("schema", 0) if server_round == 1 else ("sketch", 0)
        index = server_round - _JOIN_ROUNDS - 1
        return ("fit", index) if index < self.coordinator.settings.rounds else ("stats", index)

    # ------------------------------------------------------------------ Flower hooks
    def initialize_parameters(self, client_manager: Any) -> Parameters:
        return ndarrays_to_parameters([])          # the real initial weights exist only after the join

    def configure_fit(self, server_round: int, parameters: Parameters, client_manager: Any) -> list:
        if self.error is not None or self.result is not None:
            return []
        phase, index = self.phase(server_round)
        if phase == "schema" and not client_manager.wait_for(self.n_parties, timeout=self.join_timeout):
            self.error = DataError(f"Only {client_manager.num_available()} of {self.n_parties} parties connected "
                                   f"within {self.join_timeout:.0f} s; start every party with "
                                   "synthloop federated party DATA --server ADDRESS.")
            return []
        if phase == "fit" and index < self.start:
            return []                              # resumed: this round is in the checkpoint
        config: dict[str, Any] = {"phase": phase, "round": index}
        if phase == "sketch":
            config.update(schema=self.coordinator.schema.to_json(), n_quantiles=self.coordinator.settings.n_quantiles)
        if phase == "fit":
            config.update(self.coordinator.round_config(index))
        if phase in ("fit", "stats"):
            config["parties"] = json.dumps(sorted(self.names.values()))
            if index == self.start or self.plan_every_round:     # the plan travels once, with the first round
                config["plan"] = self.plan_text
        clients = list(client_manager.all().values())
        self.asked = [client.cid for client in clients]
        self.round_began = time.perf_counter()
        return [(client, FitIns(parameters, config)) for client in clients]

    def aggregate_fit(self, server_round: int, results: list, failures: list) -> tuple[Parameters | None, dict]:
        if self.error is not None:
            return None, {}
        phase, index = self.phase(server_round)
        try:
            return self._aggregate(phase, index, results, failures), {}
        except Exception as exc:                   # raised again by serve() once Flower has stopped
            self.error = exc
            return None, {}

    def _aggregate(self, phase: str, index: int, results: list, failures: list) -> Parameters | None:
        answers = {}
        for client, fit_res in results:
            name = str(fit_res.metrics["party"])
            self.names[client.cid] = name
            answers[name] = fit_res
        # Who was asked and did not answer (a failure from a closed connection names no client).
        dropped = sorted(self.names.get(cid, f"client {cid}") for cid in self.asked
                         if self.names.get(cid) not in answers)
        if phase in ("schema", "sketch") and (dropped or len(answers) < self.n_parties):
            raise DataError(f"The join needs every party; {', '.join(dropped) or 'some'} did not answer "
                            f"the {phase} round ({len(answers)} of {self.n_parties} did).")
        if phase == "schema":
            self.coordinator.merge({name: Schema.from_json(str(r.metrics["schema"])) for name, r in answers.items()})
            return None
        if phase == "sketch":
            sketches = {name: json.loads(str(r.metrics["sketch"])) for name, r in answers.items()}
            plan, weights, self.start = self.coordinator.begin(sketches)
            self.plan_text = encode_plan(plan)
            return ndarrays_to_parameters(weights)
        if phase == "fit":
            updates = {name: RoundResult(parameters_to_ndarrays(r.parameters), int(r.num_examples),
                                         float(r.metrics["loss"])) for name, r in answers.items()}
            if self.coordinator.secure_aggregation:
                _check_only_the_aggregate(updates)
            weights = self.coordinator.aggregate(index, updates, dropped, seconds=time.perf_counter() - self.round_began)
            return ndarrays_to_parameters(weights)
        self.result = self.coordinator.finish({name: parameters_to_ndarrays(r.parameters) for name, r in answers.items()})
        return None

    def configure_evaluate(self, server_round: int, parameters: Parameters, client_manager: Any) -> list:
        return []

    def aggregate_evaluate(self, server_round: int, results: list, failures: list) -> tuple[float | None, dict]:
        return None, {}

    def evaluate(self, server_round: int, parameters: Parameters) -> None:
        return None


def _check_only_the_aggregate(updates: dict[str, RoundResult]) -> None:
    """Under SecAgg+ Flower hands the strategy every answer with the *same* parameters (the unmasked weighted
    mean); anything else means a party's own weights reached the server, which must not pass silently."""
    arrays = [result.weights for result in updates.values()]
    same = all(len(a) == len(arrays[0]) and all(np.array_equal(x, y) for x, y in zip(a, arrays[0], strict=True))
               for a in arrays[1:])
    if not same:
        raise DataError("Secure aggregation was asked for, but the server received the parties' own weights.")


class PartyClient(NumPyClient):
    """Flower's view of a :class:`Party`: answers each phase the server asks for."""

    def __init__(self, party: Party):
        self.party = party
        self.started = False
        self.finished = False          # answered the last (stats) round
        self.contacted = False         # the server has asked something

    def fit(self, parameters: list[np.ndarray], config: dict[str, Any]) -> tuple[list[np.ndarray], int, dict]:
        party, phase = self.party, str(config["phase"])
        self.contacted = True
        if phase == "schema":
            return [], 0, {"party": party.name, "schema": party.local_schema().to_json()}
        if phase == "sketch":
            sketch = party.sketch(Schema.from_json(str(config["schema"])), n_quantiles=int(config["n_quantiles"]))
            return [], int(sketch["n_rows"]), {"party": party.name, "sketch": json.dumps(sketch)}
        if not self.started:
            if "plan" not in config:
                raise DataError(f"party '{party.name}' joined after the first round; it sits out this run")
            names = json.loads(str(config["parties"]))
            party.start(decode_plan(str(config["plan"])), names.index(party.name) if party.name in names else 0)
            self.started = True
        if phase == "fit":
            weights, n_rows, metrics = party.fit(parameters, config)
            return weights, n_rows, {"party": party.name, **metrics}
        stats = party.stats(parameters)
        self.finished = True
        return stats, len(party.data), {"party": party.name}

    def evaluate(self, parameters: list[np.ndarray], config: dict[str, Any]) -> tuple[float, int, dict]:
        return 0.0, 0, {}


def serve(coordinator: Coordinator, *, n_parties: int, address: str = "127.0.0.1:8080",
          round_timeout: float = 600.0, join_timeout: float = 120.0) -> Path:
    """Run the server until the model is saved; returns its folder (errors of the run are raised here)."""
    from flwr.server import ServerConfig, start_server

    quiet_flower()
    coordinator.transport = "flower"
    strategy = CoordinatorStrategy(coordinator, n_parties, join_timeout)
    num_rounds = _JOIN_ROUNDS + coordinator.settings.rounds + 1
    start_server(server_address=address, strategy=strategy,
                 config=ServerConfig(num_rounds=num_rounds, round_timeout=round_timeout))
    if strategy.error is not None:
        raise strategy.error
    if strategy.result is None:
        raise DataError("The federation ended before the model was saved (no party answered the last round); "
                        "re-run with the same --checkpoint-dir to resume.")
    return strategy.result


def connect(party: Party, *, address: str = "127.0.0.1:8080", timeout: float = 120.0) -> bool:
    """Serve ``party`` to the server at ``address`` until the federation ends; False when it ended before
    the last round (the server stopped it: a schema mismatch, too few parties; its log says why)."""
    try:
        from flwr.compat.client.app import start_client  # Flower >= 1.13
    except ImportError:                                          # older Flower
        from flwr.client import start_client

    import grpc

    quiet_flower()
    client = PartyClient(party)
    deadline = time.monotonic() + timeout
    while True:
        try:
            start_client(server_address=address, client=client.to_client(), insecure=True, max_wait_time=timeout)
            return client.finished
        except grpc.RpcError:
            # Before any contact the server may simply not be up yet: parties may start first. After
            # contact, a broken connection means the server is gone.
            if client.contacted:
                return client.finished
            if time.monotonic() > deadline:
                raise DataError(f"No federated server answered at {address} within {timeout:.0f} s; start it with "
                                "synthloop federated server, or check --server.") from None
            time.sleep(1.0)
