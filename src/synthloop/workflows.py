"""Library workflows: fit a table into a saved model, or sample a saved model into a table, in one call.

``synthloop fit`` and ``synthloop sample`` are each one of these calls between parsing and printing,
so a notebook, a job runner or a web front end gets the same checks, in the same order, with the
same files: output targets are checked before any work (a bad folder fails in a second, not after
an hour of training), the training data's lineage is checked by the collapse guard, the fit is
recorded and linked to the model, neural checkpoints sit beside the model and are removed once it is
saved, the privacy reference (every training row) is kept apart from the model unless asked
otherwise, and samples are written atomically with their provenance.

Display is the caller's: ``display(message)`` is entered around the long step (the CLI passes its
spinner); each function returns a small frozen result holding what a front end shows.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import time
import warnings
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthloop.errors import ConfigError, DataError, PrivacyError, SynthloopWarning

if TYPE_CHECKING:       # imported where used: the CLI imports this module on every command
    import pandas as pd

    from synthloop.privacy.accounting import Ledger
    from synthloop.privacy.filter import SampleInfo
    from synthloop.schema import Schema
    from synthloop.synthesizers.base import ConditionsLike, Synthesizer

Display = Callable[[str], AbstractContextManager[Any]]


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit_table` did: where the model is, what it was fitted on, what the user should know.

    ``training_id``/``training_kind``/``training_depth`` describe the training data's lineage record
    (recorded in ``lineage`` when one was given); ``privacy_reference`` is the folder holding the
    training rows apart from the model, or None (kept inside ``out``, or not kept).
    """

    model: str
    out: Path
    size_bytes: int
    n_rows: int
    n_columns: int
    seconds: float
    training_id: str
    training_kind: str
    training_depth: int
    lineage: Path | None
    privacy_reference: Path | None
    privacy_reference_inside: bool
    schema_notes: tuple[str, ...]
    privacy_notes: tuple[str, ...]
    ledger_summary: str | None = None      # a DP model's budget and spending (synthloop audit prints the ledger)
    ledger: Ledger | None = None           # the DP model's whole ledger (None: not differentially private)
    adapted_to: str | None = None          # the target's id when the fit was adapted to target rows (--adapt-to)


@dataclass(frozen=True)
class SampleResult:
    """What :func:`sample_table` did: the table written, its lineage id and depth, and the privacy step's report."""

    out: Path
    size_bytes: int
    n_rows: int
    seconds: float
    synthesizer: str
    conditions: Mapping[str, Any] | None
    sample_id: str | None
    sample_depth: int | None
    lineage: Path | None
    privacy: SampleInfo
    notes: tuple[str, ...]


def default_reference_dir(out: str | Path) -> Path:
    """Where fit keeps the privacy reference apart from the model, and sample looks for it: OUT.privacy."""
    out = Path(out)
    return out.with_name(out.name + ".privacy") if out.name else Path(str(out) + ".privacy")


def default_checkpoint(synthesizer: Synthesizer, out: Path) -> Path | None:
    """Neural models checkpoint beside OUT (not inside: saving replaces OUT whole), so that re-running
    the same command after Ctrl-C or a killed process resumes from the last checkpoint.

    The folder is a run option (``checkpoint_dir``): it is never written into the saved model.
    """
    params = synthesizer.get_params()
    if "checkpoint_dir" not in params or params["checkpoint_dir"] is not None:
        return None
    checkpoint = out.parent / f".{out.name}.checkpoint"
    synthesizer.set_params(checkpoint_dir=str(checkpoint))
    return checkpoint


