"""The one training loop of every neural synthesizer: batches, progress, checkpoints, resume, early stop.

The loop knows nothing about GANs, VAEs or diffusion (the minGPT pattern). A model hands it:

- ``nets_`` / ``optimizers_``: dicts of ``torch.nn.Module`` / ``torch.optim.Optimizer`` (what a checkpoint holds);
- ``torch_rng_``: the model's explicit ``torch.Generator``, re-seeded at the start of every epoch;
- ``epoch_batches(n_rows, batch_size, rng)``: the row indices (and optional condition) of each step;
- ``train_step(batch, cond) -> {"loss name": value}``: one optimisation step;
- ``monitor``: the loss that early stopping watches;
- optionally ``validation_losses() -> {"val_loss": value}``: losses on rows held out from training,
  computed after every epoch and added to its history, so early stopping can watch them.

With ``restore_best`` the nets end with the weights of the epoch where ``monitor`` was lowest (kept
in memory and in checkpoints): on a validation loss, that is the epoch before overfitting began.

Everything else around the loop (the progress bar, a "resuming from epoch N" line, loss logging)
is a :class:`~synthloop.nn.callbacks.Callback`. API change (wave 2): the hooks were the private
``_epoch_batches`` / ``_train_step``, and ``progress=`` was a Trainer field; a model now names them
publicly and passes ``callbacks=[ProgressBar(name)]``.

Every epoch draws from its own generators seeded by ``(seed, epoch)`` (NumPy for batches, the
model's torch generator for noise and dropout), so a run resumed from the checkpoint of epoch *k*
continues exactly as the uninterrupted run would have: a seeded CPU fit gives the same weights
whether or not it was interrupted. On Ctrl-C the last completed epoch is
written before the interrupt propagates; after a hard kill the run resumes from the last periodic
checkpoint.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from synthloop.errors import SynthloopWarning
from synthloop.io.atomic import atomic_write
from synthloop.nn.callbacks import Callback, progress_bar  # noqa: F401 - progress_bar: the sampling bar
from synthloop.nn.clock import current_limit

CHECKPOINT_FILE = "checkpoint.safetensors"


class Trainable(Protocol):
    nets_: dict[str, torch.nn.Module]
    optimizers_: dict[str, torch.optim.Optimizer]
    torch_rng_: torch.Generator
    monitor: str

    def epoch_batches(self, n_rows: int, batch_size: int,
                      rng: np.random.Generator) -> Iterator[tuple[np.ndarray, np.ndarray | None]]: ...

    def train_step(self, batch: torch.Tensor, cond: torch.Tensor | None) -> dict[str, float]: ...


@dataclass
class Trainer:
    """Runs ``epochs`` epochs of a :class:`Trainable`, checkpointing into ``checkpoint_dir``.

    Parameters
    ----------
    checkpoint_every
        Write a checkpoint every this many epochs (and at the end, and on Ctrl-C).
    patience
        Stop when ``model.monitor`` has not improved by ``min_delta`` (relative) for this many epochs.
    restore_best
        End with the nets' weights of the epoch with the lowest ``model.monitor``.

    Inside :func:`synthloop.nn.clock.time_limit`, training ends before an epoch that would end past
    the limit (at the mean epoch time so far); the fit is then the one with ``epochs`` = the epochs run.
    callbacks
        :class:`~synthloop.nn.callbacks.Callback` objects (the progress bar is one).
    """

    epochs: int
    batch_size: int
    checkpoint_dir: str | Path | None = None
    checkpoint_every: int = 10
    patience: int | None = None
    min_delta: float = 1e-3
    callbacks: Sequence[Callback] = ()
    restore_best: bool = False

    def fit(self, model: Trainable, data: torch.Tensor, *, seed: int, fingerprint: str) -> list[dict[str, float]]:
        """Train ``model`` on ``data`` (``(n_rows, width)`` on the model's device); returns per-epoch losses."""
        state = self._resume(model, fingerprint)
        history: list[dict[str, float]] = state.get("history", [])
        best: _Best | None = state.get("best")
        if state.get("finished"):
            _restore_best(model, best, self.restore_best)
            return history
        saved_epoch = start_epoch = len(history)
        snapshot: tuple[dict[str, torch.Tensor], dict[str, Any]] | None = None
        limit, started = current_limit(), time.monotonic()
        self._call("on_train_begin", self, len(history))
        try:
            for epoch in range(len(history), self.epochs):
                if limit is not None and epoch > start_epoch and not limit.leaves_room(
                        (time.monotonic() - started) / (epoch - start_epoch)):
                    limit.stopped_after = epoch       # out of time: as if epochs=epoch (resumable, not finished)
                    if self.checkpoint_dir is not None and epoch > saved_epoch:
                        self._save(_capture(model, history, fingerprint, False, False, best))
                    break
                history.append(self._run_epoch(model, data, seed, epoch))
                if self.restore_best:
                    best = _Best.update(best, model, history)
                self._call("on_epoch_end", epoch, history[-1])
                stop = _should_stop(history, model.monitor, self.patience, self.min_delta)
                finished = stop or epoch + 1 == self.epochs
                if self.checkpoint_dir is not None and (finished or (epoch + 1) % self.checkpoint_every == 0):
                    self._save(_capture(model, history, fingerprint, finished, stop, best))
                    saved_epoch = epoch + 1
                elif self.checkpoint_dir is not None:
                    snapshot = _capture(model, history, fingerprint, finished, stop, best)
                if finished:
                    break
        except KeyboardInterrupt:
            if snapshot is not None and len(snapshot[1]["history"]) > saved_epoch:
                self._save(snapshot)
            raise
        finally:
            self._call("on_train_end", history)
        _restore_best(model, best, self.restore_best)
        return history

    def _call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    # ------------------------------------------------------------------ one epoch
    def _run_epoch(self, model: Trainable, data: torch.Tensor, seed: int, epoch: int) -> dict:
        rng = np.random.default_rng([seed, epoch])
        model.torch_rng_.manual_seed(int(rng.integers(2**62)))       # the epoch's torch stream, resumable
        totals: dict[str, float] = {}
        n_steps = max(1, math.ceil(len(data) / self.batch_size))
        step = 0
        for rows, cond in model.epoch_batches(len(data), self.batch_size, rng):
            rows_t = torch.as_tensor(rows, device=data.device)
            cond_t = None if cond is None else torch.as_tensor(cond, device=data.device)
            losses = model.train_step(data.index_select(0, rows_t), cond_t)
            for name, value in losses.items():
                totals[name] = totals.get(name, 0.0) + value
            step += 1
            self._call("on_batch_end", epoch, step, n_steps, losses)
        losses = {name: total / max(step, 1) for name, total in totals.items()}
        validate = getattr(model, "validation_losses", None)
        if validate is not None:
            losses.update(validate())
        return losses

    # ------------------------------------------------------------------ checkpoints
    @property
    def checkpoint_path(self) -> Path | None:
        return None if self.checkpoint_dir is None else Path(self.checkpoint_dir) / CHECKPOINT_FILE

    def _save(self, snapshot: tuple[dict[str, torch.Tensor], dict[str, Any]]) -> None:
        from safetensors.torch import save_file

        tensors, meta = snapshot
        with atomic_write(self.checkpoint_path, suffix=".safetensors") as tmp:
            save_file(tensors, str(tmp), metadata={"synthloop_checkpoint": json.dumps(meta)})

    def _resume(self, model: Trainable, fingerprint: str) -> dict[str, Any]:
        """Load the checkpoint when it was written by this model on this data; else start fresh.

        A checkpoint that cannot be read or does not fit the model (a disk that filled up, a file
        from another version, a damaged copy) must not block every re-run: it is renamed aside with
        a warning, the model is put back as it was, and training starts from scratch.
        """
        path = self.checkpoint_path
        if path is None or not path.is_file():
            return {}
        fresh = _capture(model, [], fingerprint, False, False)
        try:
            meta, tensors = _read_checkpoint(path)
            if meta.get("fingerprint") != fingerprint or len(meta.get("history", ())) > self.epochs:
                return {}
            _restore(model, tensors, meta)
            if "best_epoch" in meta:
                meta["best"] = _Best(int(meta["best_epoch"]), {k.removeprefix("best/"): v for k, v in tensors.items()
                                                               if k.startswith("best/")})
        except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError, RuntimeError) as exc:
            _restore(model, *fresh)
            self._set_aside(path, exc)
            return {}
        # A finished run asked for more epochs continues; an early-stopped one stays stopped.
        meta["finished"] = meta.get("early_stopped", False) or len(meta["history"]) >= self.epochs
        return meta

    @staticmethod
    def _set_aside(path: Path, exc: Exception) -> None:
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            path.replace(aside)
            where = f"it was moved to '{aside.name}'"
        except OSError:
            where = "it could not be moved aside and will be overwritten by the next checkpoint"
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        warnings.warn(f"The checkpoint '{path}' is unreadable or does not fit this model ({detail}); {where}. "
                      "Training starts from scratch.", SynthloopWarning, stacklevel=4)


