"""The shared neural parts: trainer (checkpoints, resume, early stopping), heads and conditioning."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from synthloop import synthesizers  # noqa: E402
from synthloop.errors import SynthloopWarning  # noqa: E402
from synthloop.nn.conditioning import Conditioner  # noqa: E402
from synthloop.nn.heads import SpanIndex, activate, condition_loss, decode, reconstruction_loss  # noqa: E402
from synthloop.nn.trainer import CHECKPOINT_FILE, _should_stop  # noqa: E402
from synthloop.schema import Schema  # noqa: E402
from synthloop.transforms import TableEncoder  # noqa: E402

TVAE_TINY = {"epochs": 4, "batch_size": 500, "hidden": (32, 32), "latent_dim": 8, "seed": 0, "progress": False}


def weights(model) -> dict[str, np.ndarray]:
    return {f"{n}/{k}": v.detach().numpy().copy() for n, net in model.nets_.items() for k, v in net.state_dict().items()}


def checkpoint_history(directory: Path) -> list:
    from safetensors import safe_open

    with safe_open(str(directory / CHECKPOINT_FILE), framework="pt") as handle:
        return json.loads(handle.metadata()["synthloop_checkpoint"])["history"]


@pytest.fixture(scope="module")
def encoded_adult(adult_small):
    schema = Schema.infer(adult_small, target="income")
    frame = schema.to_model_frame(adult_small)
    encoder = TableEncoder(schema).fit(frame)
    return schema, encoder, encoder.transform(frame)


def test_ctrl_c_keeps_the_last_epoch_and_the_rerun_matches_an_uninterrupted_fit(adult_small, tmp_path, monkeypatch):
    uninterrupted = synthesizers.get("tvae", **TVAE_TINY).fit(adult_small)
    model = synthesizers.get("tvae", **TVAE_TINY, checkpoint_dir=str(tmp_path), checkpoint_every=2)
    original = type(model).train_step
    calls = {"n": 0}

    def interrupted_step(self, batch, cond):
        calls["n"] += 1
        if calls["n"] == 3 * 4 + 2:                  # 4 steps per epoch: Ctrl-C inside epoch 4
            raise KeyboardInterrupt
        return original(self, batch, cond)

    monkeypatch.setattr(type(model), "train_step", interrupted_step)
    with pytest.raises(KeyboardInterrupt):
        model.fit(adult_small)
    assert len(checkpoint_history(tmp_path)) == 3    # epoch 3 saved on Ctrl-C, though checkpoint_every=2
    monkeypatch.setattr(type(model), "train_step", original)
    resumed = synthesizers.get("tvae", **TVAE_TINY, checkpoint_dir=str(tmp_path), checkpoint_every=2)
    epochs_run = []
    from synthloop.nn import trainer

    run_epoch = trainer.Trainer._run_epoch
    monkeypatch.setattr(trainer.Trainer, "_run_epoch", lambda self, m, d, s, epoch, *a: epochs_run.append(epoch)
                        or run_epoch(self, m, d, s, epoch, *a))
    resumed.fit(adult_small)
    assert epochs_run == [3]
    assert resumed.history_ == uninterrupted.history_
    for key, value in weights(uninterrupted).items():
        np.testing.assert_allclose(weights(resumed)[key], value, rtol=1e-5, atol=1e-6)


def test_a_checkpoint_from_other_data_is_ignored(adult_small, tmp_path):
    synthesizers.get("tvae", **{**TVAE_TINY, "epochs": 2}, checkpoint_dir=str(tmp_path)).fit(adult_small.iloc[:1000])
    model = synthesizers.get("tvae", **{**TVAE_TINY, "epochs": 2}, checkpoint_dir=str(tmp_path)).fit(adult_small)
    assert len(model.history_) == 2 and checkpoint_history(tmp_path) == model.history_


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-100])


def _other_architecture(path: Path) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(path))
    key = next(k for k in tensors if k.startswith("net/") and tensors[k].ndim == 2)
    tensors[key] = torch.zeros(tensors[key].shape[0] + 1, tensors[key].shape[1])
    save_file(tensors, str(path), metadata=metadata)


@pytest.mark.parametrize("damage", [_truncate, _other_architecture, lambda p: p.write_bytes(b"")],
                         ids=["truncated", "other-architecture", "empty"])
def test_a_corrupt_checkpoint_is_set_aside_and_training_starts_from_scratch(adult_small, tmp_path, damage):
    data = adult_small.iloc[:500]
    params = {**TVAE_TINY, "epochs": 1}
    synthesizers.get("tvae", **params, checkpoint_dir=str(tmp_path)).fit(data)
    damage(tmp_path / CHECKPOINT_FILE)
    with pytest.warns(SynthloopWarning, match="starts from scratch"):
        rerun = synthesizers.get("tvae", **params, checkpoint_dir=str(tmp_path)).fit(data)
    fresh = synthesizers.get("tvae", **params).fit(data)
    assert all(np.array_equal(a, weights(fresh)[k]) for k, a in weights(rerun).items())
    assert len(list(tmp_path.glob(CHECKPOINT_FILE + ".corrupt-*"))) == 1      # kept for inspection, out of the way
    assert checkpoint_history(tmp_path) == rerun.history_                      # and the next run resumes normally


@pytest.mark.slow
def test_a_killed_fit_resumes_from_its_last_checkpoint(tmp_path):
    script = (
        "import synthloop as sl\n"
        "data = sl.datasets.load('adult', split='train').iloc[:3000]\n"
        f"sl.synthesizers.get('tvae', epochs=200, batch_size=500, hidden=(32, 32), latent_dim=8, seed=0, progress=False,"
        f" checkpoint_dir={str(tmp_path)!r}, checkpoint_every=1).fit(data)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    process = subprocess.Popen([sys.executable, "-c", script], env=env)
    deadline = time.time() + 50
    while time.time() < deadline and not (tmp_path / CHECKPOINT_FILE).exists():
        time.sleep(0.2)
    time.sleep(1.0)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = checkpoint_history(tmp_path)
    assert 1 <= len(done) < 200
    import synthloop as sl

    data = sl.datasets.load("adult", split="train").iloc[:3000]
    model = sl.synthesizers.get("tvae", epochs=len(done) + 1, batch_size=500, hidden=(32, 32), latent_dim=8, seed=0,
                                progress=False, checkpoint_dir=str(tmp_path), checkpoint_every=1).fit(data)
    assert model.history_[: len(done)] == done and len(model.history_) == len(done) + 1


def test_early_stopping_rule():
    improving = [{"loss": 10 - i} for i in range(6)]
    flat = [{"loss": 5.0}, {"loss": 4.0}, {"loss": 4.0}, {"loss": 4.001}]
    assert not _should_stop(improving, "loss", patience=2, min_delta=1e-3)
    assert _should_stop(flat, "loss", patience=2, min_delta=1e-3)
    assert not _should_stop(flat, "loss", patience=None, min_delta=1e-3)


def test_early_stopping_ends_training(adult_small):
    model = synthesizers.get("tvae", **{**TVAE_TINY, "epochs": 50, "lr": 1e-9}, patience=2).fit(adult_small)
    assert len(model.history_) < 10


def test_span_index_gives_each_categorical_span_one_segment_and_decodes_one_hot_rows(encoded_adult):
    _, encoder, encoded = encoded_adult
    index = SpanIndex(encoder.layout_)
    categorical = [span for span in encoder.layout_.spans if span.kind == "categorical"]
    for block, span in enumerate(categorical):
        assert (index.segment_of[span.slice] == block).all()
    assert index.is_continuous.sum() == len(index.continuous) and index.n_blocks == len(categorical)
    rows = torch.as_tensor(encoded[:50])
    logits = torch.where(index.is_continuous, torch.atanh(rows.clamp(-0.999999, 0.999999)), rows * 10)
    torch.testing.assert_close(decode(logits, index), rows, atol=1e-5, rtol=0)


def test_segment_one_hot_breaks_ties_by_taking_the_first(encoded_adult):
    _, encoder, _ = encoded_adult
    index = SpanIndex(encoder.layout_)
    one_hot = index.segment_one_hot(torch.zeros(3, encoder.layout_.width))
    per_span = one_hot @ index.membership
    assert torch.equal(per_span, torch.ones_like(per_span))
    for span in encoder.layout_.spans:
        if span.kind == "categorical":
            assert one_hot[0, span.slice.start] == 1


def test_heads_give_a_distribution_per_span_and_decode_to_one_hot(encoded_adult):
    _, encoder, encoded = encoded_adult
    index = SpanIndex(encoder.layout_)
    raw = torch.randn(64, encoder.layout_.width)
    per_span = activate(raw, index, tau=0.2) @ index.membership[:, : index.n_blocks]
    torch.testing.assert_close(per_span, torch.ones(64, index.n_blocks))
    decoded = decode(raw, index, sample=True)
    assert torch.equal(decoded @ index.membership[:, : index.n_blocks], torch.ones(64, index.n_blocks))
    back = encoder.inverse_transform(decoded.numpy())
    assert len(back) == 64
    target = torch.as_tensor(encoded[:64])
    loss = reconstruction_loss(raw, target, index, torch.full((len(index.continuous),), 0.1))
    assert torch.isfinite(loss) and loss > 0


def _per_span_log_softmax(raw: torch.Tensor, index: SpanIndex) -> list[torch.Tensor]:
    """The plain reference: one log-softmax per categorical span, by a loop over the layout."""
    return [torch.log_softmax(raw[:, span.slice], dim=1) for span in index.spans if span.kind == "categorical"]


def test_segment_heads_match_a_per_span_softmax(encoded_adult):
    _, encoder, encoded = encoded_adult
    index = SpanIndex(encoder.layout_)
    raw = torch.randn(64, encoder.layout_.width, dtype=torch.float64) * 30      # large logits: stability matters
    raw[:5] += 500.0                                                               # and a shifted row
    reference = _per_span_log_softmax(raw, index)
    softmax = index.segment_softmax(raw)
    categorical = [span for span in index.spans if span.kind == "categorical"]
    for span, expected in zip(categorical, reference):
        torch.testing.assert_close(softmax[:, span.slice], expected.exp())
    assert torch.equal(softmax[:, index.continuous], torch.ones(64, len(index.continuous), dtype=torch.float64))
    target = torch.as_tensor(encoded[:64], dtype=torch.float64)
    sigma = torch.full((len(index.continuous),), 0.1, dtype=torch.float64)
    mean = torch.tanh(raw[:, index.continuous])
    gaussian = ((target[:, index.continuous] - mean) ** 2 / (2 * sigma**2)).sum(dim=1) + torch.log(sigma).sum()
    cross_entropy = -sum((target[:, span.slice] * lp).sum(dim=1) for span, lp in zip(categorical, reference))
    torch.testing.assert_close(reconstruction_loss(raw, target, index, sigma), (gaussian + cross_entropy).mean())


def test_condition_loss_is_the_cross_entropy_of_the_conditioned_spans_only(encoded_adult):
    _, encoder, _ = encoded_adult
    index = SpanIndex(encoder.layout_)
    raw = torch.randn(8, encoder.layout_.width, dtype=torch.float64)
    race = next(span for span in index.spans if span.column == "race")
    target = torch.zeros_like(raw)
    target[:4, race.slice.start + 1] = 1.0                                           # rows 4..7: no condition
    expected = -torch.log_softmax(raw[:4, race.slice], dim=1)[:, 1].sum() / 8
    torch.testing.assert_close(condition_loss(raw, target, index), expected)


def test_sampled_decoding_draws_from_the_softmax(encoded_adult):
    _, encoder, _ = encoded_adult
    index = SpanIndex(encoder.layout_)
    sex = next(span for span in index.spans if span.column == "sex")
    raw = torch.zeros(20_000, encoder.layout_.width)
    raw[:, sex.slice.start] = np.log(3.0)                                            # p = 3/4 for the first level
    decoded = decode(raw, index, sample=True, generator=torch.Generator().manual_seed(0))
    assert abs(decoded[:, sex.slice.start].mean().item() - 0.75) < 0.01
    assert torch.equal(decode(raw, index)[:, sex.slice.start], torch.ones(20_000))  # argmax: the mode only


def test_training_by_sampling_oversamples_rare_categories_by_log_frequency(encoded_adult, adult_small):
    _schema, encoder, encoded = encoded_adult
    conditioner = Conditioner(encoder.layout_, ["race"]).fit(encoded)
    cond, rows = conditioner.sample_training(20_000, np.random.default_rng(0))
    drawn = cond[:, 0, : conditioner.sizes[0]].mean(axis=0)
    real = conditioner.frequency_[0, : conditioner.sizes[0]]
    rare = np.argmin(np.where(real > 0, real, 1))
    assert drawn[rare] > 2 * real[rare]
    np.testing.assert_allclose(drawn, conditioner.log_frequency_[0, : conditioner.sizes[0]], atol=0.02)
    block = encoded[rows][:, conditioner.slices[0]]
    assert (block.argmax(axis=1) == cond[:, 0, : conditioner.sizes[0]].argmax(axis=1)).all()


def test_default_threads_subtract_the_cores_busy_right_now(monkeypatch):
    from synthloop.nn import runtime

    readings = iter([[100, 0, 100, 800, 0, 0, 0, 0], [200, 0, 200, 900, 0, 0, 0, 0]])    # 2 of 3 ticks busy
    monkeypatch.setattr(runtime, "_cpu_times", lambda: next(readings))
    monkeypatch.setattr(runtime.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(runtime, "available_cores", lambda: 3)
    monkeypatch.setattr(runtime, "_THREADS_READING", [])
    assert runtime._busy_cores(3) == pytest.approx(2.0)
    readings = iter([[0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 100, 0, 0, 0, 0]])               # all idle
    assert runtime.default_threads() == 3