def fit_table(data: str | Path | pd.DataFrame, model: str, out: str | Path, *,
              schema: Schema | str | Path | None = None, params: Mapping[str, Any] | None = None,
              params_as_text: bool = False, lineage: str | Path | None = None, strict: bool = False,
              keep_privacy_reference: bool = False, privacy_reference: str | Path | None = None,
              no_privacy_reference: bool = False, inf: str = "error", force: bool = False,
              adapt_to: str | Path | pd.DataFrame | None = None, target_share: float | None = None,
              display: Display | None = None,
              checkpoint: Callable[[Synthesizer, Path], Path | None] = default_checkpoint) -> FitResult:
    """Fit synthesizer ``model`` on ``data`` and save it to the folder ``out``; what ``synthloop fit`` does.

    Parameters
    ----------
    data
        A CSV, TSV or Parquet file, or a DataFrame (its lineage then has no source file).
    model, params
        Synthesizer name and its parameters, checked by the library's validator before any work;
        ``params_as_text`` reads each value as a JSON literal when it is one (command lines, forms).
    schema
        A :class:`Schema`, a schema JSON file, or None to infer it.
    lineage, strict
        A lineage store to record the fit in (created if missing); ``strict`` refuses
        (:class:`~synthloop.errors.CollapseRiskError`) instead of warning when the data is too synthetic.
    keep_privacy_reference, privacy_reference, no_privacy_reference
        Where the training rows that ``privacy="parity"``/``"no-copies"`` need are kept: inside
        ``out`` (sensitive: the folder can then not be shared), in ``privacy_reference``
        (default ``OUT.privacy`` beside ``out``), or nowhere.
    force
        Replace ``out`` (and the reference folder) when it already holds one; anything else is never replaced.
    adapt_to, target_share
        Target rows (a table or its file) to adapt the generator to: it is fitted on ``data`` plus these rows
        repeated to ``target_share`` of the training table (:func:`synthloop.align.adapt`; the privacy reference
        holds each row once). With ``lineage``, the repeated table is recorded with ``data`` and the target as
        parents, and the model is linked to it.
    display
        Entered as ``display(message)`` around fitting and saving (a spinner, a log line).
    checkpoint
        Chooses the neural checkpoint folder, removed once the model is saved.
    """
    import pandas as pd

    from synthloop.io import read_table
    from synthloop.io.artifacts import check_artifact_target
    from synthloop.lineage import LineageStore, link_model
    from synthloop.loop.guard import guard_fit
    from synthloop.privacy.reference import check_reference_target
    from synthloop.schema.notes import schema_notes
    from synthloop.schema.values import check_inf
    from synthloop.synthesizers import get, get_class
    from synthloop.synthesizers.params import check_params

    out = Path(out)
    check_artifact_target(out, overwrite=force)
    apart = None if keep_privacy_reference or no_privacy_reference else \
        Path(privacy_reference) if privacy_reference is not None else default_reference_dir(out)
    if apart is not None:
        check_reference_target(apart, overwrite=force)
    check_inf(inf)
    synthesizer = get(model, **check_params(get_class(model), dict(params or {}), text=params_as_text))
    if keep_privacy_reference and not synthesizer.keeps_training_rows:
        raise PrivacyError(f"{model} keeps no training row (its samples are post-processing of what it learned), "
                           "so there is no privacy reference to keep; drop --keep-privacy-reference.")
    checkpoint_dir = checkpoint(synthesizer, out)
    table_schema = _schema(schema)
    source = None if isinstance(data, pd.DataFrame) else Path(data)
    real = data if source is None else read_table(source)
    adaptation = _adaptation(real, adapt_to, target_share, synthesizer)
    store = LineageStore(lineage) if lineage is not None else None
    if adaptation is not None and store is not None:
        from synthloop.align.adapt import record_adaptation

        target_rows, rows, share, repeats = adaptation
        record_adaptation(store, real, target_rows, rows, target_share=share, repeats=repeats, source_path=source,
                          target_path=None if isinstance(adapt_to, pd.DataFrame) else adapt_to)
    fitted_on = real if adaptation is None else adaptation[1]
    training = guard_fit(store, fitted_on, synthesizer=model, params=synthesizer.hyperparameters(), source=source,
                         strict=strict)
    name = "the table" if source is None else source.name
    start = time.perf_counter()
    doing = f"Fitting {model} on {len(real):,} rows × {real.shape[1]} columns of {name}"
    if adaptation is not None:
        doing += f", adapted to {len(adaptation[0]):,} target rows ({adaptation[2]:.0%} of the training rows)"
    with (display or _quiet)(doing):
        if adaptation is None:
            synthesizer.fit(real, table_schema, inf=inf)
        else:
            from synthloop.align.adapt import fit_adapted

            fit_adapted(synthesizer, real, adaptation[0], target_share=adaptation[2], schema=table_schema,
                        seed=_adapt_seed(synthesizer), inf=inf)
        synthesizer.save(out, keep_privacy_reference=keep_privacy_reference, overwrite=force)
        kept_apart = apart is not None and synthesizer.keeps_training_rows
        if kept_apart:
            synthesizer.save_privacy_reference(apart, overwrite=force)
    seconds = time.perf_counter() - start
    link_model(out, training, store)
    ledger = getattr(synthesizer, "ledger_", None)
    if ledger is not None and store is not None:          # lineage keeps what each DP fit spent on this data
        store.log(training.id, "privacy-ledger", model=model, out=str(out), **ledger.to_dict())
    if checkpoint_dir is not None:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    privacy_notes = []
    if keep_privacy_reference:
        privacy_notes.append(f"{out} keeps the privacy reference (every training row), so it is written readable by "
                             "you only (0700): share it like the training data, or delete privacy_reference.* "
                             "before sharing.")
    if kept_apart:
        privacy_notes.append(f"the privacy reference (every training row) is in {apart}, owner-only: keep it like "
                             f"the training data; {out} alone holds no training row and can be shared (its samples "
                             "are then not privacy-checked).")
    return FitResult(model=model, out=out, size_bytes=disk_size(out), n_rows=len(real), n_columns=real.shape[1],
                     seconds=seconds, training_id=training.id, training_kind=training.kind,
                     training_depth=training.depth, lineage=None if lineage is None else Path(lineage),
                     privacy_reference=apart if kept_apart else None,
                     privacy_reference_inside=keep_privacy_reference and synthesizer.keeps_training_rows,
                     schema_notes=tuple(schema_notes(synthesizer.schema_)), privacy_notes=tuple(privacy_notes),
                     ledger_summary=None if ledger is None else ledger.summary(), ledger=ledger,
                     adapted_to=None if adaptation is None else _fingerprint(adaptation[0]))


