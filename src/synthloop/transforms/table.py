"""TableEncoder: the model view of a table <-> one float32 matrix, with the layout neural models need.

Per column (Xu et al., 2019, the CTGAN/TVAE data transformer): numerics by mode-specific
normalisation or a quantile map (:mod:`~synthloop.transforms.numeric`) with point masses and missing
values as modes of their own (:mod:`~synthloop.transforms.missing`); categoricals one-hot with a width
cap (:mod:`~synthloop.transforms.categorical`). It works on the model view
(``Schema.to_model_frame``): datetimes are already seconds, booleans already labels, and
``Schema.from_model_frame`` restores dtypes, integer rounding and bounds on the way out.

Examples
--------
>>> import synthloop as sl
>>> from synthloop.transforms import TableEncoder
>>> real = sl.datasets.load("penguins")
>>> schema = sl.Schema.infer(real)
>>> model_frame = schema.to_model_frame(real)
>>> encoder = TableEncoder(schema).fit(model_frame)
>>> encoded = encoder.transform(model_frame)
>>> encoded.shape == (len(real), encoder.layout_.width)
True
"""

from __future__ import annotations

from typing import Any, Literal, Self

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from synthloop.errors import ArtifactError, ConfigError, DataError, NotFittedError
from synthloop.registry import Registry
from synthloop.schema import Schema
from synthloop.transforms.base import ColumnTransform, Layout, Span
from synthloop.transforms.categorical import OneHotTransform
from synthloop.transforms.numeric import ModeSpecificNormalizer, QuantileNormalizer

STATE_VERSION = 1
_TRANSFORMS: Registry[type[ColumnTransform]] = Registry("column transform", {
    t.type: t for t in (ModeSpecificNormalizer, QuantileNormalizer, OneHotTransform)
})
NumericEncoding = Literal["mode_specific", "quantile"]


