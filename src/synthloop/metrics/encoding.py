"""The one encoding of mixed tables shared by every distance- and classifier-based metric.

``MixedEncoding`` is fitted on the real data and gives two views of any table with the same columns:

- ``dense``: numerics standardised by the real mean and standard deviation (missing values at the
  mean plus a missing-indicator), categoricals one-hot over the real data's most frequent labels
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

_OTHER = "__other__"
_MISSING = "__missing__"
DENSE_CATEGORIES = 30
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

    @classmethod
    def fit(cls, real: pd.DataFrame, kinds: Mapping[str, str]) -> MixedEncoding:
        means, stds, categories, nullable = {}, {}, {}, {}
        for name, kind in kinds.items():
            values = real[name]
            nullable[name] = bool(values.isna().any())
            if kind == "numeric":
                finite = values.to_numpy(dtype="float64")
                finite = finite[np.isfinite(finite)]
                means[name] = float(finite.mean()) if len(finite) else 0.0
                std = float(finite.std()) if len(finite) else 0.0
                stds[name] = std if std > 1e-12 else 1.0
            else:
                counts = values.dropna().value_counts()
                categories[name] = tuple(map(str, counts.index[:CODE_CATEGORIES]))
        return cls(dict(kinds), means, stds, categories, nullable)

    @classmethod
    def for_schema(cls, real: pd.DataFrame, schema: Schema) -> MixedEncoding:
        """Fit on the model view of ``real`` (cached inside ``evaluate``)."""
        view = model_view(real, schema)
        return memo(("encoding", *frame_key(view)), lambda: cls.fit(view, schema.model_kinds()), keep=(view,))

    def without(self, *names: str) -> MixedEncoding:
        """The same encoding with some columns left out (e.g. the column an attacker tries to infer)."""
        return replace(self, kinds={k: v for k, v in self.kinds.items() if k not in names})

    # ------------------------------------------------------------------ dense view
    def dense(self, frame: pd.DataFrame) -> np.ndarray:
        """Standardised numerics and scaled one-hot categoricals, float32 (n_rows, width)."""
        blocks = [self._dense_column(name, frame[name]) for name in self.kinds]
        return np.hstack(blocks).astype("float32") if blocks else np.zeros((len(frame), 0), "float32")

    def dense_columns(self) -> list[str]:
        """For each dense feature, the table column it came from."""
        owners = []
        for name, kind in self.kinds.items():
            width = (1 + self.nullable[name]) if kind == "numeric" else len(self._dense_labels(name))
            owners.extend([name] * width)
        return owners

    def _dense_column(self, name: str, values: pd.Series) -> np.ndarray:
        if self.kinds[name] == "numeric":
            numbers = values.to_numpy(dtype="float64")
            missing = ~np.isfinite(numbers)
            scaled = np.where(missing, 0.0, (numbers - self.means[name]) / self.stds[name])
            columns = [scaled, missing.astype("float64")] if self.nullable[name] else [scaled]
            return np.column_stack(columns)
        kept = len(self._dense_labels(name)) - 2            # then "other", then "missing"
        codes = self._label_codes(name, values)
        position = np.where(np.isnan(codes), kept + 1, np.minimum(np.nan_to_num(codes), kept)).astype("int64")
        one_hot = np.zeros((len(values), kept + 2))
        one_hot[np.arange(len(values)), position] = 1.0 / np.sqrt(2.0)
        return one_hot

    def _dense_labels(self, name: str) -> tuple[str, ...]:
        return (*self.categories[name][:DENSE_CATEGORIES], _OTHER, _MISSING)

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


def label_codes(values: pd.Series, categories) -> np.ndarray:
    """Position of each label in ``categories`` (compared as strings); -1 when absent or missing."""
    labels = values.to_numpy(dtype=object)
    if not all(isinstance(v, str) for v in labels[:100]):    # the model view already holds str labels
        labels = np.array([v if v is None or isinstance(v, str) else str(v) for v in labels], dtype=object)
    codes = pd.Index(list(categories), dtype=object).get_indexer(labels).astype("int64")
    codes[pd.isna(labels)] = -1
    return codes


def dense_pair(real: pd.DataFrame, others: tuple[pd.DataFrame, ...], schema: Schema) -> tuple[np.ndarray, ...]:
    """Dense encodings of ``real`` and each other table (model views), fitted on ``real``."""
    encoding = MixedEncoding.for_schema(real, schema)
    views = [model_view(frame, schema) for frame in (real, *others)]
    return tuple(memo(("dense", *frame_key(view, encoding)), lambda v=view: encoding.dense(v), keep=(view, encoding))
                 for view in views)
