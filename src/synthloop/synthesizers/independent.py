"""Independent marginals: each column sampled on its own from its training distribution (the floor).

Categoricals are drawn from their observed frequencies; numerics from a smoothed empirical
quantile function (linear interpolation between observed quantiles), so values stay inside the
observed range, point masses (e.g. 92% zeros) survive, and no training row is reproduced as a whole
except by chance. Missing values keep their observed rate. Every dependency between columns is lost,
which is what makes this the baseline every other model must beat.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from synthloop.synthesizers._stored import ArrayCheck, IndependentMeta, check_names
from synthloop.synthesizers.base import Synthesizer
from synthloop.synthesizers.params import SEED
from synthloop.synthesizers.seeds import SeedTree

_N_QUANTILES = 1001


class IndependentMarginals(Synthesizer):
    """Samples every column independently from its marginal distribution.

    Parameters
    ----------
    seed
        Seed for sampling; the fit itself is deterministic.
    """

    name = "independent"
    param_constraints: ClassVar = {"seed": SEED}
    meta_schema = IndependentMeta

    def __init__(self, *, seed: int | None = None):
        self.seed = seed

    def _fit(self, data: pd.DataFrame, seeds: SeedTree) -> None:
        self.columns_: dict[str, dict[str, np.ndarray]] = {}
        levels = np.linspace(0.0, 1.0, _N_QUANTILES)
        for name, kind in self.schema_.model_kinds().items():
            values = data[name]
            missing_rate = np.array([values.isna().mean()])
            present = values.dropna()
            if kind == "numeric":
                quantiles = np.quantile(present.to_numpy(), levels) if len(present) else np.zeros(_N_QUANTILES)
                self.columns_[name] = {"missing_rate": missing_rate, "quantiles": quantiles}
            else:
                categories = np.array(self.schema_[name].categories or (), dtype=object)
                counts = present.value_counts().reindex(categories, fill_value=0).to_numpy(dtype="float64")
                probs = counts / counts.sum() if counts.sum() else np.full(len(categories), 1 / max(len(categories), 1))
                self.columns_[name] = {"missing_rate": missing_rate, "probs": probs}

    def _sample(self, n_rows: int, conditions: pd.DataFrame | None, rng: np.random.Generator) -> pd.DataFrame:
        out = {}
        for name, params in self.columns_.items():
            if "quantiles" in params:
                values = np.interp(rng.random(n_rows), np.linspace(0, 1, len(params["quantiles"])), params["quantiles"])
            else:
                categories = np.array(self.schema_[name].categories or (), dtype=object)
                values = categories[rng.choice(len(categories), size=n_rows, p=params["probs"])].astype(object)
            missing = rng.random(n_rows) < params["missing_rate"][0]
            values = pd.Series(values, dtype="float64" if "quantiles" in params else object)
            values[missing] = np.nan if "quantiles" in params else None
            out[name] = values
        return pd.DataFrame(out, index=pd.RangeIndex(n_rows))

    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {f"{i}/{key}": value for i, (name, params) in enumerate(self.columns_.items())
                  for key, value in params.items()}
        return arrays, {"columns": list(self.columns_)}

    def _check_state(self, check: ArrayCheck, meta: dict[str, Any]) -> None:
        check_names(check, meta["columns"], self.schema_.model_kinds(), "stored columns")
        kinds = self.schema_.model_kinds()
        for i, name in enumerate(meta["columns"]):
            check.take(f"{i}/missing_rate", "f", (1,))
            if kinds.get(name) == "numeric":
                check.take(f"{i}/quantiles", "f", (_N_QUANTILES,))
            elif name in kinds:
                probs = check.take(f"{i}/probs", "f", (len(self.schema_[name].categories or ()),))
                check.require(probs is None or not len(probs) or (bool((probs >= 0).all()) and abs(probs.sum() - 1) < 1e-6),
                              f"array '{i}/probs' is not a probability vector")

    def from_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.columns_ = {}
        for i, name in enumerate(meta["columns"]):
            prefix = f"{i}/"
            self.columns_[name] = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