def _adaptation(real: pd.DataFrame, adapt_to: str | Path | pd.DataFrame | None, target_share: float | None,
                synthesizer: Synthesizer) -> tuple[pd.DataFrame, pd.DataFrame, float, int] | None:
    """(target rows, adapted training rows, share, repeats), checked before any work; None without a target."""
    import pandas as pd

    if adapt_to is None:
        if target_share is not None:
            raise ConfigError("--target-share needs --adapt-to TARGET (the rows to adapt the generator to).")
        return None
    from synthloop.align.adapt import DEFAULT_TARGET_SHARE, adapted_rows
    from synthloop.io import read_table
    from synthloop.synthesizers.private import PrivateFit

    if isinstance(synthesizer, PrivateFit):
        raise PrivacyError(f"{synthesizer.name} is differentially private per training row; --adapt-to repeats "
                           "target rows in the training set, so one person could count several times and the "
                           "guarantee would not hold. Fit the DP model on the rows as they are (condition its "
                           "samples instead: post-processing).")

    target = adapt_to if isinstance(adapt_to, pd.DataFrame) else read_table(adapt_to)
    share = DEFAULT_TARGET_SHARE if target_share is None else target_share
    rows, repeats = adapted_rows(real, target, target_share=share, seed=_adapt_seed(synthesizer))
    return target, rows, share, repeats


