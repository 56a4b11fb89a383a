"""MST: differentially private synthetic data from a maximum spanning tree of 2-way marginals.

McKenna, Miklau and Sheldon (2021), "Winning the NIST Contest: A scalable and general approach to
differentially private synthetic data". Select-measure-generate under zero-concentrated DP, with
the budget rho split in three equal parts (as in the paper):

1. **measure** every column's 1-way counts on its public fine domain (Gaussian mechanism);
2. **select** a spanning tree: d-1 rounds of the exponential mechanism (Kruskal order) over pairs
   scored by how badly the 1-way-only model explains them (L1 distance of the true 2-way counts
   from the independent estimate; sensitivity 1);
3. **measure** the 2-way counts on the tree's edges (Gaussian mechanism), then **generate**:
   Private-PGM (``mbi``) turns the noisy measurements into consistent marginals, and rows are
   sampled down the tree (numerics uniform inside their bins, see ``marginals.py``).

Every release is charged to a :class:`~synthloop.privacy.accounting.Ledger` first, so the total can
never exceed ``(epsilon, delta)``; the ledger is saved in ``config.json`` and printed by
``synthloop audit``. Category sets and numeric bounds come from the schema, which the guarantee
treats as public: pass one (``synthloop schema infer``, reviewed), or buy the ones it lacks with
``domain_share`` of the budget (DP bounds and partition selection, :mod:`synthloop.privacy.domains`;
the measurements then split what is left). The model keeps no training row,
so the parity / no-copies step does not apply (samples are post-processing of a DP release).
"""

from __future__ import annotations

import itertools
import math
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel

from synthloop.privacy.accounting import Ledger
from synthloop.privacy.mechanisms import exponential, gaussian, gaussian_sigma
from synthloop.schema import Schema
from synthloop.synthesizers._stored import STRICT, ArrayCheck, check_names
from synthloop.synthesizers.base import Synthesizer
from synthloop.synthesizers.marginals import (
    Components,
    FineDomain,
    coarse_map,
    counts,
    estimate_tree,
    fine_domain,
    noisy_tables,
    record_domains,
    refine,
    sample_tree,
    total_estimate,
    tree_order,
    within_probs,
)
from synthloop.synthesizers.params import NON_NEGATIVE, POSITIVE, SEED, Interval
from synthloop.synthesizers.private import DOMAIN_SHARE, LedgerMeta, PrivateFit, check_ledger
from synthloop.synthesizers.seeds import SeedTree


class MSTMeta(BaseModel):
    model_config = STRICT
    columns: list[str]
    parents: list[str | None]
    order: list[str]
    ledger: LedgerMeta