class TableEncoder:
    """Reversible encoding of a table's model view into a float32 matrix described by a :class:`Layout`.

    Parameters
    ----------
    schema
        The table's schema; its learned columns (``Schema.model_kinds()``) are encoded, in order.
    numeric
        ``"mode_specific"`` (a variational Gaussian mixture per column, as in CTGAN) or ``"quantile"``.
    max_modes
        Most mixture components per numeric column.
    max_categories
        Most one-hot slots per categorical column; rarer levels share an "other" slot.
    seed
        Seeds the mixture subsample and fit and the draw of each value's mode.
    point_mass_share
        A numeric value holding at least this share of its column becomes a mode of its own.
    fit_sample_size
        The mixture of a column is fitted on at most this many values (a seeded subsample).
    """

    def __init__(self, schema: Schema, *, numeric: NumericEncoding = "mode_specific", max_modes: int = 10,
                 max_categories: int = 50, seed: int | None = 0, point_mass_share: float = 0.05,
                 fit_sample_size: int = 5000):
        self.schema = schema
        self.numeric = numeric
        self.max_modes = max_modes
        self.max_categories = max_categories
        self.seed = seed
        self.point_mass_share = point_mass_share
        self.fit_sample_size = fit_sample_size

    # ------------------------------------------------------------------ fit
    def fit(self, model_frame: pd.DataFrame) -> Self:
        """Learn every column's transform from the model view of the training data."""
        self._check_params()
        kinds = self.schema.model_kinds()
        self._check_columns(model_frame, kinds)
        seeds = np.random.SeedSequence(self.seed).spawn(len(kinds))
        self.transforms_: dict[str, ColumnTransform] = {}
        with threadpool_limits(1):      # many small array ops: BLAS threads only add contention
            for (name, kind), seed in zip(kinds.items(), seeds, strict=True):
                transform = self._make_transform(name, kind)
                self.transforms_[name] = transform.fit(model_frame[name], np.random.default_rng(seed))
        self.layout_ = _build_layout(self.transforms_)
        return self

    def _check_params(self) -> None:
        if self.numeric not in ("mode_specific", "quantile"):
            raise ConfigError(f"numeric={self.numeric!r} is not an encoding; choose 'mode_specific' or 'quantile'.")
        if self.max_categories < 2:
            raise ConfigError(f"max_categories={self.max_categories} is too small; use at least 2.")
        if self.max_modes < 1:
            raise ConfigError(f"max_modes={self.max_modes} must be at least 1.")

    def _make_transform(self, name: str, kind: str) -> ColumnTransform:
        column = self.schema[name]
        if kind == "categorical":
            return OneHotTransform(name, categories=column.categories or (), nullable=column.nullable,
                                   max_categories=self.max_categories)
        common = {"nullable": column.nullable, "point_mass_share": self.point_mass_share,
                  "fit_sample_size": self.fit_sample_size}
        if self.numeric == "quantile":
            return QuantileNormalizer(name, **common)
        return ModeSpecificNormalizer(name, max_modes=self.max_modes, **common)

    # ------------------------------------------------------------------ transform
    def transform(self, model_frame: pd.DataFrame) -> np.ndarray:
        """Encode the model view into a float32 matrix of shape ``(n_rows, layout_.width)``."""
        self._check_fitted()
        self._check_columns(model_frame, self.transforms_)
        seeds = np.random.SeedSequence([*_entropy(self.seed), 1]).spawn(len(self.transforms_))
        encoded = np.empty((len(model_frame), self.layout_.width), dtype=np.float32)
        start = 0
        with threadpool_limits(1):
            for (name, transform), seed in zip(self.transforms_.items(), seeds, strict=True):
                block = transform.transform(model_frame[name], np.random.default_rng(seed))
                encoded[:, start:start + block.shape[1]] = block
                start += block.shape[1]
        return encoded

    def inverse_transform(self, encoded: np.ndarray, rng: np.random.Generator | None = None) -> pd.DataFrame:
        """Decode a matrix (real or generated) back to the model view.

        Categorical and mode spans decode by argmax, so raw network outputs (logits or softmax) work;
        scalars are clipped to [-1, 1]. ``rng`` draws rare levels behind "other" slots.
        """
        self._check_fitted()
        encoded = np.asarray(encoded)
        if encoded.ndim != 2 or encoded.shape[1] != self.layout_.width:
            raise DataError(f"Encoded data has shape {encoded.shape}, but this encoder's layout is "
                            f"{self.layout_.width} columns wide; pass an array of shape (n_rows, {self.layout_.width}).")
        rng = rng if rng is not None else np.random.default_rng(self.seed)
        out: dict[str, Any] = {}
        start = 0
        for name, transform in self.transforms_.items():
            values = transform.inverse_transform(encoded[:, start:start + transform.width], rng)
            out[name] = pd.Series(values, dtype=np.float64 if values.dtype.kind == "f" else object)
            start += transform.width
        return pd.DataFrame(out, index=pd.RangeIndex(len(encoded)))

    def category_slot(self, column: str, label: object) -> int:
        """Index, within the encoded matrix, of the one-hot slot that ``label`` of ``column`` sets.

        For condition vectors: rare labels share their column's "other" slot, ``None`` is the missing slot.
        """
        self._check_fitted()
        transform = self.transforms_.get(column)
        if not isinstance(transform, OneHotTransform):
            raise DataError(f"Column '{column}' is not an encoded categorical column; categorical columns are "
                            f"{[n for n, t in self.transforms_.items() if isinstance(t, OneHotTransform)]}.")
        (span,) = self.layout_.for_column(column)
        return span.slice.start + transform.slot_of(label)

    # ------------------------------------------------------------------ state
    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Learned arrays (``"<column index>/<name>"``, for safetensors) and JSON-compatible metadata."""
        self._check_fitted()
        arrays: dict[str, np.ndarray] = {}
        columns = []
        for i, (name, transform) in enumerate(self.transforms_.items()):
            column_arrays, column_meta = transform.to_state()
            arrays.update({f"{i}/{key}": np.ascontiguousarray(value) for key, value in column_arrays.items()})
            columns.append({"name": name, "type": transform.type, **column_meta})      # "name": from_state's column
        meta = {"version": STATE_VERSION, "params": self._params(), "columns": columns}
        return arrays, meta

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any], *, schema: Schema) -> TableEncoder:
        """Rebuild a fitted encoder from :meth:`to_state` output, without refitting.

        Corrupt or foreign state raises :class:`~synthloop.errors.ArtifactError` naming the column.
        """
        if meta.get("version", 0) > STATE_VERSION:
            raise ArtifactError(f"Encoder state version {meta.get('version')} is newer than this synthloop "
                                f"understands ({STATE_VERSION}); upgrade synthloop.")
        try:
            encoder = cls(schema, **meta["params"])
            columns = list(meta["columns"])
        except (KeyError, TypeError) as exc:
            raise ArtifactError(f"the encoder state is corrupt ({exc!r})") from None
        encoder.transforms_ = {}
        for i, column in enumerate(columns):
            known = isinstance(column, dict) and column.get("type") in _TRANSFORMS
            transform_type = _TRANSFORMS.get(column["type"]) if known else None
            if transform_type is None:
                raise ArtifactError(f"Encoder state names an unknown transform for column {i} ({column!r:.80}); "
                                    "it was saved by a newer or different synthloop.")
            prefix = f"{i}/"
            column_arrays = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            column_meta = {k: v for k, v in column.items() if k != "type"}
            try:
                encoder.transforms_[column["name"]] = transform_type.from_state(column_arrays, column_meta)
            except (KeyError, ValueError, TypeError) as exc:
                raise ArtifactError(f"the encoder state of column {column.get('name')!r} is corrupt ({exc!r})") from None
        encoder.layout_ = _build_layout(encoder.transforms_)
        return encoder

    def _params(self) -> dict[str, Any]:
        return {"numeric": self.numeric, "max_modes": self.max_modes, "max_categories": self.max_categories,
                "seed": self.seed, "point_mass_share": self.point_mass_share,
                "fit_sample_size": self.fit_sample_size}

    # ------------------------------------------------------------------ checks
    def _check_fitted(self) -> None:
        if not hasattr(self, "transforms_"):
            raise NotFittedError("This TableEncoder is not fitted yet; call fit(model_frame) first.")

    @staticmethod
    def _check_columns(model_frame: pd.DataFrame, names: Any) -> None:
        if not isinstance(model_frame, pd.DataFrame):
            raise DataError(f"TableEncoder needs a pandas DataFrame (the model view), got {type(model_frame).__name__}.")
        missing = [name for name in names if name not in model_frame.columns]
        if missing:
            raise DataError(f"The data lacks columns {missing} that the encoder needs; "
                            "pass Schema.to_model_frame(data) for the encoder's schema.")


def _build_layout(transforms: dict[str, ColumnTransform]) -> Layout:
    spans = []
    start = 0
    for name, transform in transforms.items():
        for spec in transform.spans():
            spans.append(Span(name, spec.kind, slice(start, start + spec.width), spec.role))
            start += spec.width
    return Layout(tuple(spans), start)


def _entropy(seed: int | None) -> list[int]:
    return [seed] if seed is not None else [int(np.random.SeedSequence().entropy % 2**63)]
