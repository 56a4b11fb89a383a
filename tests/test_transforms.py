"""TableEncoder: exact round trips, point masses, missing values, capped one-hots, layout and state."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load as load_safetensors
from safetensors.numpy import save as save_safetensors

import synthloop as sl
from synthloop.errors import ConfigError, DataError, NotFittedError
from synthloop.transforms import TableEncoder
from synthloop.transforms.mixture import fit_dp_mixture

ENCODINGS = ["mode_specific", "quantile"]


def _fitted(data: pd.DataFrame, **params) -> tuple[sl.Schema, pd.DataFrame, TableEncoder]:
    schema = sl.Schema.infer(data)
    model_frame = schema.to_model_frame(data)
    return schema, model_frame, TableEncoder(schema, **params).fit(model_frame)


def _assert_model_frames_match(original: pd.DataFrame, decoded: pd.DataFrame, schema: sl.Schema) -> None:
    assert list(decoded.columns) == list(original.columns)
    for name, kind in schema.model_kinds().items():
        before, after = original[name].reset_index(drop=True), decoded[name]
        np.testing.assert_array_equal(before.isna().to_numpy(), after.isna().to_numpy(), err_msg=name)
        present = before.notna().to_numpy()
        if kind == "categorical":
            assert before[present].tolist() == after[present].tolist(), name
        else:
            values = before.to_numpy(dtype="float64")
            spread = np.nanmax(values) - np.nanmin(values) if present.any() else 1.0
            np.testing.assert_allclose(after.to_numpy()[present], values[present], rtol=0,
                                       atol=1e-5 * max(spread, 1.0), err_msg=name)


@pytest.mark.parametrize("numeric", ENCODINGS)
def test_round_trip_gives_back_adult_model_frame(adult_small, numeric):
    schema, model_frame, encoder = _fitted(adult_small, numeric=numeric)
    decoded = encoder.inverse_transform(encoder.transform(model_frame))
    _assert_model_frames_match(model_frame, decoded, schema)
    if numeric == "mode_specific":
        # Integers, bounds and dtypes come back through the schema: the user data is restored exactly.
        # (The quantile map's float32 scalar is coarser in steep tails: fnlwgt's top 0.1% spans 800k.)
        restored = schema.from_model_frame(decoded)
        pd.testing.assert_frame_equal(restored, adult_small.reset_index(drop=True))


@pytest.mark.parametrize("numeric", ENCODINGS)
def test_round_trip_keeps_missing_values_of_penguins(penguins, numeric):
    schema, model_frame, encoder = _fitted(penguins, numeric=numeric)
    assert model_frame.isna().any().sum() >= 3, "penguins should have missing numerics and categoricals"
    decoded = encoder.inverse_transform(encoder.transform(model_frame))
    _assert_model_frames_match(model_frame, decoded, schema)


def test_point_masses_are_modes_of_their_own_and_come_back_exactly(adult_small):
    _, model_frame, encoder = _fitted(adult_small)
    encoded = encoder.transform(model_frame)
    decoded = encoder.inverse_transform(encoded)
    for name, value in (("capital_gain", 0.0), ("capital_loss", 0.0), ("hours_per_week", 40.0)):
        at_mass = model_frame[name].to_numpy() == value
        assert at_mass.mean() > 0.05
        assert (decoded[name].to_numpy()[at_mass] == value).all(), name          # bit-exact, not close
        assert value in encoder.transforms_[name].point_masses_
        # every row at the point mass selects the same mode slot
        mode_span = next(s for s in encoder.layout_.for_column(name) if s.role == "mode")
        assert len(np.unique(encoded[at_mass, mode_span.slice].argmax(axis=1))) == 1


def test_generated_point_mass_share_is_what_the_mode_block_says(adult_small):
    """A generator that gets the mode probabilities right gets the spike's share right."""
    _, model_frame, encoder = _fitted(adult_small)
    encoded = encoder.transform(model_frame)
    rng = np.random.default_rng(1)
    shuffled = encoded[rng.permutation(len(encoded))]           # same marginal of each span
    scalar_span = next(s for s in encoder.layout_.for_column("capital_gain") if s.role == "value")
    shuffled[:, scalar_span.slice] = rng.uniform(-1, 1, size=(len(encoded), 1))
    decoded = encoder.inverse_transform(shuffled)
    real_zeros = (model_frame["capital_gain"] == 0).mean()
    assert abs((decoded["capital_gain"] == 0).mean() - real_zeros) < 1e-12


