"""Shared parts of the DP marginal models: a public discretisation, measurements, estimation, tree sampling.

**Two domains per column.** The *fine* domain is fixed by the public schema alone (no data read):
each category (+ a missing cell when the column is nullable); for a numeric column, one cell per
integer when an integer column spans at most ``fine_bins`` values, else ``fine_bins`` bins evenly spaced
on an asinh scale anchored at 0 or the lower bound (narrow where heavy-tailed columns such as Adult's
capital-gain hold most rows, and an exact ``[low, low + 1)`` cell for integers, so a point mass at 0
stays 0). Noisy 1-way counts on the fine domain are then *post-processed* into a *coarse* domain:
numeric cells merged into at most ``max_bins`` contiguous bins of about equal noisy mass (DP quantiles
for free), rare categories (noisy count below 3 sigma) merged into one cell, as MST does. The model
learns the coarse domain; a sampled coarse cell becomes a fine cell drawn from the noisy fine counts
within it, and a numeric fine cell becomes a value drawn uniformly inside it (never a midpoint).

**Estimation** runs Private-PGM (``mbi``, JAX) on the coarse noisy measurements; its consistent
marginals on a spanning tree are all the model keeps, and sampling walks the tree in numpy
(root marginal, then each child given its parent), seeded by the caller's generator: loading and
sampling a saved model never imports JAX.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthloop.errors import PrivacyError, require
from synthloop.schema import Column, Schema

#: Where the asinh grid switches from linear to logarithmic, as a share of the column's span.
_ASINH_SCALE = 1e-3


# ---------------------------------------------------------------------- the public fine domain
@dataclass(frozen=True)
class FineDomain:
    """The data-independent cells of one column: categories or numeric bin edges, + a missing cell."""

    name: str
    kind: str                                   # "numeric" | "categorical"
    size: int                                   # cells, the missing cell included
    nullable: bool
    categories: tuple[str, ...] = ()
    edges: np.ndarray | None = None             # numeric: size - nullable + 1 edges
    integer: bool = False

    @property
    def missing_cell(self) -> int | None:
        return self.size - 1 if self.nullable else None

    def encode(self, values: pd.Series) -> np.ndarray:
        """Cell index of every value (a model-view column: float numerics, str labels, NaN)."""
        missing = values.isna().to_numpy()
        codes = np.zeros(len(values), dtype=np.int64)
        if self.kind == "numeric":
            assert self.edges is not None
            x = values.to_numpy(dtype="float64", na_value=np.nan)
            inner = np.searchsorted(self.edges, np.where(missing, self.edges[0], x), side="right") - 1
            codes = np.clip(inner, 0, len(self.edges) - 2)
        else:
            index = {label: i for i, label in enumerate(self.categories)}
            codes = values.map(index).fillna(0).to_numpy(dtype=np.int64)
        if self.nullable:
            codes = np.where(missing, self.size - 1, codes)
        return codes

    def decode(self, cells: np.ndarray, rng: np.random.Generator) -> pd.Series:
        """Values for cells: the label, or a value uniform inside the numeric bin; NaN for the missing cell."""
        missing = cells == self.missing_cell if self.nullable else np.zeros(len(cells), bool)
        inner = np.where(missing, 0, cells)
        if self.kind == "numeric":
            assert self.edges is not None
            low, high = self.edges[inner], self.edges[inner + 1]
            values = low + rng.random(len(cells)) * (high - low)
            if self.integer:
                values = np.minimum(np.floor(values), high - 1)      # integer edges: every whole number in [low, high)
            return pd.Series(np.where(missing, np.nan, values), dtype="float64")
        labels = np.array(self.categories, dtype=object)[inner] if self.categories else np.full(len(cells), None)
        return pd.Series(np.where(missing, None, labels), dtype=object)


def fine_domain(column: Column, *, fine_bins: int) -> FineDomain:
    """The public cells of a model-view column, from the schema alone; PrivacyError without public bounds."""
    nullable = bool(column.nullable)
    if column.kind not in ("numeric", "datetime"):
        categories = tuple(column.categories or ())
        return FineDomain(column.name, "categorical", len(categories) + nullable, nullable, categories=categories)
    if column.low is None or column.high is None:
        raise PrivacyError(f"Column '{column.name}' has no bounds in the schema: a DP model cannot read them from "
                           "the data for free. Declare low/high in the schema (synthloop schema infer, then edit).")
    origin = float(column.origin or 0)
    low, high = float(column.low) - origin, float(column.high) - origin
    integer = bool(column.integer)
    edges = numeric_edges(low, high, integer=integer, fine_bins=fine_bins)
    return FineDomain(column.name, "numeric", len(edges) - 1 + nullable, nullable, edges=edges, integer=integer)


def record_domains(record: Callable[[str], object], fines: Mapping[str, FineDomain], schema: Schema,
                   bought: Collection[str] = ()) -> None:
    """List every fine domain's source in a ledger: ``record`` is ``ledger.public`` (or ``outside``); the
    ``bought`` columns are already there, as the purchases of :mod:`synthloop.privacy.domains`."""
    for name, fine in fines.items():
        if name in bought:
            continue
        what = (f"category set of {name} ({len(fine.categories)} labels)" if fine.kind == "categorical" else
                f"bounds of {name} [{schema[name].low}, {schema[name].high}]")
        record(what + (" and its missing cell" if fine.nullable else ""))


def numeric_edges(low: float, high: float, *, integer: bool, fine_bins: int) -> np.ndarray:
    """Bin edges over ``[low, high]`` chosen from the bounds alone (see the module docstring)."""
    if integer:
        low, high = math.floor(low), math.floor(high)
        if high - low + 1 <= fine_bins:
            return np.arange(low, high + 2, dtype="float64")          # one cell per whole number
    if not high > low:
        return np.array([low, low + 1.0])
    anchor = 0.0 if low <= 0 <= high else low
    scale = (high - low) * _ASINH_SCALE
    t = np.linspace(np.arcsinh((low - anchor) / scale), np.arcsinh((high - anchor) / scale), fine_bins + 1)
    edges = anchor + scale * np.sinh(t)
    edges[0], edges[-1] = low, high
    if integer:
        edges = np.unique(np.concatenate([np.round(edges[:-1]), [low, low + 1, high + 1]]))
    else:
        edges[-1] = np.nextafter(high, np.inf)                        # high itself falls in the last bin
    return edges


# ---------------------------------------------------------------------- coarse cells (post-processing)
def coarse_map(fine: FineDomain, noisy_counts: np.ndarray, sigma: float, *, max_bins: int) -> np.ndarray:
    """fine cell -> coarse cell, computed from the noisy 1-way counts only (post-processing, no budget)."""
    counts = np.clip(noisy_counts, 0, None)
    if fine.kind == "categorical":
        rare = counts < 3 * sigma
        if rare.sum() < 2:
            return np.arange(fine.size)
        mapping = np.cumsum(~rare) - 1
        mapping[rare] = (~rare).sum()                                  # all rare labels: one last cell
        return mapping
    n_inner = fine.size - fine.nullable
    inner = counts[:n_inner]
    cumulative = np.cumsum(inner)
    if cumulative[-1] <= 0 or n_inner <= max_bins:
        mapping = np.arange(n_inner) if n_inner <= max_bins else (np.arange(n_inner) * max_bins) // n_inner
    else:
        cuts = np.linspace(0, cumulative[-1], max_bins + 1)[1:-1]
        starts = np.unique(np.searchsorted(cumulative, cuts, side="left") + 1)
        mapping = np.searchsorted(starts, np.arange(n_inner), side="right")
    mapping = np.unique(mapping, return_inverse=True)[1]              # dense 0..k-1
    if fine.nullable:
        mapping = np.append(mapping, mapping.max() + 1)
    return mapping


def within_probs(mapping: np.ndarray, noisy_counts: np.ndarray) -> np.ndarray:
    """P(fine cell | its coarse cell) from the noisy counts (clipped at 0; uniform where all are 0)."""
    counts = np.clip(noisy_counts, 0, None).astype("float64")
    totals = np.bincount(mapping, weights=counts, minlength=mapping.max() + 1)
    sizes = np.bincount(mapping, minlength=mapping.max() + 1)
    empty = totals[mapping] <= 0
    return np.where(empty, 1.0 / sizes[mapping], counts / np.where(totals[mapping] > 0, totals[mapping], 1.0))


def refine(coarse: np.ndarray, mapping: np.ndarray, probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A fine cell for each coarse cell, drawn from ``probs`` within it."""
    out = np.empty(len(coarse), dtype=np.int64)
    for cell in np.unique(coarse):
        rows = np.flatnonzero(coarse == cell)
        members = np.flatnonzero(mapping == cell)
        p = probs[members]
        out[rows] = members[rng.choice(len(members), size=len(rows), p=p / p.sum())]
    return out


