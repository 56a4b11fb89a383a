"""Condition vectors over a layout's categorical columns, and CTGAN's training-by-sampling.

A condition is a one-hot over the categories of one (or more) categorical columns, padded to
``(batch, n_columns, max_size)``; the networks see its compact form (the valid slots only).
Training-by-sampling (Xu et al., 2019, §4.3): pick a categorical column uniformly, pick one of its
categories with probability proportional to the *log* of its frequency, then a real row of that
category. Rare categories are thus seen often enough to be learned, which curbs mode collapse;
unconditional sampling draws conditions by the *empirical* frequency, so p(x) = Σ_c p(x | c) p(c).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from synthloop.errors import ArtifactError


class Conditioner:
    """Condition vectors for the categorical spans of ``layout`` whose column is in ``columns``."""

    def __init__(self, layout: Any, columns: Sequence[str]):
        wanted = set(columns)
        chosen = [span for span in layout.spans if span.kind == "categorical" and span.column in wanted]
        self.columns = tuple(span.column for span in chosen)
        self.slices = tuple(span.slice for span in chosen)
        self.sizes = np.array([s.stop - s.start for s in self.slices], dtype=np.int64)
        self.max_size = int(self.sizes.max(initial=1))
        self.mask = np.arange(self.max_size)[None, :] < self.sizes[:, None]        # (n_columns, max_size)
        # Where each slot of the compact vector sits in the encoded matrix.
        self.positions = np.array([p for s in self.slices for p in range(s.start, s.stop)], dtype=np.int64)

    @property
    def n_columns(self) -> int:
        return len(self.columns)

    @property
    def width(self) -> int:
        """Width of the compact condition vector the networks take as input."""
        return int(self.sizes.sum())

    # ------------------------------------------------------------------ learning the frequencies
    def fit(self, encoded: np.ndarray) -> Conditioner:
        """Record each row's category per column and the (log-)frequencies of every category."""
        n_rows = len(encoded)
        self.category_of_row_ = np.full((n_rows, self.n_columns), -1, dtype=np.int64)
        counts = np.zeros((self.n_columns, self.max_size))
        for j, span_slice in enumerate(self.slices):
            block = encoded[:, span_slice]
            has_value = block.max(axis=1) > 0
            self.category_of_row_[has_value, j] = block[has_value].argmax(axis=1)
            counts[j, : self.sizes[j]] = np.bincount(self.category_of_row_[has_value, j], minlength=self.sizes[j])
        self.frequency_ = _normalise(counts)
        self.log_frequency_ = _normalise(np.log1p(counts))
        # Rows sorted by category per column, with where each category starts: a vectorised row lookup.
        self.rows_sorted_ = np.argsort(self.category_of_row_, axis=0, kind="stable").T     # (n_columns, n_rows)
        missing = (self.category_of_row_ < 0).sum(axis=0)
        self.category_start_ = missing[:, None] + np.cumsum(counts, axis=1) - counts       # (n_columns, max_size)
        self.category_count_ = counts.astype(np.int64)
        return self

    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """What sampling needs after training: each category's frequency (no training rows)."""
        return {"frequency": self.frequency_.astype(np.float64)}, {}

    @classmethod
    def from_state(cls, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any], *, layout: Any,
                   categorical: Sequence[str]) -> Conditioner:
        """A conditioner for ``layout`` with the saved frequencies; corrupt ones raise ArtifactError."""
        conditioner = cls(layout, categorical)
        frequency = np.asarray(arrays.get("frequency", np.zeros(0)), dtype=np.float64)
        if frequency.shape != (conditioner.n_columns, conditioner.max_size) or not np.isfinite(frequency).all():
            raise ArtifactError(f"the conditioner's category frequencies have shape {frequency.shape}, "
                                f"expected {(conditioner.n_columns, conditioner.max_size)} finite values")
        conditioner.frequency_ = frequency
        return conditioner

    # ------------------------------------------------------------------ drawing conditions
    def _one_hot(self, columns: np.ndarray, categories: np.ndarray) -> np.ndarray:
        cond = np.zeros((len(columns), self.n_columns, self.max_size), dtype=np.float32)
        cond[np.arange(len(columns)), columns, categories] = 1.0
        return cond                                                                   # (batch, n_columns, max_size)

    def _draw(self, n_rows: int, probabilities: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        columns = rng.integers(self.n_columns, size=n_rows)
        cumulative = probabilities.cumsum(axis=1)[columns]                            # (batch, max_size)
        categories = (rng.random((n_rows, 1)) > cumulative).sum(axis=1)
        return columns, np.minimum(categories, self.sizes[columns] - 1)

    def sample_training(self, n_rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Training-by-sampling: conditions by log-frequency and, for each, a real row that matches it."""
        columns, categories = self._draw(n_rows, self.log_frequency_, rng)
        offsets = (rng.random(n_rows) * self.category_count_[columns, categories]).astype(np.int64)
        rows = self.rows_sorted_[columns, self.category_start_[columns, categories].astype(np.int64) + offsets]
        return self._one_hot(columns, categories), rows

    def sample_marginal(self, n_rows: int, rng: np.random.Generator) -> np.ndarray:
        """Conditions by empirical frequency (for unconditional generation)."""
        return self._one_hot(*self._draw(n_rows, self.frequency_, rng))

    def own_conditions(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """For each training row, the condition of one random column set to the row's own category."""
        columns = rng.integers(self.n_columns, size=len(rows))
        categories = self.category_of_row_[rows, columns]
        cond = self._one_hot(columns, np.maximum(categories, 0))
        cond[categories < 0] = 0.0                                                    # a missing label: no condition
        return cond

    def from_encoded(self, encoded: np.ndarray, columns: Sequence[str]) -> np.ndarray:
        """Conditions that fix ``columns`` to the values one-hot encoded in ``encoded`` rows."""
        cond = np.zeros((len(encoded), self.n_columns, self.max_size), dtype=np.float32)
        for j, (column, span_slice) in enumerate(zip(self.columns, self.slices)):
            if column in columns:
                cond[:, j, : self.sizes[j]] = encoded[:, span_slice]
        return cond

    def compact(self, cond: np.ndarray) -> np.ndarray:
        """``(batch, n_columns, max_size)`` → the network input ``(batch, width)``."""
        return cond[:, self.mask]


def _normalise(weights: np.ndarray) -> np.ndarray:
    totals = weights.sum(axis=1, keepdims=True)
    return np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0)
