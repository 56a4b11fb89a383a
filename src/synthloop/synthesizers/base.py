"""The Synthesizer contract: fit / sample / params / save / load, shared by every model.

``fit`` and ``sample`` are template methods. The base class validates input, infers the schema,
converts user data to the *model view* (numerics and datetimes as float with NaN, categoricals and
booleans as string labels with NaN; ids and constants are not learned), and back again on output.
It also owns what every model needs and no model should re-implement:

- the sampling pipeline (``synthesizers/sampling.py``): conditions (``sample(n, conditions=...)``,
  passed to models with native conditioning, checked on every row), domain constraints and privacy
  (``sample(n, privacy="parity"|"no-copies"|"off")``, see ``synthloop.privacy``) are row steps;
  rejected rows are regenerated until exactly ``n`` rows pass, or a clear error says which step
  blocked; ``last_sample_info_`` says how many rows privacy replaced;
- the privacy reference: built from the training rows (kept in memory, never saved by default) on
  the first sample that asks for privacy;
- reproducibility: ``seed`` drives fitting, and sample calls draw from ``(seed, call number)``;
- safe files: ``save`` writes JSON + safetensors; ``load`` never unpickles.

A model implements ``_fit(model_frame, seeds)``, ``_sample(n_rows, conditions, rng)`` and, to be
saveable, ``to_state() -> (arrays, meta)`` and ``from_state(arrays, meta)`` (the one state protocol of
encoders, conditioners, privacy references and models; a model is rebuilt from its parameters,
then ``from_state`` fills in what it learned).
"""

from __future__ import annotations

import inspect
import json
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from pydantic import BaseModel

from synthloop._version import __version__
from synthloop.errors import (
    ArtifactError,
    ConditionError,
    ConfigError,
    DataError,
    NotFittedError,
    PrivacyError,
    SynthloopError,
    SynthloopWarning,
)
from synthloop.io.artifacts import check_artifact_target, check_json, load_artifact, save_artifact
from synthloop.privacy import DEFAULT_PRIVACY, PrivacyMode, PrivacyReference, PrivacyStep, SampleInfo, check_mode
from synthloop.privacy.reference import load_reference
from synthloop.schema import Schema
from synthloop.schema.schema import check_frame
from synthloop.schema.values import InfOption, infinite_to_missing, model_numbers
from synthloop.synthesizers._stored import ArrayCheck, params_model
from synthloop.synthesizers.conditions import (
    FilterStep,
    ModelPredicate,
    Predicate,
    check_numeric_values,
    describe,
    reference_rows,
    segment_rows,
    split_conditions,
)
from synthloop.synthesizers.params import RUN_OPTIONS, Constraint, check_params, param_names, run_options
from synthloop.synthesizers.sampling import Candidates, ConditionStep, ConstraintStep, RowStep, draw_until
from synthloop.synthesizers.seeds import SeedTree
from synthloop.tabular.hashing import hash_rows
from synthloop.tabular.labels import to_labels

ConditionsLike = Mapping[str, object] | pd.DataFrame | None