class DPMST(PrivateFit, Synthesizer):
    """Differentially private MST (McKenna et al. 2021): a tree of noisy 2-way marginals, (epsilon, delta)-DP.

    Parameters
    ----------
    epsilon, delta
        The total privacy budget of the fit; every measurement is charged to it (zCDP, converted once).
    max_bins
        Coarse cells per numeric column in the model (contiguous, about equal noisy mass).
    fine_bins
        Public cells per numeric column before coarsening (from the schema's bounds only); values are
        drawn uniformly inside a fine cell.
    domain_share
        Share of the budget spent on DP bounds and category sets for the columns the schema gives none
        (:mod:`synthloop.privacy.domains`); 0 refuses such a schema. The rest goes to the measurements.
    iters
        Mirror-descent iterations of Private-PGM's estimate. 0 skips Private-PGM (and JAX): the noisy
        tables are clipped at 0 and normalised one by one, so neighbouring edges can disagree; for
        tests and quick looks (the contract suite runs so: Private-PGM's JAX compilation costs 20-45 s
        per fit on a loaded 2-core machine).
    trust_inferred_schema
        Accept a fit without a schema: categories and bounds are then read from the training data
        outside the budget, and the ledger says the guarantee does not cover them (tests, demos).
    seed
        Seeds the noise and the sampling. DP holds against an attacker who does not know the seed.
    """

    name = "dp_mst"
    meta_schema = MSTMeta
    param_constraints: ClassVar = {"epsilon": POSITIVE, "delta": Interval(0, 1, closed="neither"),
                                   "max_bins": Interval(2, 1024), "fine_bins": Interval(2, 4096),
                                   "iters": NON_NEGATIVE, "domain_share": DOMAIN_SHARE, "seed": SEED}
    # No Private-PGM in the contract suite (its cost is JAX compilation); tests/test_dp.py runs it.
    test_params: ClassVar = {"iters": 0, "max_bins": 8, "fine_bins": 64, "trust_inferred_schema": True}

    def __init__(self, *, epsilon: float = 1.0, delta: float = 1e-5, max_bins: int = 32, fine_bins: int = 512,
                 iters: int = 1000, domain_share: float = 0.0, trust_inferred_schema: bool = False,
                 seed: int | None = None):
        self.epsilon = epsilon
        self.delta = delta
        self.max_bins = max_bins
        self.fine_bins = fine_bins
        self.iters = iters
        self.domain_share = domain_share
        self.trust_inferred_schema = trust_inferred_schema
        self.seed = seed

    # ------------------------------------------------------------------ fit
    def _fit(self, data: pd.DataFrame, seeds: SeedTree) -> None:
        rng = seeds.generator("model")
        data, ledger = self.open_ledger(data, seeds)
        names = list(self.schema_.model_kinds())
        fines = fine_domains(self.schema_, names, self.fine_bins)
        record_domains(self.schema_record(ledger), fines, self.schema_, self.bought_columns)
        codes = {name: fine.encode(data[name]) for name, fine in fines.items()}
        rho_one, rho_select, rho_two = split_budget(ledger.remaining, len(names), select=True)

        # 1. 1-way counts on the fine domains: each row adds 1 to one cell per column (L2 sensitivity 1 each).
        noisy_one, sigma_one = measure_one_way(codes, fines, rho_one, ledger, rng)
        maps = {name: coarse_map(fines[name], noisy_one[name], sigma_one, max_bins=self.max_bins) for name in names}
        coarse = {name: maps[name][codes[name]] for name in names}
        sizes = {name: int(maps[name].max()) + 1 for name in names}
        total = total_estimate(list(noisy_one.values()), sigma_one)

        # 2. the tree: Kruskal order, each edge drawn by the exponential mechanism among pairs joining two parts.
        edges = self._select(names, noisy_one, maps, coarse, total, rho_select, ledger, rng)

        # 3. 2-way counts on the tree's edges, then Private-PGM.
        two_way = measure_two_way(edges, coarse, sizes, rho_two, ledger, rng)
        one_way = {name: (noisy_one[name], maps[name], sigma_one) for name in names}
        self.learn(names, edges, one_way, two_way, total, ledger)

    def learn(self, names: list[str], edges: list[tuple[str, str]],
              one_way: dict[str, tuple[np.ndarray, np.ndarray, float]],
              two_way: dict[tuple[str, str], tuple[np.ndarray, float]], total: float, ledger: Ledger) -> None:
        """The generate step from released measurements only: Private-PGM's marginals on the tree, kept for sampling.

        ``one_way[name] = (noisy fine counts, fine -> coarse map, sigma)``, ``two_way[(a, b)] = (noisy
        coarse counts, sigma)``; post-processing, so nothing here is charged. A federated fit calls it on
        the sums of the parties' measurements (:mod:`synthloop.federated.marginal`).
        """
        sizes = {name: int(one_way[name][1].max()) + 1 for name in names}
        marginals = (estimate_tree(sizes, one_way, two_way, total, self.iters) if self.iters > 0 else
                     noisy_tables(sizes, one_way, two_way))
        order, parents = tree_order(names, edges)
        self.columns_ = names
        self.order_, self.parents_ = order, parents
        self.maps_ = {name: one_way[name][1] for name in names}
        self.within_ = {name: within_probs(one_way[name][1], one_way[name][0]) for name in names}
        self.roots_ = {name: marginals[(name,)] for name in names if parents[name] is None}
        self.conditionals_ = {}
        for name in names:
            parent = parents[name]
            if parent is not None:
                joint = marginals[(parent, name)] if (parent, name) in marginals else marginals[(name, parent)].T
                self.conditionals_[name] = _conditional(joint)
        self.ledger_ = ledger
        self.n_training_rows_ = round(total)       # the noisy count: the exact one is never stored

    def _select(self, names: list[str], noisy_one: dict[str, np.ndarray], maps: dict[str, np.ndarray],
                coarse: dict[str, np.ndarray], total: float, rho: float, ledger: Ledger,
                rng: np.random.Generator) -> list[tuple[str, str]]:
        if len(names) < 2:
            return []
        pairs = list(itertools.combinations(names, 2))
        scores = pair_scores(pairs, coarse, independent_probs(noisy_one, maps), total)
        epsilon = math.sqrt(8 * rho / (len(names) - 1))
        components = Components(names)
        edges: list[tuple[str, str]] = []
        for step in range(len(names) - 1):
            candidates = [i for i, (a, b) in enumerate(pairs) if components.find(a) != components.find(b)]
            chosen = candidates[exponential(scores[candidates], epsilon=epsilon, ledger=ledger, rng=rng,
                                            what=f"tree edge {step + 1} of {len(names) - 1} "
                                                 f"(among {len(candidates)} pairs)")]
            components.join(*pairs[chosen])
            edges.append(pairs[chosen])
        return edges

    # ------------------------------------------------------------------ sample
    def _sample(self, n_rows: int, conditions: pd.DataFrame | None, rng: np.random.Generator) -> pd.DataFrame:
        cells = sample_tree(n_rows, self.order_, self.parents_, self.roots_, self.conditionals_, rng)
        fines = self._fine_domains()
        out = {}
        for name in self.columns_:
            fine_cells = refine(cells[name], self.maps_[name], self.within_[name], rng)
            out[name] = fines[name].decode(fine_cells, rng)
        return pd.DataFrame(out, index=pd.RangeIndex(n_rows))

    def _fine_domains(self) -> dict[str, FineDomain]:
        return fine_domains(self.schema_, self.columns_, self.fine_bins)

    # ------------------------------------------------------------------ state
    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays: dict[str, np.ndarray] = {}
        for i, name in enumerate(self.columns_):
            arrays[f"{i}/map"] = self.maps_[name].astype(np.int64)
            arrays[f"{i}/within"] = self.within_[name].astype("float64")
            if self.parents_[name] is None:
                arrays[f"{i}/root"] = self.roots_[name].astype("float64")
            else:
                arrays[f"{i}/conditional"] = self.conditionals_[name].astype("float64")
        meta = {"columns": list(self.columns_), "parents": [self.parents_[n] for n in self.columns_],
                "order": list(self.order_), "ledger": self.ledger_.to_dict()}
        return arrays, meta

    def _check_state(self, check: ArrayCheck, meta: dict[str, Any]) -> None:
        columns = meta["columns"]
        check_names(check, columns, self.schema_.model_kinds(), "stored columns")
        check.require(sorted(meta["order"]) == sorted(columns) and len(meta["parents"]) == len(columns),
                      "the stored tree does not cover the stored columns")
        if check.problems:
            return
        fines = fine_domains(self.schema_, columns, self.fine_bins)
        sizes = {}
        for i, name in enumerate(columns):
            mapping = check.take(f"{i}/map", "i", (fines[name].size,))
            check.take(f"{i}/within", "f", (fines[name].size,))
            ok = mapping is not None and mapping.min() >= 0 and set(np.unique(mapping)) == set(range(mapping.max() + 1))
            check.require(ok, f"array '{i}/map' is not a map onto cells 0..k-1")
            sizes[name] = int(mapping.max()) + 1 if ok and mapping is not None else None
        for i, (name, parent) in enumerate(zip(columns, meta["parents"], strict=True)):
            if parent is None:
                check.take(f"{i}/root", "f", (sizes[name],))
            else:
                check.require(parent in sizes, f"column {name!r} has an unknown parent {parent!r}")
                check.take(f"{i}/conditional", "f", (sizes.get(parent), sizes[name]))
        check_ledger(check, meta)

    def from_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.columns_ = list(meta["columns"])
        self.order_ = list(meta["order"])
        self.parents_ = dict(zip(self.columns_, meta["parents"], strict=True))
        self.maps_ = {n: arrays[f"{i}/map"].astype(np.int64) for i, n in enumerate(self.columns_)}
        self.within_ = {n: arrays[f"{i}/within"] for i, n in enumerate(self.columns_)}
        self.roots_ = {n: arrays[f"{i}/root"] for i, n in enumerate(self.columns_) if self.parents_[n] is None}
        self.conditionals_ = {n: arrays[f"{i}/conditional"] for i, n in enumerate(self.columns_)
                              if self.parents_[n] is not None}
        self.ledger_ = Ledger.from_dict(meta["ledger"])


