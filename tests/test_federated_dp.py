"""Federated DP: the marginal model (per-party budgets, sums of noisy marginals, no torch) and DP-SGD per party (dp_vae)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from synthloop.cli import app
from synthloop.errors import ConfigError, DataError, PrivacyError, SchemaError
from synthloop.federated.marginal import MarginalParty, MarginalSettings, check_edges, simulate_marginal
from synthloop.schema import Schema
from synthloop.synthesizers.base import Synthesizer
from synthloop.synthesizers.dp_mst import DPMST

FAST = {"iters": 0, "max_bins": 8, "fine_bins": 64}


@pytest.fixture
def public(adult_small):
    return Schema.infer(adult_small, target="income")


def test_each_party_spends_its_own_budget_and_the_model_states_the_worst(tmp_path, adult_small, public):
    settings = MarginalSettings(epsilon=1.0, epsilon_per_party={"party_2": 0.5}, **FAST)
    out = simulate_marginal(adult_small, tmp_path / "m", schema=public, n_parties=3, settings=settings,
                            lineage=tmp_path / "l.db")
    model = Synthesizer.load(out)
    assert isinstance(model, DPMST) and model.ledger_.complete
    assert model.epsilon == 1.0 and model.ledger_.spent == pytest.approx(model.ledger_.rho, rel=1e-6)
    provenance = json.loads((out / "federated.json").read_text())
    assert provenance["epsilon_per_party"] == pytest.approx({"party_1": 1.0, "party_2": 0.5, "party_3": 1.0}, rel=1e-6)
    for name, ledger in provenance["ledgers"].items():         # every release charged to its own party's ledger
        charges = [e for e in ledger["entries"] if e["source"] == "budget"]
        assert len(charges) == 15 + 1 + 14, name                 # 1-way per column, the pair scores, 14 tree edges
    # Sums, not means: the noisy row count of the model covers every party's rows.
    assert abs(model.n_training_rows_ - len(adult_small)) < 0.05 * len(adult_small)
    assert all(p["n_rows"] != 0 for p in provenance["parties"].values())
    from synthloop.lineage import LineageStore, model_link

    store = LineageStore(tmp_path / "l.db")
    logged = [e["detail"] for e in store.events(model_link(out).training_id) if "epsilon_per_party" in e["detail"]]
    assert logged and logged[0]["epsilon_per_party"]["party_2"] == pytest.approx(0.5)
    assert logged[0]["synthesizer"] == "dp_mst"


def test_the_private_tree_finds_the_strong_dependencies_and_the_sample_keeps_them(tmp_path, adult_small, public):
    out = simulate_marginal(adult_small, tmp_path / "m", schema=public, n_parties=3,
                            settings=MarginalSettings(epsilon=20.0, **FAST))
    tree = {frozenset(edge) for edge in json.loads((out / "federated.json").read_text())["tree"]}
    assert {frozenset(("education", "education_num")), frozenset(("marital_status", "relationship"))} <= tree
    synthetic = Synthesizer.load(out).sample(4000, seed=0)
    real_share = (adult_small["income"] == ">50K").mean()
    assert abs((synthetic["income"] == ">50K").mean() - real_share) < 0.03
    husbands = synthetic[synthetic["relationship"] == "Husband"]
    assert (husbands["marital_status"] == "Married-civ-spouse").mean() > 0.8   # an edge of the tree, learned


def test_a_public_tree_spends_nothing_on_selection(tmp_path, adult_small, public):
    edges = (("education", "education_num"), ("education", "income"))
    out = simulate_marginal(adult_small, tmp_path / "m", schema=public, n_parties=2,
                            settings=MarginalSettings(structure="public", edges=edges, **FAST))
    provenance = json.loads((out / "federated.json").read_text())
    assert provenance["tree"] == [list(edge) for edge in edges]
    whats = [e["what"] for e in provenance["ledgers"]["party_1"]["entries"]]
    assert not any("scores" in what for what in whats) and sum("2-way" in what for what in whats) == 2
    with pytest.raises(ConfigError, match="closes a cycle"):
        check_edges(["a", "b", "c"], [("a", "b"), ("b", "c"), ("c", "a")])
    with pytest.raises(ConfigError, match="unknown: \\['zip'\\]"):
        check_edges(["a", "b"], [("a", "zip")])
    with pytest.raises(ConfigError, match="needs edges"):
        MarginalSettings(structure="public")


def test_a_party_dropping_out_is_left_out_of_every_sum(tmp_path, adult_small, public):
    seen = []
    out = simulate_marginal(adult_small, tmp_path / "m", schema=public, n_parties=3, settings=MarginalSettings(**FAST),
                            drop={"party_2": [3]}, on_round=seen.append)
    provenance = json.loads((out / "federated.json").read_text())
    assert seen[2]["dropped"] == ["party_2"] and provenance["final_statistics_from"] == ["party_1", "party_3"]
    kept = sum(p["n_rows"] for name, p in provenance["parties"].items() if name != "party_2")
    assert abs(Synthesizer.load(out).n_training_rows_ - kept) < 0.1 * kept          # the 1-way sums exclude it too
    with pytest.raises(DataError, match="fewer than min_parties=3"):
        simulate_marginal(adult_small, tmp_path / "m2", schema=public, n_parties=3,
                          settings=MarginalSettings(min_parties=3, **FAST), drop={"party_1": [1]})


def test_free_reads_and_mismatched_parties_are_refused(tmp_path, adult_small, public):
    with pytest.raises(PrivacyError, match="public schema"):
        simulate_marginal(adult_small, tmp_path / "m", schema=None, settings=MarginalSettings(**FAST))
    party = MarginalParty("clinic", adult_small.drop(columns=["sex"]), public, epsilon=1.0, delta=1e-5)
    with pytest.raises(SchemaError, match=r"clinic.*sex|sex.*clinic"):
        party.one_way(public_schema=True, rho_shares=(1 / 3, 1 / 3, 1 / 3))


def test_the_marginal_path_never_imports_torch(tmp_path, penguins_csv):
    code = ("import sys, pandas as pd, synthloop as sl\n"
            "from synthloop.federated.marginal import MarginalSettings, simulate_marginal\n"
            f"data = pd.read_csv({str(penguins_csv)!r})\n"
            f"simulate_marginal(data, {str(tmp_path / 'm')!r}, schema=sl.Schema.infer(data), n_parties=2,\n"
            "                  settings=MarginalSettings(iters=0, max_bins=8, fine_bins=64))\n"
            "assert 'torch' not in sys.modules and 'jax' not in sys.modules, 'torch/jax imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")})
    assert result.returncode == 0, result.stderr[-2000:]


def test_cli_simulates_the_dp_marginal_model_from_a_config(tmp_path, penguins, penguins_csv):
    (tmp_path / "schema.json").write_text(Schema.infer(penguins).to_json())
    config = tmp_path / "fed.toml"
    config.write_text(f'out = "{tmp_path / "model"}"\n[data]\npath = "{penguins_csv}"\nschema = "schema.json"\n'
                      '[split]\nparties = 2\n[train]\nmodel = "dp_mst"\n'
                      '[privacy]\nepsilon = 2.0\nepsilon_per_party = {party_1 = 1.0}\n'
                      '[params]\niters = 0\nmax_bins = 8\nfine_bins = 64\n')
    result = CliRunner().invoke(app, ["federated", "simulate", str(config)])
    assert result.exit_code == 0, result.output
    assert "exchange 3/3 (2-way counts): 2 parties" in result.output
    provenance = json.loads((tmp_path / "model" / "federated.json").read_text())
    assert provenance["epsilon_per_party"] == pytest.approx({"party_1": 1.0, "party_2": 2.0}, rel=1e-6)
    assert np.isclose(Synthesizer.load(tmp_path / "model").epsilon, 2.0)
    config.write_text(config.read_text().replace('model = "dp_mst"', 'model = "tvae"'))
    result = CliRunner().invoke(app, ["federated", "simulate", str(config)])
    assert result.exit_code == 2 and "[privacy] applies to model" in result.output


def test_the_example_dp_config_is_valid():
    from synthloop.federated.config import SimulationConfig

    config = SimulationConfig.load(Path(__file__).resolve().parents[1] / "examples" / "federated_dp_adult.toml")
    settings = config.settings()
    assert isinstance(settings, MarginalSettings) and settings.epsilon == 1.0 and settings.structure == "private"
    assert config.schema().target == "income"


# ---------------------------------------------------------------------------------------------- federated dp_vae
def test_federated_dp_sgd_spends_each_partys_budget_and_saves_a_dp_vae(tmp_path, penguins, penguins_csv):
    pytest.importorskip("opacus")
    (tmp_path / "schema.json").write_text(Schema.infer(penguins).to_json())
    config = tmp_path / "fed.toml"
    config.write_text(f'out = "{tmp_path / "model"}"\n[data]\npath = "{penguins_csv}"\nschema = "schema.json"\n'
                      '[split]\nparties = 3\n[train]\nmodel = "dp_vae"\nrounds = 3\nlocal_epochs = 2\n'
                      '[privacy]\nepsilon = 2.0\nepsilon_per_party = {party_1 = 1.0}\n'
                      '[params]\nbatch_size = 32\nhidden = [16]\nlatent_dim = 4\n[drop]\nparty_2 = [2]\n')
    result = CliRunner().invoke(app, ["federated", "simulate", str(config)])
    assert result.exit_code == 0, result.output
    assert "round 2/3: 2 parties, dropped party_2" in result.output
    provenance = json.loads((tmp_path / "model" / "federated.json").read_text())
    spent = provenance["epsilon_per_party"]
    # Each party stops within its own budget; the one that missed a round took fewer steps and spent less.
    assert spent["party_1"] <= 1.0 + 1e-6 and spent["party_3"] <= 2.0 + 1e-6 and spent["party_2"] < spent["party_3"]
    assert spent["party_3"] > 1.5                                     # the calibrated noise spends most of it
    for ledger in provenance["ledgers"].values():                      # the row count is bought, not read for free
        assert [e["mechanism"] for e in ledger["entries"] if e["source"] == "budget"] == [
            "gaussian row count", "dp-sgd (opacus RDP accountant)"]
    model = Synthesizer.load(tmp_path / "model")
    assert model.name == "dp_vae" and model.epsilon == 2.0 and model.ledger_.complete
    assert set(model.sample(200, seed=0)["species"].dropna()) <= {"Adelie", "Chinstrap", "Gentoo"}
