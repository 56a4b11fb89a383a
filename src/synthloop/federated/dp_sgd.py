"""Federated ``dp_vae``: every party trains with DP-SGD under its own budget, the server averages (FedAvg).

The neural federation with a DP guarantee. The federated TVAE cannot get one from DP-SGD alone: its
encoder, training-by-sampling frequencies and latent statistics read each party's rows outside any
budget (docs/federated.md). ``dp_vae`` reads nothing but the public schema (numerics scaled by the
declared bounds, one-hot categories), so federating it needs no join at all: every party builds the same
encoding from the public schema, the server sends seeded initial weights, and each round every party

1. loads the global weights and takes its share of DP-SGD steps (Poisson-sampled rows at rate
   ``batch_size / n_k``, each row's gradient clipped to ``max_grad_norm``, Gaussian noise; the steps of
   :class:`~synthloop.synthesizers.dp_vae.DPVAE`, not a copy);
2. sends its new weights; the server averages them weighted by the parties' row counts. Each party's
   count is a DP estimate bought with 1% of its budget (Gaussian noise, as in ``dp_vae`` and
   ``dp_argn``): it sets the sampling rate and the weight, and the DP-SGD noise is calibrated for the
   rest of the budget (composed in RDP with the count's zCDP cost).

Each party's noise multiplier is calibrated by the RDP accountant ``dp_vae`` uses for its own
``(epsilon_k, delta)`` over all its planned steps (``rounds × local_epochs / rate``); it stops stepping
where the accountant says the next step would exceed its budget. DP-SGD's guarantee covers every
intermediate model, so the weights the server sees each round are covered too, and FedAvg is
post-processing: by parallel composition the saved model is (max_k epsilon_k, delta)-DP per row. The
output is an ordinary ``dp_vae`` folder plus ``federated.json`` with every party's ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthloop.errors import ConfigError, DataError, require
from synthloop.federated.lineage import publish
from synthloop.federated.marginal import fitted_without_rows, worst_ledger
from synthloop.federated.model import weighted_mean
from synthloop.federated.rehearsal import PartyDropped, split
from synthloop.lineage.fingerprint import fingerprint
from synthloop.privacy.accounting import Ledger, refuse_private_reads
from synthloop.privacy.domains import dp_row_count
from synthloop.schema import Schema
from synthloop.synthesizers.params import check_params

require("opacus", "dp", "Federated DP-SGD")

import torch  # noqa: E402 - after the friendly check above

from synthloop.nn.dp import DPSGDPlan  # noqa: E402
from synthloop.synthesizers.dp_vae import _VAE, DPVAE, _spans, encode  # noqa: E402
from synthloop.synthesizers.private import ROW_COUNT_SHARE  # noqa: E402


@dataclass(frozen=True)
class DPSGDSettings:
    """How a federated ``dp_vae`` trains: rounds, each party's budget, and ``dp_vae``'s parameters."""

    epsilon: float = 1.0
    delta: float = 1e-5
    epsilon_per_party: Mapping[str, float] = field(default_factory=dict)
    rounds: int = 10
    local_epochs: int = 1
    max_grad_norm: float = 1.0
    latent_dim: int = 32
    hidden: tuple[int, ...] = (128, 128)
    batch_size: int = 500
    lr: float = 2e-3
    min_parties: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.rounds < 1 or self.local_epochs < 1 or self.min_parties < 1:
            raise ConfigError("Invalid federated dp_vae settings: rounds, local_epochs and min_parties must be at least 1.")
        for epsilon in [self.epsilon, *self.epsilon_per_party.values()]:
            self.model(epsilon)                      # dp_vae's own checks of every parameter

    def model(self, epsilon: float) -> DPVAE:
        params = {"epsilon": epsilon, "delta": self.delta, "max_grad_norm": self.max_grad_norm,
                  "latent_dim": self.latent_dim, "hidden": tuple(self.hidden), "epochs": self.rounds * self.local_epochs,
                  "batch_size": self.batch_size, "lr": self.lr, "seed": self.seed}
        return DPVAE(**check_params(DPVAE, params))

    def epsilon_of(self, party: str) -> float:
        return float(self.epsilon_per_party.get(party, self.epsilon))

    def to_config(self) -> dict[str, Any]:
        return {**asdict(self), "epsilon_per_party": dict(self.epsilon_per_party), "hidden": list(self.hidden)}


class DPSGDParty:
    """One data holder running DP-SGD on its own rows under its own ledger."""

    def __init__(self, name: str, data: pd.DataFrame, schema: Schema, settings: DPSGDSettings, *, index: int = 0,
                 drop_rounds: Sequence[int] = ()):
        self.name = name
        self.data = data
        self.schema = schema
        self.settings = settings
        self.index = index
        self.drop_rounds = frozenset(drop_rounds)

    def start(self, initial: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Encode the rows by the public schema, calibrate the noise for all planned steps; returns what the
        server learns: a DP estimate of the row count (bought with 1% of the budget) and the table's fingerprint."""
        from opacus import GradSampleModule

        settings = self.settings
        self.schema.validate(self.data, what=f"data of party '{self.name}'")
        self.trainer = settings.model(settings.epsilon_of(self.name))
        n = len(self.data)
        self.ledger = Ledger(self.trainer.epsilon, settings.delta, n_rows=n)
        self.spans = _spans(self.schema)
        for span in self.spans:
            self.ledger.public(f"{'bounds' if span.numeric else 'category set'} of {span.column.name}")
        seeds = np.random.SeedSequence([settings.seed, 2, self.index]).spawn(3)
        # The row count sets the sampling rate and the FedAvg weight: bought, as in dp_vae and dp_argn.
        self.n_estimate = dp_row_count(n, ROW_COUNT_SHARE * self.ledger.rho, self.ledger, np.random.default_rng(seeds[2]),
                                       why="sets the sampling rate and the FedAvg weight")
        self.rows = torch.from_numpy(encode(self.spans, self.schema.to_model_frame(self.data)))
        self.plan = DPSGDPlan.make(self.trainer.epsilon, settings.delta, self.n_estimate, settings.batch_size,
                                   settings.local_epochs * settings.rounds, prior_rho=self.ledger.spent)
        self.rate = self.plan.sample_rate
        self.steps_per_round = -(-self.plan.planned // settings.rounds)
        self.net = _VAE(self.rows.shape[1], tuple(settings.hidden), settings.latent_dim)
        self.net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in initial.items()})
        self.module = GradSampleModule(self.net)
        self.rng = np.random.default_rng(seeds[0])
        self.generator = torch.Generator().manual_seed(int(seeds[1].generate_state(1)[0]))
        self.steps = 0
        return {"n_rows": round(self.n_estimate), "fingerprint": fingerprint(self.data), "n_columns": int(self.data.shape[1])}

    def fit(self, weights: Mapping[str, np.ndarray], round_index: int) -> dict[str, np.ndarray]:
        """One round: the global weights in, this round's DP-SGD steps (within the budget), the new weights out."""
        if round_index in self.drop_rounds:
            raise PartyDropped(f"party '{self.name}' drops out of round {round_index + 1}")
        self.net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()})
        optimizer = torch.optim.Adam(self.net.parameters(), lr=self.settings.lr)
        n = len(self.rows)
        for _ in range(self.steps_per_round):
            if self.steps >= self.plan.allowed:           # the accountant's last step within the budget
                break
            batch = self.rows[torch.from_numpy(self.rng.random(n) < self.rate)]
            self.trainer._step(self.net, optimizer, self.spans, batch, self.plan, self.generator)   # empty: noise alone
            self.steps += 1
        return {k: v.detach().numpy().copy() for k, v in self.net.state_dict().items()}

    def close(self) -> Ledger:
        """Charge what was spent (the rest of the budget is one DP-SGD entry, as in ``dp_vae``) and return the ledger."""
        self.ledger.charge(f"DP-SGD: {self.steps} steps over {self.settings.rounds} rounds",
                           "dp-sgd (opacus RDP accountant)", self.ledger.remaining,
                           **self.plan.detail(self.steps, self.settings.max_grad_norm))
        self.module.remove_hooks()
        return self.ledger


