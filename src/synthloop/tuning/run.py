"""``search``: choose a generator and its parameters for one table under a wall-clock budget.

The loop, in the main process (Optuna's ask-and-tell; trials run on :mod:`synthloop.parallel`):

1. Split the user's training data into a training part and a validation part (``validation``, seeded);
   every score is read on the validation part, never on the user's holdout.
2. First each candidate model with its defaults (so the chosen model is never worse, on validation,
   than the best default), then models drawn so the best so far gets half the trials, each with
   parameters from its declared space (Optuna's TPE sampler, seeded, multi-objective: detection
   AUC down, TSTR up; the privacy gate ``dcr_share <= max_dcr_share`` is a constraint).
3. A tuned trial is screened on a subsample first and pruned when hopeless (:mod:`.trial`; a default
   trial is screened, setting the bar, but runs in full: every default gets a full score); one that
   raises is recorded as failed with its error; one that runs past ``trial_timeout`` or the end of
   the budget is killed and recorded as failed ("timed out"). A neural model trains within a share
   of its trial's time (:mod:`.trial`: fewer epochs, recorded as its ``epochs``), so it finishes where
   its defaults would time out. A model whose defaults fail is not tried again.
4. At the budget's end the Pareto set of feasible trials is formed and one model chosen from it
   (:func:`choose`): the best default model stays the choice unless a trial beats it by more than the
   validation noise, which each trial measures by scoring ``repeats`` samples (:mod:`.trial`); its
   folder is copied to ``OUT/model`` (its privacy reference to ``OUT/model.privacy``) and
   recorded in lineage when a store is given; ``OUT/search.json`` and ``OUT/search.html`` describe
   every trial.

Resuming: trials live in ``OUT/search.journal`` (Optuna's journal storage). Running the same search again on the same data
continues it: finished trials are kept, trials that were running when it stopped are marked failed
("interrupted"), and the new budget is spent on new trials.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthloop.errors import ConfigError, SynthloopError, require
from synthloop.parallel import Job, Runner, check_backend
from synthloop.tuning.space import MODEL_PARAM, check_candidates, has_space, plain_params, suggest
from synthloop.tuning.trial import TrialSpec, run_trial

STUDY = "synthloop-search"
JOURNAL = "search.journal"
#: The smallest budget accepted: below it not even the process start-up of one trial fits.
MIN_BUDGET = 5.0
#: A trial whose screening detection AUC is this much above the best screen so far is pruned.
PRUNE_MARGIN = 0.1
#: Standard errors by which a trial must beat the best default (and may not lose on any objective).
Z = 2.0
#: A score's noise (one sample's standard deviation) when too few repeats were scored to estimate it:
#: detection on one split (``detection_auc_split``: "differences below about 0.02 are noise").
PRIOR_SD = {"detection": 0.015, "utility": 0.01}
OnTrial = Callable[[dict[str, Any]], None]


class SearchFailed(SynthloopError, RuntimeError):
    """No model could be chosen: no trial finished in the budget, or none meets the privacy gate.

    ``result`` holds what was found (the honest fallback, when there is one); the CLI exits 1.
    """

    def __init__(self, message: str, result: SearchResult):
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class SearchResult:
    """What a search found. ``trials`` are plain dicts (number, model, params, state, scores, error)."""

    out: Path
    chosen: dict[str, Any] | None
    pareto: list[dict[str, Any]]
    trials: list[dict[str, Any]]
    seconds: float
    budget: float
    objectives: tuple[str, ...]
    max_dcr_share: float
    fallback: dict[str, Any] | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def model_dir(self) -> Path | None:
        return self.out / "model" if self.chosen is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "chosen": self.chosen, "pareto": [t["number"] for t in self.pareto],
                "trials": self.trials, "seconds": round(self.seconds, 2), "budget": self.budget,
                "objectives": list(self.objectives), "max_dcr_share": self.max_dcr_share,
                "fallback": self.fallback, "notes": list(self.notes),
                "model_dir": None if self.model_dir is None else str(self.model_dir)}


def parse_budget(text: str | float | int) -> float:
    """Seconds from ``90``, ``"90s"``, ``"6m"``, ``"1.5h"``."""
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        units = {"s": 1, "m": 60, "h": 3600}
        raw = text.strip().lower()
        unit = units.get(raw[-1:])
        try:
            seconds = float(raw[:-1] if unit else raw) * (unit or 1)
        except ValueError:
            raise ConfigError(f"Budget '{text}' is not a duration; write e.g. 90s, 10m or 1h.") from None
    if not math.isfinite(seconds) or seconds < MIN_BUDGET:
        raise ConfigError(f"A budget of {seconds:g} s is too small for one trial; give at least {MIN_BUDGET:g} s "
                          "(a cart trial on 10,000 rows takes about 5-10 s on one core).")
    return seconds


def search(data: pd.DataFrame | str | Path, out: str | Path, *, budget: str | float = "10m", target: str | None = None,
           schema: Any = None, models: Sequence[str] | str | None = None, max_dcr_share: float = 0.55,
           validation: float = 0.2, seed: int = 0, backend: str = "local", n_jobs: int = 1,
           trial_timeout: float | None = None, max_trials: int | None = None, screen_rows: int = 2000,
           eval_rows: int = 5000, repeats: int = 3, lineage: str | Path | None = None,
           on_trial: OnTrial | None = None) -> SearchResult:
    """Search the candidate ``models`` and their spaces for ``data`` within ``budget``; see the module doc.

    ``max_trials`` ends the search early once this many trials (of this call) have run. Each trial
    scores ``repeats`` samples of its model (the noise estimate of :func:`choose`); a trial gets
    ``trial_timeout`` seconds (default: a third of the budget), neural fits a share of them.

    Raises :class:`SearchFailed` (with the partial result) when no model can be chosen, and
    :class:`~synthloop.errors.ConfigError` for a bad budget, model name or setting.
    """
    optuna = require("optuna", "search", "synthloop search")
    started = time.monotonic()
    seconds = parse_budget(budget)
    candidates = check_candidates(models)
    check_backend(backend)
    if not 0 < validation < 0.5:
        raise ConfigError(f"validation must be a share between 0 and 0.5, got {validation}")
    if not 1 <= repeats <= 20:
        raise ConfigError(f"repeats must be between 1 and 20, got {repeats}")
    if max_trials is not None and max_trials < 1:
        raise ConfigError(f"max_trials must be at least 1, got {max_trials}")
    if not 0 < max_dcr_share <= 1:
        raise ConfigError(f"max_dcr_share must be in (0, 1], got {max_dcr_share}")
    trial_timeout = float(trial_timeout) if trial_timeout else seconds / 3
    real, source, table_schema = _load(data, schema, target)
    train, valid = _split(real, validation, seed)
    _preload(candidates, train, valid, table_schema)
    out = Path(out)
    (out / "trials").mkdir(parents=True, exist_ok=True)
    training = _guard(lineage, real, source)
    objectives = ("detection", "utility") if table_schema.target is not None else ("detection",)
    study = _study(optuna, out, seed, objectives, max_dcr_share, real, candidates)
    notes = list(_mark_interrupted(optuna, study))
    rng = np.random.default_rng([seed, len(study.trials)])
    deadline = started + seconds
    running: dict[Job, tuple[Any, float]] = {}
    dead: set[str] = {r["model"] for r in _records(study) if r["state"] == "FAIL" and r["defaults"]}
    queue = [m for m in candidates if not any(r["model"] == m and r["defaults"] for r in _records(study))]
    with Runner(backend, n_jobs) as runner:
        launched, exhausted = 0, False
        while time.monotonic() < deadline:
            while (len(running) < runner.n_jobs and time.monotonic() < deadline - 1
                   and (max_trials is None or launched < max_trials)):
                model, defaults = _next_model(queue, candidates, dead, _records(study), rng, max_dcr_share)
                if model is None:
                    exhausted = True
                    break
                launched += 1
                study.enqueue_trial({MODEL_PARAM: model})      # the model is ours to choose; TPE draws its params
                trial = study.ask()
                trial.suggest_categorical(MODEL_PARAM, list(candidates))
                trial.set_user_attr("defaults", defaults)
                params = {} if defaults else suggest(trial, model)
                spec = TrialSpec(number=trial.number, model=model, params=params,
                                 seed=int(np.random.SeedSequence([seed, trial.number]).generate_state(1)[0]),
                                 folder=str(out / "trials" / str(trial.number)), train=train, validation=valid,
                                 schema=table_schema, screen_rows=screen_rows,
                                 prune_above=float("inf") if defaults else _prune_above(study),
                                 eval_rows=eval_rows, repeats=repeats,
                                 seconds=min(trial_timeout, deadline - time.monotonic()))
                running[runner.submit(run_trial, spec)] = (trial, min(time.monotonic() + trial_timeout, deadline))
            if not running:
                if exhausted:
                    failed = f"; failed with their defaults: {', '.join(sorted(dead))}" if dead else ""
                    notes.append(f"nothing left to try: every candidate ran its defaults and none that can still "
                                 f"run declares a search space{failed}")
                if exhausted or (max_trials is not None and launched >= max_trials):
                    break
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))   # the last second: nothing new starts
                continue
            wait = max(0.0, min(limit for _, limit in running.values()) - time.monotonic())
            for job in runner.wait(list(running), timeout=min(wait, 1.0)):
                trial, _ = running.pop(job)
                _tell(optuna, study, trial, job, objectives, dead, on_trial, max_dcr_share)
            now = time.monotonic()
            for job, (trial, limit) in list(running.items()):
                if now >= limit:
                    reason = "timed out" if limit < deadline else "stopped at the end of the budget"
                    runner.kill(job, f"{reason} after {job.elapsed:.0f} s")
                    running.pop(job)
                    _tell(optuna, study, trial, job, objectives, dead, on_trial, max_dcr_share)
        for job, (trial, _) in list(running.items()):
            runner.kill(job, f"stopped at the end of the budget after {job.elapsed:.0f} s")
            _tell(optuna, study, trial, job, objectives, dead, on_trial, max_dcr_share)
    return _finish(study, out, objectives, max_dcr_share, seconds, started, notes, lineage, training)


# ---------------------------------------------------------------------- setup
def _load(data, schema, target):
    from synthloop.io import read_table
    from synthloop.schema import Schema

    source = None if isinstance(data, pd.DataFrame) else Path(data)
    real = data if source is None else read_table(source)
    real = real.rename(columns=str).reset_index(drop=True)
    if isinstance(schema, (str, Path)):
        schema = Schema.from_json(Path(schema).read_text(encoding="utf-8"))
    if schema is None:
        schema = Schema.infer(real, target=target)
    schema.validate(real, what="training data")
    return real, source, schema


def _preload(candidates, train: pd.DataFrame, valid: pd.DataFrame, schema) -> None:
    """Import the candidate models and run the scores once on a few rows here: forked workers inherit
    the loaded modules instead of each paying them (the first trial in a fresh process took 3.5 s on
    penguins where the next took 0.6 s, on a loaded 2-core machine)."""
    from threadpoolctl import threadpool_limits

    from synthloop.synthesizers import get_class
    from synthloop.tuning.trial import warm_up

    for name in candidates:
        get_class(name)
    with threadpool_limits(1):     # no OpenMP thread pool in the parent: forked children would inherit it broken
        warm_up(train, valid, schema)


def _split(real: pd.DataFrame, share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng([seed, 1]).permutation(len(real))
    n_valid = max(2, round(share * len(real)))
    if len(real) - n_valid < 10:
        raise ConfigError(f"The table has {len(real)} rows; a search needs at least {n_valid + 10} "
                          "(a training part and a validation part).")
    valid, train = np.sort(order[:n_valid]), np.sort(order[n_valid:])
    return real.iloc[train].reset_index(drop=True), real.iloc[valid].reset_index(drop=True)


def _guard(lineage, real, source):
    """Check (and with a store, record) the training data's lineage before any trial, as fit does."""
    from synthloop.lineage import LineageStore
    from synthloop.loop.guard import guard_fit

    store = LineageStore(lineage) if lineage is not None else None
    return guard_fit(store, real, synthesizer="search", params={}, source=source)


