"""The Synthesizer contract: fit / sample / params / save / load, shared by every model.

``fit`` and ``sample`` are template methods. The base class validates input, infers the schema,
converts user data to the *model view* (numerics and datetimes as float with NaN, categoricals and
booleans as string labels with NaN; ids and constants are not learned), and back again on output.
It also owns what every model needs and no model should re-implement:

- conditions (``sample(n, conditions={"income": ">50K"})`` or a frame of conditions): passed to
  models with native conditioning, met by rejection otherwise; exactly ``n`` rows or a clear error;
- domain constraints: invalid rows are regenerated, with an acceptance-rate budget;
- privacy (``sample(n, privacy="parity"|"no-copies"|"off")``, see ``synthesizers/privacy.py``): rows
  that copy or sit too close to training rows are regenerated the same way; ``last_sample_info_``
  says how many were replaced;
- reproducibility: ``seed`` drives fitting, and sample calls draw from ``(seed, call number)``;
- safe files: ``save`` writes JSON + safetensors; ``load`` never unpickles.

A model implements ``_fit(model_frame, rng)``, ``_sample(n_rows, conditions, rng)`` and, to be
saveable, ``_state()`` / ``_load_state(arrays, meta)``.
"""

from __future__ import annotations

import difflib
import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from synthloop.errors import ConditionError, ConfigError, ConstraintError, DataError, NotFittedError
from synthloop.io.artifacts import check_artifact_target, load_artifact, save_artifact
from synthloop.schema import Schema
from synthloop.schema.constraints import valid_mask
from synthloop.schema.schema import check_frame
from synthloop.schema.values import InfOption, infinite_to_missing, model_numbers, to_labels
from synthloop.synthesizers.privacy import (
    DEFAULT_PRIVACY,
    PrivacyFilter,
    PrivacyMode,
    PrivacyReference,
)

ConditionsLike = Mapping[str, object] | pd.DataFrame | None

# Rejection sampling gives up once this many rows were drawn per requested row with too few accepted.
_MAX_DRAWS_PER_ROW = 200
_MAX_ROUNDS = 60
# Arrays of the privacy reference sit beside the model's own in weights.safetensors under this prefix.
_PRIVACY_PREFIX = "_privacy/"


