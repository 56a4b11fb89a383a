"""run_lab: retrain a synthesizer on its own output under several policies and watch what is lost.

The experiment of Shumailov et al. (Nature 2024) and Gerstgrasser et al. (2024) on a table: for
each policy and seed, a chain of generations (see :mod:`synthloop.lab.chain`), each measured
against a frozen real holdout that no generation ever trains on. Chains run in parallel on a
local process pool or on Ray; with ``out_dir`` every generation is checkpointed and a killed run
resumes at the next generation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from synthloop.errors import ConfigError, DataError
from synthloop.io.atomic import atomic_write
from synthloop.lab.chain import ChainSpec, OnGeneration
from synthloop.lab.measures import MEASURES, check_measures, goals, measure
from synthloop.lab.parallel import run_chains
from synthloop.lineage.fingerprint import check_unseen, fingerprint
from synthloop.lineage.store import LineageStore
from synthloop.loop.policies import Policy
from synthloop.schema import Schema
from synthloop.synthesizers.base import Synthesizer

Backend = Literal["local", "ray"]
MANIFEST = "manifest.json"
PRIVACY_MODES = ("parity", "no-copies", "off")


@dataclass(frozen=True)
class LabResult:
    """Per-generation measures of every chain, plus the real-vs-holdout reference."""

    results: pd.DataFrame
    reference: Mapping[str, float]
    out_dir: Path | None = None
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def privacy(self) -> str:
        """The privacy setting every generation sampled with."""
        return str(self.config.get("privacy", "parity"))

    @property
    def measures(self) -> list[str]:
        return [m for m in MEASURES if m in self.results]

    def summary(self) -> pd.DataFrame:
        """Mean, median and standard deviation over seeds, per policy and generation (a mean can rise
        while most chains collapse; the median shows it)."""
        grouped = self.results.groupby(["policy", "generation"], sort=False)[self.measures]
        return grouped.agg(["mean", "median", "std"]).reset_index()

    def final(self, statistic: str = "mean") -> pd.DataFrame:
        """``statistic`` (mean or median) over seeds at the last generation, one row per policy."""
        last = self.results[self.results["generation"] == self.results["generation"].max()]
        return last.groupby("policy", sort=False)[self.measures].agg(statistic)

    def to_csv(self, path: str | Path) -> Path:
        with atomic_write(path, suffix=".csv") as tmp:
            self.results.to_csv(tmp, index=False)
        return Path(path)

    def to_json(self, path: str | Path) -> Path:
        payload = {"config": dict(self.config), "privacy": self.privacy, "reference": dict(self.reference),
                   "goals": goals(),
                   "results": json.loads(self.results.to_json(orient="records"))}
        with atomic_write(path, suffix=".json") as tmp:
            tmp.write_text(json.dumps(payload, indent=2, default=str))
        return Path(path)

    def to_html(self, path: str | Path) -> Path:
        from synthloop.lab.report import write_report

        return write_report(self, path)


def run_lab(real: pd.DataFrame, synthesizer: Synthesizer, policy: Policy | Sequence[Policy], *,
            generations: int = 5, n_rows: int | None = None, metrics: Sequence[str] | str = "default",
            holdout: pd.DataFrame | None = None, privacy: str = "parity",
            schema: Schema | None = None, store: LineageStore | str | Path | None = None, out_dir: str | Path | None = None,
            seed: int | Sequence[int] = 0, backend: Backend = "local", n_jobs: int | None = None,
            on_generation: OnGeneration | None = None) -> LabResult:
    """Run every (policy, seed) chain for ``generations`` generations and measure each against ``holdout``.

    Parameters
    ----------
    real
        The real training data of generation 1 (and the real pool of accumulate / mix-real).
    synthesizer
        An unfitted synthesizer; every generation fits ``synthesizer.clone()``.
    policy
        One policy or several (e.g. ``[Replace(), Accumulate(), MixReal(0.5)]``).
    generations
        Generations per chain; generation 1 is fitted on real data.
    n_rows
        Rows generated per generation (default: as many as ``real``).
    metrics
        ``"default"`` (every lab measure) or a list of names from
        :data:`synthloop.lab.measures.MEASURES` (registered metrics).
    holdout
        Frozen real rows never trained on; default: a stratified 20% split off ``real``. It must not
        share more rows with ``real`` than two real samples share by chance.
    privacy
        How every generation samples (``model.sample(..., privacy=...)``): ``"parity"`` (the library
        default), ``"no-copies"`` or ``"off"``. Stated in every result row and in the manifest.
    schema
        Schema of the data (default: inferred from ``real``; give one with a ``target`` for TSTR).
    store
        Lineage store (or its path) that records every training set and every sample; it is opened
        only after the inputs were checked, so bad input leaves it untouched.
    out_dir
        Checkpoint folder; an existing run there is resumed.
    seed
        One seed, or several (one chain per seed and policy).
    backend
        ``"local"`` (process pool; ``n_jobs=1`` runs in this process) or ``"ray"``.
    on_generation
        Progress callback, called in this process after each finished generation with
        ``(policy label, seed, generation)``.
    """
    policies = _as_policies(policy)
    if privacy not in PRIVACY_MODES:
        raise ConfigError(f"Unknown privacy setting {privacy!r} for the lab; choose one of {', '.join(PRIVACY_MODES)}.")
    measures = check_measures(metrics)
    seeds = [int(seed)] if isinstance(seed, (int, np.integer)) else [int(s) for s in seed]
    if generations < 1 or not seeds:
        raise ConfigError(f"run_lab needs generations ≥ 1 and at least one seed (got {generations}, {seeds}).")
    real, holdout = split_holdout(real, holdout, schema)
    schema = schema if schema is not None else Schema.infer(real)
    n_rows = int(n_rows or len(real))
    out = Path(out_dir) if out_dir is not None else None
    config = _manifest(real, holdout, synthesizer, policies, seeds, generations, n_rows, measures, privacy)
    if out is not None:
        _check_manifest(out, config)
    if isinstance(store, (str, Path)):
        store = LineageStore(store)
    real_id = store.add(real, kind="real", name="lab real data").id if store is not None else None
    specs = [ChainSpec(label=label, policy=p, seed=s, real=real, holdout=holdout, schema=schema,
                       synthesizer=synthesizer, generations=generations, n_rows=n_rows, privacy=privacy,
                       chain_dir=None if out is None else out / "chains" / label / f"seed-{s}",
                       store=store, real_id=real_id, measures=measures)
             for label, p in policies.items() for s in seeds]
    rows = [row for chain in run_chains(specs, backend=backend, n_jobs=n_jobs, on_generation=on_generation)
            for row in chain]
    reference = _reference(real, holdout, schema, n_rows, seeds[0], measures)
    result = LabResult(pd.DataFrame(rows), reference, out, config)
    if out is not None:
        result.to_csv(out / "results.csv")
        result.to_json(out / "results.json")
        result.to_html(out / "report.html")
    return result


def _as_policies(policy: Policy | Sequence[Policy]) -> dict[str, Policy]:
    policies = list(policy) if isinstance(policy, Sequence) and not isinstance(policy, str) else [policy]
    for item in policies:
        if not isinstance(item, Policy):
            raise ConfigError(f"{item!r} is not a lab policy: use one of synthloop.loop's (Replace(), Accumulate(), "
                              "MixReal(0.5), Filtered(), NaiveFilter()) or a registered Policy subclass.")
    labels = [p.label for p in policies]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"Two policies share a label ({labels}); give each policy different settings.")
    return dict(zip(labels, policies))


def split_holdout(real: pd.DataFrame, holdout: pd.DataFrame | None,
                  schema: Schema | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A frozen holdout, never trained on: given (and checked for overlap) or split off the real data."""
    if not isinstance(real, pd.DataFrame) or len(real) < 10:
        raise DataError("run_lab needs a real DataFrame with at least 10 rows.")
    if holdout is None:
        from synthloop.datasets import split_frame

        return split_frame(real, target=schema.target if schema is not None else None)
    missing = sorted(set(map(str, real.columns)) - set(map(str, holdout.columns)))
    if missing:
        raise DataError(f"The holdout lacks columns {missing} of the real data; give a holdout with the same columns.")
    holdout = holdout[list(real.columns)].reset_index(drop=True)
    check_unseen(real, holdout)
    return real.reset_index(drop=True), holdout