def _study(optuna, out: Path, seed: int, objectives, max_dcr_share: float, real: pd.DataFrame, candidates):
    from synthloop.lineage.fingerprint import fingerprint

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    directions = ["minimize", "maximize"][:len(objectives)]
    # Optuna 5 records a constraint on the trial (Trial.set_constraint, set in _tell); older ones ask the sampler.
    gate = {} if hasattr(optuna.trial.Trial, "set_constraint") else {"constraints_func": _constraint(max_dcr_share)}
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=4, **gate)
    study = optuna.create_study(study_name=STUDY, storage=_storage(optuna, out / JOURNAL), directions=directions,
                                sampler=sampler, load_if_exists=True)
    identity = {"data": fingerprint(real), "candidates": list(candidates), "objectives": list(objectives)}
    stored = study.user_attrs.get("identity")
    if stored is None:
        study.set_user_attr("identity", identity)
    elif stored != identity:
        changed = ", ".join(key for key in identity if stored.get(key) != identity[key])
        raise ConfigError(f"'{out}' holds a search of other settings ({changed} differ); give a new --out folder "
                          "to start a new search, or the same settings to resume it.")
    return study


def _storage(optuna, path: Path):
    """Optuna's journal file: an append-only log, resumable, and ~0.5 s to open where the SQLite
    (SQLAlchemy) storage took 4.7 s on a loaded 2-core machine, a third of a 15 s budget."""
    try:
        from optuna.storages.journal import JournalFileBackend
    except ImportError:                   # optuna < 4
        from optuna.storages import JournalFileStorage as JournalFileBackend
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def _constraint(max_dcr_share: float):
    def constraint(trial) -> list[float]:
        share = trial.user_attrs.get("dcr_share")
        return [1.0 if share is None else share - max_dcr_share]   # ≤ 0 is feasible
    return constraint


