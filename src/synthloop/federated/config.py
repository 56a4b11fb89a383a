"""Simulation configs (TOML), validated with pydantic at the edge; see ``examples/federated_adult.toml``
(the federated TVAE) and ``examples/federated_dp_adult.toml`` (the federated DP marginal model).

Data paths are relative to the config file; ``out``, ``checkpoint_dir`` and ``lineage`` are relative
to the working directory.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from synthloop.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSection(_Strict):
    dataset: str | None = None
    path: str | None = None
    split: Literal["all", "train", "test"] = "train"
    target: str | None = None
    schema_path: str | None = Field(default=None, alias="schema")

    @model_validator(mode="after")
    def _one_source(self) -> DataSection:
        if (self.dataset is None) == (self.path is None):
            raise ValueError("give exactly one of dataset (a bundled dataset) or path (a CSV/Parquet file)")
        return self


class SplitSection(_Strict):
    parties: int = Field(default=3, ge=1, le=100)
    how: Literal["iid", "label", "column"] = "iid"
    column: str | None = None
    alpha: float = Field(default=0.5, gt=0)


class TrainSection(_Strict):
    rounds: int = Field(default=20, ge=1)
    local_epochs: int = Field(default=5, ge=1)
    strategy: Literal["fedavg", "fedprox"] = "fedavg"
    proximal_mu: float = Field(default=0.01, ge=0)
    min_parties: int = Field(default=1, ge=1)
    model: Literal["tvae", "dp_mst", "dp_vae"] = "tvae"
    seed: int = 0
    n_quantiles: int = Field(default=201, ge=3)
    engine: Literal["inprocess", "ray"] = "inprocess"
    secure_aggregation: bool = False


class PrivacySection(_Strict):
    """Per-party differential privacy: the DP marginal model (``model = "dp_mst"``) or DP-SGD (``"dp_vae"``)."""

    epsilon: float | None = Field(default=None, gt=0)
    delta: float = Field(default=1e-5, gt=0, lt=1)
    epsilon_per_party: dict[str, float] = Field(default_factory=dict)
    structure: Literal["private", "public"] = "private"
    edges: list[tuple[str, str]] = Field(default_factory=list)
    trust_inferred_schema: bool = False
    max_grad_norm: float = Field(default=1.0, gt=0)


class SimulationConfig(_Strict):
    out: str
    checkpoint_dir: str | None = None
    lineage: str | None = None
    data: DataSection
    split: SplitSection = SplitSection()
    train: TrainSection = TrainSection()
    privacy: PrivacySection = PrivacySection()
    params: dict[str, Any] = Field(default_factory=dict)
    drop: dict[str, list[int]] = Field(default_factory=dict)
    base_dir: str = "."

    @classmethod
    def load(cls, path: str | Path) -> SimulationConfig:
        """Read and validate a TOML simulation config; every problem is reported at once."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"No federated config at '{path}'. See examples/federated_adult.toml for one.")
        try:
            raw = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"'{path}' is not valid TOML: {exc}") from None
        raw.setdefault("base_dir", str(path.resolve().parent))
        try:
            config = cls.model_validate(raw)
        except ValidationError as exc:
            lines = [f"  - {'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
                     for e in exc.errors()]
            raise ConfigError(f"'{path}' is not a valid federated config ({len(lines)} problem(s)):\n"
                              + "\n".join(lines)) from None
        config.settings()                        # bad settings or model parameters: fail before any work
        return config

    def settings(self, **overrides: Any):
        """The run's settings: :class:`MarginalSettings` for ``model = "dp_mst"``, else :class:`FederatedSettings`."""
        if self.train.model == "dp_mst":
            return self.marginal_settings()
        if self.train.model == "dp_vae":
            return self.dp_sgd_settings()
        from synthloop.federated.coordinator import FederatedSettings
        from synthloop.federated.model import new_model

        if self.privacy != PrivacySection():
            raise ConfigError("[privacy] applies to model = \"dp_mst\" or \"dp_vae\"; the federated TVAE has no "
                              "per-party DP (docs/federated.md says why).")
        train = self.train.model_dump(exclude={"engine", "secure_aggregation"})       # how it runs, not what it trains
        values = {**train, "target": self.data.target, "params": dict(self.params)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = FederatedSettings(**values)
        new_model(settings.model, settings.params)
        return settings

    def marginal_settings(self):
        from synthloop.federated.marginal import MarginalSettings

        privacy = self.privacy
        known = {"max_bins", "fine_bins", "iters"}
        unknown = sorted(set(self.params) - known)
        if unknown:
            raise ConfigError(f"[params] {unknown} are not parameters of the federated dp_mst "
                              f"(it takes {', '.join(sorted(known))}; the budget goes in [privacy]).")
        return MarginalSettings(epsilon=privacy.epsilon if privacy.epsilon is not None else 1.0, delta=privacy.delta,
                                epsilon_per_party=dict(privacy.epsilon_per_party), structure=privacy.structure,
                                edges=tuple(tuple(edge) for edge in privacy.edges), min_parties=self.train.min_parties,
                                trust_inferred_schema=privacy.trust_inferred_schema, seed=self.train.seed,
                                **{k: int(v) for k, v in self.params.items()})

    def dp_sgd_settings(self):
        from synthloop.federated.dp_sgd import DPSGDSettings

        privacy, train = self.privacy, self.train
        known = {"latent_dim", "hidden", "batch_size", "lr"}
        unknown = sorted(set(self.params) - known)
        if unknown:
            raise ConfigError(f"[params] {unknown} are not parameters of the federated dp_vae "
                              f"(it takes {', '.join(sorted(known))}; the budget goes in [privacy]).")
        params = {**self.params, **({"hidden": tuple(self.params["hidden"])} if "hidden" in self.params else {})}
        return DPSGDSettings(epsilon=privacy.epsilon if privacy.epsilon is not None else 1.0, delta=privacy.delta,
                             epsilon_per_party=dict(privacy.epsilon_per_party), max_grad_norm=privacy.max_grad_norm,
                             rounds=train.rounds, local_epochs=train.local_epochs, min_parties=train.min_parties,
                             seed=train.seed, **params)

    def table(self) -> pd.DataFrame:
        from synthloop.datasets import load
        from synthloop.io.tables import read_table

        if self.data.dataset is not None:
            return load(self.data.dataset, split=self.data.split)
        return read_table(self._resolve(self.data.path))

    def schema(self):
        from synthloop.schema import Schema

        if self.data.schema_path is None:
            return None
        return Schema.from_json(self._resolve(self.data.schema_path).read_text())

    def _resolve(self, path: str) -> Path:
        resolved = Path(path)
        return resolved if resolved.is_absolute() else Path(self.base_dir) / resolved

    def to_json(self) -> str:
        return json.dumps(self.model_dump(by_alias=True), indent=2)
