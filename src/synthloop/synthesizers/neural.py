"""The shared path of every neural synthesizer: encode, build nets, train with the one trainer, decode.

A model subclasses :class:`TorchSynthesizer` and implements ``_build`` (nets and optimizers),
``train_step`` (one optimisation step, returning its losses; called by the trainer) and ``_generate``
(encoded rows, given optional conditions); it may override ``epoch_batches`` (the rows of each
step) and ``make_encoder`` (how the table is encoded). Random draws take ``self.torch_rng_``, the
model's explicit ``torch.Generator`` (see :mod:`synthloop.nn.runtime`).

Everything else lives here once: the reversible :class:`TableEncoder`
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

from synthloop.errors import ArtifactError, require
from synthloop.synthesizers._stored import ArrayCheck, NeuralMeta, check_names
from synthloop.synthesizers.base import Synthesizer
from synthloop.synthesizers.params import POSITIVE, POSITIVE_INT, SEED, Device, Interval
from synthloop.synthesizers.seeds import SeedTree

require("torch", "torch", "Neural synthesizers (ctgan, tvae, tabddpm)")

import torch  # noqa: E402 - after the friendly check above

from synthloop.nn.callbacks import Callback, ProgressBar, progress_bar  # noqa: E402
from synthloop.nn.conditioning import Conditioner  # noqa: E402
from synthloop.nn.heads import SpanIndex  # noqa: E402
from synthloop.nn.runtime import (  # noqa: E402
    resolve_device,
    run_threads,
    seeded,
    torch_generator,
    torch_threads,
    use_generator,
)
from synthloop.nn.trainer import Trainer  # noqa: E402
from synthloop.transforms import TableEncoder  # noqa: E402


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
    meta_schema = NeuralMeta
    needs_learned_columns: ClassVar[bool] = True
    #: How the encoder normalises numerics ("mode_specific" for GAN/VAE, "quantile" for diffusion).
    numeric_encoding: ClassVar[str] = "mode_specific"
    #: The loss early stopping watches.
    monitor: ClassVar[str] = "loss"
    #: Rows generated per pass when sampling: bounds memory for millions of rows.
    sample_chunk: ClassVar[int] = 50_000

    param_constraints: ClassVar = {"epochs": POSITIVE_INT, "batch_size": POSITIVE_INT, "lr": POSITIVE, "device": Device(),
                         "seed": SEED, "checkpoint_every": POSITIVE_INT, "patience": POSITIVE_INT,
                         "threads": Interval(1, 1024)}

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
    def train_step(self, batch: torch.Tensor, cond: torch.Tensor | None) -> dict[str, float]:
        """One optimisation step on ``batch`` (encoded rows) with its condition; returns the losses."""

    @abstractmethod
    def _generate(self, n_rows: int, conditions: EncodedConditions | None, rng: np.random.Generator) -> torch.Tensor:
        """``n_rows`` encoded rows (one-hot spans) honouring ``conditions`` when given."""

    def epoch_batches(self, n_rows: int, batch_size: int,
                      rng: np.random.Generator) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Shuffled full batches (the remainder is left for other epochs); no condition."""
        batch_size = min(batch_size, n_rows)
        order = rng.permutation(n_rows)
        for step in range(n_rows // batch_size):
            yield order[step * batch_size:(step + 1) * batch_size], None

    # ------------------------------------------------------------------ fit
    def _fit(self, data: pd.DataFrame, seeds: SeedTree) -> None:
        train_seed = seeds.integer("model")
        self.seeded_ = seeds.seeded                         # seeded runs use a fixed thread count
        self.fit_threads_ = run_threads(self.threads, seeded=self.seeded_)
        self.encoder_ = self.make_encoder(seeds.integer("encoder")).fit(data)
        encoded = self.encoder_.transform(data)
        self._prepare()
        self.conditioner_.fit(encoded)
        callbacks = self.callbacks()
        with torch_threads(self.fit_threads_):
            with seeded(seeds.integer("torch")):             # layer initialisation only (nn.init takes no generator)
                self._build()
            self.torch_rng_ = torch_generator(seeds.integer("torch"), self.device_)
            use_generator(self.nets_, self.torch_rng_)
            for callback in callbacks:
                callback.on_build(self)
            trainer = Trainer(epochs=self.epochs, batch_size=self.batch_size, checkpoint_dir=self.checkpoint_dir,
                              checkpoint_every=self.checkpoint_every, patience=self.patience, callbacks=callbacks)
            rows = torch.as_tensor(encoded, device=self.device_)
            self.history_ = trainer.fit(self, rows, seed=train_seed, fingerprint=self._fingerprint(encoded))
            for net in self.nets_.values():
                net.eval()
            self.torch_rng_.manual_seed(train_seed + 1)
            with torch.no_grad():
                self._after_training(rows)

    def make_encoder(self, seed: int) -> TableEncoder:
        """The encoder seam: an unfitted encoder for ``self.schema_`` (override to encode differently)."""
        return TableEncoder(self.schema_, numeric=self.numeric_encoding, seed=seed)

    def callbacks(self) -> list[Callback]:
        """Trainer callbacks of a fit: the progress bar when ``progress``; override to add others."""
        return [ProgressBar(self.name)] if self.progress else []

    def _after_training(self, rows: torch.Tensor) -> None:
        """Hook: statistics a model needs for sampling, computed once from the training rows."""

    def _prepare(self) -> None:
        """Derived structures of a fitted encoder (also rebuilt on load)."""
        self.device_ = resolve_device(self.device)
        self.layout_ = self.encoder_.layout_
        self.span_index_ = SpanIndex(self.layout_, self.device_)
        categorical = [name for name, kind in self.schema_.model_kinds().items() if kind == "categorical"]
        self.conditioner_ = Conditioner(self.layout_, categorical)

    def _fingerprint(self, encoded: np.ndarray) -> str:
        """What a checkpoint must match to be resumed: the learning params and the encoded data."""
        # Run options and the epoch count do not change what an epoch learns: a checkpoint stays valid.
        params = {k: v for k, v in self.hyperparameters().items() if k != "epochs"}
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
        self.torch_rng_ = torch_generator(int(rng.integers(2**62)), self.device_)
        use_generator(self.nets_, self.torch_rng_)
        threads = run_threads(self.threads, seeded=getattr(self, "seeded_", False))
        with torch.no_grad(), torch_threads(threads), bar_context as (bar, task):
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
    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        encoder_arrays, encoder_meta = self.encoder_.to_state()
        arrays = {f"encoder/{key}": value for key, value in encoder_arrays.items()}
        arrays.update({f"cond/{key}": value for key, value in self.conditioner_.to_state()[0].items()})
        for name, net in self.nets_.items():
            for key, value in net.state_dict().items():
                arrays[f"net/{name}/{key}"] = value.detach().cpu().numpy()
        return arrays, {"encoder": encoder_meta, "history": getattr(self, "history_", []),
                        "fit_threads": self.fit_threads_, "seeded": self.seeded_}

    def _check_state(self, check: ArrayCheck, meta: dict[str, Any]) -> None:
        columns = meta["encoder"]["columns"]
        check_names(check, [c["name"] for c in columns], self.schema_.model_kinds(), "stored encoder columns")
        for i, column in enumerate(columns):
            prefix = f"encoder/{i}/"
            if column["type"] == "one_hot":
                check.take(prefix + "rare_probs", "f", (len(column["rare"]),))
                continue
            masses = check.take(prefix + "point_masses", "f", (None,))
            check.require(masses is None or len(masses) <= column["max_point_masses"], f"{prefix}point_masses too long")
            if column["type"] == "quantile":
                knots = check.take(prefix + "quantiles", "f", (None,))
                check.take(prefix + "levels", "f", (None if knots is None else len(knots),))
                check.require(knots is None or len(knots) <= column["n_quantiles"] + 1, f"{prefix}quantiles too long")
            else:
                means = check.take(prefix + "means", "f", (None,))
                n_modes = None if means is None else len(means)
                check.require(n_modes is None or n_modes <= column["max_modes"], f"{prefix}means: too many modes")
                check.take(prefix + "stds", "f", (n_modes,))
                check.take(prefix + "weights", "f", (n_modes,))
        check.take("cond/frequency", "f", (None, None))
        check.take_prefix("net/", "fi")              # names and shapes: torch's strict load_state_dict

    def from_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        encoder_arrays = {k.removeprefix("encoder/"): v for k, v in arrays.items() if k.startswith("encoder/")}
        self.encoder_ = TableEncoder.from_state(encoder_arrays, meta["encoder"], schema=self.schema_)
        self._prepare()
        self.conditioner_ = Conditioner.from_state(
            {k.removeprefix("cond/"): v for k, v in arrays.items() if k.startswith("cond/")}, {},
            layout=self.layout_, categorical=self.conditioner_.columns)
        self._build()
        for name, net in self.nets_.items():
            prefix = f"net/{name}/"
            weights = {k[len(prefix):]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith(prefix)}
            try:
                net.load_state_dict(weights)
            except RuntimeError as exc:          # torch's message for missing, extra or mis-shaped weights
                first_line = str(exc).splitlines()[1 if "\n" in str(exc) else 0].strip()
                raise ArtifactError(f"the weights of its {name} network do not fit this version's {self.name} "
                                    f"({first_line})") from None
            net.eval()
        self.history_ = meta.get("history", [])
        self.fit_threads_ = int(meta.get("fit_threads", 0)) or None
        self.seeded_ = bool(meta.get("seeded", False))


def _unique_rows(conditions: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Distinct condition rows and, for each input row, the index of its distinct row."""
    keys = pd.MultiIndex.from_frame(conditions.astype(object).fillna("\0nan"))
    codes, _ = pd.factorize(keys)
    first = np.unique(codes, return_index=True)[1]
    return conditions.iloc[first].reset_index(drop=True), codes[np.arange(len(conditions))]