def _mark_interrupted(optuna, study) -> list[str]:
    stale = [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    for trial in stale:
        study._storage.set_trial_user_attr(trial._trial_id, "error", "interrupted (the search was stopped)")
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
    done = sum(t.state.is_finished() for t in study.trials) - len(stale)
    return [f"resumed: {done} earlier trials kept, {len(stale)} interrupted"] if done or stale else []


# ---------------------------------------------------------------------- the loop
def _next_model(queue: list[str], candidates, dead: set[str], records, rng,
                max_dcr_share: float) -> tuple[str | None, bool]:
    """Defaults first (in candidate order), then the best model so far half the time, the others evenly."""
    while queue:
        model = queue.pop(0)
        if model not in dead:
            return model, True
    alive = [m for m in candidates if m not in dead and has_space(m)]   # a model without a space ran its defaults
    if not alive:
        return None, False
    complete = [r for r in records if r["state"] == "COMPLETE"]
    best = _lowest_loss([r for r in complete if r.get("dcr_share", 1.0) <= max_dcr_share]) or _lowest_loss(complete)
    if best is None or best["model"] not in alive or len(alive) == 1:
        return alive[int(rng.integers(len(alive)))], False
    if rng.random() < 0.5:
        return best["model"], False
    others = [m for m in alive if m != best["model"]]
    return others[int(rng.integers(len(others)))], False


def _prune_above(study) -> float:
    screens = [t.user_attrs["screen_detection"] for t in study.trials if "screen_detection" in t.user_attrs
               and t.state.name == "COMPLETE"]
    return min(screens) + PRUNE_MARGIN if screens else float("inf")


def _tell(optuna, study, trial, job: Job, objectives, dead: set[str], on_trial: OnTrial | None,
          max_dcr_share: float) -> None:
    State = optuna.trial.TrialState
    model = trial.params[MODEL_PARAM]
    trial.set_user_attr("seconds", round(job.elapsed, 2))
    if job.error is not None:
        trial.set_user_attr("error", job.error.strip().splitlines()[0][:500])
        if trial.user_attrs.get("defaults"):
            dead.add(model)
        study.tell(trial, state=State.FAIL)
    else:
        for key, value in job.value.items():
            if key != "status":
                trial.set_user_attr(key, value)
        if job.value["status"] == "pruned":
            study.tell(trial, state=State.PRUNED)
        else:
            if hasattr(trial, "set_constraint"):
                trial.set_constraint("dcr_share", job.value["dcr_share"] - max_dcr_share)  # ≤ 0: feasible
            values = [job.value["detection"], job.value.get("utility", float("nan"))][:len(objectives)]
            study.tell(trial, values)
    if on_trial is not None:
        on_trial(_record(study.trials[trial.number]))


# ---------------------------------------------------------------------- results
def _record(trial) -> dict[str, Any]:
    model = trial.params.get(MODEL_PARAM)
    attrs = trial.user_attrs
    record = {"number": trial.number, "model": model, "params": plain_params(trial.params, model or ""),
              "defaults": bool(attrs.get("defaults")), "state": trial.state.name,
              "seconds": attrs.get("seconds")}
    for key in ("detection", "detection_sd", "utility", "utility_sd", "utility_metric", "repeats", "dcr_share",
                "fit_seconds", "screen_detection", "epochs", "error"):
        if key in attrs:
            record[key] = attrs[key]
    if "epochs" in attrs:           # a neural fit the trial's time share stopped: what it trained is its parameter
        record["params"]["epochs"] = attrs["epochs"]
    return record


def _records(study) -> list[dict[str, Any]]:
    return [_record(t) for t in study.trials]


def _keys(objectives) -> tuple[str, ...]:
    return ("detection", "utility") if "utility" in objectives else ("detection",)


def _worse_by(a: dict[str, Any], b: dict[str, Any], key: str) -> float:
    """How much worse ``a`` is than ``b`` on ``key`` (detection: higher is worse; utility: lower is worse)."""
    return a[key] - b[key] if key == "detection" else b[key] - a[key]


def noise(records: list[dict[str, Any]], key: str) -> float:
    """One sample's standard deviation of ``key``, pooled over the repeats of the finished trials.

    With fewer than 6 degrees of freedom the prior (``PRIOR_SD``) is the floor."""
    squares = dof = 0.0
    for r in records:
        sd, n = r.get(f"{key}_sd"), r.get("repeats") or 1
        if sd is not None and n > 1 and math.isfinite(sd):
            squares += (n - 1) * sd * sd
            dof += n - 1
    pooled = math.sqrt(squares / dof) if dof else 0.0
    return pooled if dof >= 6 else max(pooled, PRIOR_SD[key])


def _gap_se(a: dict[str, Any], b: dict[str, Any], sd: float) -> float:
    """Standard error of the difference of two trials' means (independent samples, ``sd`` each)."""
    return sd * math.sqrt(1 / (a.get("repeats") or 1) + 1 / (b.get("repeats") or 1))


def _pareto(records: list[dict[str, Any]], objectives, sds: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """Trials no other trial beats beyond the noise: another dominates one only when it is no worse on
    every objective and better by more than ``Z`` standard errors on at least one (``sds``: each
    score's noise; without it, plain Pareto dominance)."""
    keys = _keys(objectives)

    def dominates(o, r) -> bool:
        if o is r or any(_worse_by(o, r, k) > 0 for k in keys):
            return False
        margin = {k: Z * _gap_se(o, r, sds[k]) if sds else 0.0 for k in keys}
        return any(_worse_by(r, o, k) > margin[k] for k in keys)

    front = [r for r in records if not any(dominates(o, r) for o in records)]
    return sorted(front, key=lambda r: (r["detection"], -r.get("utility", 0.0)))


def _loss(r: dict[str, Any], best_utility: float) -> float:
    """Detection excess over 0.5 plus utility shortfall from the best (one number to rank trials)."""
    return max(r["detection"] - 0.5, 0.0) + best_utility - r.get("utility", 0.0)


def _lowest_loss(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The smallest detection excess plus utility shortfall; fit time breaks ties."""
    if not records:
        return None
    best_utility = max((r.get("utility", 0.0) for r in records), default=0.0)
    return min(records, key=lambda r: (round(_loss(r, best_utility), 4), r.get("fit_seconds", 0.0)))


def choose(records: list[dict[str, Any]], objectives) -> tuple[dict[str, Any] | None, list[dict[str, Any]], str]:
    """The chosen trial among feasible finished ``records``, the Pareto set, and why (one sentence).

    The incumbent is the default trial of lowest loss (:func:`_lowest_loss`). A tuned trial replaces
    it only when it beats it on the loss by more than ``Z`` standard errors of the difference and is
    not worse than it by more than ``Z`` standard errors on any objective; the noise is each score's
    pooled standard deviation over the trials' repeats (:func:`noise`). Among such trials the one of
    lowest loss wins. A model tuned on the same validation rows it is judged on wins ties by chance
    (and more often the more trials run), so a tie goes to the default, which then carries over to
    unseen data; on the held-out split of the benchmark the single-split choice lost to the default
    for that reason (docs/benchmarks.md).
    """
    keys = _keys(objectives)
    sds = {k: noise(records, k) for k in keys}
    pareto = _pareto(records, objectives, sds)
    if not pareto:
        return None, pareto, "no feasible trial finished"
    best_utility = max((r.get("utility", 0.0) for r in records), default=0.0)
    noise_text = ", ".join(f"{k} ±{sds[k]:.3f}" for k in keys)
    incumbent = _lowest_loss([r for r in records if r["defaults"]])
    if incumbent is None:
        chosen = _lowest_loss(pareto)
        return chosen, pareto, f"no default model finished; trial {chosen['number']} has the lowest loss"

    def beats(c) -> bool:
        if any(_worse_by(c, incumbent, k) > Z * _gap_se(c, incumbent, sds[k]) for k in keys):
            return False
        gain = _loss(incumbent, best_utility) - _loss(c, best_utility)
        return gain > Z * math.sqrt(sum(_gap_se(c, incumbent, sds[k]) ** 2 for k in keys))

    winners = [r for r in pareto if not r["defaults"] and beats(r)]
    if winners:
        chosen = _lowest_loss(winners)
        gain = _loss(incumbent, best_utility) - _loss(chosen, best_utility)
        return chosen, pareto, (f"trial {chosen['number']} ({chosen['model']}) beats the best default "
                                f"({incumbent['model']}, trial {incumbent['number']}) by {gain:.3f} in loss, beyond "
                                f"the validation noise ({noise_text} per sample)")
    if any(r["number"] == incumbent["number"] for r in pareto):
        return incumbent, pareto, (f"the best default ({incumbent['model']}, trial {incumbent['number']}): no trial "
                                   f"beats it beyond the validation noise ({noise_text} per sample)")
    chosen = _lowest_loss(pareto)
    return chosen, pareto, (f"trial {chosen['number']}: the best default ({incumbent['model']}) is off the Pareto "
                            f"set and no trial beats it beyond the noise ({noise_text}); lowest loss in the set")


def _finish(study, out: Path, objectives, max_dcr_share: float, budget: float, started: float, notes: list[str],
            lineage, training) -> SearchResult:
    from synthloop.io.atomic import atomic_write

    records = _records(study)
    complete = [r for r in records if r["state"] == "COMPLETE"]
    for r in complete:
        r["feasible"] = r.get("dcr_share", 1.0) <= max_dcr_share
    feasible = [r for r in complete if r["feasible"]]
    chosen, pareto, why = choose(feasible, objectives)
    if chosen is not None:
        notes.append(f"chosen: {why}")
    for r in records:
        r["pareto"] = any(p["number"] == r["number"] for p in pareto)
        r["chosen"] = chosen is not None and r["number"] == chosen["number"]
    fallback, failure = None, None
    if chosen is not None:
        _install(out, chosen["number"], lineage, training)
    elif complete:
        fallback = min(complete, key=lambda r: r.get("dcr_share", 1.0))
        failure = (f"No trial meets the privacy gate dcr_share <= {max_dcr_share:g} ({len(complete)} finished); the "
                   f"closest is trial {fallback['number']} ({fallback['model']}, dcr_share {fallback['dcr_share']:.3f}, "
                   f"kept in {out / 'trials' / str(fallback['number'])}). Relax --max-dcr-share or add candidates.")
    else:
        longest = max((r.get("seconds") or 0 for r in records), default=0)
        failure = (f"No trial finished within the budget of {budget:g} s ({len(records)} started). "
                   + (f"The longest ran {longest:.0f} s before it stopped; " if longest else "")
                   + "give a larger --budget, or faster candidates (e.g. --models cart,gaussian_copula).")
    result = SearchResult(out=out, chosen=chosen, pareto=pareto, trials=records, seconds=time.monotonic() - started,
                          budget=budget, objectives=tuple(objectives), max_dcr_share=max_dcr_share,
                          fallback=fallback, notes=tuple(notes))
    with atomic_write(out / "search.json") as tmp:
        tmp.write_text(json.dumps(result.to_dict(), indent=2, default=_plain))
    from synthloop.tuning.report import write_html

    write_html(result, out / "search.html")
    _tidy(out, keep={r["number"] for r in pareto} | ({fallback["number"]} if fallback else set()))
    if failure is not None:
        raise SearchFailed(failure, result)
    return result


def _install(out: Path, number: int, lineage, training) -> None:
    """Copy the chosen trial's model (and its privacy reference) to OUT/model, atomically; link its lineage."""
    from synthloop.io.atomic import atomic_dir
    from synthloop.lineage import LineageStore, link_model

    source = out / "trials" / str(number)
    with atomic_dir(out / "model") as tmp:
        shutil.copytree(source, tmp, dirs_exist_ok=True)
    reference = source.with_name(f"{number}.privacy")
    if reference.is_dir():
        with atomic_dir(out / "model.privacy", private=True) as tmp:
            shutil.copytree(reference, tmp, dirs_exist_ok=True)
    link_model(out / "model", training, LineageStore(lineage) if lineage is not None else None)


def _tidy(out: Path, keep: set[int]) -> None:
    """Delete the model folders of trials outside the Pareto set (they can be refitted from search.json)."""
    for folder in (out / "trials").iterdir():
        number = folder.name.split(".")[0]
        if number.isdigit() and int(number) not in keep:
            shutil.rmtree(folder, ignore_errors=True)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
