"""Rehearsing a federation on one table: the splits into parties and the simulated dropouts (no torch).

Splits (:func:`split`): ``iid`` (a random equal split), ``label`` (label skew: each class is spread
over the parties by Dirichlet(``alpha``) shares, the usual non-IID benchmark of Hsu et al., 2019),
and ``column`` (each party holds the rows of some values of a column, e.g. a region or a demographic
group: a greedy balance of whole values over the parties).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthloop.errors import ConfigError, SynthloopError


class PartyDropped(SynthloopError, RuntimeError):
    """A party did not answer this round (simulated, or its process is gone); the round goes on without it."""


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