def _adapt_seed(synthesizer: Synthesizer) -> int:
    seed = synthesizer.get_params().get("seed")
    return 0 if seed is None else int(seed)


def _fingerprint(frame: pd.DataFrame) -> str:
    from synthloop.lineage import fingerprint

    return fingerprint(frame)


def sample_table(model_dir: str | Path, n_rows: int | None, out: str | Path, *, conditions: ConditionsLike = None,
                 seed: int | None = None, privacy: str | None = None, privacy_reference: str | Path | None = None,
                 lineage: str | Path | None = None, keep_formulas: bool = False,
                 seed_data: pd.DataFrame | str | Path | None = None,
                 align_to: pd.DataFrame | str | Path | None = None, refine: pd.DataFrame | str | Path | None = None,
                 display: Display | None = None, align_shift: str | list[str] | None = None) -> SampleResult:
    """Draw ``n_rows`` rows from the saved model ``model_dir`` and write them atomically to ``out``;
    or, with ``seed_data`` (a table or its file) instead of ``n_rows``, fill in its missing cells
    (``model.impute``: one output row per seed row, exact on the given cells).

    What ``synthloop sample`` does: ``out`` is checked before the model loads; the privacy reference
    is ``privacy_reference`` or, when that is None, ``MODEL_DIR.privacy`` if it exists (``privacy=None``
    then means parity, else off with a note); the table is written with its provenance (recorded in
    ``lineage`` when given), and CSV cells that a spreadsheet would run as formulas are prefixed with
    ``'`` unless ``keep_formulas``. The privacy step's note is returned in ``notes`` rather than warned.

    ``align_to`` (target rows) and ``refine`` (real rows, usually the training data) add the row steps of
    :mod:`synthloop.align` before the privacy step; what they learned is recorded in the provenance.
    ``align_shift`` (``"auto"`` or column names) takes those shifted columns from the ``align_to`` rows as
    conditions and aligns the rest (:func:`synthloop.align.conditional_align`).
    """
    from synthloop.io import read_table, write_table
    from synthloop.io.tables import check_table_path
    from synthloop.lineage import LineageStore, sample_provenance
    from synthloop.synthesizers import Synthesizer

    model_dir, out = Path(model_dir), Path(out)
    check_table_path(out)
    if (n_rows is None) == (seed_data is None):
        raise ConfigError("Give exactly one of --n-rows N (generate N rows) and --seed-data FILE (fill in its missing cells).")
    if seed_data is not None and (align_to is not None or refine is not None):
        raise ConfigError("--seed-data does not combine with --align-to or --refine (imputed rows are the caller's).")
    if align_shift is not None and (align_to is None or conditions):
        raise ConfigError("--align-shift needs --align-to TARGET, and does not combine with --where (the shifted "
                          "columns' values come from TARGET).")
    if seed_data is not None and conditions:
        raise ConfigError("--where and --seed-data do not combine: put the conditions into the seed table's columns.")
    partial = None if seed_data is None else (
        read_table(seed_data) if isinstance(seed_data, (str, Path)) else seed_data)
    reference = privacy_reference
    if reference is None and default_reference_dir(model_dir).is_dir():
        reference = default_reference_dir(model_dir)
    synthesizer = Synthesizer.load(model_dir, privacy_reference=reference)
    if "progress" in synthesizer.get_params():
        # One display: the caller's. A model's chunk bar counts the rows it draws, which privacy
        # regeneration and conditions make more than the rows asked for.
        synthesizer.set_params(progress=False)
    start = time.perf_counter()
    steps, step_notes, shifted = _align_steps(synthesizer, align_to, refine, seed, align_shift)
    if shifted is not None:
        conditions = shifted(n_rows)
    doing = f"Sampling {n_rows:,} rows" if partial is None else f"Imputing {len(partial):,} rows"
    with (display or _quiet)(f"{doing} from {synthesizer.name}"), warnings.catch_warnings():
        warnings.simplefilter("ignore", SynthloopWarning)        # the privacy note is returned in notes
        if partial is not None:
            synthetic = synthesizer.impute(partial, seed=seed)
        else:
            synthetic = synthesizer.sample(n_rows, conditions=conditions, seed=seed, privacy=privacy, steps=steps)
        provenance = sample_provenance(synthetic, model_dir, synthesizer=synthesizer.name,
                                       params={**synthesizer.hyperparameters(), **step_notes},
                                       store=LineageStore(lineage) if lineage is not None else None)
        write_table(synthetic, out, metadata=provenance, keep_formulas=keep_formulas)
    seconds = time.perf_counter() - start
    found = provenance.get("lineage", provenance)
    info = synthesizer.last_sample_info_
    shown = dict(conditions) if isinstance(conditions, Mapping) else None
    return SampleResult(out=out, size_bytes=disk_size(out), n_rows=len(synthetic), seconds=seconds,
                        synthesizer=synthesizer.name, conditions=shown, sample_id=found.get("id"),
                        sample_depth=found.get("depth"), lineage=None if lineage is None else Path(lineage),
                        privacy=info, notes=(*_step_lines(step_notes), *((info.note,) if info.note else ())))


