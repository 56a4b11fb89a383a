"""Decision trees as plain arrays: fit with scikit-learn, store as numbers, walk with numpy.

A tree is a dict of arrays that safetensors can hold: ``left``, ``right``, ``feature``, ``threshold``,
``missing_left`` (scikit-learn's ``tree_`` arrays), the training target values ordered by leaf
(``pool``) with each node's ``leaf_start`` / ``leaf_count`` into it, and for numeric targets the
column's observed ``support``, which of its values are point masses (``atom``) and each leaf's
spread in support ranks (``leaf_rank_spread``). Nothing here needs a scikit-learn object after
fitting, so a saved model is data only.

Key-like categorical features are split in *level order* (``level_rank``, ``level_start``): before
fitting, each such feature's codes are replaced by the rank of the level's mean target (for a numeric
target; the share of the most frequent class for a categorical one), so a split groups levels that
behave alike instead of levels that happen to be neighbours in the schema's label list. For a
numeric or binary target the best split of a categorical feature is one of these contiguous
groupings (Breiman, Friedman, Olshen & Stone 1984, *Classification and Regression Trees*, §9.4;
Fisher 1958). ``walk`` applies the same ranks, so a stored tree needs only the rank arrays.
Measured on the restaurant inspections (``benchmarks/tables.py``, 1,585 business names, one
``NumberofLocations`` each): with codes in label order a synthetic row kept its business's number
of locations 68% of the time (held-out rows 99%) and detection AUC was 0.578; in level order (with
the name visited first, as ``cart``'s ``order="auto"`` does) 100% and 0.555 (see ``cart``'s docstring).
Only features with more labels than ``MAX_SPLIT_CLASSES`` are reordered: with a few labels, label
order reaches any grouping in a few splits, and on Adult level order only made the fit longer.

A numeric target may carry a *leaf trend* (``trend_slope``, ``trend_center``; :func:`leaf_trend`): one
pooled within-leaf regression slope on the numeric features, kept only where cross-fitting shows it
predicts, along which :func:`follow_trend` moves a drawn donor to the row and snaps it to the nearest
observed value. With a trend the ``pool`` holds each donor's value less its offset along the slope
(``cart``'s docstring gives the measured effect).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_LEAF = -1
#: Classes a categorical target keeps for choosing splits; rarer labels are pooled into one class (the
#: donors keep their own labels). scikit-learn stores n_nodes × n_classes values, so a 200,000-level
#: column otherwise runs out of memory.
MAX_SPLIT_CLASSES = 256


def fit_tree(features: np.ndarray, target: np.ndarray, *, categorical: bool, min_leaf: int,
             max_depth: int | None, seed: int, levels: Sequence[int] = ()) -> dict[str, np.ndarray]:
    """Fit a CART tree of ``target`` on ``features`` (NaN allowed in both) and return its arrays.

    ``levels``: per feature, its number of categorical levels (codes 0..n-1), or 0 for a numeric
    feature; categorical features with more than ``MAX_SPLIT_CLASSES`` levels are split in level
    order (module docstring).
    """
    n_rows = len(target)
    tree_levels = level_order(features, target, categorical=categorical, levels=levels)
    if features.shape[1] == 0 or n_rows < 2 * min_leaf:
        leaves = np.zeros(n_rows, dtype=np.int64)
        tree = {"left": np.array([_LEAF]), "right": np.array([_LEAF]), "feature": np.array([-2]),
                "threshold": np.array([-2.0]), "missing_left": np.array([0], dtype=np.uint8)}
    else:
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        if categorical:
            labels = _pooled_classes(np.where(np.isnan(target), -1, target).astype(np.int64))
            model = DecisionTreeClassifier(min_samples_leaf=min_leaf, max_depth=max_depth, random_state=seed)
        else:
            present = target[~np.isnan(target)]
            low, high = (present.min(), present.max()) if len(present) else (0.0, 0.0)
            labels = np.where(np.isnan(target), low - (high - low) - 1.0, target)  # missing: its own region
            model = DecisionTreeRegressor(min_samples_leaf=min_leaf, max_depth=max_depth, random_state=seed)
        model.fit(_ranked(tree_levels, features), labels)
        structure = model.tree_
        tree = {"left": structure.children_left.astype(np.int64), "right": structure.children_right.astype(np.int64),
                "feature": structure.feature.astype(np.int64), "threshold": structure.threshold.astype(np.float64),
                "missing_left": structure.missing_go_to_left.astype(np.uint8), **tree_levels}
        leaves = walk(tree, features)
    # Donors in random order within each leaf: sampling draws uniformly from a leaf either way, and the
    # training order would let anyone re-link the columns of a row across the trees of a saved model.
    order = _donor_order(leaves, seed)
    counts = np.bincount(leaves, minlength=len(tree["left"]))
    tree.update(pool=target[order], leaf_count=counts.astype(np.int64),
                leaf_start=(np.cumsum(counts) - counts).astype(np.int64))
    return tree


def level_order(features: np.ndarray, target: np.ndarray, *, categorical: bool,
                levels: Sequence[int]) -> dict[str, np.ndarray]:
    """The rank of every level of each categorical feature by its mean target (``level_rank``, one
    block per feature starting at ``level_start``; -1 for a feature kept as it is).

    A categorical target is summarised by the share of its most frequent class (exact for a binary
    target; a one-dimensional summary otherwise). Levels without rows (or whose rows all miss the
    target) take the overall mean, so unseen codes fall in the middle.
    """
    starts = np.full(features.shape[1], -1, dtype=np.int64)
    ranks: list[np.ndarray] = []
    known = ~np.isnan(target)
    if categorical and known.any():
        values, counts = np.unique(target[known], return_counts=True)
        response = (target == values[np.argmax(counts)]).astype(np.float64)
    else:
        response = target
    if not known.any():
        return {}
    overall = float(response[known].mean())
    offset = 0
    for j, n_levels in enumerate(levels):
        if n_levels <= MAX_SPLIT_CLASSES:
            continue
        codes = features[:, j]
        rows = known & ~np.isnan(codes)
        codes_in = np.clip(codes[rows].astype(np.int64), 0, n_levels - 1)
        totals = np.bincount(codes_in, weights=response[rows], minlength=n_levels)
        counts = np.bincount(codes_in, minlength=n_levels)
        means = np.where(counts > 0, totals / np.maximum(counts, 1), overall)
        rank = np.empty(n_levels, dtype=np.float64)
        rank[np.argsort(means, kind="stable")] = np.arange(n_levels, dtype=np.float64)
        starts[j] = offset
        ranks.append(rank)
        offset += n_levels
    if not ranks:
        return {}
    return {"level_rank": np.concatenate(ranks), "level_start": starts}


def _ranked(tree: dict[str, np.ndarray], features: np.ndarray) -> np.ndarray:
    """``features`` with each level-ordered categorical feature's codes replaced by their ranks."""
    if "level_start" not in tree:
        return features
    starts, rank = tree["level_start"], tree["level_rank"]
    active = np.flatnonzero(starts >= 0)
    bounds = np.append(starts[active], len(rank))
    out = features.astype(np.float64, copy=True)
    for k, j in enumerate(active):
        column = out[:, j]
        present = ~np.isnan(column)
        codes = np.clip(column[present].astype(np.int64), 0, bounds[k + 1] - bounds[k] - 1)
        column[present] = rank[bounds[k] + codes]
    return out


