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
from synthloop.lab.chain import ChainSpec
from synthloop.lab.measures import GOALS, MEASURES, check_measures, measure, rare_categories
from synthloop.lab.parallel import run_chains
from synthloop.lab.policies import Policy, policy_label
from synthloop.lineage.fingerprint import check_unseen, fingerprint
from synthloop.lineage.store import LineageStore
from synthloop.schema import Schema
from synthloop.synthesizers.base import Synthesizer

Backend = Literal["local", "ray"]
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class LabResult:
    """Per-generation measures of every chain, plus the real-vs-holdout reference."""

    results: pd.DataFrame
    reference: Mapping[str, float]
    out_dir: Path | None = None
    config: Mapping[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Mean and standard deviation over seeds, per policy and generation."""
        grouped = self.results.groupby(["policy", "generation"])[[m for m in MEASURES if m in self.results]]
        return grouped.agg(["mean", "std"]).reset_index()

    def final(self) -> pd.DataFrame:
        """Mean over seeds at the last generation, one row per policy."""
        last = self.results[self.results["generation"] == self.results["generation"].max()]
        return last.groupby("policy")[[m for m in MEASURES if m in last]].mean()

    def to_csv(self, path: str | Path) -> Path:
        with atomic_write(path, suffix=".csv") as tmp:
            self.results.to_csv(tmp, index=False)
        return Path(path)

    def to_json(self, path: str | Path) -> Path:
        payload = {"config": dict(self.config), "reference": dict(self.reference), "goals": GOALS,
                   "results": json.loads(self.results.to_json(orient="records"))}
        with atomic_write(path, suffix=".json") as tmp:
            tmp.write_text(json.dumps(payload, indent=2, default=str))
        return Path(path)

    def to_html(self, path: str | Path) -> Path:
        from synthloop.lab.report import write_report

        return write_report(self, path)


def run_lab(real: pd.DataFrame, synthesizer: Synthesizer, policy: Policy | Sequence[Policy], *,
            generations: int = 5, n_rows: int | None = None, metrics: Sequence[str] | str = "default",
            holdout: pd.DataFrame | None = None,
            schema: Schema | None = None, store: LineageStore | str | Path | None = None, out_dir: str | Path | None = None,
            seed: int | Sequence[int] = 0, backend: Backend = "local", n_jobs: int | None = None) -> LabResult:
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
        :data:`synthloop.lab.measures.MEASURES`.
    holdout
        Frozen real rows never trained on; default: a stratified 20% split off ``real``. It must not
        overlap ``real``.
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
    """
    policies = _as_policies(policy)
    measures = check_measures(metrics)
    seeds = [int(seed)] if isinstance(seed, (int, np.integer)) else [int(s) for s in seed]
    if generations < 1 or not seeds:
        raise ConfigError(f"run_lab needs generations ≥ 1 and at least one seed (got {generations}, {seeds}).")
    real, holdout = split_holdout(real, holdout, schema)
    schema = schema if schema is not None else Schema.infer(real)
    n_rows = int(n_rows or len(real))
    out = Path(out_dir) if out_dir is not None else None
    config = _manifest(real, holdout, synthesizer, policies, seeds, generations, n_rows, measures)
    if out is not None:
        _check_manifest(out, config)
    if isinstance(store, (str, Path)):
        store = LineageStore(store)
    real_id = store.add(real, kind="real", name="lab real data").id if store is not None else None
    rare = rare_categories(real, schema)
    specs = [ChainSpec(label=label, policy=p, seed=s, real=real, holdout=holdout, schema=schema,
                       synthesizer=synthesizer, generations=generations, n_rows=n_rows, rare=rare,
                       chain_dir=None if out is None else out / "chains" / label / f"seed-{s}",
                       store=store, real_id=real_id, measures=measures)
             for label, p in policies.items() for s in seeds]
    rows = [row for chain in run_chains(specs, backend=backend, n_jobs=n_jobs) for row in chain]
    reference = _reference(real, holdout, schema, rare, n_rows, seeds[0], measures)
    result = LabResult(pd.DataFrame(rows), reference, out, config)
    if out is not None:
        result.to_csv(out / "results.csv")
        result.to_json(out / "results.json")
        result.to_html(out / "report.html")
    return result


def _as_policies(policy: Policy | Sequence[Policy]) -> dict[str, Policy]:
    policies = list(policy) if isinstance(policy, Sequence) else [policy]
    for item in policies:
        if not callable(getattr(item, "training_set", None)):
            raise ConfigError(f"{item!r} is not a lab policy: it needs a training_set(real, history, rng) method.")
    labels = [policy_label(p) for p in policies]
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
              seeds: list[int], generations: int, n_rows: int, measures: tuple[str, ...]) -> dict[str, Any]:
    return {"real_id": fingerprint(real), "holdout_id": fingerprint(holdout), "synthesizer": synthesizer.name,
            "params": {k: v for k, v in synthesizer.get_params().items() if k != "seed"},
            "policies": {label: repr(p) for label, p in policies.items()}, "seeds": seeds,
            "generations": generations, "n_rows": n_rows, "measures": list(measures)}


def _check_manifest(out: Path, config: dict[str, Any]) -> None:
    """Refuse to resume into a folder that holds a different experiment; record this one."""
    path = out / MANIFEST
    if path.is_file():
        previous = json.loads(path.read_text())
        fixed = ("real_id", "holdout_id", "synthesizer", "params", "n_rows", "measures")
        changed = [k for k in fixed if json.dumps(previous.get(k), default=str) != json.dumps(config[k], default=str)]
        changed += [f"policy '{p}'" for p, text in config["policies"].items()
                    if p in previous.get("policies", {}) and previous["policies"][p] != text]
        if changed:
            raise ConfigError(f"'{out}' holds a different lab run ({', '.join(changed)} differ); resume it with its "
                              "own configuration, or choose another out_dir.")
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(config, indent=2, default=str))


def _reference(real: pd.DataFrame, holdout: pd.DataFrame, schema: Schema, rare: dict[str, set[str]],
               n_rows: int, seed: int, measures: tuple[str, ...]) -> dict[str, float]:
    """The measures of real data itself (a real sample vs the holdout): what 'no loss' looks like."""
    rng = np.random.default_rng([seed, 0])
    sample = real.iloc[rng.choice(len(real), size=min(n_rows, len(real)), replace=False)]
    return measure(sample, holdout, schema, rare, rng, measures, real=real)