def _align_steps(synthesizer: Synthesizer, align_to: pd.DataFrame | str | Path | None,
                 refine: pd.DataFrame | str | Path | None, seed: int | None, align_shift: str | list[str] | None = None
                 ) -> tuple[list[Any], dict[str, Any], Callable[[int], pd.DataFrame | None] | None]:
    """The alignment and refinement row steps, what to record about them (target ids, detector AUCs), and with
    ``align_shift`` the conditions of ``n`` rows (the shifted columns' values from target rows)."""
    if align_to is None and refine is None:
        return [], {}, None
    import numpy as np

    from synthloop.align import align_step, conditional_align, refine_step
    from synthloop.io import read_table
    from synthloop.lineage import fingerprint

    steps, notes, shifted = [], {}, None
    seed = 0 if seed is None else seed
    for key, source, build in (("align_to", align_to, align_step), ("refine", refine, refine_step)):
        if source is None:
            continue
        rows = read_table(source) if isinstance(source, (str, Path)) else source
        if key == "align_to" and align_shift is not None:
            aligned = conditional_align(synthesizer, rows, seed=seed,
                                        columns=None if align_shift == "auto" else list(align_shift))
            steps.append(aligned.step)
            notes[key] = {"reference_id": fingerprint(rows), **aligned.to_dict()}
            rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
            shifted = functools.partial(aligned.conditions, rng=rng)
            continue
        step = build(synthesizer, rows, seed=seed)
        steps.append(step)
        notes[key] = {"reference_id": fingerprint(rows), **step.report.to_dict()}
    return steps, notes, shifted


def _step_lines(step_notes: Mapping[str, Any]) -> list[str]:
    def took(report: Mapping[str, Any]) -> str:
        shifted = report.get("shifted_columns")
        return f"took {', '.join(shifted)} from the target rows, then " if shifted else ""

    return [f"{report['kind']}: {took(report)}a detector told the model's rows from the {report['reference_rows']:,} "
            f"reference rows with AUC {report['detection_auc']:.3f}; rows were kept with probability "
            f"ratio/{report['cap']:.3g} (about {report['acceptance']:.0%} of draws; effective sample size "
            f"{report['ess_share']:.0%}; {report['coverage']:.0%} of the reference's mass under the cap)."
            for report in step_notes.values()]


def disk_size(path: str | Path) -> int:
    """Bytes of a file, or of every file under a folder."""
    path = Path(path)
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def _schema(schema: Schema | str | Path | None) -> Schema | None:
    from synthloop.schema import Schema

    if schema is None or isinstance(schema, Schema):
        return schema
    path = Path(schema)
    if not path.is_file():
        raise DataError(f"Schema file not found: '{path}'. Create one with: synthloop schema infer DATA -o {path}")
    return Schema.from_json(path.read_text(encoding="utf-8"))


