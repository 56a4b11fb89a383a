"""The shared path of every neural synthesizer: encode, build nets, train with the one trainer, decode.

A model subclasses :class:`TorchSynthesizer` and implements ``_build`` (nets and optimizers),
``_train_step`` (one optimisation step, returning its losses) and ``_generate`` (encoded rows, given
optional conditions). Everything else lives here once: the reversible :class:`TableEncoder`
(mode-specific normalisation, Xu et al. 2019), condition vectors, seeding, torch threads, the
:class:`~synthloop.nn.trainer.Trainer` (checkpoints and resume), chunked sampling, and saving the
nets' weights and the encoder's state as safetensors + JSON (never pickle).

Torch is imported lazily: importing this module imports torch, importing ``synthloop`` does not.
"""

from __future__ import annotations

import hashlib
import json
from abc import abstractmethod
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from synthloop.errors import ConfigError, require
from synthloop.synthesizers.base import Synthesizer

require("torch", "torch", "Neural synthesizers (ctgan, tvae, tabddpm)")

import torch  # noqa: E402 - after the friendly check above

from synthloop.nn.blocks import resolve_device, seeded, torch_threads  # noqa: E402
from synthloop.nn.conditioning import Conditioner  # noqa: E402
from synthloop.nn.heads import SpanIndex  # noqa: E402
from synthloop.nn.trainer import Trainer, progress_bar  # noqa: E402
from synthloop.transforms import TableEncoder  # noqa: E402

# Parameters that do not change what is learned: a checkpoint stays valid when they change.
_RUN_PARAMS = frozenset({"epochs", "progress", "checkpoint_dir", "checkpoint_every", "device", "sample_steps"})


@dataclass(frozen=True)
class EncodedConditions:
    """Conditions in the model's terms, one row per output row.

    ``cond``: the condition vector over categorical columns ``(n_rows, n_columns, max_size)``;
    ``encoded``: the conditioned values encoded like data ``(n_rows, width)``; ``known``: which encoded
    positions they fix ``(width,)`` (diffusion inpaints them).
    """

    cond: np.ndarray
    encoded: np.ndarray
    known: np.ndarray