class Synthesizer(ABC):
    """Base class of every synthesizer. Subclasses store their keyword-only params in ``__init__``."""

    name: ClassVar[str]
    #: The model's ``_sample`` honours a conditions frame itself (no rejection needed).
    native_conditions: ClassVar[bool] = False
    #: The model cannot be built without one learned column (a network needs an input).
    needs_learned_columns: ClassVar[bool] = False

    seed: int | None

    # ------------------------------------------------------------------ params
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p.name for p in signature.parameters.values() if p.name != "self" and p.kind is p.KEYWORD_ONLY]

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters and their current values."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Self:
        """Set constructor parameters by name; unknown names raise ConfigError with a suggestion."""
        names = self._param_names()
        for key, value in params.items():
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                raise ConfigError(f"'{self.name}' has no parameter '{key}'.{hint} Parameters: {', '.join(names)}.")
            setattr(self, key, value)
        return self

    def clone(self) -> Self:
        """An unfitted copy with the same parameters."""
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.get_params().items() if v != _default(type(self), k)}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """Hyperparameters for automatic search (optuna trial → params); default: none."""
        return {}

    # ------------------------------------------------------------------ fit
    def fit(self, data: pd.DataFrame, schema: Schema | None = None, *, inf: InfOption = "error") -> Self:
        """Learn ``data``. The schema is inferred when not given; it is validated either way.

        ``inf="missing"`` reads infinite numbers as missing values; by default they refuse the table.
        """
        check_frame(data, what="training data")
        if len(data) < 2:
            raise DataError(f"The training data has {len(data)} row; a synthesizer needs at least 2 rows.")
        data = infinite_to_missing(data.rename(columns=str), inf)
        schema = schema if schema is not None else Schema.infer(data)
        schema.validate(data, what="training data")
        fitted = tuple(c.fitted(data) for c in schema.constraints)
        if self.needs_learned_columns and not schema.modelled():
            raise DataError(f"{self.name} has nothing to learn: every column is an id or a constant "
                            f"({', '.join(repr(c.name) for c in schema.columns)}). Declare a column's kind "
                            "(e.g. kinds={'x': 'categorical'}), or use the 'independent' model, which copies them.")
        self.schema_ = replace(schema, constraints=fitted)
        self.n_training_rows_ = len(data)
        self._sample_calls = 0
        model_frame = self.schema_.to_model_frame(data)
        self._fit(model_frame, np.random.default_rng(self.seed))
        self.privacy_reference_ = PrivacyReference.build(self.schema_, model_frame, np.random.default_rng(self.seed))
        return self

    @abstractmethod
    def _fit(self, data: pd.DataFrame, rng: np.random.Generator) -> None:
        """Learn the model view of the data (float numerics, str categoricals, NaN = missing)."""

    # ------------------------------------------------------------------ sample
    def sample(self, n_rows: int, *, conditions: ConditionsLike = None, seed: int | None = None,
               privacy: PrivacyMode = DEFAULT_PRIVACY) -> pd.DataFrame:
        """Generate exactly ``n_rows`` rows that meet ``conditions``, the schema's constraints and ``privacy``.

        Parameters
        ----------
        n_rows
            Rows to generate (ignored when ``conditions`` is a DataFrame: one row per condition row).
        conditions
            ``{"column": value}`` applied to every row, or a DataFrame with one condition row per
            output row. Condition values must be labels seen in training.
        seed
            Makes this call reproducible; without it, each call continues the model's seed.
        privacy
            ``"parity"`` (default): no more exact training copies, and no more rows unusually close to
            a training row, than real held-out rows have (measured by cross-fitting at fit time);
            ``"no-copies"``: no training row verbatim (``PrivacyError`` when impossible); ``"off"``.
            Offending rows are regenerated, not dropped; ``self.last_sample_info_`` reports how many.
        """
        self._check_fitted()
        privacy_filter = PrivacyFilter(privacy, getattr(self, "privacy_reference_", None), self.schema_)
        rng = self._sample_rng(seed)
        cond = self._condition_frame(n_rows, conditions)
        n_rows = len(cond) if cond is not None else _check_n_rows(n_rows)
        if n_rows == 0:
            empty = {name: pd.Series(dtype="float64" if kind == "numeric" else object)
                     for name, kind in self.schema_.model_kinds().items()}
            self.last_sample_info_ = privacy_filter.info
            return self._to_user(pd.DataFrame(empty))
        if cond is None:
            model_rows = self._draw_valid(n_rows, None, rng, privacy_filter)
        else:
            model_rows = self._draw_conditioned(cond, rng, privacy_filter)
        self.last_sample_info_ = privacy_filter.finish(model_rows, self._canonical(model_rows))
        return self._to_user(model_rows)

    def _draw_conditioned(self, cond: pd.DataFrame, rng: np.random.Generator,
                          privacy: PrivacyFilter | None = None) -> pd.DataFrame:
        """Group identical condition rows and fill each group, keeping the caller's row order."""
        keys = pd.MultiIndex.from_frame(cond.astype(object).fillna("\0nan"))
        parts = []
        for _, positions in pd.Series(np.arange(len(cond))).groupby(pd.factorize(keys)[0]):
            group = cond.iloc[positions.to_numpy()].reset_index(drop=True)
            drawn = self._draw_valid(len(group), group, rng, privacy)
            drawn.index = positions.to_numpy()
            parts.append(drawn)
        return pd.concat(parts).sort_index().reset_index(drop=True)

    def _draw_valid(self, n_rows: int, cond: pd.DataFrame | None, rng: np.random.Generator,
                    privacy: PrivacyFilter | None = None) -> pd.DataFrame:
        """Draw until ``n_rows`` rows pass conditions, constraints and privacy filters, or give up clearly."""
        accepted: list[pd.DataFrame] = []
        n_accepted = n_drawn = 0
        privacy = privacy if privacy is not None and privacy.active else None
        replaced_before = privacy.start_group(n_rows) if privacy is not None else 0
        for _ in range(_MAX_ROUNDS):
            missing = n_rows - n_accepted
            rate = max(n_accepted / n_drawn, 0.02) if n_drawn else 1.0
            batch = int(min(max(missing / rate * 1.2, 64), 2_000_000))
            batch_cond = None if cond is None else _repeat_first(cond, batch)  # one condition per group
            drawn = self._sample(batch, batch_cond if self.native_conditions else None, rng)
            drawn = drawn.reset_index(drop=True)
            mask = self._accept(drawn, batch_cond)
            if privacy is not None and mask.any():
                mask[np.flatnonzero(mask)] = privacy.keep(drawn[mask], self._canonical(drawn[mask]))
            n_drawn += batch
            kept = drawn[mask]
            n_accepted += len(kept)
            accepted.append(kept)
            if n_accepted >= n_rows:
                return pd.concat(accepted, ignore_index=True).iloc[:n_rows].reset_index(drop=True)
            if n_drawn >= _MAX_DRAWS_PER_ROW * n_rows + 10_000 and n_accepted < n_rows:
                break
        if privacy is not None and privacy.info.n_replaced > replaced_before:
            where = "" if cond is None else " with " + ", ".join(f"{c}={cond[c].iloc[0]!r}" for c in cond.columns)
            privacy.raise_impossible(n_rows, n_accepted, n_drawn, privacy.info.n_replaced - replaced_before, where)
        self._raise_impossible(n_rows, n_accepted, n_drawn, cond)

    def _canonical(self, model_rows: pd.DataFrame) -> pd.DataFrame:
        """Model rows as they will come out (rounded, clipped), in model view: what copy checks compare."""
        model_rows = model_rows.reset_index(drop=True)
        if type(self)._to_user is not Synthesizer._to_user:
            return self.schema_.to_model_frame(self._to_user(model_rows))
        # Labels pass through unchanged; only numerics and datetimes are rounded and clipped on output.
        restored = replace(self.schema_, columns=self.schema_.of_kind("numeric", "datetime"), target=None, constraints=())
        canonical = model_rows.copy()
        numeric = restored.to_model_frame(restored.from_model_frame(model_rows))
        canonical[list(numeric.columns)] = numeric
        return canonical

    def _accept(self, model_rows: pd.DataFrame, cond: pd.DataFrame | None) -> np.ndarray:
        """Rows that match their condition and satisfy every constraint."""
        ok = np.ones(len(model_rows), dtype=bool)
        if cond is not None:
            for column in cond.columns:
                ok &= _same(model_rows[column].to_numpy(), cond[column].to_numpy())
        if self.schema_.constraints and ok.any():
            ok &= valid_mask(self.schema_.constraints, self._to_user(model_rows))
        return ok

    def _raise_impossible(self, n_rows: int, n_accepted: int, n_drawn: int, cond: pd.DataFrame | None) -> None:
        what = []
        if cond is not None:
            what.append("conditions " + ", ".join(f"{c}={cond[c].iloc[0]!r}" for c in cond.columns))
        if self.schema_.constraints:
            what.append(f"{len(self.schema_.constraints)} constraint(s) "
                        + "; ".join(type(c).__name__ + str(list(c.columns)) for c in self.schema_.constraints))
        error = ConditionError if cond is not None and not self.schema_.constraints else ConstraintError
        raise error(
            f"Only {n_accepted:,} of {n_drawn:,} generated rows satisfied {' and '.join(what) or 'the filters'}, "
            f"but {n_rows:,} were asked for. The request looks impossible for this model; relax the "
            "constraints or conditions, or check that the training data contains such rows.")

    @abstractmethod
    def _sample(self, n_rows: int, conditions: pd.DataFrame | None, rng: np.random.Generator) -> pd.DataFrame:
        """Draw ``n_rows`` rows in the model view; with ``native_conditions``, honour ``conditions``."""

    def _to_user(self, model_rows: pd.DataFrame) -> pd.DataFrame:
        return self.schema_.from_model_frame(model_rows)

    def _sample_rng(self, seed: int | None) -> np.random.Generator:
        if seed is not None:
            return np.random.default_rng(seed)
        self._sample_calls = getattr(self, "_sample_calls", 0) + 1
        if self.seed is None:
            return np.random.default_rng()
        return np.random.default_rng([self.seed, self._sample_calls])

    def _condition_frame(self, n_rows: int, conditions: ConditionsLike) -> pd.DataFrame | None:
        """Conditions in the model view, one row per output row; unknown columns or labels raise."""
        if conditions is None:
            return None
        if isinstance(conditions, pd.DataFrame):
            frame = conditions.rename(columns=str).reset_index(drop=True)
            if len(frame) == 0:
                raise ConditionError("The conditions table has no rows.")
        elif isinstance(conditions, Mapping):
            if not conditions:
                return None
            frame = pd.DataFrame({str(k): [v] * _check_n_rows(n_rows) for k, v in conditions.items()})
        else:
            raise ConditionError(f"conditions must be a dict or a DataFrame, got {type(conditions).__name__}.")
        problems, out = [], {}
        kinds = self.schema_.model_kinds()
        for name in frame.columns:
            if name not in kinds:
                problems.append(f"'{name}' is not a learned column (learned: {', '.join(kinds)})")
                continue
            column = self.schema_[name]
            if kinds[name] == "numeric":
                if not self.native_conditions:
                    problems.append(f"'{name}' is numeric; {self.name} can condition on categorical columns only")
                out[name] = model_numbers(column, frame[name])
                continue
            labels = to_labels(frame[name])
            unseen = sorted(set(labels.dropna()) - set(column.categories or ()))
            if unseen:
                shown = ", ".join(map(repr, (column.categories or ())[:10]))
                problems.append(f"'{name}' has no category {', '.join(map(repr, unseen[:3]))} in training; seen: {shown}")
            out[name] = labels
        if problems:
            raise ConditionError("Cannot sample with these conditions:\n" + "\n".join(f"  - {p}" for p in problems))
        return pd.DataFrame(out)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, *, privacy_reference: bool = True, overwrite: bool = False) -> Path:
        """Write ``config.json``, ``schema.json`` and ``weights.safetensors`` to a directory, atomically.

        The target must be new, empty, or (with ``overwrite=True``) a saved synthloop model: a folder
        holding anything else is refused untouched, before any work (``ArtifactError``).

        With ``privacy_reference`` (default) the file keeps the training-row hashes and nearest-neighbour
        reference that ``sample(privacy=...)`` checks against: the directory is then as sensitive as the
        training data. ``privacy_reference=False`` leaves them out; the loaded model samples with
        ``privacy="off"`` only.
        """
        self._check_fitted()
        from synthloop import __version__

        check_artifact_target(path, overwrite=overwrite)
        arrays, meta = self._state()
        reference = getattr(self, "privacy_reference_", None)
        privacy_meta = None
        if privacy_reference and reference is not None:
            privacy_arrays, privacy_meta = reference.to_state()
            arrays = {**arrays, **{_PRIVACY_PREFIX + k: v for k, v in privacy_arrays.items()}}
        config = {"synthesizer": self.name, "synthloop_version": __version__, "params": self.get_params(),
                  "n_training_rows": self.n_training_rows_, "meta": meta, "privacy_reference": privacy_meta}
        return save_artifact(path, config, self.schema_.to_json(), arrays, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | Path) -> Synthesizer:
        """Load a saved model directory (any registered synthesizer); never executes code from it."""
        from synthloop.errors import ArtifactError
        from synthloop.synthesizers import get_class

        config, schema_json, arrays = load_artifact(path)
        try:
            model_cls = get_class(config["synthesizer"])
        except ConfigError as exc:
            raise ArtifactError(f"'{path}' was saved by an unknown synthesizer: {exc}") from None
        if cls is not Synthesizer and not issubclass(model_cls, cls):
            raise ArtifactError(f"'{path}' holds a '{config['synthesizer']}' model, not a {cls.__name__}.")
        params = {k: v for k, v in config.get("params", {}).items() if k in model_cls._param_names()}
        model = model_cls(**params)
        model.schema_ = Schema.from_json(schema_json)
        model.n_training_rows_ = int(config.get("n_training_rows", 0))
        model._sample_calls = 0
        privacy_arrays = {k[len(_PRIVACY_PREFIX):]: arrays.pop(k) for k in list(arrays) if k.startswith(_PRIVACY_PREFIX)}
        try:
            model._load_state(arrays, config.get("meta", {}))
            if config.get("privacy_reference"):
                model.privacy_reference_ = PrivacyReference.from_state(privacy_arrays, config["privacy_reference"])
        except (KeyError, ValueError, TypeError) as exc:
            detail = str(exc) if type(exc) is ValueError else repr(exc)      # our own ValueErrors read as sentences
            raise ArtifactError(f"'{path}' is corrupt or from another version: {detail}. Re-train the model.") from None
        return model

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Learned arrays (for safetensors) and JSON-able metadata. Override to make a model saveable."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved yet.")

    def _load_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot be loaded yet.")

    # ------------------------------------------------------------------ helpers
    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "schema_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit(data) first.")


def _default(cls: type, name: str) -> Any:
    return inspect.signature(cls.__init__).parameters[name].default


def _check_n_rows(n_rows: object) -> int:
    if isinstance(n_rows, bool) or not isinstance(n_rows, (int, np.integer)) or n_rows < 0:
        raise ConfigError(f"n_rows must be a whole number ≥ 0, got {n_rows!r}.")
    return int(n_rows)


def _repeat_first(cond: pd.DataFrame, n_rows: int) -> pd.DataFrame:
    return pd.DataFrame({c: np.repeat(cond[c].to_numpy()[:1], n_rows) for c in cond.columns})


def _same(values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    values = pd.Series(values)
    wanted = pd.Series(wanted)
    both_missing = values.isna().to_numpy() & wanted.isna().to_numpy()
    return (values.to_numpy() == wanted.to_numpy()) | both_missing


def params_to_json(params: Mapping[str, Any]) -> str:
    return json.dumps(dict(params), sort_keys=True, default=list)
