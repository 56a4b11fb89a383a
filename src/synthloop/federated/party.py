"""A party: holds its own table, shares summaries and weight updates, never rows.

:class:`Party` is what runs at each data holder, in-process in a simulation or in its own process
behind Flower (:mod:`synthloop.federated.flower`). Its calls, in order:

1. :meth:`Party.local_schema` (join, step 1) and :meth:`Party.sketch` (join, step 2): summaries;
2. :meth:`Party.start` with the server's plan: builds the common model, encodes the local rows once;
3. :meth:`Party.fit` each round: the global weights in, ``local_epochs`` of the one trainer, the
   new weights out (with FedProx, a proximal pull towards the global weights; Li et al., 2020);
4. :meth:`Party.stats`: the latent statistics of the final model (sums and counts per category).

Seeds: round *r* of party *k* trains on ``SeedSequence([seed, r, k])``, so a run is reproducible
on CPU and a round re-run after a resume draws what it drew before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from synthloop.federated.join import sketch_table
from synthloop.federated.model import get_weights, latent_stats, model_from_plan, set_weights
from synthloop.federated.rehearsal import PartyDropped
from synthloop.lineage.fingerprint import fingerprint
from synthloop.nn.runtime import torch_threads
from synthloop.nn.trainer import Trainer
from synthloop.schema import Schema


class Party:
    """One data holder in a federation.

    Parameters
    ----------
    name
        How the party is named in logs, ``federated.json`` and lineage.
    data
        Its table (stays here).
    schema
        A shared, public schema every party uses; None infers one locally (merged at the join).
    drop_rounds
        Rounds (0-based) at which this party does not answer: simulates a dropout.
    """

    def __init__(self, name: str, data: pd.DataFrame, *, schema: Schema | None = None,
                 target: str | None = None, drop_rounds: Sequence[int] = ()):
        self.name = name
        self.data = data
        self.schema = schema
        self.target = target
        self.drop_rounds = frozenset(drop_rounds)
        self.index = 0

    # ------------------------------------------------------------------ join
    def local_schema(self) -> Schema:
        return self.schema if self.schema is not None else Schema.infer(self.data, target=self.target)

    def sketch(self, schema: Schema, *, n_quantiles: int = 201) -> dict[str, Any]:
        """Summary statistics under the common schema, with the table's fingerprint (for lineage)."""
        summary = sketch_table(self.data, schema, n_quantiles=n_quantiles)
        return {**summary, "fingerprint": fingerprint(self.data), "n_columns": int(self.data.shape[1])}

    # ------------------------------------------------------------------ training
    def start(self, plan: Mapping[str, Any], index: int = 0) -> None:
        """Build the common model from the server's plan and encode the local rows."""
        import torch

        self.index = index
        self.seed = int(plan["seed"])
        self.model = model_from_plan(plan)
        schema = self.model.schema_
        schema.validate(self.data, what=f"data of party '{self.name}'")
        encoded = self.model.encoder_.transform(schema.to_model_frame(self.data))
        self.model.conditioner_.fit(encoded)
        self.rows = torch.as_tensor(encoded, device=self.model.device_)
        self.batch_size = min(int(self.model.batch_size), len(encoded))

    def fit(self, weights: Sequence[np.ndarray], config: Mapping[str, Any]) -> tuple[list[np.ndarray], int, dict]:
        """One round: load ``weights``, train ``config["local_epochs"]`` epochs, return the new weights."""
        round_index = int(config["round"])
        if round_index in self.drop_rounds:
            raise PartyDropped(f"party '{self.name}' drops out of round {round_index + 1}")
        set_weights(self.model, weights)
        for net in self.model.nets_.values():
            net.train()
        handles = _proximal_pull(self.model, float(config.get("proximal_mu", 0.0)))
        try:
            trainer = Trainer(epochs=int(config["local_epochs"]), batch_size=self.batch_size)
            seed = int(np.random.SeedSequence([self.seed, round_index, self.index]).generate_state(1)[0])
            with torch_threads(self.model.fit_threads_):
                history = trainer.fit(self.model, self.rows, seed=seed, fingerprint="")
        finally:
            for handle in handles:
                handle.remove()
        return get_weights(self.model), len(self.rows), {"loss": float(history[-1]["loss"])}

    def stats(self, weights: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Latent sums and counts per category under the final weights (see :func:`latent_stats`)."""
        set_weights(self.model, weights)
        with torch_threads(self.model.fit_threads_):
            return latent_stats(self.model, self.rows)


def _proximal_pull(model: Any, mu: float) -> list[Any]:
    """FedProx: add ``mu · (w − w_global)`` to each gradient before the optimizer steps (the gradient of
    ``mu/2 · ‖w − w_global‖²``), which keeps local models near the global one on non-IID data."""
    if mu <= 0:
        return []
    anchors = {param: param.detach().clone() for net in model.nets_.values() for param in net.parameters()}

    def pull(optimizer: Any, args: Any, kwargs: Any) -> None:
        for group in optimizer.param_groups:
            for param in group["params"]:
                if param.grad is not None and param in anchors:
                    param.grad.add_(param.detach() - anchors[param], alpha=mu)

    return [optimizer.register_step_pre_hook(pull) for optimizer in model.optimizers_.values()]