def _quiet(message: str) -> AbstractContextManager[None]:
    return contextlib.nullcontext()


def simulate_stream(scenario: str | Path, out: str | Path, *, model: str | Path | None = None,
                    data: str | Path | pd.DataFrame | None = None, fmt: str = "csv",
                    progress: Callable[[str], None] | None = None) -> Path:
    """What ``synthloop simulate`` does: read the scenario (every bad key named before any work), then write
    its windows, drawn from the saved synthesizer ``model`` or bootstrapped from the table ``data``, into ``out``."""
    import pandas as pd

    from synthloop.io import read_table
    from synthloop.simulate import Scenario, write_stream
    from synthloop.synthesizers import Synthesizer

    plan = scenario if isinstance(scenario, Scenario) else Scenario.from_toml(scenario)
    if (model is None) == (data is None):
        raise ConfigError("Give exactly one source: --model DIR (a fitted synthesizer) or --data FILE (rows to "
                          "bootstrap).")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"'{out}' already exists and is not an empty folder; choose a new one.")
    if model is not None:
        reference = default_reference_dir(model)
        source = Synthesizer.load(model, privacy_reference=reference if reference.is_dir() else None)
        if "progress" in source.get_params():
            source.set_params(progress=False)
    else:
        source = data if isinstance(data, pd.DataFrame) else read_table(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SynthloopWarning)   # the privacy note, once per window, says nothing new
        return write_stream(source, plan, out, fmt=fmt, progress=progress)


@dataclass(frozen=True)
class RefitResult:
    """What :func:`refit_table` did: the refreshed model, what it trained on, and the release gate.

    ``before``/``after`` are drift reports of the old and the refreshed model's samples against
    held-out feedback rows; ``released`` is the gate: the refreshed sample shows no per-column drift, and
    either no joint drift or is no easier to tell from the new real rows than the old model's sample.
    """

    out: Path
    synthesizer: str
    policy: Mapping[str, Any]
    n_feedback: int
    n_holdout: int
    n_history: int
    n_training: int
    training_id: str
    synthetic_share: float
    depth: int
    before: Any
    after: Any
    released: bool
    sample_out: Path | None
    sample_id: str | None
    lineage: Path | None
    seconds: float
    notes: tuple[str, ...]