def support_arrays(tree: dict[str, np.ndarray], atom_share: float) -> dict[str, np.ndarray]:
    """The observed values of a numeric target, its point masses and each leaf's spread in ranks."""
    pool = tree["pool"]
    present = pool[~np.isnan(pool)]
    support, counts = np.unique(present, return_counts=True)
    atom = counts >= max(atom_share * max(len(pool), 1), 2)
    ranks = np.where(np.isnan(pool), np.nan, np.searchsorted(support, np.nan_to_num(pool)))
    node_of = np.repeat(np.arange(len(tree["leaf_count"])), tree["leaf_count"])
    known = ~np.isnan(ranks)
    n_known = np.bincount(node_of[known], minlength=len(tree["leaf_count"]))
    total = np.bincount(node_of[known], weights=ranks[known], minlength=len(n_known))
    squares = np.bincount(node_of[known], weights=ranks[known] ** 2, minlength=len(n_known))
    mean = total / np.maximum(n_known, 1)
    spread = np.sqrt(np.maximum(squares / np.maximum(n_known, 1) - mean**2, 0.0))
    return {"support": support.astype(np.float64), "atom": atom.astype(np.uint8), "leaf_rank_spread": spread}


def leaf_trend(tree: dict[str, np.ndarray], features: np.ndarray, target: np.ndarray, *, numeric: Sequence[bool],
               seed: int, folds: int, min_gain: float) -> dict[str, np.ndarray]:
    """A within-leaf linear trend of a numeric target on its numeric features, kept only where it predicts.

    One slope vector per tree, fitted on the rows' deviations from their leaf's means (a pooled
    within-leaf regression), so a leaf's donors can be moved along it to the drawn row: the value
    drawn is ``donor + slope · (row − donor)`` instead of the donor's own value (:func:`follow_trend`).
    Cross-fitted gate: over ``folds`` folds of the tree's rows, leaf means and slope come from the
    other folds and predict the held-out fold; the trend is kept when it lowers the held-out squared
    error of the leaf mean by at least ``min_gain`` (a share). Returns ``{}`` otherwise, and the tree
    is unchanged. When kept, the pool holds each donor's value less ``slope · (its features − its
    leaf's mean)``, so a donor drawn for a row at its leaf's mean gives back its own value; point
    masses (``atom``) and missing values stay exact and are never moved. Needs ``support_arrays``
    first. Missing feature values count as the leaf's mean.
    """
    columns = np.flatnonzero(np.asarray(numeric, dtype=bool))
    known = ~np.isnan(target) & ~_on_atom(tree, target)      # the rows whose values can move
    if len(columns) == 0 or known.sum() < 4 * folds:
        return {}
    all_leaves = walk(tree, features)
    leaves = all_leaves[known]
    x, y = features[known][:, columns], target[known]
    fold = np.random.default_rng(seed).permutation(len(y)) % folds
    flat_error = trend_error = 0.0
    for k in range(folds):
        train = fold != k
        x_mean, y_mean = _leaf_means(leaves[train], x[train], y[train], len(tree["left"]))
        slope = _pooled_slope(x[train] - x_mean[leaves[train]], y[train] - y_mean[leaves[train]])
        deviation = np.nan_to_num(x[~train] - x_mean[leaves[~train]])
        flat = y[~train] - y_mean[leaves[~train]]
        flat_error += float(flat @ flat)
        trend_error += float(np.sum((flat - deviation @ slope) ** 2))
    if flat_error <= 0 or 1.0 - trend_error / flat_error < min_gain:
        return {}
    x_mean, y_mean = _leaf_means(leaves, x, y, len(tree["left"]))
    slope = np.zeros(features.shape[1])
    slope[columns] = _pooled_slope(x - x_mean[leaves], y - y_mean[leaves])
    center = np.zeros((len(tree["left"]), features.shape[1]))
    center[:, columns] = x_mean
    order = _donor_order(all_leaves, seed)
    offsets = np.nan_to_num(features[order] - center[all_leaves[order]]) @ slope
    pool = tree["pool"]
    movable = ~np.isnan(pool) & ~_on_atom(tree, pool)
    return {"pool": np.where(movable, pool - offsets, pool), "trend_slope": slope, "trend_center": center}