def test_wide_categorical_is_capped_and_rare_levels_keep_their_frequencies():
    rng = np.random.default_rng(0)
    levels = np.array([f"level {i}" for i in range(300)])
    probs = 1.0 / np.arange(1, 301) ** 1.1
    data = pd.DataFrame({"code": rng.choice(levels, size=6000, p=probs / probs.sum()), "x": rng.normal(size=6000)})
    schema, model_frame, encoder = _fitted(data, max_categories=20)
    (span,) = encoder.layout_.for_column("code")
    assert span.width == 20 and span.kind == "categorical"
    transform = encoder.transforms_["code"]
    decoded = encoder.inverse_transform(encoder.transform(model_frame))
    kept = model_frame["code"].isin(transform.kept_).to_numpy()
    assert kept.mean() > 0.5
    assert (decoded["code"][kept] == model_frame["code"][kept]).all()
    assert set(decoded["code"]) <= set(schema["code"].categories)
    # Rows in the "other" slot are redrawn from the rare levels at their training frequencies.
    real_rare = model_frame["code"][~kept].value_counts(normalize=True)
    synthetic_rare = decoded["code"][~kept].value_counts(normalize=True).reindex(real_rare.index, fill_value=0)
    assert 0.5 * np.abs(real_rare - synthetic_rare).sum() < 0.15                      # total variation


def test_unseen_category_raises_a_clear_error(adult_small):
    _, model_frame, encoder = _fitted(adult_small)
    bad = model_frame.head(5).copy()
    bad.loc[bad.index[0], "race"] = "Martian"
    with pytest.raises(DataError, match=r"'race'.*Martian"):
        encoder.transform(bad)


def test_missing_values_unseen_in_fit_raise_a_clear_error(adult_small):
    _, model_frame, encoder = _fitted(adult_small)
    bad = model_frame.head(5).copy()
    bad.loc[bad.index[0], "age"] = np.nan
    with pytest.raises(DataError, match="'age' has 1 missing"):
        encoder.transform(bad)


def test_layout_spans_are_contiguous_and_categorical_spans_are_one_hot(penguins):
    schema, model_frame, encoder = _fitted(penguins)
    layout = encoder.layout_
    encoded = encoder.transform(model_frame)
    assert encoded.dtype == np.float32 and encoded.shape == (len(penguins), layout.width)
    assert layout.spans[0].slice.start == 0 and layout.spans[-1].slice.stop == layout.width
    for previous, span in zip(layout.spans, layout.spans[1:], strict=False):
        assert previous.slice.stop == span.slice.start
    assert {s.column for s in layout.spans} == set(schema.model_kinds())
    for span in layout.categorical():
        block = encoded[:, span.slice]
        assert set(np.unique(block)) <= {0.0, 1.0} and (block.sum(axis=1) == 1).all()
    for span in layout.continuous():
        assert span.width == 1 and np.abs(encoded[:, span.slice]).max() <= 1.0
    assert len(layout.categorical()) + len(layout.continuous()) == len(layout.spans)


def test_softened_outputs_decode_like_one_hots(adult_small):
    """Neural heads emit softmax probabilities, not one-hots: argmax per span must decode the same."""
    _, model_frame, encoder = _fitted(adult_small)
    encoded = encoder.transform(model_frame)
    softened = encoded.copy()
    for span in encoder.layout_.categorical():
        softened[:, span.slice] = 0.6 * encoded[:, span.slice] + 0.4 / span.width
    exact = encoder.inverse_transform(encoded, rng=np.random.default_rng(0))
    pd.testing.assert_frame_equal(encoder.inverse_transform(softened, rng=np.random.default_rng(0)), exact)


@pytest.mark.parametrize("numeric", ENCODINGS)
def test_state_round_trips_through_safetensors_and_json(penguins, numeric):
    schema, model_frame, encoder = _fitted(penguins, numeric=numeric, max_categories=3)
    arrays, meta = encoder.to_state()
    restored_arrays = load_safetensors(save_safetensors(arrays))
    restored = TableEncoder.from_state(restored_arrays, json.loads(json.dumps(meta)), schema=schema)
    assert restored.layout_ == encoder.layout_
    encoded = encoder.transform(model_frame)
    np.testing.assert_array_equal(restored.transform(model_frame), encoded)
    pd.testing.assert_frame_equal(restored.inverse_transform(encoded, rng=np.random.default_rng(3)),
                                  encoder.inverse_transform(encoded, rng=np.random.default_rng(3)))


