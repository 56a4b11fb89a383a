"""cart's leaf trend (issue 13): donors moved along a within-leaf linear trend, kept only where it predicts.

A leaf mixes donors whose earlier columns differ; drawn as they are, a column that rises steadily
with an earlier one is flattened into steps as wide as the leaf. The trend is a pooled within-leaf
regression, gated by cross-fitting (``_trees.leaf_trend``), so columns it would not help keep plain
donors.
"""

import numpy as np
import pandas as pd
import pytest

import synthloop as sl
from synthloop.synthesizers import _trees
from synthloop.synthesizers.cart import SequentialCART

ORDER = ["group", "x", "y", "zeros", "noise"]


def _linear(n: int = 2_000) -> pd.DataFrame:
    """``y`` rises with ``x`` (slope 3, residual 0.3); ``zeros`` is 0 in 40% of rows, else near ``x`` (a spike the
    gate leaves alone); ``noise`` is independent of everything."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, n)
    group = rng.choice(["a", "b"], n)
    zeros = np.where(rng.random(n) < 0.4, 0.0, x + rng.normal(0, 0.2, n))
    return pd.DataFrame({"group": group, "x": x, "y": 3 * x + 5 * (group == "b") + rng.normal(0, 0.3, n),
                         "zeros": zeros, "noise": rng.normal(0, 1, n)})


def _fit(frame: pd.DataFrame, **params) -> SequentialCART:
    return SequentialCART(seed=0, calibrate=False, min_leaf=100, order=ORDER, **params).fit(
        frame, sl.Schema.infer(frame, target="y"))


def _residual(frame: pd.DataFrame) -> float:
    return float(np.std(frame["y"] - 3 * frame["x"] - 5 * (frame["group"] == "b")))


def test_trend_follows_a_linear_column_inside_wide_leaves():
    frame = _linear()
    trend, plain = _fit(frame), _fit(frame, trend=False)
    assert "trend_slope" in trend.trees_[ORDER.index("y")]
    assert "trend_slope" not in trend.trees_[ORDER.index("noise")]      # the gate: no trend where none predicts
    assert _residual(trend.sample(len(frame), seed=1, privacy="off")) < 0.6     # real 0.3; donors of one leaf:
    assert _residual(plain.sample(len(frame), seed=1, privacy="off")) > 0.8     # the leaf's width in x × 3


def test_trend_keeps_point_masses_and_the_observed_range():
    rng = np.random.default_rng(2)
    features = rng.uniform(0, 10, (1_000, 1))
    target = np.where(rng.random(1_000) < 0.3, 0.0, 2 * features[:, 0] + rng.normal(0, 0.1, 1_000))
    tree = _trees.fit_tree(features, target, categorical=False, min_leaf=200, max_depth=None, seed=0)
    tree.update(_trees.support_arrays(tree, 0.01))
    tree.update(_trees.leaf_trend(tree, features, target, numeric=[True], seed=0, folds=5, min_gain=-1.0))
    assert "trend_slope" in tree                                          # forced: min_gain below any gain
    rows = rng.uniform(0, 10, (5_000, 1))
    values = _trees.follow_trend(tree, _trees.draw_donors(tree, _trees.walk(tree, rows), rng),
                                 _trees.walk(tree, rows), rows)
    assert abs((values == 0).mean() - 0.3) < 0.03                         # the spike at 0 is never moved
    assert target.min() <= values.min() and values.max() <= target.max()  # moved values stay in the range
    moved = values != 0
    assert np.std(values[moved] - 2 * rows[moved, 0]) < 1.0               # and follow the row (leaf width 2.9)


def test_leaf_trend_gate_is_cross_fitted():
    rng = np.random.default_rng(1)
    features = rng.uniform(0, 1, (500, 2))
    tree = _trees.fit_tree(features, rng.normal(size=500), categorical=False, min_leaf=50, max_depth=None, seed=0)
    tree.update(_trees.support_arrays(tree, 0.01))
    # pure noise: the slope fitted on four folds does not predict the fifth
    assert _trees.leaf_trend(tree, features, tree["pool"], numeric=[True, True], seed=0, folds=5, min_gain=0.1) == {}
    target = 2 * features[:, 0] + 0.01 * rng.normal(size=500)
    tree = _trees.fit_tree(features, target, categorical=False, min_leaf=50, max_depth=None, seed=0)
    tree.update(_trees.support_arrays(tree, 0.01))
    kept = _trees.leaf_trend(tree, features, target, numeric=[True, False], seed=0, folds=5, min_gain=0.1)
    assert kept["trend_slope"][1] == 0 and kept["trend_slope"][0] == pytest.approx(2, abs=0.05)


def test_trend_survives_save_and_load_and_a_tampered_one_is_refused(tmp_path):
    from safetensors.numpy import load_file, save_file

    from synthloop.errors import ArtifactError

    model = _fit(_linear())
    model.save(tmp_path / "m")
    loaded = sl.synthesizers.Synthesizer.load(tmp_path / "m")
    model.forget_training_rows()
    pd.testing.assert_frame_equal(loaded.sample(100, seed=3, privacy="off"), model.sample(100, seed=3, privacy="off"))
    weights = tmp_path / "m" / "weights.safetensors"
    arrays = load_file(weights)
    key = next(k for k in arrays if k.endswith("/trend_center"))
    arrays[key] = arrays[key][:, :1].copy()
    save_file(arrays, weights)
    with pytest.raises(ArtifactError, match="trend_center"):
        sl.synthesizers.Synthesizer.load(tmp_path / "m")