def _manifest(real: pd.DataFrame, holdout: pd.DataFrame, synthesizer: Synthesizer, policies: Mapping[str, Policy],
              seeds: list[int], generations: int, n_rows: int, measures: tuple[str, ...],
              privacy: str) -> dict[str, Any]:
    """What identifies a run: data, synthesizer, policies as values (``to_config``), sizes, measures, privacy."""
    return {"real_id": fingerprint(real), "holdout_id": fingerprint(holdout), "synthesizer": synthesizer.name,
            "params": {k: v for k, v in synthesizer.get_params().items() if k != "seed"},
            "policies": {label: p.to_config() for label, p in policies.items()}, "seeds": seeds,
            "generations": generations, "n_rows": n_rows, "measures": list(measures), "privacy": privacy}


def _check_manifest(out: Path, config: dict[str, Any]) -> None:
    """Refuse to resume into a folder that holds a different experiment; record this one."""
    path = out / MANIFEST
    if path.is_file():
        previous = json.loads(path.read_text())
        fixed = ("real_id", "holdout_id", "synthesizer", "params", "n_rows", "measures", "privacy")
        changed = [k for k in fixed if _canonical(previous.get(k, "parity" if k == "privacy" else None))
                   != _canonical(config[k])]
        changed += [f"policy '{p}'" for p, value in config["policies"].items()
                    if p in previous.get("policies", {}) and _canonical(previous["policies"][p]) != _canonical(value)]
        if changed:
            raise ConfigError(f"'{out}' holds a different lab run ({', '.join(changed)} differ); resume it with its "
                              "own configuration, or choose another out_dir.")
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(config, indent=2, default=str))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _reference(real: pd.DataFrame, holdout: pd.DataFrame, schema: Schema, n_rows: int, seed: int,
               measures: tuple[str, ...]) -> dict[str, float]:
    """The measures of a fresh real sample, never trained on: what 'no loss' looks like.

    The sample is ``n_rows`` rows of the holdout (at most half of it), measured against the rest of
    the holdout; measuring the training rows instead would keep every rare category by construction.
    """
    rng = np.random.default_rng([seed, 0])
    order = rng.permutation(len(holdout))
    size = min(n_rows, len(holdout) // 2)
    fresh, rest = holdout.iloc[order[:size]], holdout.iloc[order[size:]].reset_index(drop=True)
    return measure(fresh.reset_index(drop=True), rest, schema, rng, measures, real=real)