def _read_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The checkpoint's JSON metadata and tensors; raises ValueError when it is not a checkpoint."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = json.loads((handle.metadata() or {}).get("synthloop_checkpoint", "{}"))
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 - not a dict
    except (SafetensorError, RecursionError) as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(meta, dict) or not isinstance(meta.get("history", []), list):
        raise ValueError("its metadata is not a synthloop checkpoint")
    return meta, tensors


def _should_stop(history: list[dict[str, float]], monitor: str, patience: int | None, min_delta: float) -> bool:
    if not patience or len(history) <= patience or monitor not in history[-1]:
        return False
    values = [epoch[monitor] for epoch in history]
    best_before = min(values[:-patience])
    return min(values[-patience:]) > best_before - min_delta * abs(best_before)


@dataclass
class _Best:
    """The nets' weights (``net/{name}/{key}`` → tensor) at the epoch with the lowest monitored loss."""

    epoch: int
    weights: dict[str, torch.Tensor]

    @classmethod
    def update(cls, best: _Best | None, model: Trainable, history: list[dict[str, float]]) -> _Best | None:
        """``best``, or the current weights when this epoch's monitored loss is the lowest so far."""
        values = [epoch.get(model.monitor, math.inf) for epoch in history]
        if best is not None and values[-1] >= values[best.epoch]:
            return best
        if not math.isfinite(values[-1]):
            return best
        return cls(len(history) - 1, {f"net/{name}/{key}": value.detach().clone()
                                      for name, net in model.nets_.items() for key, value in net.state_dict().items()})


