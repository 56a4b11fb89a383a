"""The server's side of a federation, transport-free: join, rounds, checkpoints, the saved model.

:class:`Coordinator` is driven either in-process (:func:`synthloop.federated.simulation.run_inprocess`)
or by Flower (:mod:`synthloop.federated.flower`); both call, in order, :meth:`~Coordinator.merge`,
:meth:`~Coordinator.begin`, :meth:`~Coordinator.round_config` / :meth:`~Coordinator.aggregate` per round,
and :meth:`~Coordinator.finish`.

After every round the plan and the global weights are written to ``checkpoint_dir``; a re-run with the
same settings and the same parties (by fingerprint) resumes after the last finished round.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from synthloop.errors import ConfigError, DataError
from synthloop.federated.join import merge_schemas, sketch_frame
from synthloop.federated.lineage import publish
from synthloop.federated.model import (
    get_weights,
    initial_model,
    make_plan,
    pool_latent_stats,
    set_weights,
    weighted_mean,
)
from synthloop.io.atomic import atomic_write
from synthloop.schema import Schema

STATE_FILE = "federated_state.safetensors"


@dataclass(frozen=True)
class FederatedSettings:
    """How a federation trains.

    Parameters
    ----------
    rounds, local_epochs
        Communication rounds, and epochs each party trains on its rows per round. rounds × local_epochs
        is what each party's rows are trained for in total (a central TVAE's ``epochs``).
    strategy, proximal_mu
        ``"fedavg"`` (McMahan et al., 2017) or ``"fedprox"`` (Li et al., 2020: local steps are pulled
        towards the global weights with strength ``proximal_mu``; for parties with different data).
    min_parties
        A round with fewer answering parties stops the run (the checkpoint keeps the rounds so far).
    model, params
        The synthesizer and its parameters (``epochs``, ``seed`` and run options are set here).
    seed
        Seeds the encoder, the initial weights and each party's round.
    n_quantiles
        Quantiles per numeric column each party shares at the join.
    target
        The target column of the common schema.
    """

    rounds: int = 20
    local_epochs: int = 5
    strategy: Literal["fedavg", "fedprox"] = "fedavg"
    proximal_mu: float = 0.01
    min_parties: int = 1
    model: str = "tvae"
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    n_quantiles: int = 201
    target: str | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.rounds < 1 or self.local_epochs < 1 or self.min_parties < 1:
            problems.append("rounds, local_epochs and min_parties must be at least 1")
        if self.strategy not in ("fedavg", "fedprox"):
            problems.append(f"strategy '{self.strategy}' is unknown; choose 'fedavg' or 'fedprox'")
        if self.proximal_mu < 0:
            problems.append("proximal_mu must be >= 0")
        if self.n_quantiles < 3:
            problems.append("n_quantiles must be at least 3")
        if problems:
            raise ConfigError("Invalid federated settings: " + "; ".join(problems))

    def to_config(self) -> dict[str, Any]:
        return {**asdict(self), "params": dict(self.params)}


@dataclass
class RoundResult:
    """One party's answer to a round."""

    weights: list[np.ndarray]
    n_rows: int
    loss: float