def run_dp_sgd(parties: Sequence[DPSGDParty], settings: DPSGDSettings, schema: Schema, out: str | Path, *,
               lineage: str | Path | None = None, overwrite: bool = False,
               on_round: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Run every round with every party in this process; save the ``dp_vae`` model and ``federated.json``."""
    from synthloop.io.artifacts import check_artifact_target

    out = check_artifact_target(out, overwrite=overwrite)
    width = sum(span.width for span in _spans(schema))
    with torch.random.fork_rng(devices=[]):          # seeded initial weights; the global stream left as it was
        torch.manual_seed(settings.seed)
        initial = {k: v.detach().numpy().copy()
                   for k, v in _VAE(width, tuple(settings.hidden), settings.latent_dim).state_dict().items()}
    joined = {party.name: party.start(initial) for party in parties}
    weights, history = initial, []
    for round_index in range(settings.rounds):
        answers, dropped = {}, []
        for party in parties:
            try:
                answers[party.name] = party.fit(weights, round_index)
            except PartyDropped:
                dropped.append(party.name)
        if len(answers) < settings.min_parties:
            raise DataError(f"Round {round_index + 1}: only {len(answers)} parties answered (dropped: "
                            f"{', '.join(dropped)}), fewer than min_parties={settings.min_parties}.")
        names = sorted(answers)
        keys = list(initial)
        averaged = weighted_mean([([answers[n][k] for k in keys], joined[n]["n_rows"]) for n in names])
        weights = dict(zip(keys, averaged, strict=True))
        entry = {"round": round_index + 1, "parties": names, "dropped": sorted(dropped),
                 "bytes_sent": 2 * len(names) * sum(int(w.nbytes) for w in averaged)}
        history.append(entry)
        if on_round is not None:
            on_round(entry)
    ledgers = {party.name: party.close() for party in parties}
    model = settings.model(max(ledger.epsilon for ledger in ledgers.values()))
    model.ledger_ = worst_ledger(ledgers, settings.delta)
    model.spans_ = _spans(schema)
    model.net_ = _VAE(width, tuple(settings.hidden), settings.latent_dim)
    model.net_.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()})
    model.net_.eval()
    model.steps_ = max(party.steps for party in parties)
    fitted_without_rows(model, schema)
    model.n_training_rows_ = sum(info["n_rows"] for info in joined.values())
    model.save(out, overwrite=overwrite)
    provenance = {"federated": True, "transport": "in-process", "model": "dp_vae", "strategy": "fedavg",
                  "settings": settings.to_config(), "parties": joined, "rounds": history,
                  "epsilon_per_party": {name: ledger.entries[-1].detail["epsilon"] for name, ledger in sorted(ledgers.items())},
                  "ledgers": {name: ledger.to_dict() for name, ledger in sorted(ledgers.items())},
                  "privacy": {"rows_shared": False, "differential_privacy": "DP-SGD per party (RDP accountant); the "
                              "model is (max epsilon, delta)-DP per row by parallel composition",
                              "shared_with_server": ["each party's weights after each round (DP-SGD iterates)",
                                                     "DP estimates of the row counts and fingerprints (lineage)"]}}
    publish(out, provenance, lineage)
    return out


def simulate_dp_sgd(data: pd.DataFrame, out: str | Path, *, schema: Schema | None, n_parties: int = 3,
                    how: str = "iid", column: str | None = None, alpha: float = 0.5,
                    settings: DPSGDSettings | None = None, drop: Mapping[str, Sequence[int]] | None = None,
                    lineage: str | Path | None = None, overwrite: bool = False,
                    on_round: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Split ``data`` into parties and train a federated ``dp_vae``; ``schema`` is the public schema (required)."""
    settings = settings or DPSGDSettings()
    refuse_private_reads("the federated dp_vae", schema, False)
    tables = split(data, n_parties, how=how, column=column, alpha=alpha, seed=settings.seed)
    names = [f"party_{k + 1}" for k in range(n_parties)]
    unknown = sorted((set(drop or {}) | set(settings.epsilon_per_party)) - set(names))
    if unknown:
        raise ConfigError(f"drop / epsilon_per_party name unknown parties {unknown}; the parties are {names}.")
    parties = [DPSGDParty(name, table, schema, settings, index=index,
                          drop_rounds=[r - 1 for r in (drop or {}).get(name, ())])
               for index, (name, table) in enumerate(zip(names, tables, strict=True))]
    return run_dp_sgd(parties, settings, schema, out, lineage=lineage, overwrite=overwrite, on_round=on_round)


__all__ = ["DPSGDParty", "DPSGDSettings", "run_dp_sgd", "simulate_dp_sgd"]