def refit_table(model_dir: str | Path, feedback: Any, out: str | Path, *, policy: Any = None,
                n_history: int | None = None, holdout_share: float = 0.2, lineage: str | Path | None = None,
                strict: bool = False, sample_out: str | Path | None = None, n_rows: int | None = None,
                seed: int = 0, force: bool = False, display: Display | None = None) -> RefitResult:
    """Refit the saved synthesizer ``model_dir`` on fresh real rows (``feedback``: tables or files) under a
    loop policy, through the collapse guard, and gate the release of its refreshed data; what ``synthloop refit`` does.

    The old model's knowledge is carried as ``n_history`` rows sampled from it; ``policy`` (``"accumulate"``,
    ``"mix-real"``, a :class:`~synthloop.loop.Policy` or its config; default ``MixReal(0.8)``) builds the training
    set from the fresh real rows and that history. By default every fresh row is used: ``accumulate`` adds as
    many history rows (half the set synthetic, the guard's limit), ``mix-real`` with λ enough that real rows
    are a share λ. Why λ = 0.8 by default: after a sudden shift, history rows are the stale distribution, and
    a half-stale training set keeps the refreshed model visibly drifted (docs/loop.md). ``replace`` and
    ``naive-filter``, which train on generated rows alone, are refused. With ``lineage`` the feedback is
    recorded as real, the history as synthetic, the training set as mixed (with the rows each contributed),
    and the fit and the gate as events. A share ``holdout_share`` of the feedback is kept out of the fit to
    judge the refreshed model against. ``sample_out`` (``n_rows`` rows, default the feedback's size) is
    written only when the gate passes.
    """
    import numpy as np
    import pandas as pd

    from synthloop.io import read_table, write_table
    from synthloop.io.artifacts import check_artifact_target
    from synthloop.io.tables import check_table_path
    from synthloop.lineage import LineageStore, link_model, model_link, register_table, sample_provenance
    from synthloop.lineage.record import provenance_of
    from synthloop.lineage.store import DatasetRecord
    from synthloop.loop import MixReal, NaiveFilter, Policy, Replace, check_training_data
    from synthloop.monitor import Monitor, MonitorSettings
    from synthloop.synthesizers import Synthesizer, get
    from synthloop.tabular.hashing import hash_rows

    start = time.perf_counter()
    model_dir, out = Path(model_dir), Path(out)
    check_artifact_target(out, overwrite=force)
    if sample_out is not None:
        check_table_path(Path(sample_out))
    chosen = MixReal(0.8) if policy is None else Policy.from_config({"name": policy} if isinstance(policy, str)
                                                                    else policy)
    if isinstance(chosen, (Replace, NaiveFilter)):
        raise ConfigError(f"Policy '{chosen.name}' trains on generated rows alone, which collapses the model over "
                          "refits (Shumailov et al., Nature 2024); a feedback refit uses 'accumulate' or 'mix-real'.")
    if not 0.0 <= holdout_share < 0.9:
        raise ConfigError(f"holdout_share must be in [0, 0.9), got {holdout_share}.")
    sources = feedback if isinstance(feedback, (list, tuple)) else [feedback]
    if not sources:
        raise ConfigError("Give at least one feedback table (--feedback FILE).")
    frames = [(s, None) if isinstance(s, pd.DataFrame) else (read_table(s), Path(s)) for s in sources]
    for _frame, source in frames:
        provenance = provenance_of(source) if source is not None else None
        if provenance is not None and provenance.get("kind") != "real":
            raise DataError(f"Feedback '{source}' is {provenance['kind']} data (its provenance says so); a feedback "
                            "refit takes fresh real rows only.")
    reference = default_reference_dir(model_dir)
    old = Synthesizer.load(model_dir, privacy_reference=reference if reference.is_dir() else None)
    if "progress" in old.get_params():
        old.set_params(progress=False)
    columns = [c.name for c in old.schema_.columns]
    fresh = pd.concat([f for f, _ in frames], ignore_index=True)
    missing = [c for c in columns if c not in fresh.columns]
    added = [str(c) for c in fresh.columns if c not in columns]
    if missing or added:
        parts = ([f"missing column(s) {', '.join(missing)}"] if missing else []) + \
            ([f"column(s) the model does not know: {', '.join(added)}"] if added else [])
        raise DataError(f"The feedback does not match the model's columns: {'; '.join(parts)}.")
    if len(fresh) < 10:
        raise DataError(f"The feedback has {len(fresh)} rows; a refit needs at least 10.")
    fresh = fresh[columns]
    rng = np.random.default_rng(seed)
    held = rng.random(len(fresh)) < holdout_share if len(fresh) >= 50 else np.zeros(len(fresh), dtype=bool)
    fit_rows, holdout = fresh[~held].reset_index(drop=True), fresh[held].reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SynthloopWarning)
        if n_history is None:
            n_history = round(len(fit_rows) / chosen.fraction) if isinstance(chosen, MixReal) else len(fit_rows)
        history = old.sample(n_history, seed=seed, privacy="off")
    training = chosen.training_set(fit_rows, [history], rng).reset_index(drop=True)
    every = [str(c) for c in columns]
    is_real = np.isin(hash_rows(training, [], every), hash_rows(fit_rows, [], every))
    n_real = int(is_real.sum())
    link = model_link(model_dir)
    depth = (link.depth if link is not None else 0) + 1 if n_real < len(training) else 0
    store = LineageStore(lineage) if lineage is not None else None
    notes = []
    if store is not None:
        real_record = register_table(store, fit_rows, kind="real", name="feedback")
        parents = {real_record.id: n_real}
        if n_real < len(training):
            history_id = sample_provenance(history, model_dir, synthesizer=old.name, params=old.hyperparameters(),
                                           store=store)["lineage"]["id"]
            parents[history_id] = len(training) - n_real
        record = store.add(training, kind="mixed" if len(parents) > 1 else "real", parents=parents,
                           name=f"refit training set ({chosen.label})", action="fit")
        store.log(record.id, "fit", synthesizer=old.name, params=old.hyperparameters(), refit_of=str(model_dir),
                  policy=chosen.to_config())
    else:
        record = DatasetRecord(id="unrecorded", kind="mixed", n_rows=len(training), n_columns=training.shape[1],
                               depth=depth, synthetic_share=1.0 - n_real / len(training))
    check_training_data(record, strict=strict)
    with (display or _quiet)(f"Refitting {old.name} on {len(training):,} rows ({n_real:,} fresh real, "
                             f"{len(training) - n_real:,} from the old model; policy {chosen.label})"):
        new = get(old.name, **old.hyperparameters())
        if "progress" in new.get_params():
            new.set_params(progress=False)
        new.fit(training, _widened(old.schema_, training))
        new.save(out, overwrite=force)
        if new.keeps_training_rows:
            new.save_privacy_reference(default_reference_dir(out), overwrite=force)
    link_model(out, record, store)
    before = after = None
    released = True
    if len(holdout) >= 20:
        gate = Monitor(holdout, settings=MonitorSettings(max_joint_rows=len(holdout)), seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SynthloopWarning)
            before = gate.check(old.sample(len(holdout), seed=seed + 1, privacy="off"), name="old model")
            after = gate.check(new.sample(len(holdout), seed=seed + 1, privacy="off"), name="refreshed model")
        released = not after.drifted_columns and (not after.joint.drifted or after.joint.auc <= before.joint.auc + 0.01)
    else:
        notes.append("fewer than 20 held-out feedback rows: the refreshed model was released without a gate")
    sample_id = None
    if sample_out is not None and released:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SynthloopWarning)
            synthetic = new.sample(n_rows or len(fresh), seed=seed)
        provenance = sample_provenance(synthetic, out, synthesizer=new.name, params=new.hyperparameters(), store=store)
        write_table(synthetic, Path(sample_out), metadata=provenance)
        sample_id = provenance.get("lineage", {}).get("id")
    if store is not None:
        store.log(record.id, "refit-gate", released=released, model=str(out),
                  before_auc=None if before is None else before.joint.auc,
                  after_auc=None if after is None else after.joint.auc,
                  after_drifted_columns=[] if after is None else list(after.drifted_columns))
    return RefitResult(out=out, synthesizer=old.name, policy=chosen.to_config(), n_feedback=len(fresh),
                       n_holdout=len(holdout), n_history=len(history), n_training=len(training),
                       training_id=record.id, synthetic_share=record.synthetic_share, depth=record.depth,
                       before=before, after=after, released=released,
                       sample_out=Path(sample_out) if sample_out is not None and released else None,
                       sample_id=sample_id, lineage=None if lineage is None else Path(lineage),
                       seconds=time.perf_counter() - start, notes=tuple(notes))


def _widened(schema: Schema, training: pd.DataFrame) -> Schema:
    """The old model's schema (kinds, target, sensitive columns, constraints) re-read on the refit's training
    set, so labels and ranges that only the fresh rows have (a new category, a shifted range) are learned."""
    from synthloop.schema import Schema

    return Schema.infer(training, target=schema.target, kinds={c.name: c.kind for c in schema.columns},
                        sensitive=[c.name for c in schema.columns if c.sensitive], constraints=schema.constraints)
