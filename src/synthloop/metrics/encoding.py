"""The one encoding of mixed tables shared by every distance- and classifier-based metric.

``MixedEncoding`` is fitted on the real data and gives two views of any table with the same columns:

- ``dense``: the shared mixed-table geometry (:mod:`synthloop.tabular.geometry`, also the privacy
  step's): numerics standardised by the real mean and standard deviation (missing values at the
  mean plus a missing-indicator), categoricals one-hot over the real data's 30 most frequent labels
  (rest pooled into "other", missing its own label) and scaled by 1/sqrt(2), so two rows that differ
  in one category are at distance 1, like rows one standard deviation apart. Used for nearest
  neighbours (DCR, NNDR, precision/recall, α/β), MMD and linear models.
- ``codes``: numerics as floats with NaN, categoricals as integer codes (NaN for missing), with a
  mask of categorical features for gradient-boosted trees.

Also here: the model view of the inputs (cached inside ``evaluate``) and seeded subsampling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from synthloop.metrics.cache import frame_key, memo
from synthloop.schema import Schema
from synthloop.tabular.geometry import MixedGeometry
from synthloop.tabular.labels import label_codes

CODE_CATEGORIES = 250


def resolve_schema(real: pd.DataFrame, schema: Schema | None) -> Schema:
    """The given schema, or one inferred from the real data (cached inside ``evaluate``)."""
    if schema is not None:
        return schema
    return memo(("schema", *frame_key(real)), lambda: Schema.infer(real))


def model_view(data: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """``schema.to_model_frame(data)``: learned columns only, numerics float, categoricals str."""
    return memo(("model_view", *frame_key(data, schema)), lambda: schema.to_model_frame(data))


def subsample(data: pd.DataFrame, n_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """At most ``n_rows`` rows drawn without replacement (all rows, in order, when already small)."""
    if len(data) <= n_rows:
        return data
    return data.iloc[np.sort(rng.choice(len(data), size=n_rows, replace=False))]


def subsample_note(sizes: Mapping[str, int], limit: int, seed_note: str = "seeded by evaluate's seed") -> tuple[str, ...]:
    """A note naming the tables that were subsampled, or nothing."""
    cut = [f"{name} {size:,}→{limit:,}" for name, size in sizes.items() if size > limit]
    return (f"subsampled rows ({', '.join(cut)}; {seed_note})",) if cut else ()


@dataclass(frozen=True)
class MixedEncoding:
    """Column statistics learned from the real model view; see the module docstring."""

    kinds: Mapping[str, str]
    means: Mapping[str, float]
    stds: Mapping[str, float]
    categories: Mapping[str, tuple[str, ...]]
    nullable: Mapping[str, bool]
    geometry: MixedGeometry

    @classmethod
    def fit(cls, real: pd.DataFrame, kinds: Mapping[str, str]) -> MixedEncoding:
        geometry = MixedGeometry.fit(real, kinds)
        means = dict(zip(geometry.numeric, geometry.center.tolist()))
        stds = dict(zip(geometry.numeric, geometry.scale.tolist()))
        categories = {name: tuple(map(str, real[name].dropna().value_counts().index[:CODE_CATEGORIES]))
                      for name in geometry.categorical}
        nullable = {name: bool(real[name].isna().any()) for name in kinds}
        return cls(dict(kinds), means, stds, categories, nullable, geometry)

    @classmethod
    def for_schema(cls, real: pd.DataFrame, schema: Schema) -> MixedEncoding:
        """Fit on the model view of ``real`` (cached inside ``evaluate``)."""
        view = model_view(real, schema)
        return memo(("encoding", *frame_key(view)), lambda: cls.fit(view, schema.model_kinds()), keep=(view,))

    def without(self, *names: str) -> MixedEncoding:
        """The same encoding with some columns left out (e.g. the column an attacker tries to infer)."""
        return replace(self, kinds={k: v for k, v in self.kinds.items() if k not in names},
                       geometry=self.geometry.without(*names))

    # ------------------------------------------------------------------ dense view
    def dense(self, frame: pd.DataFrame) -> np.ndarray:
        """The shared distance geometry's features (:mod:`synthloop.tabular.geometry`), float32 (n_rows, width)."""
        return self.geometry.dense(frame).astype("float32")

    def dense_columns(self) -> list[str]:
        """For each dense feature, the table column it came from."""
        return self.geometry.dense_owners()

    # ------------------------------------------------------------------ tree view
    def codes(self, frame: pd.DataFrame) -> np.ndarray:
        """Numerics as float (NaN kept), categoricals as integer codes (NaN missing), float64."""
        columns = []
        for name, kind in self.kinds.items():
            if kind == "numeric":
                columns.append(frame[name].to_numpy(dtype="float64"))
                continue
            columns.append(self._label_codes(name, frame[name]))
        return np.column_stack(columns) if columns else np.zeros((len(frame), 0))

    def _label_codes(self, name: str, values: pd.Series) -> np.ndarray:
        """Index of each label in the real categories (most frequent first); unseen → len; missing → NaN."""
        categories = self.categories[name]
        codes = label_codes(values, categories).astype("float64")
        codes[codes < 0] = len(categories)
        codes[values.isna().to_numpy()] = np.nan
        return codes

    def categorical_mask(self) -> np.ndarray:
        """Which ``codes`` features are categorical."""
        return np.array([kind != "numeric" for kind in self.kinds.values()], dtype=bool)


def dense_pair(real: pd.DataFrame, others: tuple[pd.DataFrame, ...], schema: Schema) -> tuple[np.ndarray, ...]:
    """Dense encodings of ``real`` and each other table (model views), fitted on ``real``."""
    encoding = MixedEncoding.for_schema(real, schema)
    views = [model_view(frame, schema) for frame in (real, *others)]
    return tuple(memo(("dense", *frame_key(view, encoding)), lambda v=view: encoding.dense(v), keep=(view, encoding))
                 for view in views)