# ---------------------------------------------------------------------- counting and estimation
def counts(codes: Sequence[np.ndarray], sizes: Sequence[int]) -> np.ndarray:
    """The contingency table of the given code columns (shape ``sizes``)."""
    flat = np.ravel_multi_index(tuple(codes), tuple(sizes))
    return np.bincount(flat, minlength=int(np.prod(sizes))).reshape(tuple(sizes)).astype("float64")


def total_estimate(noisy_one_way: Sequence[np.ndarray], sigma: float) -> float:
    """Minimum-variance estimate of the row count from the noisy 1-way counts (each sum has variance k·σ²)."""
    sums = np.array([v.sum() for v in noisy_one_way])
    weights = 1.0 / np.array([v.size * sigma**2 for v in noisy_one_way])
    return max(float(np.average(sums, weights=weights)), 1.0)


def estimate_tree(sizes: dict[str, int], one_way: dict[str, tuple[np.ndarray, np.ndarray, float]],
                  two_way: dict[tuple[str, str], tuple[np.ndarray, float]], total: float,
                  iters: int) -> dict[tuple[str, ...], np.ndarray]:
    """Private-PGM estimate from noisy measurements; its marginals on every clique, as probabilities.

    ``one_way[name] = (noisy fine counts, fine -> coarse map, sigma)`` is compressed onto the coarse
    cell by mbi's ``LinearMeasurement.compress`` (a sum of k noisy cells, reweighted by 1/sqrt(k));
    ``two_way[(a, b)] = (noisy coarse counts, sigma)``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)          # mbi's float32 / compile-cache notes at import
        mbi = require("mbi", "dp", "The DP marginal models")
    import jax.numpy as jnp

    domain = mbi.Domain(list(sizes), list(sizes.values()))
    measurements = []
    for name, (noisy, mapping, sigma) in one_way.items():
        fine = mbi.Domain([name], [len(noisy)])
        fine_measurement = mbi.LinearMeasurement(np.asarray(noisy, dtype="float32"), (name,), stddev=float(sigma))
        measurements.append(fine_measurement.compress({name: np.asarray(mapping)}, fine))
    for clique, (noisy, sigma) in two_way.items():
        measurements.append(mbi.LinearMeasurement(jnp.asarray(noisy.ravel(), dtype="float32"), clique,
                                                  stddev=float(sigma)))
    model = mbi.estimation.MirrorDescent().estimate(domain, measurements, known_total=float(total), iters=iters)
    out = {}
    for clique in [(name,) for name in sizes] + list(two_way):
        factor = model.project(clique).transpose(clique)
        out[clique] = _normalised(np.asarray(factor.values, dtype="float64"))
    return out


def noisy_tables(sizes: dict[str, int], one_way: dict[str, tuple[np.ndarray, np.ndarray, float]],
                 two_way: dict[tuple[str, str], tuple[np.ndarray, float]]) -> dict[tuple[str, ...], np.ndarray]:
    """The measurements themselves, clipped at 0 and normalised one by one (no estimation, no JAX)."""
    out: dict[tuple[str, ...], np.ndarray] = {}
    for name, (noisy, mapping, _) in one_way.items():
        out[(name,)] = _normalised(np.bincount(mapping, weights=noisy, minlength=sizes[name]))
    for clique, (noisy, _) in two_way.items():
        out[clique] = _normalised(noisy)
    return out


def _normalised(table: np.ndarray) -> np.ndarray:
    table = np.clip(np.asarray(table, dtype="float64"), 0, None)
    return table / table.sum() if table.sum() > 0 else np.full(table.shape, 1 / table.size)


def sample_tree(n_rows: int, order: Sequence[str], parents: dict[str, str | None],
                root_probs: dict[str, np.ndarray], conditionals: dict[str, np.ndarray],
                rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Coarse cells for ``n_rows`` rows: each root from its marginal, each child from P(child | parent)."""
    cells: dict[str, np.ndarray] = {}
    for name in order:
        parent = parents[name]
        if parent is None:
            probs = root_probs[name]
            cells[name] = rng.choice(len(probs), size=n_rows, p=probs / probs.sum())
            continue
        table = conditionals[name][cells[parent]]                       # (n_rows, child cells)
        cumulative = np.cumsum(table, axis=1)
        u = rng.random(n_rows) * cumulative[:, -1]
        cells[name] = np.minimum((cumulative < u[:, None]).sum(axis=1), table.shape[1] - 1)
    return cells


class Components:
    """Union-find over column names: which columns the edges chosen so far already connect (Kruskal)."""

    def __init__(self, names: Sequence[str]):
        self.parent = {name: name for name in names}

    def find(self, name: str) -> str:
        while self.parent[name] != name:
            self.parent[name] = self.parent[self.parent[name]]          # path halving
            name = self.parent[name]
        return name

    def join(self, a: str, b: str) -> bool:
        """Connect a and b; False (and nothing changed) when they were connected already (a cycle)."""
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return False
        self.parent[root_a] = root_b
        return True


def tree_order(names: Sequence[str], edges: Sequence[tuple[str, str]]) -> tuple[list[str], dict[str, str | None]]:
    """A breadth-first order over a forest and each column's parent (None for a root)."""
    neighbours: dict[str, list[str]] = {name: [] for name in names}
    for a, b in edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    order: list[str] = []
    parents: dict[str, str | None] = {}
    for root in names:
        if root in parents:
            continue
        parents[root] = None
        queue = [root]
        while queue:
            node = queue.pop(0)
            order.append(node)
            for other in neighbours[node]:
                if other not in parents:
                    parents[other] = node
                    queue.append(other)
    return order, parents
