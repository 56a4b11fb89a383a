"""TabularARGN: column tokens, the any-order mask, native conditions, and the trainer's validation hooks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from synthloop import synthesizers  # noqa: E402
from synthloop.schema import Schema  # noqa: E402
from synthloop.transforms.tokens import ColumnTokens, TableTokens  # noqa: E402

TINY = {"epochs": 3, "batch_size": 500, "hidden": 8, "seed": 0, "progress": False}


@pytest.fixture(scope="module")
def fitted(adult_small):
    return synthesizers.get("argn", **TINY).fit(adult_small, Schema.infer(adult_small, target="income"))


# ---------------------------------------------------------------------- tokens
def test_a_point_mass_keeps_its_own_token_and_comes_back_exactly():
    rng = np.random.default_rng(0)
    values = pd.Series(np.where(rng.random(5000) < 0.9, 0.0, rng.exponential(5000, 5000).round()))
    code = ColumnTokens.fit("gain", "numeric", values, max_exact=20, bins=8, fine_bins=4)
    assert 0.0 in code.values and code.cardinalities[1] == 4
    decoded = code.decode(code.encode(values), rng)
    np.testing.assert_array_equal(decoded == 0, values.to_numpy() == 0)
    # every other value comes back inside its own fine bin
    tokens = code.encode(values)
    binned = tokens[:, 0] >= len(code.values)
    coarse, fine = tokens[binned, 0] - len(code.values), tokens[binned, 1]
    low, high = code.fine[coarse, fine], code.fine[coarse, fine + 1]
    assert ((decoded[binned] >= low) & (decoded[binned] <= high)).all()
    assert (values.to_numpy()[binned] >= low).all() and (values.to_numpy()[binned] <= high).all()


def test_bin_edges_are_not_each_bins_own_training_values():
    """A saved model keeps the edges; each coarse bin's min and max were training values (144 of 400)."""
    values = pd.Series(np.random.default_rng(0).normal(size=400).round(9))
    code = ColumnTokens.fit("x", "numeric", values)
    stored = np.concatenate([code.edges, code.fine.ravel()])
    assert np.isin(values, stored).sum() < 0.1 * len(values)            # 18 now: interpolation hits
    tokens = code.encode(values)                                       # and every value is in its fine bin
    low, high = code.fine[tokens[:, 0], tokens[:, 1]], code.fine[tokens[:, 0], tokens[:, 1] + 1]
    assert ((values >= low) & (values <= high)).all()


def test_few_valued_numerics_are_exact_and_missing_values_have_a_token():
    values = pd.Series([1.0, 2.0, np.nan, 2.0, 7.0, np.nan])
    code = ColumnTokens.fit("x", "numeric", values, max_exact=10)
    assert code.cardinalities == (4,)                          # 1, 2, 7 and missing
    decoded = code.decode(code.encode(values), np.random.default_rng(0))
    np.testing.assert_array_equal(decoded, values.to_numpy())
    # an unseen value (a condition) maps to the nearest token
    assert code.decode(code.encode(pd.Series([6.0])), np.random.default_rng(0))[0] == 7.0


def test_table_tokens_round_trip_through_their_state(adult_small):
    schema = Schema.infer(adult_small, target="income")
    frame = schema.to_model_frame(adult_small)
    kinds = schema.model_kinds()
    tokens = TableTokens.fit(frame, kinds, {n: schema[n].categories for n in kinds})
    arrays, meta = tokens.to_state()
    again = TableTokens.from_state(arrays, meta)
    np.testing.assert_array_equal(again.encode(frame), tokens.encode(frame))
    decoded = again.decode(tokens.encode(frame), np.random.default_rng(0))
    for column in schema.categorical():
        assert (decoded[column.name].fillna("?") == frame[column.name].fillna("?")).all()


