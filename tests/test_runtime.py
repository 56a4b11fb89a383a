"""One seed tree, reproducible threads and trainer callbacks (synthesizers/seeds.py, nn/runtime.py, nn/callbacks.py)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from synthloop import synthesizers  # noqa: E402
from synthloop.nn import runtime  # noqa: E402
from synthloop.nn.callbacks import Callback  # noqa: E402
from synthloop.synthesizers.seeds import CHILDREN, SeedTree  # noqa: E402
from synthloop.testing import default_data  # noqa: E402

CTGAN_TINY = {"epochs": 2, "batch_size": 100, "generator_dim": (32,), "critic_dim": (32,), "embedding_dim": 16,
              "progress": False}


def _weights(model) -> dict[str, np.ndarray]:
    return {f"{name}/{key}": value.detach().cpu().numpy().copy()
            for name, net in model.nets_.items() for key, value in net.state_dict().items()}


def test_seed_tree_children_are_named_and_independent():
    tree, again = SeedTree(5), SeedTree(5)
    draws = {name: tree.generator(name).random(3) for name in CHILDREN}
    assert all(np.array_equal(draws[name], again.generator(name).random(3)) for name in CHILDREN)
    assert len({tuple(d) for d in draws.values()}) == len(CHILDREN)
    assert tree.integer("torch") == again.integer("torch") < 2**62
    with pytest.raises(KeyError, match="children: model"):
        tree.generator("nope")


def test_a_seeded_fit_leaves_the_global_random_states_alone():
    np.random.seed(123)
    torch.manual_seed(123)
    numpy_before, torch_before = np.random.get_state()[1].copy(), torch.random.get_rng_state().clone()
    synthesizers.get("ctgan", **CTGAN_TINY, seed=0).fit(default_data().iloc[:100]).sample(50, seed=1, privacy="off")
    assert np.array_equal(np.random.get_state()[1], numpy_before)
    assert torch.equal(torch.random.get_rng_state(), torch_before)


def test_seeded_weights_do_not_follow_the_machines_load(monkeypatch):
    """Before: the thread count was read from /proc/stat at fit time, and 1 vs 2 threads changed the weights."""
    data = default_data()
    fits = []
    for idle_threads in (1, 2):
        monkeypatch.setattr(runtime, "default_threads", lambda n=idle_threads: n)    # an idle vs a busy machine
        torch.set_num_threads(idle_threads)
        fits.append(synthesizers.get("ctgan", **CTGAN_TINY, seed=0).fit(data))
    first, second = (_weights(model) for model in fits)
    assert all(np.array_equal(first[k], second[k]) for k in first)
    assert fits[0].fit_threads_ == fits[1].fit_threads_ == runtime.SEEDED_THREADS


def test_explicit_threads_are_used_and_recorded(tmp_path):
    model = synthesizers.get("ctgan", **CTGAN_TINY, seed=0, threads=2).fit(default_data().iloc[:100])
    assert model.fit_threads_ == 2
    model.save(tmp_path / "m")
    assert synthesizers.Synthesizer.load(tmp_path / "m").fit_threads_ == 2


_WEIGHTS_DIGEST = """
import hashlib, sys, torch
from synthloop import synthesizers
from synthloop.testing import default_data
torch.set_num_threads(int(sys.argv[1]))
model = synthesizers.get("ctgan", epochs=2, batch_size=100, generator_dim=(32,), critic_dim=(32,),
                         embedding_dim=16, progress=False, seed=0).fit(default_data())
digest = hashlib.sha256()
for net in model.nets_.values():
    for value in net.state_dict().values():
        digest.update(value.detach().cpu().numpy().tobytes())
print(digest.hexdigest())
"""


@pytest.mark.slow
def test_same_seed_in_two_processes_with_different_threads_gives_identical_weights():
    digests = []
    for threads in ("1", "2"):
        env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        result = subprocess.run([sys.executable, "-c", _WEIGHTS_DIGEST, threads], capture_output=True, text=True,
                                env=env, check=True)
        digests.append(result.stdout.strip())
    assert digests[0] == digests[1] and len(digests[0]) == len(hashlib.sha256().hexdigest())


class _Recorder(Callback):
    def __init__(self):
        self.calls: list[str] = []

    def on_build(self, model):
        self.calls.append("build")

    def on_train_begin(self, trainer, start_epoch):
        self.calls.append(f"begin {start_epoch}")

    def on_batch_end(self, epoch, step, n_steps, losses):
        self.calls.append("batch")

    def on_epoch_end(self, epoch, losses):
        self.calls.append(f"epoch {epoch}")

    def on_train_end(self, history):
        self.calls.append("end")


def test_callbacks_see_build_batches_and_epochs_without_changing_the_weights():
    data = default_data().iloc[:200]
    recorder = _Recorder()
    plain = synthesizers.get("tvae", **synthesizers.get_class("tvae").test_params, seed=0)
    watched = plain.clone()
    watched.callbacks = lambda: [recorder]
    plain.fit(data)
    watched.fit(data)
    assert recorder.calls[:2] == ["build", "begin 0"] and recorder.calls[-1] == "end"
    assert recorder.calls.count("epoch 0") == recorder.calls.count("epoch 1") == 1
    assert recorder.calls.count("batch") == 2 * 2                    # 200 rows / 100 per batch, 2 epochs
    first, second = _weights(plain), _weights(watched)
    assert all(np.array_equal(first[k], second[k]) for k in first)


def test_a_resumed_fit_says_from_which_epoch(tmp_path, capsys):
    data = default_data().iloc[:200]
    params = {**synthesizers.get_class("tvae").test_params, "seed": 0, "checkpoint_dir": str(tmp_path),
              "checkpoint_every": 1}
    synthesizers.get("tvae", **params).fit(data)
    capsys.readouterr()
    synthesizers.get("tvae", **{**params, "epochs": 3, "progress": True}).fit(data)
    assert "tvae: resuming from epoch 2 of 3" in capsys.readouterr().err


def test_corrupt_part_state_raises_artifact_error_where_found():
    from synthloop.errors import ArtifactError
    from synthloop.nn.conditioning import Conditioner
    from synthloop.schema import Schema
    from synthloop.transforms import TableEncoder

    data = default_data().iloc[:100]
    schema = Schema.infer(data)
    encoder = TableEncoder(schema, seed=0).fit(schema.to_model_frame(data))
    arrays, meta = encoder.to_state()
    meta["columns"][0]["type"] = "pickle"
    with pytest.raises(ArtifactError, match="unknown transform"):
        TableEncoder.from_state(arrays, meta, schema=schema)
    arrays, meta = encoder.to_state()
    dropped = {k: v for k, v in arrays.items() if not k.startswith("0/")}
    with pytest.raises(ArtifactError, match=f"column '{meta['columns'][0]['name']}' is corrupt"):
        TableEncoder.from_state(dropped, meta, schema=schema)
    categorical = [c.name for c in schema.categorical()]
    with pytest.raises(ArtifactError, match="frequencies have shape"):
        Conditioner.from_state({"frequency": np.ones(3)}, {}, layout=encoder.layout_, categorical=categorical)