def follow_trend(tree: dict[str, np.ndarray], values: np.ndarray, leaves: np.ndarray,
                 features: np.ndarray) -> np.ndarray:
    """Move drawn donors along their tree's leaf trend to the drawing row (see :func:`leaf_trend`).

    The moved value is snapped to the nearest observed value of the column, so values stay on the
    real support (its range, its resolution: whole millimetres stay whole, and a row that copies a
    training row is one that copy avoidance can see before rounding). Point masses and missing
    values are kept.
    """
    if "trend_slope" not in tree or len(tree["support"]) == 0:
        return values
    shift = np.nan_to_num(features - tree["trend_center"][leaves]) @ tree["trend_slope"]
    movable = ~np.isnan(values) & ~_on_atom(tree, values)
    return np.where(movable, nearest_on_support(tree["support"], values + shift), values)


def nearest_on_support(support: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The observed value (``support``, sorted) nearest to each value; NaN stays NaN."""
    above = np.clip(np.searchsorted(support, np.nan_to_num(values)), 1, max(len(support) - 1, 1))
    below = above - 1
    pick = np.where(np.abs(values - support[below]) <= np.abs(support[np.minimum(above, len(support) - 1)] - values),
                    below, np.minimum(above, len(support) - 1))
    return np.where(np.isnan(values), np.nan, support[pick])


def _on_atom(tree: dict[str, np.ndarray], values: np.ndarray) -> np.ndarray:
    """Whether each value is exactly one of the column's point masses."""
    support, atom = tree["support"], tree["atom"].astype(bool)
    if len(support) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(support, np.nan_to_num(values)), len(support) - 1)
    return (support[at] == values) & atom[at]


