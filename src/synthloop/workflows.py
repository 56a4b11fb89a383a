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
import shutil
import time
import warnings
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthloop.errors import ConfigError, DataError, SynthloopWarning

if TYPE_CHECKING:       # imported where used: the CLI imports this module on every command
    import pandas as pd

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
    checkpoint_dir = checkpoint(synthesizer, out)
    table_schema = _schema(schema)
    source = None if isinstance(data, pd.DataFrame) else Path(data)
    real = data if source is None else read_table(source)
    store = LineageStore(lineage) if lineage is not None else None
    training = guard_fit(store, real, synthesizer=model, params=synthesizer.hyperparameters(), source=source,
                         strict=strict)
    name = "the table" if source is None else source.name
    start = time.perf_counter()
    with (display or _quiet)(f"Fitting {model} on {len(real):,} rows × {real.shape[1]} columns of {name}"):
        synthesizer.fit(real, table_schema, inf=inf)
        synthesizer.save(out, keep_privacy_reference=keep_privacy_reference, overwrite=force)
        kept_apart = apart is not None and synthesizer.keeps_training_rows
        if kept_apart:
            synthesizer.save_privacy_reference(apart, overwrite=force)
    seconds = time.perf_counter() - start
    link_model(out, training, store)
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
                     schema_notes=tuple(schema_notes(synthesizer.schema_)), privacy_notes=tuple(privacy_notes))


def sample_table(model_dir: str | Path, n_rows: int | None, out: str | Path, *, conditions: ConditionsLike = None,
                 seed: int | None = None, privacy: str | None = None, privacy_reference: str | Path | None = None,
                 lineage: str | Path | None = None, keep_formulas: bool = False,
                 seed_data: pd.DataFrame | str | Path | None = None,
                 display: Display | None = None) -> SampleResult:
    """Draw ``n_rows`` rows from the saved model ``model_dir`` and write them atomically to ``out``;
    or, with ``seed_data`` (a table or its file) instead of ``n_rows``, fill in its missing cells
    (``model.impute``: one output row per seed row, exact on the given cells).

    What ``synthloop sample`` does: ``out`` is checked before the model loads; the privacy reference
    is ``privacy_reference`` or, when that is None, ``MODEL_DIR.privacy`` if it exists (``privacy=None``
    then means parity, else off with a note); the table is written with its provenance (recorded in
    ``lineage`` when given), and CSV cells that a spreadsheet would run as formulas are prefixed with
    ``'`` unless ``keep_formulas``. The privacy step's note is returned in ``notes`` rather than warned.
    """
    from synthloop.io import read_table, write_table
    from synthloop.io.tables import check_table_path
    from synthloop.lineage import LineageStore, sample_provenance
    from synthloop.synthesizers import Synthesizer

    model_dir, out = Path(model_dir), Path(out)
    check_table_path(out)
    if (n_rows is None) == (seed_data is None):
        raise ConfigError("Give exactly one of --n-rows N (generate N rows) and --seed-data FILE (fill in its missing cells).")
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
    doing = f"Sampling {n_rows:,} rows" if partial is None else f"Imputing {len(partial):,} rows"
    with (display or _quiet)(f"{doing} from {synthesizer.name}"), warnings.catch_warnings():
        warnings.simplefilter("ignore", SynthloopWarning)        # the privacy note is returned in notes
        if partial is not None:
            synthetic = synthesizer.impute(partial, seed=seed)
        else:
            synthetic = synthesizer.sample(n_rows, conditions=conditions, seed=seed, privacy=privacy)
        provenance = sample_provenance(synthetic, model_dir, synthesizer=synthesizer.name,
                                       params=synthesizer.hyperparameters(),
                                       store=LineageStore(lineage) if lineage is not None else None)
        write_table(synthetic, out, metadata=provenance, keep_formulas=keep_formulas)
    seconds = time.perf_counter() - start
    found = provenance.get("lineage", provenance)
    info = synthesizer.last_sample_info_
    shown = dict(conditions) if isinstance(conditions, Mapping) else None
    return SampleResult(out=out, size_bytes=disk_size(out), n_rows=len(synthetic), seconds=seconds,
                        synthesizer=synthesizer.name, conditions=shown, sample_id=found.get("id"),
                        sample_depth=found.get("depth"), lineage=None if lineage is None else Path(lineage),
                        privacy=info, notes=(info.note,) if info.note else ())


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
