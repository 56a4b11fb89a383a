"""Weights that give a synthetic table known target marginals (raking), when no target rows are at hand.

Often only a population's published shares are known (census tables: 51 % women, 30 % over 45).
Raking, or iterative proportional fitting (Deming & Stephan 1940), scales the weights of each label's
rows to that label's target share, one column after another, until every column matches: the
weights closest to uniform (in Kullback–Leibler divergence) that reproduce the marginals. Only
categorical columns: bin a numeric column into a categorical one to give its shares.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from synthloop.errors import AlignmentError, format_problems
from synthloop.tabular.labels import to_labels

Marginals = Mapping[str, Mapping[str, float]]
MAX_ITERATIONS = 200
TOLERANCE = 1e-6


def check_marginals(marginals: object, synthetic: pd.DataFrame, kinds: Mapping[str, str]) -> dict[str, dict[str, float]]:
    """``{column: {label: share}}`` with shares summing to 1, on categorical columns the synthetic rows can reach."""
    if not isinstance(marginals, Mapping) or not marginals:
        raise AlignmentError("Target marginals must be a non-empty mapping {column: {label: share}}.")
    problems, out = [], {}
    for column, shares in marginals.items():
        column = str(column)
        if column not in kinds:
            problems.append(f"'{column}' is not a learned column of the synthetic table")
            continue
        if kinds[column] != "categorical":
            problems.append(f"'{column}' is numeric; give the shares of a binned copy, or a target sample")
            continue
        if not isinstance(shares, Mapping) or not shares:
            problems.append(f"'{column}': shares must be a mapping {{label: share}}")
            continue
        try:
            values = {str(label): float(share) for label, share in shares.items()}
        except (TypeError, ValueError):
            problems.append(f"'{column}': every share must be a number")
            continue
        total = sum(values.values())
        if any(v < 0 for v in values.values()) or abs(total - 1) > 0.01:
            problems.append(f"'{column}': shares must be non-negative and sum to 1 (they sum to {total:.3f})")
            continue
        produced = set(to_labels(synthetic[column]).dropna())
        unseen = [label for label, share in values.items() if share > 0 and label not in produced]
        if unseen:
            problems.append(f"'{column}': the synthetic table never has label(s) {', '.join(map(repr, unseen[:5]))}")
            continue
        out[column] = {label: share / total for label, share in values.items()}
    if problems:
        raise AlignmentError(format_problems("The target marginals cannot be reached", problems,
                                             "Re-weighting only re-balances rows the generator produces."))
    return out


def rake(synthetic: pd.DataFrame, marginals: Mapping[str, Mapping[str, float]]) -> np.ndarray:
    """Raking weights (mean 1) of the model-view ``synthetic`` rows for checked ``marginals``."""
    weights = np.ones(len(synthetic))
    codes = {}
    for column, shares in marginals.items():
        labels = to_labels(synthetic[column]).to_numpy(dtype=object)
        wanted = np.array([shares.get(str(label), 0.0) if label == label else 0.0 for label in labels])
        codes[column] = (pd.factorize(labels)[0], wanted)
    for _ in range(MAX_ITERATIONS):
        largest = 0.0
        for code, wanted in codes.values():
            current = np.bincount(code + 1, weights=weights) / weights.sum()
            share_now = current[code + 1]
            factor = np.divide(wanted, share_now, out=np.zeros_like(wanted), where=share_now > 0)
            largest = max(largest, float(np.abs(share_now - wanted).max()))
            weights = weights * factor
        if largest < TOLERANCE:
            break
    total = weights.sum()
    if total <= 0:
        raise AlignmentError("Raking left no row with weight: the target marginals contradict each other here.")
    return weights / weights.mean()


def marginal_gaps(view: pd.DataFrame, marginals: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """Total variation distance between each column's label shares in ``view`` and the target shares."""
    records = []
    for column, wanted in marginals.items():
        have = to_labels(view[column]).value_counts(normalize=True)
        labels = set(have.index) | set(wanted)
        gap = 0.5 * sum(abs(float(have.get(label, 0.0)) - wanted.get(label, 0.0)) for label in labels)
        records.append({"column": column, "kind": "categorical", "divergence": gap})
    return pd.DataFrame(records, columns=["column", "kind", "divergence"])