def _conditional(joint: np.ndarray) -> np.ndarray:
    """P(child | parent) from a joint table (parent rows); a parent cell with no mass gets the child's marginal."""
    rows = joint.sum(axis=1, keepdims=True)
    marginal = joint.sum(axis=0) / max(joint.sum(), 1e-300)
    return np.where(rows > 0, joint / np.where(rows > 0, rows, 1.0), marginal[None, :])


# ---------------------------------------------------------------------- the steps, shared with the federated fit
def fine_domains(schema: Schema, names: list[str], fine_bins: int) -> dict[str, FineDomain]:
    return {name: fine_domain(schema[name], fine_bins=fine_bins) for name in names}


def split_budget(rho: float, n_columns: int, *, select: bool) -> tuple[float, float, float]:
    """(1-way, selection, 2-way) shares of rho: thirds as in the paper; halves when the tree is not selected."""
    if n_columns < 2:
        return rho, 0.0, 0.0
    if not select:
        return rho / 2, 0.0, rho / 2
    return rho / 3, rho / 3, rho - 2 * (rho / 3)


def measure_one_way(codes: dict[str, np.ndarray], fines: dict[str, FineDomain], rho: float, ledger: Ledger,
                    rng: np.random.Generator) -> tuple[dict[str, np.ndarray], float]:
    """Noisy 1-way counts of every column on its fine domain (``rho`` split evenly), and their sigma."""
    sigma = gaussian_sigma(rho / len(fines))
    noisy = {name: gaussian(counts([codes[name]], [fine.size]), sigma=sigma, ledger=ledger, rng=rng,
                            what=f"1-way counts of {name} ({fine.size} cells)") for name, fine in fines.items()}
    return noisy, sigma