class TorchSynthesizer(Synthesizer):
    """Base class of the neural synthesizers; see the module docstring for the hooks to implement."""

    native_conditions: ClassVar[bool] = True
    #: How the encoder normalises numerics ("mode_specific" for GAN/VAE, "quantile" for diffusion).
    numeric_encoding: ClassVar[str] = "mode_specific"
    #: The loss early stopping watches.
    monitor: ClassVar[str] = "loss"
    #: Rows generated per pass when sampling: bounds memory for millions of rows.
    sample_chunk: ClassVar[int] = 50_000

    epochs: int
    batch_size: int
    lr: float
    device: str
    checkpoint_dir: str | None
    checkpoint_every: int
    patience: int | None
    progress: bool

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _build(self) -> None:
        """Create ``self.nets_`` and ``self.optimizers_`` (dicts) for ``self.layout_`` on ``self.device_``."""

    @abstractmethod
    def _train_step(self, batch: torch.Tensor, cond: torch.Tensor | None) -> dict[str, float]:
        """One optimisation step on ``batch`` (encoded rows) with its condition; returns the losses."""

    @abstractmethod
    def _generate(self, n_rows: int, conditions: EncodedConditions | None, rng: np.random.Generator) -> torch.Tensor:
        """``n_rows`` encoded rows (one-hot spans) honouring ``conditions`` when given."""

    def _epoch_batches(self, n_rows: int, batch_size: int,
                       rng: np.random.Generator) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Shuffled full batches (the remainder is left for other epochs); no condition."""
        batch_size = min(batch_size, n_rows)
        order = rng.permutation(n_rows)
        for step in range(n_rows // batch_size):
            yield order[step * batch_size:(step + 1) * batch_size], None

    # ------------------------------------------------------------------ fit
    def _fit(self, data: pd.DataFrame, rng: np.random.Generator) -> None:
        self._check_training_params()
        train_seed = int(rng.integers(2**62))
        self.encoder_ = TableEncoder(self.schema_, numeric=self.numeric_encoding,
                                     seed=self.seed if self.seed is not None else 0).fit(data)
        encoded = self.encoder_.transform(data)
        self._prepare()
        self.conditioner_.fit(encoded)
        with torch_threads():
            with seeded(train_seed):
                self._build()
            trainer = Trainer(epochs=self.epochs, batch_size=self.batch_size, checkpoint_dir=self.checkpoint_dir,
                              checkpoint_every=self.checkpoint_every, patience=self.patience,
                              progress=self.progress, description=self.name)
            rows = torch.as_tensor(encoded, device=self.device_)
            self.history_ = trainer.fit(self, rows, seed=train_seed, fingerprint=self._fingerprint(encoded))
            for net in self.nets_.values():
                net.eval()
            with torch.no_grad(), seeded(train_seed + 1):
                self._after_training(rows)

    def _after_training(self, rows: torch.Tensor) -> None:
        """Hook: statistics a model needs for sampling, computed once from the training rows."""

    def _prepare(self) -> None:
        """Derived structures of a fitted encoder (also rebuilt on load)."""
        self.device_ = resolve_device(self.device)
        self.layout_ = self.encoder_.layout_
        self.span_index_ = SpanIndex(self.layout_, self.device_)
        categorical = [name for name, kind in self.schema_.model_kinds().items() if kind == "categorical"]
        self.conditioner_ = Conditioner(self.layout_, categorical)

    def _check_training_params(self) -> None:
        problems = [f"{name}={getattr(self, name)!r} must be a whole number ≥ 1"
                    for name in ("epochs", "batch_size", "checkpoint_every")
                    if not isinstance(getattr(self, name), int) or getattr(self, name) < 1]
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            problems.append(f"lr={self.lr!r} must be a positive number")
        if problems:
            raise ConfigError(f"Cannot train {self.name}: " + "; ".join(problems) + ".")

    def _fingerprint(self, encoded: np.ndarray) -> str:
        """What a checkpoint must match to be resumed: the learning params and the encoded data."""
        params = {k: v for k, v in self.get_params().items() if k not in _RUN_PARAMS}
        digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
        digest.update(str(encoded.shape).encode())
        digest.update(np.ascontiguousarray(encoded).tobytes())
        return digest.hexdigest()

    # ------------------------------------------------------------------ sample
    def _sample(self, n_rows: int, conditions: pd.DataFrame | None, rng: np.random.Generator) -> pd.DataFrame:
        encoded_conditions = None if conditions is None else self._encode_conditions(conditions)
        chunks = []
        starts = range(0, n_rows, self.sample_chunk)
        show = self.progress and len(starts) > 1
        bar_context = progress_bar(f"{self.name} sampling", n_rows, unit="rows") if show else nullcontext((None, None))
        with torch.no_grad(), torch_threads(), seeded(int(rng.integers(2**62))), bar_context as (bar, task):
            for start in starts:
                stop = min(start + self.sample_chunk, n_rows)
                part = None if encoded_conditions is None else EncodedConditions(
                    encoded_conditions.cond[start:stop], encoded_conditions.encoded[start:stop],
                    encoded_conditions.known)
                chunks.append(self._generate(stop - start, part, rng).cpu().numpy())
                if bar is not None:
                    bar.update(task, completed=stop)
        frame = self.encoder_.inverse_transform(np.concatenate(chunks), rng=rng)
        if conditions is not None:
            for column in conditions.columns:            # conditioned values come back exactly as asked
                frame[column] = conditions[column].to_numpy()
        return frame

    def _encode_conditions(self, conditions: pd.DataFrame) -> EncodedConditions:
        """Encode the condition rows, filling unconditioned columns with placeholders that are ignored."""
        unique, inverse = _unique_rows(conditions)
        filled = {}
        for name, kind in self.schema_.model_kinds().items():
            if name in conditions.columns:
                filled[name] = unique[name].to_numpy()
            elif kind == "numeric":
                filled[name] = np.full(len(unique), self.schema_[name].low or 0.0)
            else:
                filled[name] = np.full(len(unique), (self.schema_[name].categories or (None,))[0], dtype=object)
        encoded = self.encoder_.transform(pd.DataFrame(filled))[inverse]
        cond = self.conditioner_.from_encoded(encoded, list(conditions.columns))
        known = np.zeros(self.layout_.width, dtype=bool)
        for span in self.layout_.spans:
            known[span.slice] |= span.column in conditions.columns
        return EncodedConditions(cond, encoded, known)

    def _conditions_or_marginal(self, n_rows: int, conditions: EncodedConditions | None,
                                rng: np.random.Generator) -> np.ndarray:
        """The condition vector to generate with: the caller's, else drawn by empirical frequency.

        Rows whose conditions fix no categorical column (e.g. only a numeric one) get a drawn condition
        too, so the network never sees the all-zero vector it was not trained on.
        """
        if self.conditioner_.n_columns == 0:
            return np.zeros((n_rows, 0, 1), dtype=np.float32)
        drawn = self.conditioner_.sample_marginal(n_rows, rng)
        if conditions is None:
            return drawn
        unset = conditions.cond.sum(axis=(1, 2)) == 0
        return np.where(unset[:, None, None], drawn, conditions.cond)

    # ------------------------------------------------------------------ persistence
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        encoder_arrays, encoder_meta = self.encoder_.state()
        arrays = {f"encoder/{key}": value for key, value in encoder_arrays.items()}
        arrays.update({f"cond/{key}": value for key, value in self.conditioner_.state().items()})
        for name, net in self.nets_.items():
            for key, value in net.state_dict().items():
                arrays[f"net/{name}/{key}"] = value.detach().cpu().numpy()
        return arrays, {"encoder": encoder_meta, "history": getattr(self, "history_", [])}

    def _load_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        encoder_arrays = {k.removeprefix("encoder/"): v for k, v in arrays.items() if k.startswith("encoder/")}
        self.encoder_ = TableEncoder.from_state(self.schema_, encoder_arrays, meta["encoder"])
        self._prepare()
        self.conditioner_.load_state({k.removeprefix("cond/"): v for k, v in arrays.items() if k.startswith("cond/")})
        self._build()
        for name, net in self.nets_.items():
            load_weights(self.name, name, net, arrays)
        self.history_ = meta.get("history", [])


def load_weights(model: str, name: str, net: torch.nn.Module, arrays: dict[str, np.ndarray]) -> None:
    """Load the arrays saved under ``net/{name}/`` into ``net`` (eval mode); mismatched weights raise ValueError."""
    prefix = f"net/{name}/"
    weights = {k[len(prefix):]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith(prefix)}
    try:
        net.load_state_dict(weights)
    except RuntimeError as exc:          # torch's message for missing, extra or mis-shaped weights
        first_line = str(exc).splitlines()[1 if "\n" in str(exc) else 0].strip()
        raise ValueError(f"the weights of its {name} network do not fit this version's {model} "
                         f"({first_line})") from None
    net.eval()


def _unique_rows(conditions: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Distinct condition rows and, for each input row, the index of its distinct row."""
    keys = pd.MultiIndex.from_frame(conditions.astype(object).fillna("\0nan"))
    codes, _ = pd.factorize(keys)
    first = np.unique(codes, return_index=True)[1]
    return conditions.iloc[first].reset_index(drop=True), codes[np.arange(len(conditions))]
