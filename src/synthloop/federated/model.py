"""The federated TVAE: one model built from the join's schema and encoder, its weights as a flat list.

Every party and the server hold the same :class:`~synthloop.synthesizers.tvae.TVAE`, built from one
*plan* (the common schema, the model's parameters and its initial state: encoder, category
frequencies of the stand-in table, initial weights). Parties rebuild it with ``from_state``, the path
``synthloop.load`` takes, so a federated model is an ordinary model once saved.

Weights travel as a list of arrays in the order of :func:`weight_names` (every network's
``state_dict``), which is what Flower's ``Parameters`` carry.

After the last round each party reports the latent region of each of its categories (TVAE's
``_after_training``) as sums with their counts; :func:`pool_latent_stats` pools them into the
statistics conditional sampling uses, exactly as if they had been computed on the pooled rows.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from synthloop.errors import ConfigError, require
from synthloop.schema import Schema
from synthloop.synthesizers import get
from synthloop.synthesizers.seeds import SeedTree

require("torch", "federated", "Federated training")

import torch  # noqa: E402 - after the friendly check above

from synthloop.nn.runtime import run_threads, torch_generator, use_generator  # noqa: E402
from synthloop.synthesizers.neural import TorchSynthesizer  # noqa: E402

#: The neural synthesizers federated training supports (the latent statistics are TVAE's).
MODELS = ("tvae",)


def new_model(name: str, params: Mapping[str, Any]) -> TorchSynthesizer:
    """An unfitted synthesizer ``name`` with ``params`` (checked by the registry); no progress bar, no checkpoints."""
    if name not in MODELS:
        raise ConfigError(f"Federated training supports {', '.join(MODELS)}, not '{name}'.")
    reserved = sorted(set(params) & {"epochs", "checkpoint_dir", "progress", "seed"})
    if reserved:
        raise ConfigError(f"Model parameters {reserved} are set by the federation (rounds, local_epochs, seed); "
                          "remove them from [params].")
    return get(name, **params, progress=False, seed=0)


def initial_model(name: str, params: Mapping[str, Any], schema: Schema, sketch: pd.DataFrame,
                  seed: int) -> TorchSynthesizer:
    """The server's model before round 1: encoder fitted on the stand-in table, seeded initial weights."""
    model = new_model(name, params)
    seeds = SeedTree(seed)
    model.schema_ = schema
    model.encoder_ = model.make_encoder(seeds.integer("encoder")).fit(sketch)
    model._prepare()
    model.conditioner_.fit(model.encoder_.transform(sketch))
    model.seeded_ = True
    model.fit_threads_ = run_threads(model.threads, seeded=True)
    model._build_seeded(seeds, [])
    model.history_ = []
    return model


def model_from_plan(plan: Mapping[str, Any]) -> TorchSynthesizer:
    """Rebuild the plan's model (what a party trains), in training mode."""
    model = new_model(plan["model"], plan["params"])
    model.schema_ = Schema.from_json(plan["schema"])
    model.from_state(plan["arrays"], plan["meta"])
    model.fit_threads_ = run_threads(model.threads, seeded=True)
    model.torch_rng_ = torch_generator(int(plan["seed"]), model.device_)
    use_generator(model.nets_, model.torch_rng_)
    for net in model.nets_.values():
        net.train()
    return model


def make_plan(model: TorchSynthesizer, name: str, params: Mapping[str, Any], seed: int) -> dict[str, Any]:
    arrays, meta = model.to_state()
    return {"model": name, "params": dict(params), "schema": model.schema_.to_json(), "arrays": arrays,
            "meta": meta, "seed": int(seed)}


# ---------------------------------------------------------------------------------------------- weights
def weight_names(model: TorchSynthesizer) -> list[str]:
    return [f"{net_name}/{key}" for net_name, net in model.nets_.items() for key in net.state_dict()]


def get_weights(model: TorchSynthesizer) -> list[np.ndarray]:
    return [value.detach().cpu().numpy().copy() for net in model.nets_.values() for value in net.state_dict().values()]