def _leaf_means(leaves: np.ndarray, x: np.ndarray, y: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per node, the mean of each feature (over its known values) and of the target; 0 for empty nodes."""
    counts = np.bincount(leaves, minlength=n_nodes)
    y_mean = np.bincount(leaves, weights=y, minlength=n_nodes) / np.maximum(counts, 1)
    x_mean = np.zeros((n_nodes, x.shape[1]))
    for j in range(x.shape[1]):
        present = ~np.isnan(x[:, j])
        n_present = np.bincount(leaves[present], minlength=n_nodes)
        x_mean[:, j] = np.bincount(leaves[present], weights=x[present, j], minlength=n_nodes) / np.maximum(n_present, 1)
    return x_mean, y_mean


def _pooled_slope(deviation: np.ndarray, response: np.ndarray) -> np.ndarray:
    """Least squares of ``response`` on ``deviation`` (missing as 0), with a tiny ridge for collinear features."""
    deviation = np.nan_to_num(deviation)
    gram = deviation.T @ deviation
    ridge = 1e-6 * np.diag(gram).mean() + 1e-12
    return np.linalg.solve(gram + ridge * np.eye(len(gram)), deviation.T @ response)


def _donor_order(leaves: np.ndarray, seed: int) -> np.ndarray:
    """Training rows ordered by leaf, in random order within each leaf (see ``fit_tree``)."""
    return np.lexsort((np.random.default_rng(seed).random(len(leaves)), leaves))


def walk(tree: dict[str, np.ndarray], features: np.ndarray) -> np.ndarray:
    """The leaf each row reaches, comparing like scikit-learn does (features as float32)."""
    left, right = tree["left"], tree["right"]
    nodes = np.zeros(len(features), dtype=np.int64)
    if left[0] == _LEAF:
        return nodes
    values = _ranked(tree, features).astype(np.float32).astype(np.float64)
    active = np.flatnonzero(left[nodes] != _LEAF)
    while len(active):
        node = nodes[active]
        x = values[active, tree["feature"][node]]
        go_left = np.where(np.isnan(x), tree["missing_left"][node].astype(bool), x <= tree["threshold"][node])
        nodes[active] = np.where(go_left, left[node], right[node])
        active = active[left[nodes[active]] != _LEAF]
    return nodes


def draw_donors(tree: dict[str, np.ndarray], leaves: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One training value drawn uniformly from each row's leaf."""
    counts = tree["leaf_count"][leaves]
    picks = tree["leaf_start"][leaves] + np.minimum((rng.random(len(leaves)) * counts).astype(np.int64), counts - 1)
    return tree["pool"][picks]


def jitter_on_support(tree: dict[str, np.ndarray], values: np.ndarray, leaves: np.ndarray, smoothing: float,
                      rng: np.random.Generator) -> np.ndarray:
    """Move values that are not point masses to a nearby observed value (never onto or off a spike)."""
    support, atom = tree["support"], tree["atom"].astype(bool)
    if len(support) < 2:
        return values
    known = ~np.isnan(values)
    ranks = np.searchsorted(support, np.where(known, values, support[0]))
    step = smoothing * np.maximum(tree["leaf_rank_spread"][leaves], 1.0) * rng.standard_normal(len(values))
    moved = np.clip(np.rint(ranks + step).astype(np.int64), 0, len(support) - 1)
    movable = known & ~atom[np.minimum(ranks, len(support) - 1)] & ~atom[moved]
    out = values.copy()
    out[movable] = support[moved[movable]]
    return out


def fresh_values(tree: dict[str, np.ndarray], values: np.ndarray, share: float, spread: float, ranks_around: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Give ``share`` of the values that are not point masses a new value near the drawn one.

    The new value is the drawn one plus Gaussian noise of ``spread`` local spacings (the mean gap
    between observed values within ``ranks_around`` ranks, so the noise follows the local density),
    reflected into the observed range. Point masses and missing values are kept.
    """
    support, atom = tree["support"], tree["atom"].astype(bool)
    if len(support) < 2 or share <= 0:
        return values
    known = ~np.isnan(values)
    ranks = np.minimum(np.searchsorted(support, np.where(known, values, support[0])), len(support) - 1)
    movable = known & ~atom[ranks] & (rng.random(len(values)) < share)
    low, high = np.maximum(ranks - ranks_around, 0), np.minimum(ranks + ranks_around, len(support) - 1)
    spacing = (support[high] - support[low]) / np.maximum(high - low, 1)
    moved = values + spread * spacing * rng.standard_normal(len(values))
    first, last = support[0], support[-1]
    moved = np.where(moved < first, 2 * first - moved, moved)
    moved = np.clip(np.where(moved > last, 2 * last - moved, moved), first, last)   # a second bounce stays inside
    out = values.copy()
    out[movable] = moved[movable]
    return out


def resample_by_donor_share(tree: dict[str, np.ndarray], leaves: np.ndarray, wanted: np.ndarray,
                            rng: np.random.Generator) -> np.ndarray:
    """Row indices drawn with probability ∝ the share of each row's leaf donors equal to its wanted value.

    When no row's leaf holds the value (possible for numeric conditions), rows are kept as they are.
    """
    weights = np.zeros(len(leaves))
    pool = tree["pool"]
    for value in np.unique(wanted):
        rows = np.flatnonzero(np.isnan(wanted)) if np.isnan(value) else np.flatnonzero(wanted == value)
        matches = np.isnan(pool) if np.isnan(value) else pool == value
        cumulative = np.concatenate([[0], np.cumsum(matches)])
        start, count = tree["leaf_start"][leaves[rows]], tree["leaf_count"][leaves[rows]]
        weights[rows] = (cumulative[start + count] - cumulative[start]) / np.maximum(count, 1)
    if weights.sum() <= 0:
        return np.arange(len(leaves))
    return rng.choice(len(leaves), size=len(leaves), p=weights / weights.sum())


def _pooled_classes(labels: np.ndarray) -> np.ndarray:
    """Labels with all but the ``MAX_SPLIT_CLASSES - 1`` most frequent pooled into one class."""
    values, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if len(values) <= MAX_SPLIT_CLASSES:
        return labels
    rank = np.empty(len(values), dtype=np.int64)
    rank[np.argsort(-counts, kind="stable")] = np.arange(len(values))
    return np.minimum(rank, MAX_SPLIT_CLASSES - 1)[inverse.reshape(-1)]


def check_tree(tree: dict[str, np.ndarray], *, n_features: int) -> None:
    """Raise ValueError when stored tree arrays are inconsistent (a corrupt or tampered file)."""
    needed = ("left", "right", "feature", "threshold", "missing_left", "pool", "leaf_start", "leaf_count")
    missing = [key for key in needed if key not in tree]
    if missing:
        raise ValueError(f"tree arrays missing: {missing}")
    n_nodes = len(tree["left"])
    if any(len(tree[key]) != n_nodes for key in needed if key != "pool"):
        raise ValueError("tree arrays have different lengths")
    internal = tree["left"] != _LEAF
    children = np.concatenate([tree["left"][internal], tree["right"][internal]])
    parents = np.concatenate([np.flatnonzero(internal)] * 2)
    if len(children) and ((children <= parents).any() or children.max() >= n_nodes):
        raise ValueError("tree child index out of range")
    if internal.any() and (tree["feature"][internal].min() < 0 or tree["feature"][internal].max() >= n_features):
        raise ValueError("tree feature index out of range")
    if "level_start" in tree or "level_rank" in tree:
        starts, rank = tree.get("level_start", np.zeros(0, np.int64)), tree.get("level_rank", np.zeros(0))
        active = starts[starts >= 0]
        if (len(starts) != n_features or len(active) == 0 or active[0] != 0 or (np.diff(active) < 3).any()
                or len(rank) - active[-1] < 3):
            raise ValueError("tree level ranks do not match its features")
    ends = tree["leaf_start"] + tree["leaf_count"]
    if tree["leaf_start"].min() < 0 or ends.max() > len(tree["pool"]) or (tree["leaf_count"][~internal] < 1).any():
        raise ValueError("leaf donor ranges out of range")
