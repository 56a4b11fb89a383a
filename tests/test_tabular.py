"""The shared table primitives: one row hash, one label rule, one geometry, per-column divergences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import synthloop as sl
from synthloop.metrics import get_metric
from synthloop.metrics.encoding import MixedEncoding
from synthloop.privacy import PrivacyReference
from synthloop.tabular import divergences
from synthloop.tabular.geometry import POOLED_LEVELS, MixedGeometry
from synthloop.tabular.hashing import hash_rows, number_keys
from synthloop.tabular.labels import label_codes, to_labels


def random_table(rng: np.random.Generator, n_rows: int) -> pd.DataFrame:
    """Floats with many decimals and NaN, large integers, small integers, labels with missing values."""
    floats = rng.normal(size=n_rows) * 1000
    floats[rng.random(n_rows) < 0.1] = np.nan
    return pd.DataFrame({"f": floats, "big": 2**60 + rng.integers(0, 50, n_rows) * 1024, "small": rng.integers(0, 3, n_rows),
                         "label": rng.choice(np.array(["a", "b", None], dtype=object), n_rows)})


def near_copies(train: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Training rows, some exact, some changed in the 7th significant decimal, in a large integer or a label."""
    rows = train.sample(len(train), replace=True, random_state=int(rng.integers(1 << 30))).reset_index(drop=True)
    change = rng.integers(0, 4, len(rows))
    rows.loc[change == 1, "f"] = rows.loc[change == 1, "f"] * (1 + 1e-9) + 1e-7
    rows.loc[change == 2, "big"] = rows.loc[change == 2, "big"] + 2048
    rows.loc[change == 3, "label"] = "c"
    return rows


@pytest.mark.parametrize("seed", range(4))
def test_copy_metric_and_no_copies_step_agree_on_every_row(seed):
    rng = np.random.default_rng(seed)
    train = random_table(rng, 300)
    schema = sl.Schema.infer(train).with_columns(label={"categories": ("a", "b", "c")})
    candidates = near_copies(train, rng)
    reference = PrivacyReference.build(schema.model_kinds(), schema.to_model_frame(train), rng)
    step_says = reference.is_copy(schema.to_model_frame(candidates))
    from synthloop.metrics.privacy import _row_hashes

    metric_says = np.isin(_row_hashes(schema.to_model_frame(candidates), schema),
                          _row_hashes(schema.to_model_frame(train), schema))
    np.testing.assert_array_equal(step_says, metric_says)
    assert 0.1 < step_says.mean() < 0.9                            # both kinds of row are present
    score = get_metric("exact_copy_rate")(train, candidates, schema)
    assert score.value == pytest.approx(step_says.mean())


def test_one_number_key_for_equal_numbers():
    keys = number_keys(np.array([3.0, -0.0, np.nan, 2.0**60, 0.5]))
    assert keys[0] == number_keys(np.array([3]))[0] and keys[1] == number_keys(np.array([0]))[0]
    assert keys[2] == number_keys(np.array([float("nan")]))[0]
    assert number_keys(np.array([2**60 + 1]))[0] != number_keys(np.array([2**60]))[0]   # integers stay exact
    assert len(set(keys.tolist())) == 5


def test_row_hash_is_the_same_for_int_and_float_columns_and_labels():
    a = pd.DataFrame({"x": [1, 2, 3], "c": ["1", "b", None]})
    b = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": [1.0, "b", np.nan]})
    np.testing.assert_array_equal(hash_rows(a, ["x"], ["c"]), hash_rows(b, ["x"], ["c"]))
    assert hash_rows(a, ["x"], ["c"])[0] != hash_rows(a.assign(x=[1.0000001, 2, 3]), ["x"], ["c"])[0]


def test_one_label_rule():
    labels = to_labels(pd.Series([1.0, "1", 2**60 * 1.0, None], dtype=object))
    assert labels.iloc[0] == labels.iloc[1] == "1" and labels.iloc[2] == str(2.0**60) and pd.isna(labels.iloc[3])
    np.testing.assert_array_equal(label_codes(pd.Series([1.0, "b", None, "z"], dtype=object), ["1", "b"]), [0, 1, -1, -1])


def test_geometry_pools_labels_beyond_thirty_so_memory_is_bounded():
    n_rows = 200_000                                               # a 200,000-level column
    frame = pd.DataFrame({"zip": [f"z{i}" for i in range(n_rows)], "x": np.arange(n_rows, dtype="float64")})
    geometry = MixedGeometry.fit(frame, {"zip": "categorical", "x": "numeric"})
    assert geometry.dense(frame.iloc[:5]).shape == (5, 1 + POOLED_LEVELS + 2)
    codes = geometry.codes(frame)
    assert codes.max() == POOLED_LEVELS and codes.dtype == np.int32          # all but 30 labels pool into "other"


def test_metric_encoding_is_the_shared_geometry(adult_small):
    schema = sl.Schema.infer(adult_small)
    view = schema.to_model_frame(adult_small)
    encoding = MixedEncoding.fit(view, schema.model_kinds())
    reference = PrivacyReference.build(schema.model_kinds(), view, np.random.default_rng(0))
    np.testing.assert_allclose(encoding.dense(view.iloc[:50]), reference.geometry.dense(view.iloc[:50]), rtol=1e-6)
    assert len(encoding.dense_columns()) == encoding.dense(view.iloc[:1]).shape[1]


def test_divergences():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=2000), rng.normal(0.5, size=2000)
    assert divergences.ks(x, x) == 0.0 and 0.15 < divergences.ks(x, y) < 0.3
    assert divergences.wasserstein(x, x) == 0.0 and divergences.wasserstein(x, y) > 0.0
    assert divergences.psi(x, x) == pytest.approx(0.0, abs=1e-9) and divergences.psi(x, y) > 0.1
    assert divergences.tail_share(x, x, 0.05) == pytest.approx(0.1, abs=0.01)
    a, b = pd.Series(["u", "u", "v", None]), pd.Series(["u", "v", "v", "v"])
    assert divergences.tvd(a, b) == pytest.approx(0.5)
    assert divergences.jensen_shannon(a, a) == 0.0 and 0.0 < divergences.jensen_shannon(a, b) <= 1.0
    assert divergences.ks(x, np.array([np.nan])) == 1.0
