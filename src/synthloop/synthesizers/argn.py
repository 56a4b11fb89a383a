"""TabularARGN: an any-order auto-regressive network over discretised columns (Tiwald et al., 2025).

Tiwald, Krchova, Kulessa, Sidorenko, Sidorenko, "TabularARGN: A Flexible and Efficient Auto-Regressive
Framework for Generating High-Fidelity Synthetic Data", arXiv 2501.12012 (2025); MOSTLY AI's engine.

Every column becomes categorical tokens (:mod:`synthloop.transforms.tokens`: labels, exact values for
point masses and few-valued numerics, two-level quantile bins otherwise), so the table's likelihood
factorises exactly as p(x) = Π_j p(x_{π(j)} | x_{π(<j)}) with a softmax per sub-column and no
distributional assumption. Each sub-column has an embedding and its own small regressor (one hidden
ReLU layer) that reads the concatenated embeddings of the columns before it; columns after it are
masked out (zero), as in MADE (Germain et al., 2015). Every training batch draws a fresh random column
order π, so the network learns p(x_j | x_S) for *any* subset S of the other columns: sampling in
the table's order generates unconditionally, and putting conditioned columns first meets equality
conditions exactly and natively, with no rejection. Ranges and sets (``Range``, ``OneOf``) are met the
same way: their columns come next, with the tokens outside them masked out (a fine bin cut by a bound
keeps its share) and values drawn inside the range, and each row is kept with probability proportional
to the mass its masked steps kept, which makes the draw exact under the model; a 1% segment of Adult
costs less than as many unconditional rows (docs/benchmarks.md, "Targeted generation of a rare segment").

The implementation keeps the masked first layers of all regressors in one matrix: a batch with
order π multiplies by ``W ⊙ M(π)`` (one matmul for all sub-columns), then each sub-column's output
layer runs on its own slice of the hidden units. Training holds out ``validation_share`` of the rows;
early stopping watches their loss (averaged over a few fixed orders) and the best epoch's weights
are kept, which is what stops the model from memorising rows. Measured quality and time on Adult:
docs/benchmarks.md ("TabularARGN on Adult").
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import nn

from synthloop.errors import ConditionError
from synthloop.nn.blocks import Dropout, adam
from synthloop.nn.runtime import resolve_device, run_threads, torch_generator, torch_threads
from synthloop.nn.trainer import Trainer
from synthloop.synthesizers._stored import ArgnMeta, ArrayCheck, check_names
from synthloop.synthesizers.conditions import ModelPredicate
from synthloop.synthesizers.neural import EncodedConditions, TorchSynthesizer, load_weights
from synthloop.synthesizers.params import POSITIVE_INT, WIDTH, Interval
from synthloop.synthesizers.seeds import SeedTree
from synthloop.transforms.tokens import ColumnTokens, TableTokens

# Fixed random orders the validation loss is averaged over (the same every epoch, so epochs compare).
_VALIDATION_ORDERS = 4
# Most rounds of drawing and thinning one batch of rows inside ranges and sets (``_sample_within``).
_MAX_ROUNDS = 20

# The size rule (``size_rule``): the settings a parameter left at None takes from the number of training rows.
_SIZED = ("bins", "fine_bins", "max_exact", "spike_share", "batch_size", "dropout", "hidden", "table_order_share")
_MOST_BINS, _MOST_FINE, _MOST_EXACT, _MOST_BATCH, _MOST_HIDDEN = 64, 16, 100, 512, 32   # Adult's (39k rows)
_FULL_ROWS, _LEAST_HIDDEN = 32_768, 8   # from _FULL_ROWS rows on: Adult's settings; hidden units grow as √n to it
_BIN_SCALE, _BIN_POWER = 2.0, 1 / 3   # coarse bins: Rice's rule 2 n^⅓
_ROWS_PER_CELL = 36          # training rows per fine cell (coarse × fine) a continuous column aims at
_ROWS_PER_EXACT = 20         # rows per exact value a few-valued numeric column needs to keep one token each
_SPIKE_ROWS = 10             # a point mass needs this many rows for a token of its own (1% of them from _FULL_ROWS)
_STEPS_PER_EPOCH = 32        # batches of at least 32 rows, about this many steps an epoch
_SMALL_ROWS, _SMALL_DROPOUT, _DROPOUT = 10_000, 0.5, 0.25     # below _SMALL_ROWS: more dropout, and
_SMALL_TABLE_ORDER = 0.5     # this share of batches in the table's own order (the one unconditional sampling follows)


class _ARGN(nn.Module):
    """Embeddings, masked regressors and predictors of every sub-column.

    Shapes: S sub-columns with ``cardinalities`` c_s and embedding widths e_s (D = Σ e_s inputs),
    hidden widths h_s (H = Σ h_s). ``first``: (H, D); output layer of sub-column s: (c_s, h_s).
    """

    def __init__(self, cardinalities: list[int], column_of: list[int], embedding_dims: list[int],
                 hidden_dims: list[int], dropout: float):
        super().__init__()
        self.cardinalities = list(cardinalities)
        self.embeddings = nn.ModuleList(nn.Embedding(c, e) for c, e in zip(cardinalities, embedding_dims, strict=True))
        self.dropout = Dropout(dropout)
        sub = torch.arange(len(cardinalities))
        # Derived from the tokens, so not stored: a model file cannot contradict them.
        self.register_buffer("column_of", torch.as_tensor(column_of), persistent=False)               # (S,)
        self.register_buffer("sub_of_input", sub.repeat_interleave(torch.as_tensor(embedding_dims)),  # (D,)
                             persistent=False)
        self.register_buffer("sub_of_hidden", sub.repeat_interleave(torch.as_tensor(hidden_dims)),    # (H,)
                             persistent=False)
        self.hidden_slices = _slices(hidden_dims)
        self.input_slices = _slices(embedding_dims)
        d_in, d_hidden = sum(embedding_dims), sum(hidden_dims)
        bound = 1 / math.sqrt(max(d_in, 1))
        self.first = nn.Parameter(torch.empty(d_hidden, d_in).uniform_(-bound, bound))
        self.first_bias = nn.Parameter(torch.empty(d_hidden).uniform_(-bound, bound))
        self.heads = nn.ModuleList(nn.Linear(h, c) for h, c in zip(hidden_dims, cardinalities, strict=True))

    def mask(self, rank: torch.Tensor) -> torch.Tensor:
        """(H, D) 0/1: hidden units of sub-column s see sub-column t when t's column comes first in the
        order (``rank`` = position of each column), or t is an earlier level of s's own column."""
        column_rank = rank[self.column_of]                                              # (S,)
        same = self.column_of[:, None] == self.column_of[None, :]
        earlier_level = torch.arange(len(self.column_of), device=rank.device)
        sees = (column_rank[None, :] < column_rank[:, None]) | (same & (earlier_level[None, :] < earlier_level[:, None]))
        return sees[self.sub_of_hidden][:, self.sub_of_input].to(self.first.dtype)      # (H, D)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.cat([emb(tokens[:, s]) for s, emb in enumerate(self.embeddings)], dim=1)   # (B, D)

    def forward(self, tokens: torch.Tensor, rank: torch.Tensor) -> list[torch.Tensor]:
        """Logits of every sub-column given the columns before it in the order ``rank``."""
        x = self.dropout(self.embed(tokens))
        hidden = torch.relu(nn.functional.linear(x, self.first * self.mask(rank), self.first_bias))   # (B, H)
        return [head(hidden[:, part]) for head, part in zip(self.heads, self.hidden_slices, strict=True)]

    def loss(self, tokens: torch.Tensor, rank: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood per row (nats), summed over sub-columns."""
        logits = self.forward(tokens, rank)
        return sum(nn.functional.cross_entropy(z, tokens[:, s]) for s, z in enumerate(logits))

    def step_logits(self, x: torch.Tensor, s: int) -> torch.Tensor:
        """Logits of sub-column s given embeddings ``x`` where unknown sub-columns are zero (= masked)."""
        part = self.hidden_slices[s]
        hidden = torch.relu(nn.functional.linear(x, self.first[part], self.first_bias[part]))
        return self.heads[s](hidden)

    def set_embedding(self, x: torch.Tensor, s: int, tokens: torch.Tensor, rows: torch.Tensor) -> None:
        """Write the embeddings of sub-column s's ``tokens`` into ``x`` for the ``rows`` (a boolean mask)."""
        part = self.input_slices[s]
        x[:, part] = torch.where(rows[:, None], self.embeddings[s](tokens), x[:, part])


class TabularARGN(TorchSynthesizer):
    """TabularARGN: any-order auto-regressive generation over tokenised columns (Tiwald et al., 2025).

    The parameters marked *sized* default to None: the fit then takes them from the number of training
    rows (:func:`size_rule`; ``settings_`` shows what a fit used). From 32,768 rows on they are the
    settings tuned on Adult (39k rows); a table of a few hundred rows gets a dozen coarse bins, two fine
    ones, small batches and more dropout, so each token still has rows behind it. A value given
    explicitly always wins. Measured effect: docs/benchmarks.md ("`argn` sized to its table").

    Parameters
    ----------
    hidden
        Units of each sub-column's regressor per nat of its vocabulary: h = hidden × max(1, round(ln c))
        (sized: 32 √(n / 32,768), 8 to 32).
    embedding
        Embedding width of a sub-column with c tokens: min(c, max(embedding, ⌈3 c^¼⌉)).
    dropout
        Dropout on the regressors' input embeddings (sized: 0.25, 0.5 below 10,000 rows).
    bins, fine_bins
        Quantile bins of a continuous numeric column: coarse, then fine inside each coarse bin (sized:
        2 n^⅓ coarse bins, at most 64; fine bins for about 36 rows a cell, 2 to 16).
    max_exact
        A numeric column with at most this many distinct values gets one token per value (sized: n / 20,
        10 to 100).
    spike_share
        A numeric value at least this frequent keeps a token of its own (point masses stay exact; sized:
        1% of the rows from 32,768 rows on, down to 10 rows on small tables, so a few-valued column's
        values come back exactly instead of smeared over a bin).
    table_order_share
        Share of training batches in the table's column order (the rest: random orders). Unconditional
        samples follow the table's order; conditioned columns go first (sized: 0, 0.5 below 10,000 rows,
        where the rows are too few to learn every order's conditionals equally well).
    validation_share
        Rows held out to watch for overfitting (none below 50 rows).
    epochs, batch_size, lr
        Most epochs, rows per step (sized: about 32 steps an epoch, 32 to 512 rows), AdamW learning rate
        (weight decay 1e-4).
    patience
        Stop after this many epochs without a better validation loss; the best epoch's weights are kept.
    device, seed, checkpoint_dir, checkpoint_every, progress, threads
        As for every neural model.
    """

    name = "argn"
    supports_imputation = True
    native_predicates = True
    monitor = "val_loss"
    meta_schema = ArgnMeta
    _SHARE = Interval(0, 1, closed="left")
    param_constraints: ClassVar = {**TorchSynthesizer.param_constraints, "hidden": WIDTH, "embedding": WIDTH,
                                   "dropout": _SHARE, "bins": POSITIVE_INT, "fine_bins": POSITIVE_INT,
                                   "max_exact": Interval(0, None), "spike_share": _SHARE,
                                   "table_order_share": Interval(0, 1),
                                   "validation_share": Interval(0, 0.5, closed="left")}
    test_params: ClassVar = {"epochs": 2, "batch_size": 100, "hidden": 8, "progress": False}

    def __init__(self, *, hidden: int | None = None, embedding: int = 10, dropout: float | None = None, bins: int | None = None,
                 fine_bins: int | None = None, max_exact: int | None = None, spike_share: float | None = None,
                 table_order_share: float | None = None, validation_share: float = 0.1, epochs: int = 200,
                 batch_size: int | None = None, lr: float = 2e-3,
                 patience: int | None = 10, device: str = "auto", seed: int | None = None,
                 checkpoint_dir: str | None = None, checkpoint_every: int = 10, progress: bool = True,
                 threads: int | None = None):
        self.hidden = hidden
        self.embedding = embedding
        self.dropout = dropout
        self.bins = bins
        self.fine_bins = fine_bins
        self.max_exact = max_exact
        self.spike_share = spike_share
        self.table_order_share = table_order_share
        self.validation_share = validation_share
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.device = device
        self.seed = seed
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.progress = progress
        self.threads = threads

    @classmethod
    def search_space(cls, trial) -> dict[str, object]:
        return {"hidden": trial.suggest_categorical("hidden", [16, 32, 64]),
                "dropout": trial.suggest_float("dropout", 0.0, 0.4)}

    # ------------------------------------------------------------------ fit
    def _fit(self, data: pd.DataFrame, seeds: SeedTree) -> None:
        rng = seeds.generator("model")
        train_seed = int(rng.integers(2**62))
        self.seeded_ = seeds.seeded                         # seeded runs use a fixed thread count
        self.fit_threads_ = run_threads(self.threads, seeded=self.seeded_)
        kinds = self.schema_.model_kinds()
        self.tokens_ = TableTokens.fit(data, kinds, {name: self.schema_[name].categories for name in kinds},
                                       **{name: self._setting(name) for name in _SIZED[:4]})
        tokens = self.tokens_.encode(data)
        self._prepare()
        n_valid = round(self.validation_share * len(tokens)) if len(tokens) >= 50 else 0
        shuffled = rng.permutation(len(tokens))
        callbacks = self.callbacks()
        with torch_threads(self.fit_threads_):
            self._build_seeded(seeds, callbacks)
            self.validation_ = torch.as_tensor(tokens[shuffled[:n_valid]], device=self.device_)
            self.validation_orders_ = [torch.as_tensor(rng.permutation(len(kinds)), device=self.device_)
                                       for _ in range(_VALIDATION_ORDERS)]
            trainer = Trainer(epochs=self.epochs, batch_size=self._setting("batch_size"), checkpoint_dir=self.checkpoint_dir,
                              checkpoint_every=self.checkpoint_every, patience=self.patience,
                              callbacks=callbacks, restore_best=n_valid > 0)
            rows = torch.as_tensor(tokens[shuffled[n_valid:]], device=self.device_)
            self.history_ = trainer.fit(self, rows, seed=train_seed, fingerprint=self._fingerprint(tokens))
            self.net_.eval()
        del self.validation_, self.validation_orders_

    def _prepare(self) -> None:
        self.device_ = resolve_device(self.device)

    def _network(self) -> _ARGN:
        cards = self.tokens_.cardinalities
        embedding_dims = [min(c, max(self.embedding, math.ceil(3 * c ** 0.25))) for c in cards]
        hidden_dims = [self._setting("hidden") * max(1, round(math.log(max(c, 2)))) for c in cards]
        return _ARGN(cards, self.tokens_.column_of, embedding_dims, hidden_dims, self._setting("dropout"))

    def _setting(self, name: str) -> Any:
        """A parameter's value, or when left at None the size rule's for the training rows (``size_rule``)."""
        value = getattr(self, name)
        return size_rule(self.n_training_rows_)[name] if value is None else value

    @property
    def settings_(self) -> dict[str, Any]:
        """The sized parameters as this fit used them (explicit values win over the size rule)."""
        return {name: self._setting(name) for name in _SIZED}

    def _build(self) -> None:
        self.net_ = self._network().to(self.device_)
        self.nets_ = {"argn": self.net_}
        self.optimizers_ = {"adamw": adam(self.net_.parameters(), decoupled=True, lr=self.lr, weight_decay=1e-4)}

    def epoch_batches(self, n_rows: int, batch_size: int,
                       rng: np.random.Generator) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Shuffled batches, each with its own random column order (as the rank of every column).

        A share ``table_order_share`` of the batches uses the table's own order, the one unconditional
        sampling follows."""
        n_columns = len(self.tokens_.columns)
        share = self._setting("table_order_share")
        for rows, _ in super().epoch_batches(n_rows, batch_size, rng):
            order = rng.permutation(n_columns)
            table_order = rng.random() < share
            yield rows, np.arange(n_columns) if table_order else np.argsort(order)

    def train_step(self, batch: torch.Tensor, cond: torch.Tensor | None) -> dict[str, float]:
        optimizer = self.optimizers_["adamw"]
        loss = self.net_.loss(batch, cond)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss": loss.item()}

    def validation_losses(self) -> dict[str, float]:
        """Loss of the held-out rows, averaged over fixed random orders (what early stopping watches)."""
        if len(self.validation_) == 0:
            return {}
        self.net_.eval()
        with torch.no_grad():
            losses = [float(self.net_.loss(self.validation_, torch.argsort(order))) for order in self.validation_orders_]
        self.net_.train()
        return {"val_loss": float(np.mean(losses))}

    # ------------------------------------------------------------------ sample
    def _sample(self, n_rows: int, conditions: pd.DataFrame | None, rng: np.random.Generator) -> pd.DataFrame:
        return self._generate_rows(n_rows, conditions, rng)

    def _impute(self, given: pd.DataFrame, known: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """Each row fixes its own given cells: a per-row mask over the sub-columns of ``_generate``."""
        names = self.tokens_.names
        by_column = np.column_stack([known[name].to_numpy(dtype=bool) if name in known.columns
                                     else np.zeros(len(given), dtype=bool) for name in names])
        return self._generate_rows(len(given), given, rng, known=by_column[:, self.tokens_.column_of])

    def _sample_within(self, n_rows: int, conditions: pd.DataFrame | None,
                       predicates: Mapping[str, ModelPredicate], rng: np.random.Generator) -> pd.DataFrame:
        """Rows drawn inside ranges and sets: the conditioned columns first, each from its conditional with the
        tokens outside masked out, then the rest.

        Masking alone would over-draw rows whose later conditioned columns had little admissible mass: the
        exact distribution p(x | x ∈ segment) weights each row by the product of the masses its masked steps
        kept (a fine bin cut by a bound counts its share inside). Rows are kept with probability
        weight / (largest weight seen), which is exact sampling from the restricted model; with one
        conditioned column after the equality ones the weights barely vary and almost every row is kept.
        """
        names = self.tokens_.names
        allowed: dict[int, tuple[int | None, torch.Tensor]] = {}
        within: dict[str, tuple[float, float]] = {}
        first_sub = {name: self.tokens_.column_of.index(i) for i, name in enumerate(names)}
        for name, predicate in predicates.items():
            column = self.tokens_.columns[names.index(name)]
            levels = column.admissible(low=predicate.low, high=predicate.high, low_inclusive=predicate.low_inclusive,
                                       high_inclusive=predicate.high_inclusive, values=predicate.values)
            if levels is None:
                continue                                   # the filter step tests these rows instead
            if not levels[0].any():
                raise ConditionError(f"Cannot sample with these conditions: {self.name} never generates a value of "
                                     f"'{name}' that meets it (its tokens: {_token_summary(column)}).")
            s = first_sub[name]
            allowed[s] = (None, torch.as_tensor(levels[0][None, :], dtype=torch.float32, device=self.device_))
            if len(levels) > 1:
                allowed[s + 1] = (s, torch.as_tensor(levels[1], dtype=torch.float32, device=self.device_))
            if predicate.values is None and column.kind == "numeric":
                within[name] = (predicate.low, predicate.high)
        if conditions is not None:
            conditions = conditions.iloc[:1]
        kept: list[pd.DataFrame] = []
        n_kept, n_drawn, top = 0, 0, -np.inf
        for _ in range(_MAX_ROUNDS):
            rate = n_kept / n_drawn if n_drawn else 1.0
            batch = int(min(max((n_rows - n_kept) / max(rate, 0.05) * 1.1, 64), 10 * n_rows + 64))
            frame, log_weight = self._generate_rows(batch, None if conditions is None else
                                                    conditions.iloc[np.zeros(batch, dtype=int)].reset_index(drop=True),
                                                    rng, allowed=allowed, within=within)
            top = max(top, float(log_weight.max()))
            keep = np.log(rng.random(batch)) <= log_weight - top
            kept.append(frame[keep])
            n_kept += int(keep.sum())
            n_drawn += batch
            if n_kept >= n_rows:
                break
        return pd.concat(kept, ignore_index=True).iloc[:n_rows]

    def _generate_rows(self, n_rows: int, conditions: pd.DataFrame | None, rng: np.random.Generator, *,
                       known: np.ndarray | None = None, allowed: dict | None = None,
                       within: dict[str, tuple[float, float]] | None = None) -> Any:
        """Decoded rows; ``known`` marks the sub-columns fixed to ``conditions`` (one mask, or one per row).

        With ``allowed`` (sub-column → (parent sub-column or None, admissible share of each token)), the
        rows and the log of each row's kept mass (see ``_sample_within``) come back.
        """
        given = None
        if conditions is not None:
            if known is None:
                known = np.isin(np.array(self.tokens_.names)[self.tokens_.column_of], list(conditions.columns))
            filled = pd.DataFrame({name: conditions[name] if name in conditions.columns else np.nan
                                   for name in self.tokens_.names})
            given = EncodedConditions(np.zeros((n_rows, 0, 1), np.float32), self.tokens_.encode(filled), known)
        chunks, weights = [], []
        self.torch_rng_ = torch_generator(int(rng.integers(2**62)), self.device_)
        threads = run_threads(self.threads, seeded=getattr(self, "seeded_", False))
        with torch.no_grad(), torch_threads(threads):
            for start in range(0, n_rows, self.sample_chunk):
                stop = min(start + self.sample_chunk, n_rows)
                part = None if given is None else EncodedConditions(
                    given.cond, given.encoded[start:stop], given.known if given.known.ndim == 1 else given.known[start:stop])
                tokens, log_weight = self._generate_tokens(stop - start, part, allowed or {})
                chunks.append(tokens.cpu().numpy())
                weights.append(log_weight.cpu().numpy())
        frame = self.tokens_.decode(np.concatenate(chunks), rng, within)
        if conditions is not None and known.ndim == 1:
            for column in conditions.columns:            # conditioned values come back exactly as asked
                frame[column] = conditions[column].to_numpy()
        return frame if allowed is None else (frame, np.concatenate(weights))

    def _generate(self, n_rows: int, conditions: EncodedConditions | None, rng: np.random.Generator) -> torch.Tensor:
        """Tokens (not one-hot spans: ``_sample`` decodes them itself) honouring equality ``conditions``."""
        return self._generate_tokens(n_rows, conditions, {})[0]

    def _generate_tokens(self, n_rows: int, conditions: EncodedConditions | None,
                  allowed: dict[int, tuple[int | None, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens sub-column by sub-column: the known ones are set first, then the ``allowed`` (masked) ones,
        then the rest, each group in table order; and each row's log kept mass under the masks.

        ``conditions.known`` is ``(n_sub_columns,)`` (the same columns for every row) or
        ``(n_rows, n_sub_columns)`` (each row its own known cells, as imputation needs): each row's
        order is then its known cells, then its unknown ones in table order, an order the any-order
        training covers.
        """
        net = self.net_
        n_sub = len(net.cardinalities)
        known = np.zeros(n_sub, dtype=bool) if conditions is None else conditions.known
        known = torch.as_tensor(np.broadcast_to(known, (n_rows, n_sub)).copy(), device=self.device_)
        tokens = torch.zeros(n_rows, n_sub, dtype=torch.long, device=self.device_)
        if conditions is not None:
            tokens[known] = torch.as_tensor(conditions.encoded, device=self.device_)[known]
        x = torch.zeros(n_rows, net.first.shape[1], device=self.device_)
        log_weight = torch.zeros(n_rows, device=self.device_)
        for s in range(n_sub):
            net.set_embedding(x, s, tokens[:, s], rows=known[:, s])
        for s in [*sorted(allowed), *(s for s in range(n_sub) if s not in allowed)]:
            rows = ~known[:, s]
            if not rows.any():
                continue
            probs = torch.softmax(net.step_logits(x[rows], s), dim=1)
            if s in allowed:
                parent, share = allowed[s]
                probs = probs * (share if parent is None else share[tokens[rows, parent]])
                mass = probs.sum(dim=1, keepdim=True)
                log_weight[rows] += torch.log(mass.squeeze(1))
                probs = torch.where(mass > 0, probs / mass.clamp_min(1e-30), torch.ones_like(probs))
            tokens[rows, s] = torch.multinomial(probs, 1, generator=self.torch_rng_).squeeze(1)
            net.set_embedding(x, s, tokens[:, s], rows=rows)
        return tokens, log_weight

    # ------------------------------------------------------------------ persistence
    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        token_arrays, token_meta = self.tokens_.to_state()
        arrays = {f"tokens/{key}": value for key, value in token_arrays.items()}
        arrays.update({f"net/argn/{key}": value.detach().cpu().numpy() for key, value in self.net_.state_dict().items()})
        return arrays, {"tokens": token_meta, "history": getattr(self, "history_", []),
                        "fit_threads": self.fit_threads_, "seeded": self.seeded_}

    def _check_state(self, check: ArrayCheck, meta: dict[str, Any]) -> None:
        columns = meta["tokens"]["columns"]
        bins, fine_bins, max_exact, spike_share = (self._setting(name) for name in _SIZED[:4])
        kinds = self.schema_.model_kinds()
        check_names(check, [c["name"] for c in columns], kinds, "stored token columns")
        for i, column in enumerate(columns):
            prefix = f"tokens/{i}/"
            check.require(kinds.get(column["name"], column["kind"]) == column["kind"],
                          f"{prefix}: column {column['name']!r} is {kinds.get(column['name'])}, not {column['kind']}")
            check.require((column.get("labels") is None) == (column["kind"] == "numeric"),
                          f"{prefix}: labels belong to categorical columns only")
            edges = check.take(prefix + "edges", "f", (None,))
            n_bins = None if edges is None else max(len(edges) - 1, 0)
            check.require(edges is None or (len(edges) != 1 and n_bins <= bins),
                          f"{prefix}edges: {0 if edges is None else len(edges)} edges do not fit bins={bins}")
            fine = check.take(prefix + "fine", "f", (n_bins, None))
            check.require(fine is None or not n_bins or 2 <= fine.shape[1] <= fine_bins + 1,
                          f"{prefix}fine: {None if fine is None else fine.shape[1]} edges per bin do not fit "
                          f"fine_bins={fine_bins}")
            if column["kind"] == "numeric":
                values = check.take(prefix + "values", "f", (None,))
                most = max_exact if not n_bins else (
                    math.floor(1 / spike_share + 1e-9) if spike_share > 0 else self.n_training_rows_)
                check.require(values is None or len(values) <= most,
                              f"{prefix}values: {0 if values is None else len(values)} exact values do not fit "
                              f"max_exact={max_exact}, spike_share={spike_share}")
        check.take_prefix("net/", "f")               # names and shapes: torch's strict load_state_dict

    def from_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        token_arrays = {k.removeprefix("tokens/"): v for k, v in arrays.items() if k.startswith("tokens/")}
        self.tokens_ = TableTokens.from_state(token_arrays, meta["tokens"])
        self._prepare()
        self._build()
        load_weights(self.name, "argn", self.net_, arrays)
        self.history_ = meta.get("history", [])
        self.fit_threads_ = int(meta.get("fit_threads", 0) or 0) or None
        self.seeded_ = bool(meta.get("seeded", False))


def size_rule(n_rows: int) -> dict[str, float | int]:
    """The settings of the parameters left at None, from the number of training rows ``n``.

    The defaults were tuned on Adult's 39k rows; on a few hundred rows its 64 × 16 quantile bins leave
    each token a handful of rows, and a network of Adult's width memorises them within a few epochs (on
    breast_cancer the best validation epoch was the 7th; DCR ratios 1.8–3.1: rows far from any real
    row). So:

    - coarse bins follow Rice's rule, 2 n^⅓ (13 on 275 rows, 64 from 32,768); fine bins keep about 36
      rows in each coarse × fine cell (2 to 16; 16 on Adult: 39k rows / 1,024 cells);
    - a numeric column is all exact tokens when it has at most n / 20 distinct values (10 to 100); a
      value keeps a token of its own from 10 rows on (1% of the rows from 32,768 rows, as on Adult);
    - batches give about 32 steps an epoch (32 to 512 rows); hidden units per nat grow as √n (8 to 32);
    - below 10,000 rows dropout is 0.5 (not 0.25) and half the batches use the table's own column
      order, the one unconditional sampling follows (the other half: random orders, which conditions
      and imputation need).

    From 32,768 rows on this is exactly the Adult settings (64 × 16 bins, 100 exact values, 1% point
    masses, batch 512, hidden 32, dropout 0.25, random orders only). Measured on the privacy-parity
    tables (docs/benchmarks.md, "`argn` sized to its table", seed 0), detection AUC: penguins 0.728 →
    0.500, breast_cancer 0.959 → 0.633, abalone 0.819 → 0.616, nyse 0.750 → 0.585, charity 0.620 →
    0.579, restaurants 0.660 → 0.631 (within 0.05 of the best other system on 5 of 8 tables, was 2);
    breast_cancer's TSTR 0.473 → 0.982. The largest single effects: the narrower network (breast_cancer
    0.823 → 0.734), the table-order batches (abalone 0.697 → 0.602, breast_cancer 0.734 → 0.643) and the
    10-row point masses (charity 0.616 → 0.579).
    """
    n = max(int(n_rows), 1)
    bins = int(np.clip(round(_BIN_SCALE * n ** _BIN_POWER), 4, _MOST_BINS))
    return {"bins": bins,
            "fine_bins": int(np.clip(n // (bins * _ROWS_PER_CELL), 2, _MOST_FINE)),
            "max_exact": int(np.clip(n // _ROWS_PER_EXACT, 10, _MOST_EXACT)),
            "spike_share": max(_SPIKE_ROWS / n, 0.01 * min(1.0, n / _FULL_ROWS)),
            "batch_size": int(np.clip(2 ** int(math.log2(max(n / _STEPS_PER_EPOCH, 1))), 32, _MOST_BATCH)),
            "dropout": _SMALL_DROPOUT if n < _SMALL_ROWS else _DROPOUT,
            "hidden": int(np.clip(round(_MOST_HIDDEN * math.sqrt(n / _FULL_ROWS)), _LEAST_HIDDEN, _MOST_HIDDEN)),
            "table_order_share": _SMALL_TABLE_ORDER if n < _SMALL_ROWS else 0.0}


def _slices(widths: list[int]) -> list[slice]:
    ends = np.cumsum([0, *widths])
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(ends)]


def _token_summary(column: ColumnTokens) -> str:
    """A short account of what a column's tokens can produce, for error messages."""
    if column.kind == "categorical":
        return ", ".join(map(str, column.values[:8])) + (" ..." if len(column.values) > 8 else "")
    parts = [f"{len(column.values)} exact values"] if len(column.values) else []
    if column.n_bins:
        parts.append(f"bins over {column.edges[0]:g}..{column.edges[-1]:g}")
    return ", ".join(parts)
