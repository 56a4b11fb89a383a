"""Simulation: one table split into parties, trained in this process round by round.

The driver runs the same :class:`~synthloop.federated.coordinator.Coordinator` and
:class:`~synthloop.federated.party.Party` objects a localhost deployment runs behind Flower, one
party after another: on a small machine this is what Ray would do anyway, without its start-up
(several seconds and a worker per party).

Splits (:func:`split`): ``iid`` (a random equal split), ``label`` (label skew: each class is spread
over the parties by Dirichlet(``alpha``) shares, the usual non-IID benchmark of Hsu et al., 2019),
and ``column`` (each party holds the rows of some values of a column, e.g. a region).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthloop.errors import ConfigError
from synthloop.federated.coordinator import Coordinator, FederatedSettings, RoundResult
from synthloop.federated.party import Party, PartyDropped
from synthloop.schema import Schema


def split(data: pd.DataFrame, n_parties: int, *, how: str = "iid", column: str | None = None,
          alpha: float = 0.5, seed: int = 0) -> list[pd.DataFrame]:
    """Split ``data`` into ``n_parties`` tables (see the module docstring for ``how``)."""
    if n_parties < 1:
        raise ConfigError(f"n_parties={n_parties}: a federation needs at least one party.")
    rng = np.random.default_rng(seed)
    if how == "iid":
        owner = rng.permutation(len(data)) % n_parties
    elif how in ("label", "column"):
        if column is None or column not in data.columns:
            raise ConfigError(f"split '{how}' needs a column of the table (got {column!r}).")
        owner = _label_skew(data[column], n_parties, alpha, rng) if how == "label" else \
            _by_value(data[column], n_parties)
    else:
        raise ConfigError(f"Unknown split '{how}'; choose 'iid', 'label' or 'column'.")
    parts = [data[owner == k].reset_index(drop=True) for k in range(n_parties)]
    empty = [k for k, part in enumerate(parts) if len(part) < 2]
    if empty:
        raise ConfigError(f"The '{how}' split leaves parties {empty} with fewer than 2 rows; use fewer parties.")
    return parts


def _label_skew(labels: pd.Series, n_parties: int, alpha: float, rng: np.random.Generator) -> np.ndarray:
    owner = np.empty(len(labels), dtype=np.int64)
    codes = pd.factorize(labels.astype(str))[0]
    for code in np.unique(codes):
        rows = rng.permutation(np.flatnonzero(codes == code))
        shares = rng.dirichlet(np.full(n_parties, alpha))
        cuts = (np.cumsum(shares)[:-1] * len(rows)).astype(int)
        for party, part in enumerate(np.split(rows, cuts)):
            owner[part] = party
    return owner


def _by_value(values: pd.Series, n_parties: int) -> np.ndarray:
    """Values, largest first, each to the party with the fewest rows so far (a greedy balance)."""
    counts = values.astype(str).value_counts()
    load = np.zeros(n_parties)
    party_of = {}
    for value, count in counts.items():
        party = int(np.argmin(load))
        party_of[value] = party
        load[party] += count
    return values.astype(str).map(party_of).to_numpy()


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
             on_round: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Split ``data`` into parties and train one model federatedly; returns the saved model folder.

    ``drop`` maps a party name (``party_1``, …) to the rounds (1-based) it misses, to rehearse dropouts.
    """
    settings = settings or FederatedSettings()
    tables = split(data, n_parties, how=how, column=column, alpha=alpha, seed=settings.seed)
    drop = dict(drop or {})
    names = [f"party_{k + 1}" for k in range(n_parties)]
    unknown = sorted(set(drop) - set(names))
    if unknown:
        raise ConfigError(f"drop names unknown parties {unknown}; the parties are {names}.")
    parties = [Party(name, table, schema=schema, target=settings.target,
                     drop_rounds=[r - 1 for r in drop.get(name, ())]) for name, table in zip(names, tables, strict=True)]
    coordinator = Coordinator(settings, out, checkpoint_dir=checkpoint_dir, schema=schema, lineage=lineage,
                              overwrite=overwrite, on_round=on_round)
    return run_inprocess(coordinator, parties)