# ---------------------------------------------------------------------- the network
def test_each_sub_column_sees_only_the_columns_before_it_in_the_order(fitted):
    """The auto-regressive law: changing a column never changes the logits of columns earlier in the order."""
    net = fitted.net_
    n_columns = len(fitted.tokens_.columns)
    order = np.random.default_rng(0).permutation(n_columns)
    rank = torch.as_tensor(np.argsort(order))
    tokens = torch.as_tensor(fitted.tokens_.encode(fitted.schema_.to_model_frame(
        synthesizers.get("independent", seed=0).fit(fitted.sample(50, privacy="off")).sample(50))))
    changed_column = int(order[n_columns // 2])
    changed = tokens.clone()
    column_of = np.array(fitted.tokens_.column_of)
    for s in np.flatnonzero(column_of == changed_column):
        changed[:, s] = (changed[:, s] + 1) % net.cardinalities[s]
    with torch.no_grad():
        before, after = net(tokens, rank), net(changed, rank)
    for s, column in enumerate(column_of):
        same = torch.allclose(before[s], after[s])
        if rank[column] <= rank[changed_column]:
            assert same, (s, column)
    assert any(not torch.allclose(b, a) for b, a in zip(before, after, strict=True))


def test_numeric_and_categorical_equality_conditions_are_met_natively(fitted, monkeypatch):
    calls = []
    original = type(fitted)._sample
    monkeypatch.setattr(type(fitted), "_sample", lambda self, n, cond, rng: calls.append(cond) or original(self, n, cond, rng))
    rows = fitted.sample(300, conditions={"age": 37, "capital_gain": 0, "sex": "Female"}, seed=0, privacy="off")
    assert (rows["age"] == 37).all() and (rows["capital_gain"] == 0).all() and (rows["sex"] == "Female").all()
    assert len(calls) == 1


def test_bad_argn_params_raise_a_clear_error(adult_small):
    from synthloop.errors import ConfigError

    # declared constraints (param_constraints): refused when the model is made, before any training
    with pytest.raises(ConfigError, match=r"'dropout' must be ≥ 0 and < 1, got 1\.5"):
        synthesizers.get("argn", **TINY, dropout=1.5)
    with pytest.raises(ConfigError, match=r"'validation_share' must be ≥ 0 and < 0\.5, got 0\.5"):
        synthesizers.get("argn", **TINY, validation_share=0.5)


# ---------------------------------------------------------------------- trainer hooks
def test_validation_loss_is_recorded_and_the_best_epoch_is_kept(adult_small, monkeypatch):
    model = synthesizers.get("argn", **{**TINY, "epochs": 4, "patience": None})
    losses = iter([3.0, 1.0, 2.0, 4.0])                     # the second epoch is the best
    kept = {}

    def fake_validation(self):
        value = next(losses)
        kept[value] = {k: v.clone() for k, v in self.net_.state_dict().items()}
        return {"val_loss": value}

    monkeypatch.setattr(type(model), "validation_losses", fake_validation)
    model.fit(adult_small)
    assert [epoch["val_loss"] for epoch in model.history_] == [3.0, 1.0, 2.0, 4.0]
    for key, value in model.net_.state_dict().items():
        torch.testing.assert_close(value, kept[1.0][key])


def test_early_stopping_watches_the_held_out_rows(adult_small, tmp_path):
    model = synthesizers.get("argn", **{**TINY, "epochs": 60, "patience": 2, "hidden": 64, "batch_size": 100,
                                        "lr": 0.01, "dropout": 0.0, "checkpoint_dir": str(tmp_path)})
    model.fit(adult_small.iloc[:400])
    values = [epoch["val_loss"] for epoch in model.history_]
    assert len(values) < 60                                  # overfits a 360-row table quickly, then stops
    # a re-run resumes the finished checkpoint and ends with the same (best) weights
    again = synthesizers.get("argn", **{**TINY, "epochs": 60, "patience": 2, "hidden": 64, "batch_size": 100,
                                        "lr": 0.01, "dropout": 0.0, "checkpoint_dir": str(tmp_path)})
    again.fit(adult_small.iloc[:400])
    for key, value in model.net_.state_dict().items():
        torch.testing.assert_close(again.net_.state_dict()[key], value)


def test_each_row_can_know_its_own_cells(fitted):
    """Per-cell known masks (what imputation needs): known cells are kept, the others drawn."""
    from synthloop.synthesizers.neural import EncodedConditions

    frame = fitted.schema_.to_model_frame(fitted.sample(200, seed=0, privacy="off"))
    encoded = fitted.tokens_.encode(frame)
    rng = np.random.default_rng(0)
    known = rng.random(encoded.shape) < 0.5
    column_of = np.array(fitted.tokens_.column_of)
    known = known[:, np.unique(column_of, return_index=True)[1]][:, column_of]     # whole columns only
    with torch.no_grad():
        tokens = fitted._generate(200, EncodedConditions(np.zeros((200, 0, 1)), encoded, known), rng).numpy()
    np.testing.assert_array_equal(tokens[known], encoded[known])
    assert (tokens[~known] != encoded[~known]).any()


def test_a_corrupt_token_state_is_an_artifact_error():
    from synthloop.errors import ArtifactError

    values = pd.Series(np.random.default_rng(0).normal(size=500))
    arrays, meta = TableTokens([ColumnTokens.fit("x", "numeric", values, max_exact=10, bins=8, fine_bins=4)]).to_state()
    assert TableTokens.from_state(arrays, meta).cardinalities == [8, 4]
    with pytest.raises(ArtifactError, match=r"'x'.*not sorted"):
        TableTokens.from_state({**arrays, "0/edges": arrays["0/edges"][::-1].copy()}, meta)
    with pytest.raises(ArtifactError, match=r"'x'.*corrupt"):
        TableTokens.from_state({k: v for k, v in arrays.items() if k != "0/fine"}, meta)
    with pytest.raises(ArtifactError, match="token state is corrupt"):
        TableTokens.from_state(arrays, {})


# ---------------------------------------------------------------------- the size rule
ADULT_SETTINGS = {"bins": 64, "fine_bins": 16, "max_exact": 100, "spike_share": 0.01, "batch_size": 512, "dropout": 0.25,
                  "hidden": 32, "table_order_share": 0.0}


def test_the_size_rule_keeps_adults_settings_and_coarsens_small_tables():
    from synthloop.synthesizers.argn import size_rule

    assert size_rule(39_073) == ADULT_SETTINGS == size_rule(40_000) == size_rule(200_000)
    small = size_rule(300)
    assert small["bins"] <= 16 and small["fine_bins"] <= 4 and small["max_exact"] <= 20
    assert small["batch_size"] <= 64 and small["dropout"] > 0.25 and small["hidden"] < 32
    assert small["table_order_share"] > 0
    assert small["spike_share"] * 300 >= 5                         # a "point mass" of 3 rows gets no token
    # resolution grows with the rows, never shrinks
    sizes = [size_rule(n) for n in (50, 300, 1_000, 3_000, 10_000, 30_000, 40_000)]
    for key in ("bins", "fine_bins", "max_exact", "batch_size", "hidden"):
        assert [s[key] for s in sizes] == sorted(s[key] for s in sizes), key


def test_a_small_table_gets_the_coarse_tokens_and_explicit_params_win(adult_small, tmp_path):
    from synthloop.synthesizers.argn import size_rule

    rows = adult_small.iloc[:300]
    quick = {"epochs": 2, "seed": 0, "progress": False}
    sized = synthesizers.get("argn", **quick).fit(rows)
    assert sized.settings_ == size_rule(300)
    age = sized.tokens_.columns[sized.tokens_.names.index("age")]
    assert age.n_bins <= size_rule(300)["bins"] and age.fine.shape[1] - 1 <= size_rule(300)["fine_bins"]
    assert sized.net_.dropout.p == size_rule(300)["dropout"]
    explicit = {**ADULT_SETTINGS, "dropout": 0.1, "hidden": 4}
    chosen = synthesizers.get("argn", **quick, **explicit).fit(rows)
    assert chosen.settings_ == explicit and chosen.get_params()["bins"] == 64
    assert sized.get_params()["bins"] is None                    # left to the rule, as the user left it
    fnlwgt = chosen.tokens_.columns[chosen.tokens_.names.index("fnlwgt")]
    assert fnlwgt.n_bins > size_rule(300)["bins"]
    # the model file keeps "left to the rule" and the row count, so a loaded model rebuilds the same network
    for model, name in ((sized, "sized"), (chosen, "chosen")):
        model.save(tmp_path / name, keep_privacy_reference=True)
        loaded = synthesizers.Synthesizer.load(tmp_path / name)
        assert loaded.settings_ == model.settings_
        pd.testing.assert_frame_equal(loaded.sample(100, seed=1), model.sample(100, seed=1))


def test_dp_argn_never_reads_the_size_rule(monkeypatch, tmp_path):
    """dp_argn reuses argn's network: its widths and dropout stay its own, never sized from the row count."""
    pytest.importorskip("opacus")
    import synthloop as sl
    import synthloop.synthesizers.argn as argn_module
    from synthloop.testing import default_data

    def refuse(n_rows):
        raise AssertionError("dp_argn read the size rule")

    monkeypatch.setattr(argn_module, "size_rule", refuse)
    data = default_data()
    model = synthesizers.get("dp_argn", epsilon=1.0, seed=0, epochs=1, batch_size=100, hidden=4, embedding=4,
                             fine_bins=32, progress=False).fit(data, sl.Schema.infer(data))
    assert model.net_.dropout.p == 0.0
    assert model.net_.first.shape[0] == sum(4 * max(1, round(np.log(max(c, 2)))) for c in model.tokens_.cardinalities)
    model.save(tmp_path / "dp")
    assert synthesizers.Synthesizer.load(tmp_path / "dp").net_.first.shape == model.net_.first.shape