def set_weights(model: TorchSynthesizer, weights: Sequence[np.ndarray]) -> None:
    names = weight_names(model)
    if len(weights) != len(names):
        raise ConfigError(f"Received {len(weights)} weight arrays, but this model has {len(names)}: "
                          "the party and the server run different models or versions.")
    position = 0
    for net in model.nets_.values():
        state = net.state_dict()
        update = {}
        for key, current in state.items():
            array = np.asarray(weights[position])
            if tuple(array.shape) != tuple(current.shape):
                raise ConfigError(f"Weight '{names[position]}' has shape {array.shape}, expected {tuple(current.shape)}.")
            update[key] = torch.as_tensor(array, dtype=current.dtype)
            position += 1
        net.load_state_dict(update)


def weighted_mean(updates: Sequence[tuple[Sequence[np.ndarray], int]]) -> list[np.ndarray]:
    """FedAvg (McMahan et al., 2017): each array averaged over parties, weighted by their rows."""
    total = float(sum(n_rows for _, n_rows in updates))
    return [sum(np.asarray(weights[i], dtype=np.float64) * (n_rows / total) for weights, n_rows in updates)
            .astype(np.asarray(updates[0][0][i]).dtype) for i in range(len(updates[0][0]))]


# ---------------------------------------------------------------------------------------------- latent stats
def latent_stats(model: TorchSynthesizer, rows: torch.Tensor) -> list[np.ndarray]:
    """This party's per-category latent sums: ``[counts, Σ mean, Σ (mean² + var)]`` (no rows)."""
    for net in model.nets_.values():
        net.eval()
    with torch.no_grad():
        model._after_training(rows)
    decoder = model.nets_["decoder"]
    counts = model.conditioner_.category_count_.astype(np.float64)                # (columns, max_size)
    mean = decoder.latent_mean.cpu().numpy().astype(np.float64)                    # (columns, max_size, latent)
    std = decoder.latent_std.cpu().numpy().astype(np.float64)
    return [counts, mean * counts[..., None], (std**2 + mean**2) * counts[..., None]]


def pool_latent_stats(model: TorchSynthesizer, stats: Sequence[Sequence[np.ndarray]]) -> None:
    """Set the category frequencies and latent regions of ``model`` from every party's sums."""
    counts = sum(np.asarray(s[0]) for s in stats)
    sums = sum(np.asarray(s[1]) for s in stats)
    squares = sum(np.asarray(s[2]) for s in stats)
    seen = counts > 0
    mean = np.where(seen[..., None], sums / np.maximum(counts, 1)[..., None], 0.0)
    variance = np.where(seen[..., None], squares / np.maximum(counts, 1)[..., None] - mean**2, 1.0)
    decoder = model.nets_["decoder"]
    decoder.latent_mean.copy_(torch.as_tensor(mean, dtype=decoder.latent_mean.dtype))
    decoder.latent_std.copy_(torch.as_tensor(np.sqrt(np.clip(variance, 0, None)), dtype=decoder.latent_std.dtype))
    totals = counts.sum(axis=1, keepdims=True)
    model.conditioner_.frequency_ = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


# ---------------------------------------------------------------------------------------------- wire format
def encode_plan(plan: Mapping[str, Any]) -> str:
    """The plan as JSON text (arrays as base64 with dtype and shape): data, never pickle."""
    arrays = {key: {"dtype": str(value.dtype), "shape": list(value.shape),
                    "data": base64.b64encode(np.ascontiguousarray(value).tobytes()).decode()}
              for key, value in plan["arrays"].items()}
    return json.dumps({**plan, "arrays": arrays}, default=_json_default)


def decode_plan(text: str) -> dict[str, Any]:
    plan = json.loads(text)
    plan["arrays"] = {key: np.frombuffer(base64.b64decode(item["data"]), dtype=np.dtype(item["dtype"]))
                      .reshape(item["shape"]).copy() for key, item in plan["arrays"].items()}
    return plan


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


__all__ = ["MODELS", "decode_plan", "encode_plan", "get_weights", "initial_model", "latent_stats",
           "make_plan", "model_from_plan", "new_model", "pool_latent_stats", "set_weights", "weight_names",
           "weighted_mean"]
