"""Categorical columns: one-hot with a width cap, rare levels pooled, missing as a level of its own.

A one-hot block is what CTGAN/TVAE heads expect (a softmax or Gumbel-softmax per span, Xu et al., 2019),
but a 10,000-level column would make every row 10,000 wide. Above ``max_categories`` slots the most
frequent levels keep their own slot and the rest share one "other" slot; decoding "other" draws a
rare level from its training frequency, so rare levels still appear at their real rates (the
grouping of rare levels used by e.g. synthpop and TabSyn's preprocessing). Missing values are a
level of their own and decode to ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from synthloop.errors import DataError
from synthloop.transforms.base import ColumnTransform, SpanSpec, one_hot


class OneHotTransform(ColumnTransform):
    """One slot per frequent level, one "other" slot for rare levels, one for missing.

    Parameters
    ----------
    column
        Column name.
    categories
        Every known label (the schema's), in a stable order; labels outside it are rejected.
    nullable
        Reserve a "missing" slot even if the training data has no missing value.
    max_categories
        Most slots in the block (missing and "other" included).
    """

    type: ClassVar[str] = "one_hot"

    def __init__(self, column: str, *, categories: Sequence[str] = (), nullable: bool = False,
                 max_categories: int = 50):
        super().__init__(column)
        self.categories = tuple(str(c) for c in categories)
        self.nullable = nullable
        self.max_categories = max_categories

    def fit(self, values: pd.Series, rng: np.random.Generator) -> Self:
        codes, missing = self._codes(values)
        self.has_missing_ = bool(self.nullable or missing.any())
        counts = np.bincount(codes[codes >= 0], minlength=len(self.categories)).astype(np.float64)
        n_own_slots = len(self.categories) + int(self.has_missing_)
        if n_own_slots <= self.max_categories:
            kept = np.arange(len(self.categories))
        else:
            n_keep = max(self.max_categories - 1 - int(self.has_missing_), 1)
            kept = np.sort(np.argsort(-counts, kind="stable")[:n_keep])
        rare = np.setdiff1d(np.arange(len(self.categories)), kept)
        self.kept_ = tuple(self.categories[i] for i in kept)
        self.rare_ = tuple(self.categories[i] for i in rare)
        rare_counts = counts[rare]
        total = rare_counts.sum()
        self.rare_probs_ = rare_counts / total if total > 0 else np.full(len(rare), 1.0 / max(len(rare), 1))
        self._build_lookup()
        return self

    def _build_lookup(self) -> None:
        """Slot of each category code, and the label each slot decodes to."""
        slot_of = {label: i for i, label in enumerate(self.kept_)}
        self.other_slot_ = len(self.kept_) if self.rare_ else -1
        self.missing_slot_ = len(self.kept_) + int(bool(self.rare_)) if self.has_missing_ else -1
        self.code_to_slot_ = np.array([slot_of.get(label, self.other_slot_) for label in self.categories],
                                      dtype=np.int64)
        self.slot_labels_ = np.array([*self.kept_, *(["<other>"] if self.rare_ else []),
                                      *([None] if self.has_missing_ else [])], dtype=object)
        self._rare_labels = np.array(self.rare_, dtype=object)

    def spans(self) -> tuple[SpanSpec, ...]:
        return (SpanSpec("categorical", "category", len(self.slot_labels_)),)

    def transform(self, values: pd.Series, rng: np.random.Generator) -> np.ndarray:
        codes, missing = self._codes(values)
        if missing.any() and not self.has_missing_:
            raise DataError(f"Column '{self.column}' has {int(missing.sum())} missing values, but it had none "
                            "when the encoder was fitted. Refit on data with missing values, or fill them.")
        slots = np.where(missing, self.missing_slot_, self.code_to_slot_[np.maximum(codes, 0)])
        return one_hot(slots, len(self.slot_labels_))

    def inverse_transform(self, block: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        slots = block.argmax(axis=1)
        labels = self.slot_labels_[slots]
        other = np.flatnonzero(slots == self.other_slot_)
        if len(other):
            labels[other] = self._rare_labels[rng.choice(len(self.rare_), size=len(other), p=self.rare_probs_)]
        return labels

    def slot_of(self, label: object) -> int:
        """Position of a label's slot in the block ("other" for rare labels; ``None`` means missing)."""
        if label is None or (isinstance(label, float) and np.isnan(label)):
            if self.missing_slot_ < 0:
                raise DataError(f"Column '{self.column}' had no missing values when the encoder was fitted.")
            return int(self.missing_slot_)
        if str(label) not in self.categories:
            raise DataError(f"Column '{self.column}' has no label {label!r}; known labels: "
                            f"{list(self.categories[:10])}{' …' if len(self.categories) > 10 else ''}.")
        return int(self.code_to_slot_[self.categories.index(str(label))])

    def _codes(self, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """Category codes (-1 where missing) and the missing mask; unknown labels raise DataError."""
        series = pd.Series(values, copy=False)
        missing = series.isna().to_numpy()
        codes = pd.Index(list(self.categories), dtype=object).get_indexer(series.astype(object)).astype(np.int64)
        codes[missing] = -1
        unknown = (codes < 0) & ~missing
        if unknown.any():
            examples = pd.unique(series[unknown])[:5].tolist()
            raise DataError(f"Column '{self.column}' has {int(unknown.sum())} values with labels not seen when the "
                            f"encoder was fitted, e.g. {examples}. Known labels: {list(self.categories[:10])}"
                            f"{' …' if len(self.categories) > 10 else ''}. Map them to known labels, or refit "
                            "the schema and encoder on data that includes them.")
        return codes, missing

    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        meta = {"categories": list(self.categories), "nullable": self.nullable,
                "max_categories": self.max_categories, "has_missing": self.has_missing_,
                "kept": list(self.kept_), "rare": list(self.rare_)}
        return {"rare_probs": np.asarray(self.rare_probs_, dtype=np.float64)}, meta

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Self:
        transform = cls(meta["name"], categories=meta["categories"], nullable=meta["nullable"],
                        max_categories=meta["max_categories"])
        transform.has_missing_ = bool(meta["has_missing"])
        transform.kept_ = tuple(meta["kept"])
        transform.rare_ = tuple(meta["rare"])
        transform.rare_probs_ = np.asarray(arrays["rare_probs"], dtype=np.float64)
        transform._build_lookup()
        return transform
