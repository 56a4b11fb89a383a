"""Federated training: the join shares no rows, rounds survive dropouts, the output is an ordinary model."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")

from synthloop.cli import app
from synthloop.errors import ConfigError, DataError, SchemaError
from synthloop.federated import FederatedSettings, Party, simulate, split
from synthloop.federated.config import SimulationConfig
from synthloop.federated.join import merge_schemas, sketch_frame, sketch_table
from synthloop.federated.model import weighted_mean
from synthloop.schema import Schema
from synthloop.synthesizers.base import Synthesizer

FAST = {"batch_size": 50, "hidden": (32,), "latent_dim": 8}


def _settings(**changes):
    return FederatedSettings(**{"rounds": 2, "local_epochs": 1, "params": FAST, **changes})


def test_merge_refuses_parties_with_other_columns(penguins):
    schemas = {"a": Schema.infer(penguins), "b": Schema.infer(penguins.drop(columns=["island"]))}
    with pytest.raises(SchemaError, match="party 'b' lacks columns \\['island'\\]"):
        merge_schemas(schemas)


def test_merge_refuses_a_column_of_another_kind(penguins):
    other = penguins.assign(year=penguins["year"].astype(str) + "y")
    with pytest.raises(SchemaError, match="'year' is numeric at 'a', categorical at 'b'"):
        merge_schemas({"a": Schema.infer(penguins), "b": Schema.infer(other)})


def test_merge_unions_categories_and_reads_a_local_constant_as_the_others_kind(penguins):
    adelie = penguins[penguins["species"] == "Adelie"]
    rest = penguins[penguins["species"] != "Adelie"]
    merged = merge_schemas({"a": Schema.infer(adelie), "b": Schema.infer(rest)})
    assert set(merged["species"].categories) == {"Adelie", "Chinstrap", "Gentoo"}
    assert merged["bill_length_mm"].low == penguins["bill_length_mm"].min()
    assert merged["bill_length_mm"].high == penguins["bill_length_mm"].max()


def test_stand_in_table_follows_the_pooled_sketches(adult_small):
    schema = Schema.infer(adult_small)
    halves = [adult_small.iloc[:1000], adult_small.iloc[1000:]]
    sketches = [sketch_table(half, schema, n_quantiles=101) for half in halves]
    # Summaries only: their size does not grow with the rows (counts and quantiles, no values per row).
    assert len(json.dumps(sketches[1])) < 1.3 * len(json.dumps(sketches[0]))
    frame = sketch_frame(sketches, schema, np.random.default_rng(0), n_rows=4000)
    model = schema.to_model_frame(adult_small)
    assert set(frame["workclass"].dropna()) == set(model["workclass"].dropna())
    assert abs(frame["age"].mean() - model["age"].mean()) < 1.5
    zero_share = (model["capital_gain"] == 0).mean()                  # a point mass survives the sketch
    assert abs((frame["capital_gain"] == 0).mean() - zero_share) < 0.03


def test_weighted_mean_is_fedavg():
    a, b = [np.array([0.0, 2.0])], [np.array([4.0, 6.0])]
    np.testing.assert_allclose(weighted_mean([(a, 1), (b, 3)])[0], [3.0, 5.0])


def test_splits_cover_every_row_once(adult_small):
    for how, column in (("iid", None), ("label", "income"), ("column", "race")):
        parts = split(adult_small, 3, how=how, column=column, seed=1)
        assert sum(len(p) for p in parts) == len(adult_small)
    skewed = split(adult_small, 3, how="label", column="income", alpha=0.3, seed=0)
    shares = [(p["income"] == ">50K").mean() for p in skewed]
    assert max(shares) - min(shares) > 0.2                            # label skew: class shares differ
    with pytest.raises(ConfigError, match="needs a column"):
        split(adult_small, 3, how="label")


def test_simulation_saves_an_ordinary_model_with_provenance_and_lineage(tmp_path, penguins):
    rounds = []
    out = simulate(penguins, tmp_path / "model", n_parties=2, settings=_settings(), lineage=tmp_path / "l.db",
                   on_round=rounds.append)
    model = Synthesizer.load(out)
    synthetic = model.sample(200, seed=0, privacy="off")
    assert list(synthetic.columns) == list(penguins.columns)
    assert set(synthetic["species"]) <= set(penguins["species"])
    provenance = json.loads((out / "federated.json").read_text())
    assert provenance["federated"] is True and provenance["privacy"]["rows_shared"] is False
    assert provenance["transport"] == "in-process"
    assert [r["round"] for r in provenance["rounds"]] == [1, 2] == [r["round"] for r in rounds]
    assert sorted(provenance["parties"]) == ["party_1", "party_2"]
    from synthloop.lineage import LineageStore, model_link

    store = LineageStore(tmp_path / "l.db")
    union = store.get(model_link(out).training_id)
    assert union.n_rows == len(penguins)
    assert {p.id for p in store.parents(union.id)} == {p["fingerprint"] for p in provenance["parties"].values()}


def test_a_party_dropping_out_is_survived_and_recorded(tmp_path, penguins):
    out = simulate(penguins, tmp_path / "m", n_parties=3, settings=_settings(), drop={"party_2": [1]})
    rounds = json.loads((out / "federated.json").read_text())["rounds"]
    assert rounds[0]["dropped"] == ["party_2"] and rounds[0]["parties"] == ["party_1", "party_3"]
    assert rounds[1]["dropped"] == []
    with pytest.raises(DataError, match="fewer than min_parties=3"):
        simulate(penguins, tmp_path / "m2", n_parties=3, settings=_settings(min_parties=3), drop={"party_1": [2]})


def test_a_run_resumes_after_its_last_checkpointed_round(tmp_path, penguins):
    checkpoint = tmp_path / "ck"
    simulate(penguins, tmp_path / "a", n_parties=2, settings=_settings(rounds=1), checkpoint_dir=checkpoint)
    seen = []
    out = simulate(penguins, tmp_path / "b", n_parties=2, settings=_settings(rounds=2), checkpoint_dir=checkpoint,
                   on_round=seen.append)
    assert [r["round"] for r in seen] == [2]                          # round 1 came from the checkpoint
    assert len(json.loads((out / "federated.json").read_text())["rounds"]) == 2


def test_fedprox_keeps_local_weights_near_the_global_ones(penguins):
    from synthloop.federated.coordinator import Coordinator
    from synthloop.federated.model import get_weights

    def drift(mu: float) -> float:
        party = Party("a", penguins)
        coordinator = Coordinator(_settings(), "unused-out-folder")
        schema = coordinator.merge({"a": party.local_schema()})
        plan, weights, _ = coordinator.begin({"a": party.sketch(schema)})
        party.start(plan)
        party.fit(weights, {"round": 0, "local_epochs": 3, "proximal_mu": mu})
        return sum(float(np.sum((w - g) ** 2)) for w, g in zip(get_weights(party.model), weights, strict=True))

    assert drift(50.0) < 0.5 * drift(0.0)


def test_a_party_whose_data_does_not_fit_the_shared_schema_is_refused(tmp_path, penguins):
    schema = Schema.infer(penguins)
    bad = Party("b", penguins.drop(columns=["sex"]), schema=schema)
    with pytest.raises(SchemaError, match="sex"):
        bad.sketch(schema)


# ---------------------------------------------------------------------------------------------- CLI
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "federated_adult.toml"


def test_the_example_config_is_valid():
    config = SimulationConfig.load(EXAMPLE)
    assert config.split.parties == 3 and config.settings().rounds == 20


def test_cli_simulate_runs_a_config(tmp_path, penguins_csv):
    config = tmp_path / "fed.toml"
    config.write_text(f'out = "{tmp_path / "model"}"\n[data]\npath = "{penguins_csv}"\n'
                      '[split]\nparties = 2\n[train]\nrounds = 1\nlocal_epochs = 1\n'
                      '[params]\nbatch_size = 50\nhidden = [32]\nlatent_dim = 8\n')
    result = CliRunner().invoke(app, ["federated", "simulate", str(config)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "model" / "federated.json").is_file()
    config.write_text(config.read_text().replace("rounds = 1", "rounds = 0"))
    result = CliRunner().invoke(app, ["federated", "simulate", str(config)])
    assert result.exit_code == 2 and "train.rounds" in result.output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run_processes(tmp_path, tables: dict[str, pd.DataFrame], *extra: str, kill: str | None = None) -> dict[str, int]:
    """A server and one process per party on localhost (``kill``: that party is killed after round 2);
    returns exit codes, output in ``tmp_path/NAME.log``; every process is ended when this returns."""
    address = f"127.0.0.1:{_free_port()}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "synthloop", "federated"]
    server = [*command, "server", "--parties", str(len(tables)), "-o", str(tmp_path / "model"), "--address", address,
              "-p", "batch_size=5", "-p", "hidden=[32]", "-p", "latent_dim=8", "--join-timeout", "60",
              "--round-timeout", "30", *extra]
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ["server", *tables]}  # noqa: SIM115
    processes = {"server": subprocess.Popen(server, env=env, stdout=logs["server"], stderr=subprocess.STDOUT)}
    for name, table in tables.items():
        table.to_csv(tmp_path / f"{name}.csv", index=False)
        processes[name] = subprocess.Popen([*command, "party", str(tmp_path / f"{name}.csv"), "--name", name,
                                            "--server", address, "--timeout", "60"],
                                           env=env, stdout=logs[name], stderr=subprocess.STDOUT)
    try:
        if kill is not None:
            deadline = time.monotonic() + 150
            while "round 2/" not in (tmp_path / "server.log").read_text() and time.monotonic() < deadline:
                time.sleep(0.02)
            processes[kill].kill()
        return {name: process.wait(timeout=240) for name, process in processes.items()}
    finally:
        for process in processes.values():             # no orphans, whatever happened
            if process.poll() is None:
                process.kill()
                process.wait()
        for log in logs.values():
            log.close()


@pytest.mark.slow
def test_localhost_processes_train_one_model_and_survive_a_party_killed_mid_run(tmp_path, penguins):
    tables = {"north": penguins.iloc[:120], "south": penguins.iloc[120:240], "west": penguins.iloc[240:]}
    # Rounds of 24-48 small steps per party: the kill after round 2 lands well before the last of 30 rounds.
    codes = _run_processes(tmp_path, tables, "--rounds", "30", "--local-epochs", "2", "--min-parties", "2",
                           "--lineage", str(tmp_path / "l.db"), kill="west")
    output = {name: (tmp_path / f"{name}.log").read_text()[-2000:] for name in codes}
    assert codes["server"] == codes["north"] == codes["south"] == 0, output
    assert "round 30/30: 2 parties" in output["server"]
    provenance = json.loads((tmp_path / "model" / "federated.json").read_text())
    rounds = provenance["rounds"]
    assert provenance["transport"] == "flower" and rounds[0]["parties"] == ["north", "south", "west"]
    assert any(r["dropped"] == ["west"] for r in rounds[2:])
    assert len(Synthesizer.load(tmp_path / "model").sample(50, seed=0, privacy="off")) == 50


def test_the_flower_server_refuses_a_party_with_other_columns(tmp_path, penguins):
    from types import SimpleNamespace

    from synthloop.federated.coordinator import Coordinator
    from synthloop.federated.flower import CoordinatorStrategy

    strategy = CoordinatorStrategy(Coordinator(_settings(), tmp_path / "model"), n_parties=2, join_timeout=1)
    answers = [(SimpleNamespace(cid=name), SimpleNamespace(metrics={"party": name, "schema": Schema.infer(table).to_json()}))
               for name, table in (("south", penguins.drop(columns="sex")), ("north", penguins))]
    assert strategy.aggregate_fit(1, answers, []) == (None, {})
    assert isinstance(strategy.error, SchemaError)            # serve() raises it once Flower stops: exit code 2
    assert "party 'south' lacks columns ['sex'] that party 'north' has" in str(strategy.error)
    assert strategy.configure_fit(2, None, None) == []        # every later round ends at once


@pytest.mark.slow
def test_cli_simulates_on_flowers_ray_engine_and_survives_a_failing_party(tmp_path, penguins_csv):
    pytest.importorskip("ray")
    config = tmp_path / "fed.toml"
    config.write_text(f'out = "{tmp_path / "model"}"\n[data]\npath = "{penguins_csv}"\n'
                      '[split]\nparties = 3\n[train]\nrounds = 3\nlocal_epochs = 1\nengine = "ray"\nmin_parties = 2\n'
                      '[params]\nbatch_size = 50\nhidden = [32]\nlatent_dim = 8\n[drop]\nparty_2 = [2]\n')
    result = CliRunner().invoke(app, ["federated", "simulate", str(config)])
    assert result.exit_code == 0, result.output[-3000:]
    provenance = json.loads((tmp_path / "model" / "federated.json").read_text())
    assert provenance["transport"] == "flower-simulation (ray)"
    rounds = provenance["rounds"]
    assert [r["dropped"] for r in rounds] == [[], ["party_2"], []]       # a ClientApp that raised: a Flower failure
    assert rounds[-1]["loss"] < rounds[0]["loss"]
    assert sorted(provenance["final_statistics_from"]) == ["party_1", "party_2", "party_3"]
    synthetic = Synthesizer.load(tmp_path / "model").sample(100, seed=0, privacy="off")
    assert set(synthetic["species"]) <= {"Adelie", "Chinstrap", "Gentoo"}


@pytest.mark.slow
def test_secure_aggregation_on_ray_hides_each_partys_weights_and_survives_a_dropout(tmp_path, penguins):
    pytest.importorskip("ray")
    out = simulate(penguins, tmp_path / "model", n_parties=3, settings=_settings(rounds=1), engine="ray",
                   secure_aggregation=True, drop={"party_3": [1]}, ray_cpus=1)
    provenance = json.loads((out / "federated.json").read_text())
    assert provenance["secure_aggregation"] is True
    assert "the sum of the parties' weights" in " ".join(provenance["privacy"]["shared_with_server"])
    # Party 3 fails inside SecAgg+'s masked-vector stage; the others' shares unmask the sum without it.
    assert [r["dropped"] for r in provenance["rounds"]] == [["party_3"]]
    assert len(Synthesizer.load(out).sample(50, seed=0, privacy="off")) == 50


def test_the_server_refuses_individual_weights_when_secure_aggregation_was_asked_for():
    from synthloop.federated.coordinator import RoundResult
    from synthloop.federated.flower import _check_only_the_aggregate

    same = [np.ones(3, dtype=np.float32)]
    _check_only_the_aggregate({"a": RoundResult(same, 5, 0.0), "b": RoundResult([same[0].copy()], 7, 0.0)})
    with pytest.raises(DataError, match="received the parties' own weights"):
        _check_only_the_aggregate({"a": RoundResult(same, 5, 0.0), "b": RoundResult([same[0] * 2], 7, 0.0)})
    with pytest.raises(ConfigError, match="engine"):
        simulate(pd.DataFrame({"x": [1, 2, 3, 4]}), "unused", settings=_settings(), secure_aggregation=True)


@pytest.mark.slow
def test_localhost_server_refuses_a_party_with_a_column_mismatch_and_exits_2(tmp_path, penguins):
    codes = _run_processes(tmp_path, {"north": penguins.iloc[:170], "south": penguins.iloc[170:].drop(columns="sex")},
                           "--rounds", "2")
    server_log = (tmp_path / "server.log").read_text()
    assert codes["server"] == 2, server_log[-2000:]
    assert "party 'south' lacks columns ['sex'] that party 'north' has" in server_log
    assert codes["north"] == codes["south"] == 1                      # told the federation ended before training
    assert not (tmp_path / "model").exists()                           # nothing written
