"""Federated synthetic data: parties that never share rows train one synthesizer together (extra: federated).

The server sees summaries and weights, never rows (docs/federated.md states the trust model):

- :mod:`~synthloop.federated.join`: one schema and encoder from per-party summaries;
- :mod:`~synthloop.federated.party` / :mod:`~synthloop.federated.coordinator`: a party's and the
  server's side of each round (FedAvg or FedProx, per-round checkpoints, dropouts survived);
- :mod:`~synthloop.federated.simulate`: parties as partitions of one table, in this process;
- :mod:`~synthloop.federated.flower`: a server process and one process per party over Flower.

The output is an ordinary model folder (``synthloop.load``) plus ``federated.json``.
Importing this package imports torch (not Flower; that happens when a deployment starts).
"""

from synthloop.federated.coordinator import Coordinator, FederatedSettings
from synthloop.federated.party import Party, PartyDropped
from synthloop.federated.simulate import run_inprocess, simulate, split

__all__ = ["Coordinator", "FederatedSettings", "Party", "PartyDropped", "run_inprocess", "simulate", "split"]
