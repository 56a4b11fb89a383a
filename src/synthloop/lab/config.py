"""Lab configuration files (TOML), validated with pydantic at the edge, and the runs they describe.

A config names the real data (a bundled dataset or a file), the synthesizer, the policies and
the run settings; see ``examples/lab_adult.toml``. Data paths are relative to the config file;
``out_dir`` is relative to the working directory. The validated config is saved in the run folder
(``lab_config.json``), so ``synthloop lab resume DIR`` needs nothing else.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from synthloop.errors import ConfigError
from synthloop.io.atomic import atomic_write
from synthloop.lab.measures import check_measures

CONFIG_FILE = "lab_config.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Strict):
    dataset: str | None = None
    path: str | None = None
    split: Literal["all", "train", "test"] = "train"
    holdout_dataset: str | None = None
    holdout_path: str | None = None
    holdout_split: Literal["all", "train", "test"] = "test"
    target: str | None = None
    n_real: int | None = Field(default=None, ge=10)
    n_holdout: int | None = Field(default=None, ge=10)
    sample_seed: int = 0

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if (self.dataset is None) == (self.path is None):
            raise ValueError("give exactly one of data.dataset (a bundled name) or data.path (a CSV/Parquet file)")
        if self.holdout_dataset is not None and self.holdout_path is not None:
            raise ValueError("give at most one of data.holdout_dataset or data.holdout_path")
        return self


class SynthesizerConfig(_Strict):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


def _policy(config: dict[str, Any]) -> dict[str, Any]:
    """A policy table, checked and completed with its defaults by the loop registry (one definition)."""
    from synthloop.loop.policies import Policy

    return Policy.from_config(config).to_config()


PolicyConfig = Annotated[dict[str, Any], AfterValidator(_policy)]


class RunConfig(_Strict):
    generations: int = Field(default=5, ge=1, le=1000)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    n_rows: int | None = Field(default=None, ge=10)
    out_dir: str = "runs/lab"
    backend: Literal["local", "ray"] = "local"
    n_jobs: int | None = Field(default=None, ge=1)
    lineage: str | None = None
    measures: list[str] | Literal["default"] = "default"
    privacy: Literal["parity", "no-copies", "off"] = "parity"


class LabConfig(_Strict):
    """The whole lab file."""

    data: DataConfig
    synthesizer: SynthesizerConfig
    policies: list[PolicyConfig] = Field(min_length=1)
    run: RunConfig = Field(default_factory=RunConfig)
    base_dir: str = "."

    @classmethod
    def load(cls, path: str | Path) -> LabConfig:
        """Read and validate a TOML (or a saved JSON) lab config; every problem is reported at once."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"No lab config at '{path}'. See examples/lab_adult.toml for one.")
        try:
            raw = json.loads(path.read_text()) if path.suffix == ".json" else tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"'{path}' is not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {exc}") from None
        raw.setdefault("base_dir", str(path.resolve().parent))
        try:
            config = cls.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(_describe(path, exc)) from None
        config.synthesizer_object()  # unknown synthesizer, parameter or measure: fail before any work
        check_measures(config.run.measures)
        return config

    def synthesizer_object(self):
        from synthloop.synthesizers import get

        return get(self.synthesizer.name, **self.synthesizer.params)

    def policy_objects(self) -> list[Any]:
        from synthloop.loop.policies import Policy

        return [Policy.from_config(p) for p in self.policies]

    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """The real training rows and the holdout (None: the lab splits one off)."""
        data = self.data
        real = self._table(data.dataset, data.path, data.split)
        holdout = None
        if data.holdout_dataset is not None or data.holdout_path is not None:
            holdout = self._table(data.holdout_dataset, data.holdout_path, data.holdout_split)
        if data.n_real is not None and data.n_real < len(real):
            real = real.sample(data.n_real, random_state=data.sample_seed).reset_index(drop=True)
        if holdout is not None and data.n_holdout is not None and data.n_holdout < len(holdout):
            holdout = holdout.sample(data.n_holdout, random_state=data.sample_seed).reset_index(drop=True)
        return real, holdout

    def _table(self, dataset: str | None, path: str | None, split: str) -> pd.DataFrame:
        from synthloop.datasets import load
        from synthloop.io.tables import read_table

        if dataset is not None:
            return load(dataset, split=split)
        resolved = Path(path)
        return read_table(resolved if resolved.is_absolute() else Path(self.base_dir) / resolved)

    def save(self, out_dir: str | Path) -> Path:
        path = Path(out_dir) / CONFIG_FILE
        with atomic_write(path) as tmp:
            tmp.write_text(self.model_dump_json(indent=2))
        return path


def _describe(path: Path, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"  - {where}: {message}")
    return f"'{path}' is not a valid lab config ({len(lines)} problem(s)):\n" + "\n".join(lines)


def run_config(config: LabConfig, *, backend: str | None = None, out_dir: str | Path | None = None,
               on_generation=None):
    """Run (or resume) the lab a config describes; returns the :class:`~synthloop.lab.run.LabResult`."""
    from synthloop.lab.run import run_lab, split_holdout
    from synthloop.schema import Schema

    out = Path(out_dir if out_dir is not None else config.run.out_dir)
    real, holdout = config.tables()
    schema = Schema.infer(real, target=config.data.target)
    synthesizer, policies = config.synthesizer_object(), config.policy_objects()
    split_holdout(real, holdout, schema)  # bad input fails before anything is written
    if config.run.lineage and Path(config.run.lineage).exists():
        from synthloop.lineage.store import LineageStore

        LineageStore(config.run.lineage, create=False)  # refuses a file that is not a lineage store
    config.save(out)
    run = config.run
    return run_lab(real, synthesizer, policies, generations=run.generations, n_rows=run.n_rows, metrics=run.measures,
                   holdout=holdout, privacy=run.privacy, schema=schema, store=run.lineage, out_dir=out, seed=run.seeds,
                   backend=backend or run.backend, n_jobs=run.n_jobs, on_generation=on_generation)


def resume(out_dir: str | Path, *, backend: str | None = None, on_generation=None):
    """Resume a run from its folder (its saved config says what to run)."""
    path = Path(out_dir) / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"'{out_dir}' is not a lab run folder (no {CONFIG_FILE}); start one with: "
                          "synthloop lab run lab.toml")
    return run_config(LabConfig.load(path), backend=backend, out_dir=out_dir, on_generation=on_generation)