class Synthesizer(ABC):
    """Base class of every synthesizer. Subclasses store their keyword-only params in ``__init__``."""

    name: ClassVar[str]
    #: The model's ``_sample`` honours a conditions frame itself (no rejection needed).
    native_conditions: ClassVar[bool] = False
    #: The model meets ranges and sets while it draws (``_sample_within``); the filter step still checks every row.
    native_predicates: ClassVar[bool] = False
    #: The model implements ``_impute``: each row its own given cells (see ``impute``).
    supports_imputation: ClassVar[bool] = False
    #: False for models that must never hold training rows (differentially private models): ``fit``
    #: then keeps no rows for the privacy reference, and privacy="parity"/"no-copies" are refused.
    keeps_training_rows: ClassVar[bool] = True
    #: Strict model of the ``meta`` this synthesizer saves in config.json (None: any JSON object).
    meta_schema: ClassVar[type[BaseModel] | None] = None
    #: The model cannot be built without one learned column (a network needs an input).
    needs_learned_columns: ClassVar[bool] = False

    seed: int | None

    # ------------------------------------------------------------------ params
    #: Ranges and choices of parameters, checked with the type hints by :func:`~synthloop.synthesizers.params.check_params`.
    param_constraints: ClassVar[Mapping[str, Constraint]] = {}
    #: Parameters that change how a fit or sample runs, not what is learned: never saved with the model.
    run_options: ClassVar[frozenset[str]] = RUN_OPTIONS
    #: Parameters that make the contract suite (``synthloop.testing``) fit in about a second on 300 rows.
    test_params: ClassVar[Mapping[str, Any]] = {}

    @classmethod
    def _param_names(cls) -> list[str]:
        return param_names(cls)

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters and their current values (hyperparameters and run options)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def hyperparameters(self) -> dict[str, Any]:
        """The parameters that define what is learned: what a saved model and a lineage record keep."""
        options = run_options(type(self))
        return {name: value for name, value in self.get_params().items() if name not in options}

    def set_params(self, **params: Any) -> Self:
        """Set constructor parameters by name, checked and normalised; every problem in one ConfigError."""
        for key, value in check_params(type(self), params).items():
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
        params = check_params(type(self), self.get_params())   # also catches attributes set directly
        for key, value in params.items():
            setattr(self, key, value)
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
        seeds = SeedTree(params.get("seed", getattr(self, "seed", None)))     # the only read of the seed in a fit
        self._fit(model_frame, seeds)
        self._calibration_seed = seeds.sequence("calibration")
        # The privacy reference is built from these rows only when a sample or a save asks for it; they
        # stay in memory, never in a file (see synthloop.privacy.reference).
        self._privacy_reference: PrivacyReference | None = None
        self._hashes_of_training: np.ndarray | None = None
        self._training_rows = model_frame if self.keeps_training_rows else None
        return self

    @abstractmethod
    def _fit(self, data: pd.DataFrame, seeds: SeedTree) -> None:
        """Learn the model view of the data (float numerics, str categoricals, NaN = missing).

        ``seeds`` is the fit's seed tree: draw from ``seeds.generator("model")`` (and the other named
        children a model needs), never from ``self.seed`` or a global random state.
        """

    # ------------------------------------------------------------------ sample
    def sample(self, n_rows: int, *, conditions: ConditionsLike = None, seed: int | None = None,
               privacy: PrivacyMode | None = None, min_segment_rows: int = 10,
               steps: Sequence[RowStep] = ()) -> pd.DataFrame:
        """Generate exactly ``n_rows`` rows that meet ``conditions``, the schema's constraints and ``privacy``.

        Parameters
        ----------
        n_rows
            Rows to generate (ignored when ``conditions`` is a DataFrame: one row per condition row).
        conditions
            ``{"column": value}`` applied to every row, or a DataFrame with one condition row per
            output row. Condition values must be labels seen in training, or numbers in the training
            range (whole numbers on an integer column). In the dict, a value may also be a
            ``Range(low=30)`` or ``OneOf(["Sales", "Tech-support"])`` (``synthloop.synthesizers.Range``, ``OneOf``):
            met by regenerating rows outside them, for every model (``native_predicates`` models also meet
            them while drawing). A condition no row can meet
            raises ``ConditionError`` before anything is drawn.
        seed
            Makes this call reproducible; without it, each call continues the model's seed.
        privacy
            ``"parity"`` (the default): no more exact training copies, and no more rows unusually close
            to a training row, than real held-out rows have (measured by cross-fitting);
            ``"no-copies"``: no training row verbatim (``PrivacyError`` when impossible); ``"off"``.
            Offending rows are regenerated, not dropped; ``self.last_sample_info_`` reports how many.
            Both need the training rows: a model loaded without its privacy reference raises
            ``PrivacyError`` when one is asked for, and by default samples with ``"off"`` and a warning.
        min_segment_rows
            Warn (``SynthloopWarning``, also in ``last_sample_info_.note``) when fewer training rows than
            this meet dict conditions: the synthetic rows of so small a segment describe very few people.
            Counted from the training rows held since ``fit``, or from the privacy reference a loaded model
            found; skipped when neither can tell.
        steps
            Extra row steps (``synthesizers.sampling.RowStep``), run after conditions and constraints and
            before privacy, e.g. ``synthloop.align.align_step(model, target)`` or ``refine_step(model, real)``.
        """
        self._check_fitted()
        mode = check_mode(DEFAULT_PRIVACY if privacy is None else privacy)
        rng = self._sample_rng(seed)
        predicates: dict[str, Predicate] = {}
        if isinstance(conditions, Mapping):
            conditions, predicates = split_conditions(conditions)
        cond = self._condition_frame(n_rows, conditions)
        filters = self._filter_step(predicates)
        n_rows = len(cond) if cond is not None else _check_n_rows(n_rows)
        step, info = self._privacy_step(mode, default=privacy is None)
        segment_note = self._segment_note(cond if isinstance(conditions, Mapping) else None, predicates, filters,
                                          min_segment_rows)
        if segment_note:
            warnings.warn(segment_note, SynthloopWarning, stacklevel=2)
        if n_rows == 0:
            empty = {name: pd.Series(dtype="float64" if kind == "numeric" else object)
                     for name, kind in self.schema_.model_kinds().items()}
            self.last_sample_info_ = info
            return self._to_user(pd.DataFrame(empty))
        privacy_steps = [*steps, step] if step is not None else list(steps)
        if cond is None:
            model_rows = self._draw(n_rows, None, privacy_steps, rng, filters)
        else:
            model_rows = self._draw_conditioned(cond, privacy_steps, rng, filters)
        canonical = self._canonical(model_rows)
        if step is not None:
            info = step.finish(model_rows, canonical)
            if info.n_below_parity:
                warnings.warn(info.note, SynthloopWarning, stacklevel=2)
        else:
            info.n_rows = len(model_rows)
            hashes = self._training_hashes()
            info.n_copies_returned = None if hashes is None else int(self._copies(canonical, hashes).sum())
        if segment_note:
            info.note = f"{info.note} {segment_note}".strip()
        self.last_sample_info_ = info
        return self._to_user(model_rows)

    def _privacy_step(self, mode: str, *, default: bool) -> tuple[PrivacyStep | None, SampleInfo]:
        """The privacy row step for ``mode`` (None for "off"), building the reference on first use."""
        if mode == "off":
            return None, SampleInfo(privacy="off")
        reference = self.privacy_reference_
        if reference is not None:
            step = PrivacyStep(mode, reference, self.schema_, degrade=default, model=self.name)
            return step, step.info
        why = (f"{type(self).__name__} never keeps training rows (keeps_training_rows = False)"
               if not self.keeps_training_rows else
               "this model was loaded without its privacy reference (the model folder holds none unless asked: "
               "load it with Synthesizer.load(path, privacy_reference=DIR) from model.save_privacy_reference(DIR); "
               "the CLI's fit keeps it in OUT.privacy and sample finds it there, or --privacy-reference DIR)")
        if not default:
            raise PrivacyError(f"privacy={mode!r} needs the training rows, but {why}. Sample with privacy='off', "
                               "or re-fit the model (a fitted model builds the reference when a sample needs it).")
        note = f"privacy checks skipped: {why}."
        if self.keeps_training_rows:
            warnings.warn(f"Sampling with privacy='off': {why}.", SynthloopWarning, stacklevel=3)
        return None, SampleInfo(privacy="off", note=note)

    @property
    def privacy_reference_(self) -> PrivacyReference | None:
        """The training-row reference of the privacy step, built on first use; None when the rows are gone.

        Built from the training rows kept in memory since ``fit`` (seeded by the fit's ``calibration`` seed child, so a rebuilt
        reference is the same), or loaded from a model folder that kept it.
        """
        self._check_fitted()
        reference = getattr(self, "_privacy_reference", None)
        if reference is None and getattr(self, "_training_rows", None) is not None:
            reference = PrivacyReference.build(self.schema_.model_kinds(), self._training_rows,
                                               np.random.default_rng(self._calibration_seed))
            self._privacy_reference = reference
        return reference

    def forget_training_rows(self) -> Self:
        """Drop the training rows and the privacy reference held in memory: the model then samples as a
        model loaded without its reference does (privacy off, no model-level copy avoidance)."""
        self._check_fitted()
        self._training_rows = self._privacy_reference = self._hashes_of_training = None
        return self

    def _training_hashes(self) -> np.ndarray | None:
        """Row hashes of the training rows (to count copies when privacy is off), or None."""
        reference = getattr(self, "_privacy_reference", None)
        if reference is not None:
            return reference.hashes
        if getattr(self, "_training_rows", None) is None:
            return None
        if getattr(self, "_hashes_of_training", None) is None:
            self._hashes_of_training = np.unique(self._row_hashes(self._training_rows))
        return self._hashes_of_training

    def _row_hashes(self, model_rows: pd.DataFrame) -> np.ndarray:
        """The shared row hash (:mod:`synthloop.tabular.hashing`) of each row in model view."""
        kinds = self.schema_.model_kinds()
        return hash_rows(model_rows, [n for n, k in kinds.items() if k == "numeric"],
                         [n for n, k in kinds.items() if k != "numeric"])

    def _copies(self, canonical: pd.DataFrame, hashes: np.ndarray) -> np.ndarray:
        return np.isin(self._row_hashes(canonical), hashes)

    # ------------------------------------------------------------------ impute
    def impute(self, frame: pd.DataFrame, *, seed: int | None = None) -> pd.DataFrame:
        """Fill the missing cells of ``frame`` from the model's conditional distribution given each row's other cells.

        One output row per input row; the given (non-missing) cells come back exactly. Columns the frame
        lacks are drawn too. A missing cell always means "fill in" here, even in a nullable column.
        No privacy step runs: the rows are the caller's. Models whose generation can fix any subset of
        cells per row implement it (``supports_imputation``); others raise ``ConfigError``.
        """
        self._check_fitted()
        if not self.supports_imputation:
            from synthloop.synthesizers import REGISTRY

            able = [name for name in REGISTRY.names() if _can_impute(REGISTRY, name)]
            raise ConfigError(f"{self.name} cannot impute missing cells (it cannot fix a different set of cells in each "
                              f"row); models that can: {', '.join(able)}. For the same columns in every row, use "
                              "sample(conditions=frame).")
        if not isinstance(frame, pd.DataFrame):
            raise ConditionError(f"impute needs a DataFrame, got {type(frame).__name__}.")
        frame = frame.rename(columns=str).reset_index(drop=True)
        kinds = self.schema_.model_kinds()
        unknown = [name for name in frame.columns if name not in self.schema_.names]
        if unknown:
            raise ConditionError(f"impute: column(s) {', '.join(map(repr, unknown[:5]))} are not in the model's schema "
                                 f"(columns: {', '.join(self.schema_.names)}).")
        learned = [name for name in frame.columns if name in kinds and frame[name].notna().any()]
        if len(frame) == 0:
            return self.sample(0, seed=seed, privacy="off")
        rng = self._sample_rng(seed)
        given = self._condition_frame(len(frame), frame[learned]) if learned else pd.DataFrame(index=frame.index)
        known = frame[learned].notna().reset_index(drop=True)
        rows = self._impute(given, known, rng).reset_index(drop=True)
        for name in learned:
            mask = known[name].to_numpy()
            rows.loc[mask, name] = given.loc[mask, name].to_numpy()     # exact on the given cells
        self.last_sample_info_ = SampleInfo(privacy="off", n_rows=len(rows),
                                            note="imputation: no privacy step (the rows are the caller's).")
        return self._to_user(rows)

    def _impute(self, given: pd.DataFrame, known: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """Model-view rows, one per row of ``given``, drawn given the cells where ``known`` is True."""
        raise NotImplementedError

    def _filter_step(self, predicates: Mapping[str, Predicate]) -> FilterStep | None:
        """The row step of the ranges and sets (None without any); unknown columns raise."""
        if not predicates:
            return None
        kinds = self.schema_.model_kinds()
        unknown = [name for name in predicates if name not in kinds]
        if unknown:
            raise ConditionError(f"Cannot sample with these conditions: '{unknown[0]}' is not a learned column "
                                 f"(learned: {', '.join(kinds)})")
        return FilterStep(self.schema_, predicates)

    def _segment_note(self, cond: pd.DataFrame | None, predicates: Mapping[str, Predicate],
                      filters: FilterStep | None, min_rows: int) -> str:
        """A privacy note when fewer than ``min_rows`` training rows form the asked-for segment."""
        if cond is None and filters is None:
            return ""
        equal = cond if cond is not None else pd.DataFrame()
        training = getattr(self, "_training_rows", None)
        reference = getattr(self, "_privacy_reference", None)
        if training is None and reference is not None:           # a loaded model: the reference tells, when it can
            training = reference_rows(reference, self.schema_, equal, predicates)
        if training is None:
            return ""
        count = segment_rows(training, equal, filters)
        if count >= min_rows:
            return ""
        shown = describe({c: equal[c].iloc[0] for c in equal.columns}, predicates)
        return (f"The segment {shown} holds only {count} of {len(training):,} training rows (fewer than "
                f"{min_rows}): its synthetic rows describe very few real people; share them with care.")

    def _draw_conditioned(self, cond: pd.DataFrame, privacy_steps: list[RowStep],
                          rng: np.random.Generator, filters: FilterStep | None = None) -> pd.DataFrame:
        """Group identical condition rows and fill each group, keeping the caller's row order."""
        keys = pd.MultiIndex.from_frame(cond.astype(object).fillna("\0nan"))
        parts = []
        for _, positions in pd.Series(np.arange(len(cond))).groupby(pd.factorize(keys)[0]):
            group = cond.iloc[positions.to_numpy()].reset_index(drop=True)
            drawn = self._draw(len(group), group, privacy_steps, rng, filters)
            drawn.index = positions.to_numpy()
            parts.append(drawn)
        return pd.concat(parts).sort_index().reset_index(drop=True)

    def _draw(self, n_rows: int, cond: pd.DataFrame | None, privacy_steps: list[RowStep],
              rng: np.random.Generator, filters: FilterStep | None = None) -> pd.DataFrame:
        """Exactly ``n_rows`` rows through the row steps: conditions, ranges and sets, constraints, then privacy."""
        steps: list[RowStep] = []
        if cond is not None:
            steps.append(ConditionStep(cond))
        if filters is not None:
            steps.append(filters)
        if self.schema_.constraints:
            where = "" if cond is None else f" with conditions {ConditionStep(cond).describe()}"
            steps.append(ConstraintStep(self.schema_.constraints, where))
        steps.extend(privacy_steps)

        def draw(batch: int) -> pd.DataFrame:
            batch_cond = None if cond is None or not self.native_conditions else _repeat_first(cond, batch)
            if filters is not None and self.native_predicates:
                return self._sample_within(batch, batch_cond, filters.tests, rng)
            return self._sample(batch, batch_cond, rng)

        def views(rows: pd.DataFrame) -> Candidates:
            return Candidates(rows, self._to_user, self._canonical)

        return draw_until(n_rows, draw, steps, views=views, n_columns=max(len(self.schema_.model_kinds()), 1))

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

    @abstractmethod
    def _sample(self, n_rows: int, conditions: pd.DataFrame | None, rng: np.random.Generator) -> pd.DataFrame:
        """Draw ``n_rows`` rows in the model view; with ``native_conditions``, honour ``conditions``."""

    def _sample_within(self, n_rows: int, conditions: pd.DataFrame | None,
                       predicates: Mapping[str, ModelPredicate], rng: np.random.Generator) -> pd.DataFrame:
        """As ``_sample``, drawing from the distribution restricted to the ranges and sets (``native_predicates``).

        ``conditions`` (when given) repeats one row of equality conditions, as ``_draw`` passes them.
        """
        raise NotImplementedError

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
                    problems.append(f"'{name}' is numeric; {self.name} can condition on categorical columns only "
                                    f"(equality), or on a range: --where \"{name}>=V\" / Range(low=V, high=V)")
                    continue
                try:
                    out[name] = model_numbers(column, pd.to_numeric(frame[name]) if column.kind == "numeric"
                                              and not pd.api.types.is_numeric_dtype(frame[name].dtype) else frame[name])
                except (TypeError, ValueError):
                    problems.append(f"'{name}' is numeric, and {frame[name].iloc[0]!r} is not a number")
                    continue
                if column.kind == "numeric":
                    problem = check_numeric_values(column, out[name].to_numpy(dtype="float64"))
                    if problem:
                        problems.append(problem)
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
    def save(self, path: str | Path, *, keep_privacy_reference: bool = False, overwrite: bool = False) -> Path:
        """Write ``config.json``, ``schema.json`` and ``weights.safetensors`` to a directory, atomically.

        The folder holds the model's parameters, not its training rows (``docs/security.md`` lists
        what each model keeps). ``keep_privacy_reference=True`` adds ``privacy_reference.safetensors``
        and ``privacy_reference.json``: every training row (standardised) and a hash of each, which the
        loaded model needs for ``privacy="parity"``/``"no-copies"``. **Those two files are as sensitive
        as the training data**; delete them to share the model without them.

        The target must be new, empty, or (with ``overwrite=True``) a saved synthloop model: a folder
        holding anything else is refused untouched, before any work (``ArtifactError``).
        """
        self._check_fitted()
        check_artifact_target(path, overwrite=overwrite)
        extra_files = None
        if keep_privacy_reference:
            reference = self.privacy_reference_
            if reference is None:
                raise PrivacyError(f"Cannot keep the privacy reference: this {type(self).__name__} holds no training "
                                   "rows (it was loaded without the reference, or never keeps training rows).")
            extra_files = reference.to_files()
        arrays, meta = self.to_state()
        config = {"synthesizer": self.name, "synthloop_version": __version__, "params": self.hyperparameters(),
                  "n_training_rows": self.n_training_rows_, "meta": meta}
        return save_artifact(path, config, self.schema_.to_json(), arrays, extra_files=extra_files, overwrite=overwrite)

    def save_privacy_reference(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the training-row reference that ``privacy="parity"``/``"no-copies"`` need to its own folder,
        apart from the model, owner-only (0700), atomically.

        **The folder is as sensitive as the training data** (every training row, standardised, and a hash
        of each). Keep it where the training data lives; share the model folder alone. Load it back with
        ``Synthesizer.load(model_dir, privacy_reference=path)``.
        """
        from synthloop.io.atomic import atomic_dir
        from synthloop.privacy.reference import check_reference_target

        self._check_fitted()
        reference = self.privacy_reference_
        if reference is None:
            raise PrivacyError(f"Cannot save the privacy reference: this {type(self).__name__} holds no training "
                               "rows (it was loaded without the reference, or never keeps training rows).")
        path = check_reference_target(path, overwrite=overwrite)
        with atomic_dir(path, private=True) as tmp:
            for name, content in reference.to_files().items():
                (tmp / name).write_bytes(content)
        return path

    @classmethod
    def load(cls, path: str | Path, *, privacy_reference: str | Path | None = None) -> Synthesizer:
        """Load a saved model directory (any registered synthesizer); never executes code from it.

        Every field of ``config.json`` and ``schema.json`` and every array's name, dtype and shape is
        checked before the model is built; anything tampered with is one ArtifactError.
        ``privacy_reference``: a folder written by :meth:`save_privacy_reference` (read as strictly);
        without it, the reference is read from the model folder when it was kept there.
        """
        from synthloop.synthesizers import get_class

        path = Path(path)
        config, schema_json, arrays = load_artifact(path)
        try:
            model_cls = get_class(config["synthesizer"])
        except ConfigError as exc:
            raise ArtifactError(f"'{path}' was saved by an unknown synthesizer: {exc}") from None
        if cls is not Synthesizer and not issubclass(model_cls, cls):
            raise ArtifactError(f"'{path}' holds a '{config['synthesizer']}' model, not a {cls.__name__}.")
        # Run options are not kept (older files held a checkpoint folder): the loaded model gets the defaults.
        file = path / "config.json"
        stored = check_json(params_model(model_cls), config["params"], f"{file} (params)").model_dump(exclude_unset=True)
        learned = set(model_cls._param_names()) - run_options(model_cls)
        params = {k: v for k, v in stored.items() if k in learned}
        meta = config["meta"]
        if model_cls.meta_schema is not None:
            check_json(model_cls.meta_schema, meta, f"{file} (meta)")
        try:
            model = model_cls(**check_params(model_cls, params))
            model.schema_ = Schema.from_json(schema_json)
        except SynthloopError as exc:
            raise ArtifactError(f"'{path}' holds an invalid model: {exc}") from None
        model.n_training_rows_ = config["n_training_rows"]
        model._sample_calls = 0
        model._training_rows = None
        model._hashes_of_training = None
        check = ArrayCheck(arrays, f"'{path}'")
        model._check_state(check, meta)
        check.done()
        try:
            model.from_state(arrays, meta)
        except (SynthloopError, KeyError, ValueError, TypeError, IndexError, AttributeError, RuntimeError) as exc:
            # ArtifactError: a part found its state corrupt and said where; our own ValueErrors read as sentences
            detail = str(exc) if type(exc) in (ArtifactError, ValueError) else repr(exc)
            raise ArtifactError(f"'{path}' is corrupt or from another version: {detail}. Re-train the model.") from None
        source = path if privacy_reference is None else Path(privacy_reference)
        if privacy_reference is not None and not source.is_dir():
            raise ArtifactError(f"The privacy reference '{source}' is not a folder written by save_privacy_reference.")
        model._privacy_reference = load_reference(source, model.n_training_rows_) if model_cls.keeps_training_rows else None
        return model

    def _check_state(self, check: ArrayCheck, meta: dict[str, Any]) -> None:
        """Check stored arrays (names, dtypes, shapes) against the schema and ``meta`` before loading.

        The default accepts any numeric array; built-in models override it to name each array.
        """
        check.take_prefix("", "fiub")

    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Learned arrays (for safetensors) and JSON-able metadata. Override to make a model saveable."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved yet.")

    def from_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
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


def _can_impute(registry: Any, name: str) -> bool:
    try:
        return bool(getattr(registry.get(name), "supports_imputation", False))
    except (ImportError, SynthloopError):          # an extra that is not installed
        return False


def _check_n_rows(n_rows: object) -> int:
    if isinstance(n_rows, bool) or not isinstance(n_rows, (int, np.integer)) or n_rows < 0:
        raise ConfigError(f"n_rows must be a whole number ≥ 0, got {n_rows!r}.")
    return int(n_rows)


def _repeat_first(cond: pd.DataFrame, n_rows: int) -> pd.DataFrame:
    return pd.DataFrame({c: np.repeat(cond[c].to_numpy()[:1], n_rows) for c in cond.columns})


def params_to_json(params: Mapping[str, Any]) -> str:
    return json.dumps(dict(params), sort_keys=True, default=list)
