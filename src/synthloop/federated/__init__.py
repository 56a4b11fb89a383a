"""Federated synthetic data: parties that never share rows get one synthetic table (extra: federated).

The server sees summaries, weights or noisy marginals, never rows (docs/federated.md states the trust model):

- :mod:`~synthloop.federated.join`: one schema and encoder from per-party summaries;
- :mod:`~synthloop.federated.party` / :mod:`~synthloop.federated.coordinator`: a party's and the
  server's side of each round of the federated TVAE (FedAvg or FedProx, per-round checkpoints,
  dropouts survived; Flower's SecAgg+ on the Ray engine);
- :mod:`~synthloop.federated.marginal`: the federated DP marginal model (no torch): each party releases
  noisy marginals under its own epsilon, the server fits Private-PGM on their sums;
- :mod:`~synthloop.federated.dp_sgd`: a federated ``dp_vae``, DP-SGD on every party under its own epsilon;
- :mod:`~synthloop.federated.simulation`: parties as partitions of one table, in this process or on
  Flower's simulation engine (Ray; :mod:`~synthloop.federated.ray_engine`);
- :mod:`~synthloop.federated.flower`: a server process and one process per party over Flower.

The output is an ordinary model folder (``synthloop.load``) plus ``federated.json``. Names are imported
on first use: the marginal model never imports torch, the TVAE path does.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"Coordinator": "coordinator", "FederatedSettings": "coordinator", "Party": "party",
         "PartyDropped": "rehearsal", "split": "rehearsal", "run_inprocess": "simulation", "simulate": "simulation",
         "MarginalSettings": "marginal", "simulate_marginal": "marginal", "DPSGDSettings": "dp_sgd",
         "simulate_dp_sgd": "dp_sgd"}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'synthloop.federated' has no attribute {name!r}")
    return getattr(importlib.import_module(f"synthloop.federated.{_LAZY[name]}"), name)
