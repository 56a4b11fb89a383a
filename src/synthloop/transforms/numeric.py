"""Numeric columns: mode-specific normalisation or a quantile map, plus point masses and missing values.

Mode-specific normalisation (Xu et al., 2019, "Modeling Tabular Data using Conditional GAN", §4.2):
a variational (Dirichlet-process) Gaussian mixture is fitted to the column; each value is encoded as
a one-hot *mode* (the component, drawn from the value's posterior over components) and a scalar
``(x - mean_k) / (4 std_k)`` in [-1, 1]. Multi-modal columns then look simple to a tanh head.
The quantile variant maps the column through its empirical CDF onto [-1, 1] (one span, no modes).

Both share the discrete part from :mod:`synthloop.transforms.missing`: values that hold a large share
of the column, and missing values, are modes of their own, so they come back exactly. The mixture is
fitted on a seeded subsample (at most ``fit_sample_size`` values): it only has to find the modes, and
this keeps the encoder fit to well under a second per column where SDV's spends minutes on Adult.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from synthloop.errors import DataError
from synthloop.transforms.base import ColumnTransform, SpanSpec, one_hot
from synthloop.transforms.missing import find_point_masses, match_point_masses, nearest_point_mass
from synthloop.transforms.mixture import fit_dp_mixture

# Mixture components below this weight are dropped (CTGAN's weight threshold).
_MIN_COMPONENT_WEIGHT = 0.005
_N_QUANTILES = 1000
_ROWS_PER_KNOT = 5   # a quantile knot averages at least this many training values


class NumericTransform(ColumnTransform):
    """A numeric column as a continuous part (subclasses) plus point-mass and missing modes.

    The mode block lists the continuous modes first, then the point masses, then "missing".
    """

    def __init__(self, column: str, *, nullable: bool = False, point_mass_share: float = 0.05,
                 max_point_masses: int = 20, fit_sample_size: int = 5000):
        super().__init__(column)
        self.nullable = nullable
        self.point_mass_share = point_mass_share
        self.max_point_masses = max_point_masses
        self.fit_sample_size = fit_sample_size

    # ------------------------------------------------------------------ subclass hooks
    @abstractmethod
    def _fit_continuous(self, residual: np.ndarray, sample: np.ndarray, rng: np.random.Generator) -> None: ...

    @abstractmethod
    def _n_continuous_modes(self) -> int: ...

    @abstractmethod
    def _encode_continuous(self, values: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(mode index, scalar in [-1, 1]) for values that are neither missing nor a point mass."""

    @abstractmethod
    def _decode_continuous(self, scalar: np.ndarray, mode: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _continuous_state(self) -> dict[str, np.ndarray]: ...

    @abstractmethod
    def _load_continuous_state(self, arrays: dict[str, np.ndarray]) -> None: ...

    # ------------------------------------------------------------------ fit
    def fit(self, values: pd.Series, rng: np.random.Generator) -> Self:
        numbers = _as_float(values, self.column)
        present = numbers[~np.isnan(numbers)]
        self.has_missing_ = bool(self.nullable or len(present) < len(numbers))
        self.point_masses_ = find_point_masses(present, min_share=self.point_mass_share,
                                               max_count=self.max_point_masses)
        residual = present[match_point_masses(present, self.point_masses_) < 0]
        sample = residual
        if len(residual) > self.fit_sample_size:
            sample = rng.choice(residual, size=self.fit_sample_size, replace=False)
        self._fit_continuous(residual, sample, rng)
        return self

    @property
    def n_modes(self) -> int:
        return self._n_continuous_modes() + len(self.point_masses_) + int(self.has_missing_)

    def spans(self) -> tuple[SpanSpec, ...]:
        has_value = self._n_continuous_modes() > 0
        specs = [SpanSpec("continuous", "value", 1)] if has_value else []
        if self.n_modes > 1 or not has_value:
            specs.append(SpanSpec("categorical", "mode", self.n_modes))
        return tuple(specs)

    # ------------------------------------------------------------------ transform
    def transform(self, values: pd.Series, rng: np.random.Generator) -> np.ndarray:
        numbers = _as_float(values, self.column)
        missing = np.isnan(numbers)
        if missing.any() and not self.has_missing_:
            raise DataError(f"Column '{self.column}' has {int(missing.sum())} missing values, but it had none "
                            "when the encoder was fitted. Refit on data with missing values, or fill them.")
        n_continuous = self._n_continuous_modes()
        point_mass = match_point_masses(numbers, self.point_masses_)
        continuous = ~missing & (point_mass < 0)
        mode = np.full(len(numbers), self.n_modes - 1, dtype=np.int64)
        scalar = np.zeros(len(numbers), dtype=np.float32)
        if continuous.any() and n_continuous == 0:
            if len(self.point_masses_) == 0:
                raise DataError(f"Column '{self.column}' was all missing when the encoder was fitted; "
                                "it cannot encode values now. Refit on data with values in this column.")
            point_mass[continuous] = nearest_point_mass(numbers[continuous], self.point_masses_)
        elif continuous.any():
            mode[continuous], scalar[continuous] = self._encode_continuous(numbers[continuous], rng)
        is_point_mass = ~missing & (point_mass >= 0)
        mode[is_point_mass] = n_continuous + point_mass[is_point_mass]
        blocks = [scalar[:, None] if spec.role == "value" else one_hot(mode, spec.width) for spec in self.spans()]
        return np.concatenate(blocks, axis=1)

    def inverse_transform(self, block: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n_rows = block.shape[0]
        scalar = np.zeros(n_rows, dtype=np.float64)
        mode = np.zeros(n_rows, dtype=np.int64)
        start = 0
        for spec in self.spans():
            part = block[:, start:start + spec.width]
            if spec.role == "value":
                scalar = np.clip(part[:, 0].astype(np.float64), -1.0, 1.0)
            else:
                mode = part.argmax(axis=1)
            start += spec.width
        n_continuous = self._n_continuous_modes()
        out = np.full(n_rows, np.nan, dtype=np.float64)
        continuous = mode < n_continuous
        if continuous.any():
            out[continuous] = self._decode_continuous(scalar[continuous], mode[continuous])
        is_point_mass = ~continuous & (mode < n_continuous + len(self.point_masses_))
        out[is_point_mass] = self.point_masses_[mode[is_point_mass] - n_continuous]
        return out

    # ------------------------------------------------------------------ state
    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {"point_masses": self.point_masses_, **self._continuous_state()}
        meta = {"nullable": self.nullable, "has_missing": self.has_missing_, **self._params()}
        return arrays, meta

    def _params(self) -> dict[str, Any]:
        return {"point_mass_share": self.point_mass_share, "max_point_masses": self.max_point_masses,
                "fit_sample_size": self.fit_sample_size}

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Self:
        params = {k: v for k, v in meta.items() if k not in ("has_missing", "name")}
        transform = cls(meta["name"], **params)
        transform.has_missing_ = bool(meta["has_missing"])
        transform.point_masses_ = np.asarray(arrays["point_masses"], dtype=np.float64)
        transform._load_continuous_state(arrays)
        return transform


class ModeSpecificNormalizer(NumericTransform):
    """CTGAN's mode-specific normalisation with a variational Gaussian mixture of up to ``max_modes``."""

    type: ClassVar[str] = "mode_specific"

    def __init__(self, column: str, *, max_modes: int = 10, **kwargs: Any):
        super().__init__(column, **kwargs)
        self.max_modes = max_modes

    def _params(self) -> dict[str, Any]:
        return {**super()._params(), "max_modes": self.max_modes}

    def _fit_continuous(self, residual: np.ndarray, sample: np.ndarray, rng: np.random.Generator) -> None:
        if len(residual) == 0:
            self.means_ = self.stds_ = self.weights_ = np.zeros(0, dtype=np.float64)
            return
        center = float(sample.mean())
        scale = float(sample.std()) or max(abs(center), 1.0)
        standardized = (sample - center) / scale
        n_components = min(self.max_modes, len(np.unique(standardized)))
        if n_components < 2:
            means, stds, weights = np.zeros(1), np.full(1, 1e-3), np.ones(1)
        else:
            means, stds, weights = _fit_mixture(standardized, n_components, rng)
        self.means_ = means * scale + center
        self.stds_ = np.maximum(stds, 1e-3) * scale
        self.weights_ = weights
        for extreme in (residual.min(), residual.max()):
            self._cover(float(extreme))

    def _cover(self, value: float) -> None:
        """Widen the nearest component so ``value`` lies within its 4-std window (exact round trips)."""
        distance = np.abs(value - self.means_) / (4 * self.stds_)
        if distance.min() > 1.0:
            nearest = int(distance.argmin())
            self.stds_[nearest] = abs(value - self.means_[nearest]) / 4 * (1 + 1e-9)

    def _n_continuous_modes(self) -> int:
        return len(self.means_)

    def _encode_continuous(self, values: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        normalized = (values[:, None] - self.means_[None, :]) / (4 * self.stds_[None, :])   # (n_rows, n_modes)
        inside = np.abs(normalized) <= 1.0
        # Posterior over components, restricted to those whose window holds the value (so the scalar fits).
        log_density = np.log(self.weights_) - np.log(self.stds_) - 8.0 * normalized**2
        log_density = np.where(inside, log_density, -np.inf)
        covered = inside.any(axis=1)
        log_density[~covered] = -np.abs(normalized[~covered])    # outside every window: nearest component
        probs = np.exp(log_density - log_density.max(axis=1, keepdims=True))
        cumulative = probs.cumsum(axis=1)
        draws = rng.random(len(values))[:, None] * cumulative[:, -1:]
        mode = np.minimum((cumulative < draws).sum(axis=1), len(self.means_) - 1)
        scalar = np.clip(normalized[np.arange(len(values)), mode], -1.0, 1.0)
        return mode, scalar.astype(np.float32)

    def _decode_continuous(self, scalar: np.ndarray, mode: np.ndarray) -> np.ndarray:
        return self.means_[mode] + 4 * self.stds_[mode] * scalar

    def _continuous_state(self) -> dict[str, np.ndarray]:
        return {"means": self.means_, "stds": self.stds_, "weights": self.weights_}

    def _load_continuous_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.means_ = np.asarray(arrays["means"], dtype=np.float64)
        self.stds_ = np.asarray(arrays["stds"], dtype=np.float64)
        self.weights_ = np.asarray(arrays["weights"], dtype=np.float64)


class QuantileNormalizer(NumericTransform):
    """The empirical CDF (``n_quantiles`` knots, linear in between) mapped onto [-1, 1]."""

    type: ClassVar[str] = "quantile"

    def __init__(self, column: str, *, n_quantiles: int = _N_QUANTILES, **kwargs: Any):
        super().__init__(column, **kwargs)
        self.n_quantiles = n_quantiles

    def _params(self) -> dict[str, Any]:
        return {**super()._params(), "n_quantiles": self.n_quantiles}

    def _fit_continuous(self, residual: np.ndarray, sample: np.ndarray, rng: np.random.Generator) -> None:
        if len(residual) == 0:
            self.quantiles_ = self.levels_ = np.zeros(0, dtype=np.float64)
            return
        levels, knots = _pooled_knots(np.sort(residual), self.n_quantiles)
        # Tied knots share their mean level, so both maps are strictly increasing and invert exactly.
        self.quantiles_, group = np.unique(knots, return_inverse=True)
        self.levels_ = np.bincount(group, weights=levels) / np.bincount(group)

    def _n_continuous_modes(self) -> int:
        return int(len(self.quantiles_) > 0)

    def _encode_continuous(self, values: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        mode = np.zeros(len(values), dtype=np.int64)
        if len(self.quantiles_) == 1:
            return mode, np.zeros(len(values), dtype=np.float32)
        scalar = np.interp(values, self.quantiles_, self.levels_) * 2.0 - 1.0
        return mode, scalar.astype(np.float32)

    def _decode_continuous(self, scalar: np.ndarray, mode: np.ndarray) -> np.ndarray:
        if len(self.quantiles_) == 1:
            return np.full(len(scalar), self.quantiles_[0])
        return np.interp((scalar + 1.0) / 2.0, self.levels_, self.quantiles_)

    def _continuous_state(self) -> dict[str, np.ndarray]:
        return {"quantiles": self.quantiles_, "levels": self.levels_}

    def _load_continuous_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.quantiles_ = np.asarray(arrays["quantiles"], dtype=np.float64)
        self.levels_ = np.asarray(arrays["levels"], dtype=np.float64)


def _pooled_knots(ordered: np.ndarray, n_quantiles: int) -> tuple[np.ndarray, np.ndarray]:
    """CDF levels and knots: the min and max, and between them the mean of each run of at least
    ``_ROWS_PER_KNOT`` consecutive sorted values (at its mean level).

    A knot at an order statistic is a training value; with fewer rows than knots every value was
    kept exactly (a saved tabddpm held 272 of 300 training values of a column). Means of five or more
    values are not training values unless those values are equal (a point shared by five rows). The
    min and max are kept: the schema holds them as the column's bounds anyway.
    """
    n_rows = len(ordered)
    n_inner = min(n_quantiles - 2, n_rows // _ROWS_PER_KNOT)
    if n_rows < 2 or n_inner < 1:
        return np.array([0.0, 1.0]), np.array([ordered[0], ordered[-1]])
    groups = np.minimum(np.arange(n_rows) * n_inner // n_rows, n_inner - 1)
    counts = np.bincount(groups, minlength=n_inner)
    means = np.bincount(groups, weights=ordered, minlength=n_inner) / counts
    positions = np.bincount(groups, weights=np.arange(n_rows), minlength=n_inner) / counts / (n_rows - 1)
    knots = np.maximum.accumulate(np.clip(means, ordered[0], ordered[-1]))
    return np.concatenate([[0.0], positions, [1.0]]), np.concatenate([[ordered[0]], knots, [ordered[-1]]])


def _fit_mixture(values: np.ndarray, n_components: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Means, stds and weights of a Dirichlet-process Gaussian mixture, tiny components dropped."""
    mixture = fit_dp_mixture(values, n_components, rng)
    keep = mixture.weights > _MIN_COMPONENT_WEIGHT
    if not keep.any():
        keep = mixture.weights == mixture.weights.max()
    order = np.argsort(mixture.means[keep])          # modes in increasing order of their mean
    weights = mixture.weights[keep][order]
    return mixture.means[keep][order], mixture.stds[keep][order], weights / weights.sum()


def _as_float(values: pd.Series, column: str) -> np.ndarray:
    try:
        if isinstance(values, pd.Series):
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"Column '{column}' should hold numbers in the model view but has values such as "
                        f"{pd.Series(values).dropna().astype(str).head(3).tolist()}; convert the data with "
                        "Schema.to_model_frame first.") from None