def independent_probs(noisy_one: dict[str, np.ndarray], maps: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each column's coarse distribution from the released 1-way counts (clipped at 0): the independence model."""
    probs = {}
    for name, noisy in noisy_one.items():
        size = int(maps[name].max()) + 1
        summed = np.clip(np.bincount(maps[name], weights=noisy, minlength=size), 0, None)
        probs[name] = summed / summed.sum() if summed.sum() > 0 else np.full(size, 1 / size)
    return probs


def pair_scores(pairs: list[tuple[str, str]], coarse: dict[str, np.ndarray], probs: dict[str, np.ndarray],
                total: float) -> np.ndarray:
    """MST's score per pair: L1 distance of its true 2-way counts from ``total · p_a ⊗ p_b``.

    ``probs`` and ``total`` come from released values only, so adding or removing one row moves each
    score by at most 1 (sensitivity 1 per pair).
    """
    sizes = {name: len(p) for name, p in probs.items()}
    return np.array([np.abs(counts([coarse[a], coarse[b]], [sizes[a], sizes[b]])
                            - total * np.outer(probs[a], probs[b])).sum() for a, b in pairs])


def measure_two_way(edges: list[tuple[str, str]], coarse: dict[str, np.ndarray], sizes: dict[str, int], rho: float,
                    ledger: Ledger, rng: np.random.Generator) -> dict[tuple[str, str], tuple[np.ndarray, float]]:
    """Noisy 2-way counts of the coarse cells on each edge (``rho`` split evenly), each with its sigma."""
    if not edges:
        return {}
    sigma = gaussian_sigma(rho / len(edges))
    out = {}
    for a, b in edges:
        table = counts([coarse[a], coarse[b]], [sizes[a], sizes[b]])
        out[(a, b)] = (gaussian(table, sigma=sigma, ledger=ledger, rng=rng,
                                what=f"2-way counts of {a} × {b} ({table.size} cells)"), sigma)
    return out