class Coordinator:
    """Join, aggregate, checkpoint and save; knows nothing of how parties are reached."""

    def __init__(self, settings: FederatedSettings, out: str | Path, *, checkpoint_dir: str | Path | None = None,
                 schema: Schema | None = None, lineage: str | Path | None = None, overwrite: bool = False,
                 on_round: Callable[[dict[str, Any]], None] | None = None):
        from synthloop.io.artifacts import check_artifact_target

        self.settings = settings
        self.out = check_artifact_target(out, overwrite=overwrite)
        self.overwrite = overwrite
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.schema = schema
        self.lineage = lineage
        self.on_round = on_round
        self.history: list[dict[str, Any]] = []
        #: How parties were reached: "in-process" (simulation) or "flower" (set by flower.serve).
        self.transport = "in-process"
        #: True when each round's weights reach the server only as their sum, under Flower's SecAgg+ (ray_engine).
        self.secure_aggregation = False
        self.started = time.perf_counter()

    # ------------------------------------------------------------------ join
    def merge(self, schemas: Mapping[str, Schema]) -> Schema:
        """The common schema: the shared one when given (every party must match it), else the merged one."""
        if not schemas:
            raise DataError("No party joined the federation.")
        ordered = {name: schemas[name] for name in sorted(schemas)}     # arrival order must not change the result
        self.schema = self.schema if self.schema is not None else merge_schemas(ordered, target=self.settings.target)
        return self.schema

    def begin(self, sketches: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, Any], list[np.ndarray], int]:
        """The plan every party builds its model from, the global weights, and the first round to run."""
        self.parties = {name: {"fingerprint": s["fingerprint"], "n_rows": int(s["n_rows"]),
                               "n_columns": int(s.get("n_columns", 0))} for name, s in sketches.items()}
        resumed = self._load_checkpoint()
        if resumed is not None:
            return resumed
        settings = self.settings
        rng = np.random.default_rng(np.random.SeedSequence([settings.seed, 1]))
        stand_in = sketch_frame([sketches[name] for name in sorted(sketches)], self.schema, rng)
        self.model = initial_model(settings.model, settings.params, self.schema, stand_in, settings.seed)
        self.plan = make_plan(self.model, settings.model, settings.params, settings.seed)
        return self.plan, get_weights(self.model), 0

    # ------------------------------------------------------------------ rounds
    def round_config(self, round_index: int) -> dict[str, Any]:
        mu = self.settings.proximal_mu if self.settings.strategy == "fedprox" else 0.0
        return {"round": round_index, "local_epochs": self.settings.local_epochs, "proximal_mu": mu}

    def aggregate(self, round_index: int, results: Mapping[str, RoundResult], failures: Sequence[str],
                  seconds: float | None = None) -> list[np.ndarray]:
        """The new global weights (FedAvg over the parties that answered); checkpointed."""
        if len(results) < self.settings.min_parties:
            raise DataError(f"Round {round_index + 1}: only {len(results)} part{'y' if len(results) == 1 else 'ies'} "
                            f"answered ({', '.join(sorted(results)) or 'none'}; dropped: {', '.join(failures)}), fewer "
                            f"than min_parties={self.settings.min_parties}. Re-run to resume from the checkpoint.")
        ordered = sorted(results)
        weights = weighted_mean([(results[name].weights, results[name].n_rows) for name in ordered])
        # In the model's dtypes: SecAgg+ hands back float64 means of float32 weights.
        weights = [w.astype(g.dtype, copy=False) for w, g in zip(weights, get_weights(self.model), strict=True)]
        n_bytes = sum(int(w.nbytes) for w in weights)
        total_rows = sum(results[name].n_rows for name in ordered)
        entry = {"round": round_index + 1, "parties": ordered, "dropped": sorted(failures),
                 "loss": sum(results[n].loss * results[n].n_rows for n in ordered) / total_rows,
                 "bytes_sent": 2 * n_bytes * len(ordered),
                 "seconds": round(seconds if seconds is not None else time.perf_counter() - self.started, 3)}
        self.history.append(entry)
        set_weights(self.model, weights)
        self._save_checkpoint(round_index + 1)
        if self.on_round is not None:
            self.on_round(entry)
        return weights

    # ------------------------------------------------------------------ finish
    def finish(self, stats: Mapping[str, Sequence[np.ndarray]]) -> Path:
        """Pool the latent statistics, save the model folder with ``federated.json``, record lineage."""
        if not stats:
            raise DataError("No party answered the final statistics round; re-run to resume from the checkpoint.")
        pool_latent_stats(self.model, [stats[name] for name in sorted(stats)])
        self.model.history_ = [{"loss": entry["loss"]} for entry in self.history]
        self.model.n_training_rows_ = sum(p["n_rows"] for p in self.parties.values())
        self.model.save(self.out, overwrite=self.overwrite)
        provenance = self.provenance(sorted(stats))
        publish(self.out, provenance, self.lineage)
        return self.out

    def provenance(self, finishers: Sequence[str] = ()) -> dict[str, Any]:
        """What ``federated.json`` says: parties by name and fingerprint, rounds, strategy; never rows."""
        weights = ("the sum of the parties' weights after each round (SecAgg+ masks each party's own)"
                   if self.secure_aggregation else "model weights after each round")
        return {"federated": True, "transport": self.transport, "strategy": self.settings.strategy,
                "secure_aggregation": self.secure_aggregation,
                "settings": self.settings.to_config(), "parties": self.parties,
                "final_statistics_from": list(finishers), "rounds": self.history,
                "privacy": {"rows_shared": False, "differential_privacy": None,
                            "shared_with_server": ["schemas (columns, kinds, categories, bounds)",
                                                   "category counts and numeric quantiles per party",
                                                   weights, "per-category latent sums and counts"]}}

    # ------------------------------------------------------------------ checkpoints
    def _key(self) -> str:
        """What a checkpoint must match to be resumed: the settings, the parties' tables, the schema."""
        # The round count is left out: a finished run asked for more rounds continues (as a fit's epochs).
        settings = {k: v for k, v in self.settings.to_config().items() if k != "rounds"}
        text = json.dumps({"settings": settings, "parties": self.parties,
                           "schema": self.schema.to_json()}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def _save_checkpoint(self, rounds_done: int) -> None:
        if self.checkpoint_dir is None:
            return
        from safetensors.numpy import save_file

        from synthloop.federated.model import weight_names

        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        arrays = {f"plan/{k}": np.ascontiguousarray(v) for k, v in self.plan["arrays"].items()}
        arrays.update({f"global/{name}": np.ascontiguousarray(w)
                       for name, w in zip(weight_names(self.model), get_weights(self.model), strict=True)})
        meta = {"key": self._key(), "rounds_done": rounds_done, "history": self.history,
                "plan": {k: v for k, v in self.plan.items() if k != "arrays"}}
        with atomic_write(self.checkpoint_dir / STATE_FILE, suffix=".safetensors") as tmp:
            save_file(arrays, str(tmp), metadata={"federated": json.dumps(meta, default=_plain)})

    def _load_checkpoint(self) -> tuple[dict[str, Any], list[np.ndarray], int] | None:
        path = None if self.checkpoint_dir is None else self.checkpoint_dir / STATE_FILE
        if path is None or not path.is_file():
            return None
        from safetensors import safe_open

        from synthloop.federated.model import model_from_plan

        with safe_open(str(path), framework="numpy") as handle:
            meta = json.loads((handle.metadata() or {}).get("federated", "{}"))
            if meta.get("key") != self._key():
                return None                      # other settings or other parties: start afresh
            arrays = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 - not a dict
        self.plan = {**meta["plan"], "arrays": {k[5:]: v for k, v in arrays.items() if k.startswith("plan/")}}
        self.model = model_from_plan(self.plan)
        from synthloop.federated.model import weight_names

        weights = [arrays[f"global/{name}"] for name in weight_names(self.model)]
        set_weights(self.model, weights)
        self.history = list(meta["history"])
        return self.plan, weights, int(meta["rounds_done"])


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(type(value).__name__)
