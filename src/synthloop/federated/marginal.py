"""The federated DP marginal model: each party releases noisy marginals, the server fits Private-PGM (no torch).

MST (McKenna, Miklau and Sheldon 2021) split across parties whose rows never leave them. Every party
measures the same marginals, defined by the **public schema** alone (``fine_domain``: categories and
numeric bins from the declared bounds), under its **own** ``(epsilon, delta)``, charged to its own
:class:`~synthloop.privacy.accounting.Ledger` with the mechanisms ``dp_mst`` uses. Three exchanges:

1. **1-way counts** of every column on its fine domain (Gaussian mechanism). The server adds the
   parties' noisy tables (an unbiased estimate of the pooled counts, variance Σ σ_k²) and, from these
   sums only (post-processing), merges fine cells into coarse ones (``coarse_map``) and sends the maps
   back.
2. **Structure.** ``structure="private"`` (the default): each party scores every pair of columns as
   MST does (L1 distance of its 2-way counts from independence; sensitivity 4 per pair, see
   :meth:`MarginalParty.pair_scores`) and releases the whole score vector with Gaussian noise; the
   server subtracts each score's chance level (:func:`chance_scores`), adds the vectors and takes the
   maximum spanning tree of the sums (post-processing). The exponential mechanism MST uses centrally
   cannot be combined across parties; noisy scores can. ``structure="public"``: the tree is given
   (``edges``, from domain knowledge or an earlier public data set); no budget is spent choosing it
   and the 1-way and 2-way steps get half the budget each instead of a third.
3. **2-way counts** of the coarse cells on the tree's edges (Gaussian mechanism); the server adds them.

The server then runs the generate step of ``dp_mst`` (:meth:`DPMST.learn <synthloop.synthesizers.dp_mst.DPMST.learn>`)
on the sums, with each sum's standard deviation √(Σ σ_k²), and saves an ordinary ``dp_mst`` model
folder plus ``federated.json``. Each row belongs to one party and every value that party released is
charged to that party's ledger, so by parallel composition the model is (max_k epsilon_k, delta)-DP
for every row; the model's ledger shows the largest party's charges, ``federated.json`` every party's.

A party that misses an exchange is left out of the model (its earlier measurements are not used, so
every sum covers the same rows); the budget it spent stays spent.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from synthloop.errors import ConfigError, DataError, SchemaError
from synthloop.federated.lineage import publish
from synthloop.federated.rehearsal import PartyDropped, split
from synthloop.lineage.fingerprint import fingerprint
from synthloop.privacy.accounting import Charge, Ledger, refuse_private_reads
from synthloop.privacy.mechanisms import gaussian, gaussian_sigma
from synthloop.schema import Schema
from synthloop.synthesizers.dp_mst import (
    DPMST,
    fine_domains,
    independent_probs,
    measure_one_way,
    measure_two_way,
    pair_scores,
    split_budget,
)
from synthloop.synthesizers.marginals import Components, coarse_map, record_domains, total_estimate
from synthloop.synthesizers.params import check_params

#: The exchanges, in order; ``drop`` in a simulation names them by number (1, 2, 3).
PHASES = ("1-way counts", "pair scores", "2-way counts")


@dataclass(frozen=True)
class MarginalSettings:
    """How a federated DP marginal model is fitted.

    Parameters
    ----------
    epsilon, delta
        Each party's budget; ``epsilon_per_party`` overrides epsilon for named parties.
    structure, edges
        ``"private"``: the tree is chosen from the parties' noisy pair scores; ``"public"``: ``edges``
        (pairs of column names forming a forest) is the tree, read from public knowledge.
    max_bins, fine_bins, iters
        As in ``dp_mst``: coarse cells per numeric column, public fine cells, Private-PGM iterations.
    min_parties
        Fewer parties answering every exchange stops the fit.
    trust_inferred_schema
        Accept a schema merged from the parties' data (outside the budget; the ledger says so).
    seed
        Seeds each party's noise (``SeedSequence([seed, party index])``) and the sampling. In a deployment each
        party would draw its own secret seed: a seed known to the server lets it subtract the noise.
    """

    epsilon: float = 1.0
    delta: float = 1e-5
    epsilon_per_party: Mapping[str, float] = field(default_factory=dict)
    structure: Literal["private", "public"] = "private"
    edges: tuple[tuple[str, str], ...] = ()
    max_bins: int = 32
    fine_bins: int = 512
    iters: int = 1000
    min_parties: int = 1
    trust_inferred_schema: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        problems = []
        if self.structure not in ("private", "public"):
            problems.append(f"structure '{self.structure}' is unknown; choose 'private' or 'public'")
        if self.structure == "public" and not self.edges:
            problems.append("structure 'public' needs edges (pairs of columns), e.g. [['age', 'income']]")
        if self.structure == "private" and self.edges:
            problems.append("edges are only read with structure 'public'")
        if self.min_parties < 1:
            problems.append("min_parties must be at least 1")
        bad = {name: eps for name, eps in self.epsilon_per_party.items() if not (math.isfinite(eps) and eps > 0)}
        if bad or not (math.isfinite(self.epsilon) and self.epsilon > 0):
            problems.append(f"every epsilon must be a finite number > 0 (got {self.epsilon!r}, {bad or ''})")
        if problems:
            raise ConfigError("Invalid federated marginal settings: " + "; ".join(problems))
        check_params(DPMST, {"epsilon": self.epsilon, "delta": self.delta, "max_bins": self.max_bins,
                             "fine_bins": self.fine_bins, "iters": self.iters})

    def epsilon_of(self, party: str) -> float:
        return float(self.epsilon_per_party.get(party, self.epsilon))

    def to_config(self) -> dict[str, Any]:
        return {**asdict(self), "epsilon_per_party": dict(self.epsilon_per_party),
                "edges": [list(edge) for edge in self.edges]}


class MarginalParty:
    """One data holder: measures the public-schema marginals of its own rows under its own budget.

    ``drop_phases``: exchanges (0-based) at which it does not answer, to rehearse a dropout.
    """

    def __init__(self, name: str, data: pd.DataFrame, schema: Schema, *, epsilon: float, delta: float,
                 fine_bins: int = 512, seed: int | None = None, drop_phases: Sequence[int] = ()):
        self.name = name
        self.data = data
        self.schema = schema
        self.epsilon = epsilon
        self.delta = delta
        self.fine_bins = fine_bins
        self.seed = seed
        self.drop_phases = frozenset(drop_phases)

    def _answer(self, phase: int) -> None:
        if phase in self.drop_phases:
            raise PartyDropped(f"party '{self.name}' drops out of the {PHASES[phase]} exchange")

    def one_way(self, *, public_schema: bool, rho_shares: tuple[float, float, float]) -> dict[str, Any]:
        """Exchange 1: noisy 1-way counts on the fine domains, with their sigma (and the table's fingerprint)."""
        self._answer(0)
        self.schema.validate(self.data, what=f"data of party '{self.name}'")
        self.ledger = Ledger(self.epsilon, self.delta, n_rows=len(self.data))
        self.rng = np.random.default_rng(self.seed)
        self.names = list(self.schema.model_kinds())
        self.fines = fine_domains(self.schema, self.names, self.fine_bins)
        record_domains(self.ledger.public if public_schema else self.ledger.outside, self.fines, self.schema)
        model_frame = self.schema.to_model_frame(self.data)
        self.codes = {name: fine.encode(model_frame[name]) for name, fine in self.fines.items()}
        self.rho = tuple(share * self.ledger.rho for share in rho_shares)
        self.noisy_one, self.sigma_one = measure_one_way(self.codes, self.fines, self.rho[0], self.ledger, self.rng)
        # Only the noisy count leaves the party (the exact one is not covered by the budget).
        noisy_rows = round(total_estimate(list(self.noisy_one.values()), self.sigma_one))
        return {"counts": self.noisy_one, "sigma": self.sigma_one, "fingerprint": fingerprint(self.data),
                "n_rows": noisy_rows, "n_columns": int(self.data.shape[1])}

    def pair_scores(self, maps: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Exchange 2 (private structure): every pair's distance from independence, with Gaussian noise.

        The score is MST's L1 distance of the 2-way counts from the independent estimate, here the outer
        product of the party's own coarse marginals over its row count. Adding a row moves the 2-way counts
        by 1 and that estimate by less than 3 (in L1), so each score has sensitivity 4 and the vector
        4·√pairs in L2. (Central MST builds the estimate from released 1-way counts, sensitivity 1; pooled
        noisy counts put a few percent of phantom mass in the empty tail cells of wide columns, which made
        every pair with Adult's fnlwgt look dependent at every party.)
        """
        self._answer(1)
        self.coarse = {name: np.asarray(maps[name])[self.codes[name]] for name in self.names}
        pairs = list(itertools.combinations(self.names, 2))
        own = {name: np.bincount(self.coarse[name], minlength=int(np.asarray(maps[name]).max()) + 1) / len(self.data)
               for name in self.names}
        scores = pair_scores(pairs, self.coarse, own, float(len(self.data)))
        sensitivity = 4 * math.sqrt(len(pairs))
        sigma = gaussian_sigma(self.rho[1], sensitivity)
        noisy = gaussian(scores, sigma=sigma, ledger=self.ledger, rng=self.rng, sensitivity=sensitivity,
                         what=f"scores of all {len(pairs)} column pairs (tree selection)")
        return {"scores": noisy, "sigma": sigma}

    def two_way(self, maps: Mapping[str, np.ndarray], edges: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """Exchange 3: noisy 2-way counts of the coarse cells on the tree's edges."""
        self._answer(2)
        self.coarse = {name: np.asarray(maps[name])[self.codes[name]] for name in self.names}
        sizes = {name: int(np.asarray(maps[name]).max()) + 1 for name in self.names}
        measured = measure_two_way(list(edges), self.coarse, sizes, self.rho[2], self.ledger, self.rng)
        return {"tables": {edge: table for edge, (table, _) in measured.items()},
                "sigma": next(iter(measured.values()))[1] if measured else 0.0}


# ---------------------------------------------------------------------------------------------- the server
def pooled(answers: Mapping[str, Mapping[str, Any]], key: str, names: Sequence[Any]) -> tuple[dict[Any, np.ndarray], float]:
    """Sums of the parties' noisy tables under ``key`` and the sums' standard deviation √(Σ σ_k²)."""
    sums = {name: sum(np.asarray(answer[key][name], dtype="float64") for answer in answers.values()) for name in names}
    return sums, math.sqrt(sum(float(answer["sigma"]) ** 2 for answer in answers.values()))


def chance_scores(pairs: Sequence[tuple[str, str]], probs: Mapping[str, np.ndarray], n_rows: float) -> np.ndarray:
    """The score each pair gets from sampling noise alone when its columns are independent: Σ over cells of
    E|Binomial(n, q) − n q| ≈ √(2 n q (1 − q) / π), with q = p_a · p_b.

    A party's score of a pair with many cells is large even without dependence, and adding the parties'
    scores adds this noise floor k times; subtracting it (from released values only: post-processing)
    keeps wide columns such as fnlwgt from winning every edge. The 3-party Adult benchmark shows the tree
    with and without it (docs/benchmarks.md).
    """
    out = []
    for a, b in pairs:
        q = np.outer(probs[a], probs[b])
        out.append(float(np.sqrt(2 * max(n_rows, 1.0) * q * (1 - q) / math.pi).sum()))
    return np.array(out)


def spanning_tree(names: Sequence[str], scores: np.ndarray) -> list[tuple[str, str]]:
    """The maximum spanning tree of the (noisy, summed) pair scores: Kruskal, highest score first."""
    pairs = list(itertools.combinations(names, 2))
    components = Components(names)
    return [pairs[index] for index in np.argsort(-np.asarray(scores), kind="stable") if components.join(*pairs[index])]


def check_edges(names: Sequence[str], edges: Sequence[Sequence[str]]) -> list[tuple[str, str]]:
    """Public edges as pairs of model columns forming a forest; ConfigError listing every problem."""
    problems, components, checked = [], Components(names), []
    for edge in edges:
        unknown = [c for c in edge if c not in components.parent]
        if len(edge) != 2 or unknown:
            problems.append(f"edge {list(edge)} is not a pair of learned columns" + (f" (unknown: {unknown})" if unknown else ""))
        elif not components.join(*edge):
            problems.append(f"edge ['{edge[0]}', '{edge[1]}'] closes a cycle; the edges must form a tree (or a forest)")
        else:
            checked.append((edge[0], edge[1]))
    if problems:
        raise ConfigError("The public tree is invalid:\n" + "\n".join(f"  - {p}" for p in problems))
    return checked


def run_marginal(parties: Sequence[MarginalParty], settings: MarginalSettings, schema: Schema, out: str | Path, *,
                 public_schema: bool = True, lineage: str | Path | None = None, overwrite: bool = False,
                 on_round: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Run the three exchanges with every party in this process; save the ``dp_mst`` model and ``federated.json``."""
    from synthloop.io.artifacts import check_artifact_target

    out = check_artifact_target(out, overwrite=overwrite)
    names = list(schema.model_kinds())
    select = settings.structure == "private"
    fixed = [] if select else check_edges(names, settings.edges)
    shares = split_budget(1.0, len(names), select=select)                  # of each party's own rho
    history: list[dict[str, Any]] = []
    alive = {party.name: party for party in parties}

    def exchange(phase: int, ask: Callable[[MarginalParty], dict[str, Any]]) -> dict[str, dict[str, Any]]:
        answers, dropped = {}, []
        for name, party in list(alive.items()):
            try:
                answers[name] = ask(party)
            except PartyDropped:
                dropped.append(name)
                del alive[name]
        if len(answers) < settings.min_parties:
            raise DataError(f"The {PHASES[phase]} exchange: only {len(answers)} part{'y' if len(answers) == 1 else 'ies'} "
                            f"answered (dropped: {', '.join(dropped) or 'none'}), fewer than min_parties="
                            f"{settings.min_parties}.")
        entry = {"round": phase + 1, "exchange": PHASES[phase], "parties": sorted(answers), "dropped": sorted(dropped),
                 "bytes_sent": _bytes(answers)}
        history.append(entry)
        if on_round is not None:
            on_round(entry)
        return answers

    first = exchange(0, lambda p: p.one_way(public_schema=public_schema, rho_shares=shares))
    summed_one, sigma_one = pooled(first, "counts", names)
    fines = fine_domains(schema, names, settings.fine_bins)
    maps = {name: coarse_map(fines[name], summed_one[name], sigma_one, max_bins=settings.max_bins) for name in names}
    if select and len(names) > 1:
        probs = independent_probs(summed_one, maps)
        scored = exchange(1, lambda p: p.pair_scores(maps))
        pairs = list(itertools.combinations(names, 2))
        excess = [np.asarray(a["scores"]) - chance_scores(pairs, probs, first[n]["n_rows"]) for n, a in scored.items()]
        edges = spanning_tree(names, sum(excess))
    else:
        edges = fixed
    second = exchange(2, lambda p: p.two_way(maps, edges))
    finishers = sorted(second)
    # Every sum the model reads covers the same parties: those that answered every exchange.
    summed_one, sigma_one = pooled({n: first[n] for n in finishers}, "counts", names)
    summed_two, sigma_two = pooled({n: second[n] for n in finishers}, "tables", edges)
    total = total_estimate(list(summed_one.values()), sigma_one)
    ledgers = {party.name: party.ledger for party in parties if hasattr(party, "ledger")}
    model = _model(settings, schema, ledgers)
    model.learn(names, edges, {n: (summed_one[n], maps[n], sigma_one) for n in names},
                {edge: (summed_two[edge], sigma_two) for edge in edges}, total, model.ledger_)
    model.save(out, overwrite=overwrite)
    party_info = {name: {"fingerprint": first[name]["fingerprint"], "n_rows": int(first[name]["n_rows"]),
                         "n_columns": int(first[name]["n_columns"])} for name in sorted(first)}
    provenance = {"federated": True, "transport": "in-process", "model": "dp_mst", "strategy": "sum of noisy marginals",
                  "settings": settings.to_config(), "parties": party_info, "final_statistics_from": finishers,
                  "rounds": history, "tree": [list(edge) for edge in edges],
                  "epsilon_per_party": {name: ledger.spent_epsilon() for name, ledger in sorted(ledgers.items())},
                  "ledgers": {name: ledger.to_dict() for name, ledger in sorted(ledgers.items())},
                  "privacy": {"rows_shared": False, "differential_privacy": "per party (zCDP ledgers); "
                              "the model is (max epsilon, delta)-DP per row by parallel composition",
                              "shared_with_server": ["noisy 1-way counts on public fine domains", "noisy pair scores"
                                                     if select else "nothing for the structure (public tree)",
                                                     "noisy 2-way counts on the tree's edges",
                                                     "noisy row count and the table's fingerprint (lineage)"]}}
    publish(out, provenance, lineage)
    return out


def _model(settings: MarginalSettings, schema: Schema, ledgers: Mapping[str, Ledger]) -> DPMST:
    """An empty ``dp_mst`` whose ledger is the largest party's (the guarantee each row gets at worst)."""
    ledger = worst_ledger(ledgers, settings.delta)
    model = DPMST(epsilon=ledger.epsilon, delta=settings.delta, max_bins=settings.max_bins,
                  fine_bins=settings.fine_bins, iters=settings.iters,
                  trust_inferred_schema=settings.trust_inferred_schema, seed=settings.seed)
    model.ledger_ = ledger
    fitted_without_rows(model, schema)
    return model


def worst_ledger(ledgers: Mapping[str, Ledger], delta: float) -> Ledger:
    """The largest party's ledger, its entries named after the party, plus one line for the others: what each
    row gets at worst when every row is held by one party (parallel composition)."""
    worst = max(sorted(ledgers), key=lambda name: (ledgers[name].epsilon, ledgers[name].spent))
    ledger = Ledger(ledgers[worst].epsilon, delta)
    ledger.entries = [Charge(f"{worst}: {e.what}", e.mechanism, e.rho, e.source, dict(e.detail))
                      for e in ledgers[worst].entries]
    ledger.public(f"the other {len(ledgers) - 1} parties' releases: each row is held by one party and charged to "
                  "that party's ledger (federated.json), none larger than this one", "parallel composition")
    return ledger


def fitted_without_rows(model: Any, schema: Schema) -> None:
    """What ``Synthesizer.fit`` sets besides the learned state, for a model assembled from parties' releases."""
    model.schema_ = schema
    model._sample_calls = 0
    model._training_rows = model._privacy_reference = model._hashes_of_training = None


def _bytes(answers: Mapping[str, Mapping[str, Any]]) -> int:
    def size(value: Any) -> int:
        if isinstance(value, np.ndarray):
            return int(value.nbytes)
        if isinstance(value, Mapping):
            return sum(size(v) for v in value.values())
        return 8
    return sum(size(answer) for answer in answers.values())


def simulate_marginal(data: pd.DataFrame, out: str | Path, *, schema: Schema | None, n_parties: int = 3,
                      how: str = "iid", column: str | None = None, alpha: float = 0.5,
                      settings: MarginalSettings | None = None, drop: Mapping[str, Sequence[int]] | None = None,
                      lineage: str | Path | None = None, overwrite: bool = False,
                      on_round: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Split ``data`` into parties and fit the federated DP marginal model; returns the saved model folder.

    ``schema`` is the public schema every party measures under; None merges the parties' inferred schemas,
    which reads the data outside the budget and is refused unless ``settings.trust_inferred_schema``.
    ``drop`` maps a party name to the exchanges (1-based: 1 = 1-way, 2 = pair scores, 3 = 2-way) it misses.
    """
    settings = settings or MarginalSettings()
    refuse_private_reads("the federated dp_mst", schema, settings.trust_inferred_schema)
    tables = split(data, n_parties, how=how, column=column, alpha=alpha, seed=settings.seed)
    names = [f"party_{k + 1}" for k in range(n_parties)]
    unknown = sorted((set(drop or {}) | set(settings.epsilon_per_party)) - set(names))
    if unknown:
        raise ConfigError(f"drop / epsilon_per_party name unknown parties {unknown}; the parties are {names}.")
    public_schema = schema is not None
    if schema is None:
        from synthloop.federated.join import merge_schemas

        schema = merge_schemas({name: Schema.infer(table) for name, table in zip(names, tables, strict=True)})
    if not schema.modelled():
        raise SchemaError("The federated dp_mst has nothing to learn: every column is an id or a constant.")
    parties = [MarginalParty(name, table, schema, epsilon=settings.epsilon_of(name), delta=settings.delta,
                             fine_bins=settings.fine_bins, seed=_party_seed(settings.seed, index),
                             drop_phases=[p - 1 for p in (drop or {}).get(name, ())])
               for index, (name, table) in enumerate(zip(names, tables, strict=True))]
    return run_marginal(parties, settings, schema, out, public_schema=public_schema,
                        lineage=lineage, overwrite=overwrite, on_round=on_round)


def _party_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


__all__ = ["PHASES", "MarginalParty", "MarginalSettings", "chance_scores", "check_edges", "pooled", "run_marginal",
           "simulate_marginal", "spanning_tree"]