def test_same_seed_same_encoding_and_other_seed_other_modes(adult_small):
    _, model_frame, first = _fitted(adult_small, seed=5)
    _, _, second = _fitted(adult_small, seed=5)
    np.testing.assert_array_equal(first.transform(model_frame), second.transform(model_frame))
    _, _, third = _fitted(adult_small, seed=6)
    assert third.layout_ != first.layout_ or not np.array_equal(third.transform(model_frame),
                                                                first.transform(model_frame))


def test_datetimes_round_trip_as_numbers():
    days = pd.to_datetime("2020-01-01") + pd.to_timedelta(np.random.default_rng(0).integers(0, 900, 400), unit="D")
    data = pd.DataFrame({"day": days, "group": np.where(np.arange(400) % 3 == 0, "a", "b")})
    schema, model_frame, encoder = _fitted(data)
    decoded = encoder.inverse_transform(encoder.transform(model_frame))
    pd.testing.assert_frame_equal(schema.from_model_frame(decoded), data)


def test_bad_parameters_and_unfitted_use_raise():
    schema = sl.Schema.infer(pd.DataFrame({"x": [1.0, 2.0, 3.5]}))
    with pytest.raises(ConfigError, match="numeric="):
        TableEncoder(schema, numeric="gaussian").fit(pd.DataFrame({"x": [1.0, 2.0, 3.5]}))
    with pytest.raises(NotFittedError):
        TableEncoder(schema).transform(pd.DataFrame({"x": [1.0]}))
    encoder = TableEncoder(schema).fit(pd.DataFrame({"x": [1.0, 2.0, 3.5]}))
    with pytest.raises(DataError, match="shape"):
        encoder.inverse_transform(np.zeros((2, encoder.layout_.width + 1)))
    with pytest.raises(DataError, match=r"\['x'\]"):
        encoder.transform(pd.DataFrame({"y": [1.0]}))


def test_mixture_finds_the_modes_of_a_bimodal_column():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(-3, 0.5, 3000), rng.normal(2, 1.0, 2000)])
    mixture = fit_dp_mixture(values, 10, np.random.default_rng(0))
    heavy = mixture.weights > 0.05
    assert heavy.sum() >= 2
    assert np.isclose(mixture.weights[mixture.means < 0].sum(), 0.6, atol=0.03)
    assert np.abs(mixture.means[heavy][:, None] - np.array([-3.0, 2.0])).min(axis=0).max() < 0.5


@pytest.mark.slow
def test_fixed_cost_on_adult_is_seconds_not_minutes(adult_train):
    start = time.perf_counter()
    schema = sl.Schema.infer(adult_train)
    model_frame = schema.to_model_frame(adult_train)
    TableEncoder(schema).fit(model_frame).transform(model_frame)
    assert time.perf_counter() - start < 20.0    # about 2 s on 2 shared cores; SDV spends 80-130 s


def test_category_slot_points_at_the_one_hot_that_transform_sets(adult_small):
    _, model_frame, encoder = _fitted(adult_small)
    encoded = encoder.transform(model_frame)
    rows = np.flatnonzero((model_frame["income"] == ">50K").to_numpy())
    assert (encoded[rows, encoder.category_slot("income", ">50K")] == 1).all()
    missing_rows = np.flatnonzero(model_frame["workclass"].isna().to_numpy())
    assert (encoded[missing_rows, encoder.category_slot("workclass", None)] == 1).all()
    with pytest.raises(DataError, match="no label"):
        encoder.category_slot("income", "rich")
    with pytest.raises(DataError, match="not an encoded categorical"):
        encoder.category_slot("age", 30)


@pytest.mark.parametrize("n_rows", [300, 5_000])
def test_quantile_knots_keep_no_training_value_but_the_bounds(n_rows):
    from synthloop.transforms.numeric import QuantileNormalizer

    values = pd.Series(np.random.default_rng(0).gamma(2.0, size=n_rows).round(9))
    transform = QuantileNormalizer("x").fit(values, np.random.default_rng(0))
    assert np.isin(values, transform.quantiles_).sum() <= 2                # the min and max, as the schema has
    assert transform.quantiles_[0] == values.min() and transform.quantiles_[-1] == values.max()
    encoded = transform.transform(values, np.random.default_rng(1))
    restored = np.asarray(transform.inverse_transform(encoded, np.random.default_rng(2)), dtype="float64")
    assert np.corrcoef(restored, values)[0, 1] > 0.999