def _restore_best(model: Trainable, best: _Best | None, enabled: bool) -> None:
    if not enabled or best is None:
        return
    for name, net in model.nets_.items():
        prefix = f"net/{name}/"
        net.load_state_dict({k[len(prefix):]: v for k, v in best.weights.items() if k.startswith(prefix)})


def _capture(model: Trainable, history: list[dict[str, float]], fingerprint: str, finished: bool,
             early_stopped: bool, best: _Best | None = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A copy of every net's and optimizer's state: tensors for safetensors, the rest as JSON."""
    tensors: dict[str, torch.Tensor] = {}
    optim_meta: dict[str, Any] = {}
    for name, net in model.nets_.items():
        for key, value in net.state_dict().items():
            tensors[f"net/{name}/{key}"] = value.detach().cpu().clone().contiguous()
    for name, optimizer in model.optimizers_.items():
        state = optimizer.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for index, entries in state["state"].items():
            for key, value in entries.items():
                if torch.is_tensor(value):
                    tensors[f"opt/{name}/{index}/{key}"] = value.detach().cpu().clone().contiguous()
                else:
                    scalars.setdefault(str(index), {})[key] = value
        optim_meta[name] = {"param_groups": state["param_groups"], "scalars": scalars}
    meta = {"fingerprint": fingerprint, "history": list(history), "finished": finished,
            "early_stopped": early_stopped, "optimizers": optim_meta}
    if best is not None:
        tensors.update({f"best/{key}": value.cpu().contiguous() for key, value in best.weights.items()})
        meta["best_epoch"] = best.epoch
    return tensors, json.loads(json.dumps(meta, default=list))


def _restore(model: Trainable, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    for name, net in model.nets_.items():
        prefix = f"net/{name}/"
        net.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
    for name, optimizer in model.optimizers_.items():
        info = meta["optimizers"][name]
        state: dict[int, dict[str, Any]] = {}
        for index, scalars in info["scalars"].items():
            state.setdefault(int(index), {}).update(scalars)
        prefix = f"opt/{name}/"
        for key, value in tensors.items():
            if key.startswith(prefix):
                index, _, entry = key[len(prefix):].partition("/")
                state.setdefault(int(index), {})[entry] = value
        optimizer.load_state_dict({"state": state, "param_groups": info["param_groups"]})
