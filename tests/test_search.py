"""Generator search under a budget (issue 20): choice, failures, hangs, resuming, bad input, the CLI."""

import json
import os
import time

import pytest
from typer.testing import CliRunner

from synthloop.errors import ConfigError, MissingDependency
from synthloop.parallel import Runner, TaskFailed, map_seeded, task_seeds
from synthloop.synthesizers import REGISTRY, Synthesizer
from synthloop.synthesizers.independent import IndependentMarginals

pytest.importorskip("optuna")

from synthloop.tuning import SearchFailed, parse_budget, search

FAST = ["cart", "gaussian_copula", "independent"]


class Raises(IndependentMarginals):
    name = "raises_in_fit"

    def _fit(self, data, seeds):
        raise RuntimeError("this model always fails")


class Hangs(IndependentMarginals):
    name = "hangs_in_fit"

    def _fit(self, data, seeds):
        time.sleep(600)


@pytest.fixture
def broken_models(monkeypatch):
    monkeypatch.setitem(REGISTRY._entries, "raises_in_fit", Raises)
    monkeypatch.setitem(REGISTRY._entries, "hangs_in_fit", Hangs)


@pytest.fixture(scope="module")
def table():
    import synthloop as sl

    return sl.datasets.load("penguins").dropna().reset_index(drop=True)


# ---------------------------------------------------------------------- parallel
def _square_plus_seed(item, seed):
    return item * item, seed


def _boom(item, seed):
    raise ValueError(f"bad item {item}")


def _sleep(seconds):
    time.sleep(seconds)
    return os.getpid()


def test_map_seeded_gives_the_same_results_for_any_worker_count():
    one = map_seeded(_square_plus_seed, [1, 2, 3], seed=7, n_jobs=1)
    two = map_seeded(_square_plus_seed, [1, 2, 3], seed=7, n_jobs=2)
    assert one == two == [(1, task_seeds(7, 3)[0]), (4, task_seeds(7, 3)[1]), (9, task_seeds(7, 3)[2])]
    assert len(set(task_seeds(7, 3))) == 3 and task_seeds(8, 3) != task_seeds(7, 3)


def test_a_failing_task_raises_with_its_error_and_a_hanging_one_is_killed():
    with pytest.raises(TaskFailed, match="bad item 2"):
        map_seeded(_boom, [2], seed=0)
    with Runner("local", 2) as runner:
        slow, quick = runner.submit(_sleep, 60), runner.submit(_sleep, 0)
        assert runner.wait([slow, quick], timeout=20) == [quick]
        runner.kill(slow, "timed out")
        assert slow.done and slow.error == "timed out"
        with pytest.raises(TaskFailed, match="timed out"):
            runner.result(slow)
    with pytest.raises(ConfigError, match="Unknown backend"):
        Runner("spark")


# ---------------------------------------------------------------------- search
def test_search_chooses_a_pareto_model_within_the_budget(table, tmp_path):
    from synthloop.synthesizers import Synthesizer

    out = tmp_path / "search"
    seen = []
    # generous budgets with a trial cap: the tests end when the trials do, however loaded the machine
    result = search(table, out, budget=90, target="species", models=FAST, seed=0, max_trials=5, on_trial=seen.append)
    assert len(result.trials) == 5
    assert result.chosen is not None and result.chosen["pareto"] and result.chosen["state"] == "COMPLETE"
    assert result.chosen["dcr_share"] <= 0.55
    # every default model ran, so the chosen one is at least as good as the best default on one objective
    assert {t["model"] for t in result.trials if t["defaults"]} == set(FAST)
    defaults = [t for t in result.trials if t["defaults"] and t["state"] == "COMPLETE"]
    assert any(result.chosen["detection"] <= d["detection"] or result.chosen["utility"] >= d["utility"]
               for d in defaults)
    assert [t["number"] for t in seen] and {t["number"] for t in seen} <= {t["number"] for t in result.trials}
    model = Synthesizer.load(result.model_dir, privacy_reference=out / "model.privacy")
    assert model.name == result.chosen["model"] and len(model.sample(20, seed=1)) == 20
    saved = json.loads((out / "search.json").read_text())
    assert saved["chosen"]["number"] == result.chosen["number"] and saved["pareto"]
    page = (out / "search.html").read_text()
    assert "<svg" in page and "Pareto" in page and result.chosen["model"] in page
    kept = {p.name for p in (out / "trials").iterdir()}
    assert str(result.chosen["number"]) in kept and len(kept) < len(result.trials) * 2


def test_a_raising_trial_and_a_hanging_trial_are_recorded_and_the_search_goes_on(table, tmp_path, broken_models):
    result = search(table, tmp_path / "s", budget=90, target="species", trial_timeout=4, seed=1, max_trials=4,
                    models=["raises_in_fit", "hangs_in_fit", "gaussian_copula"])
    by_model = {t["model"]: t for t in result.trials}
    assert by_model["raises_in_fit"]["state"] == "FAIL" and "always fails" in by_model["raises_in_fit"]["error"]
    assert by_model["hangs_in_fit"]["state"] == "FAIL" and "timed out" in by_model["hangs_in_fit"]["error"]
    assert by_model["hangs_in_fit"]["seconds"] < 8
    # a model whose defaults failed is not tried again
    assert sum(t["model"] in ("raises_in_fit", "hangs_in_fit") for t in result.trials) == 2
    assert result.chosen["model"] == "gaussian_copula"


def test_a_search_resumes_in_its_folder_and_refuses_other_data(table, tmp_path):
    out = tmp_path / "s"
    first = search(table, out, budget=90, target="species", models=["gaussian_copula", "independent"], seed=2,
                   max_trials=3)
    second = search(table, out, budget=90, target="species", models=["gaussian_copula", "independent"], seed=2,
                    max_trials=2)
    assert [t["number"] for t in second.trials[:len(first.trials)]] == [t["number"] for t in first.trials]
    assert len(first.trials) == 3 and len(second.trials) == 5
    assert any(note.startswith("resumed:") for note in second.notes)
    # the defaults were not rerun
    assert sum(t["defaults"] for t in second.trials) == 2
    with pytest.raises(ConfigError, match="other settings"):
        search(table.iloc[:200], out, budget=90, target="species", models=["gaussian_copula", "independent"])


def test_the_budget_is_hard_and_a_budget_without_a_finished_trial_says_so(table, tmp_path, broken_models):
    with pytest.raises(SearchFailed, match="No trial finished within the budget of 6 s") as failed:
        search(table, tmp_path / "s", budget=6, models=["hangs_in_fit"], trial_timeout=60)
    result = failed.value.result
    assert result.seconds <= 6 * 1.1 + 0.5
    assert [t["error"].split(" after")[0] for t in result.trials] == ["stopped at the end of the budget"]


def test_bad_input_is_refused_with_a_clear_message(table, tmp_path):
    with pytest.raises(ConfigError, match="too small for one trial"):
        parse_budget("1s")
    with pytest.raises(ConfigError, match="not a duration"):
        parse_budget("ten minutes")
    assert parse_budget("6m") == 360 and parse_budget("1.5h") == 5400
    with pytest.raises(ConfigError, match="Did you mean 'cart'"):
        search(table, tmp_path / "s", budget=10, models=["crat"])
    with pytest.raises(SearchFailed, match="privacy gate") as failed:
        search(table, tmp_path / "p", budget=90, target="species", models=["gaussian_copula"], max_dcr_share=0.01,
               max_trials=2)
    assert failed.value.result.fallback is not None and failed.value.result.chosen is None
    assert not (tmp_path / "p" / "model").exists()


def test_cli_search_exit_codes(penguins_csv, tmp_path):
    from synthloop.cli import app

    runner = CliRunner()
    ok = runner.invoke(app, ["search", str(penguins_csv), "-o", str(tmp_path / "a"), "--budget", "90s", "--trials", "2",
                             "--target", "species", "-m", "gaussian_copula", "--lineage", str(tmp_path / "l.db")])
    assert ok.exit_code == 0, ok.output
    assert "Chose gaussian_copula" in ok.output and (tmp_path / "a" / "model" / "config.json").is_file()
    from synthloop.lineage import LineageStore, model_link

    link = model_link(tmp_path / "a" / "model")        # the chosen model knows the training data's record
    assert link is not None and LineageStore(tmp_path / "l.db").get(link.training_id).kind == "real"
    bad = runner.invoke(app, ["search", str(penguins_csv), "-o", str(tmp_path / "b"), "-m", "nope"])
    assert bad.exit_code == 2 and "Unknown synthesizer" in bad.output
    small = runner.invoke(app, ["search", str(penguins_csv), "-o", str(tmp_path / "d"), "--budget", "2s"])
    assert small.exit_code == 2 and "too small for one trial" in small.output and not (tmp_path / "d").exists()
    gate = runner.invoke(app, ["search", str(penguins_csv), "-o", str(tmp_path / "c"), "--budget", "90s", "--trials", "1",
                               "-m", "gaussian_copula", "--max-dcr-share", "0.001"])
    assert gate.exit_code == 1 and "privacy gate" in gate.output


def test_search_without_optuna_names_the_extra(monkeypatch, tmp_path, table):
    import builtins

    real_import = builtins.__import__

    def no_optuna(name, *args, **kwargs):
        if name == "optuna":
            raise ImportError("no optuna")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_optuna)
    monkeypatch.delitem(__import__("sys").modules, "optuna", raising=False)
    with pytest.raises(MissingDependency, match=r"synthloop\[search\]"):
        search(table, tmp_path / "s", budget=10)


@pytest.mark.slow
def test_search_trials_run_on_ray(table, tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)  # started apart: its start-up is no trial's
    try:
        # a fresh Ray worker imports synthloop on its first trial (about 7 s on a loaded 2-core machine)
        # generous limits: the search ends when its two trials do (20 s quiet); under a load average of 6 a
        # trial took over 60 s
        result = search(table, tmp_path / "s", budget=300, target="species", models=["gaussian_copula", "independent"],
                        backend="ray", n_jobs=2, seed=3, trial_timeout=200, max_trials=2)
    finally:
        ray.shutdown()
    assert result.chosen is not None and len(result.trials) == 2
    assert sum(t["state"] == "COMPLETE" for t in result.trials) >= 2


def test_registered_models_declare_a_space_the_search_can_read():
    import synthloop
    from synthloop.tuning.space import has_space

    assert synthloop.search is search

    assert has_space("cart") and has_space("gaussian_copula") and not has_space("independent")
    assert issubclass(REGISTRY.get("cart"), Synthesizer)


def test_a_trial_stops_at_its_screen_when_the_screen_is_hopeless(table, tmp_path):
    from synthloop.schema import Schema
    from synthloop.tuning.run import _split
    from synthloop.tuning.trial import TrialSpec, run_trial

    train, valid = _split(table, 0.2, 0)
    schema = Schema.infer(table, target="species")
    spec = dict(number=0, model="gaussian_copula", params={}, seed=1, train=train, validation=valid, schema=schema,
                screen_rows=50)
    pruned = run_trial(TrialSpec(folder=str(tmp_path / "a"), prune_above=0.0, **spec))
    assert pruned["status"] == "pruned" and 0.0 < pruned["screen_detection"] <= 1.0
    assert "detection" not in pruned and not (tmp_path / "a").exists()          # no full fit, nothing saved
    full = run_trial(TrialSpec(folder=str(tmp_path / "b"), prune_above=1.0, **spec))
    assert full["status"] == "complete" and full["screen_detection"] == pruned["screen_detection"]
    assert (tmp_path / "b" / "config.json").is_file() and (tmp_path / "b.privacy").is_dir()


def test_a_search_ends_early_when_nothing_is_left_to_try(table, tmp_path):
    started = time.monotonic()
    result = search(table, tmp_path / "s", budget=90, target="species", models=["independent"])   # no search space
    assert len(result.trials) == 1 and result.chosen["model"] == "independent"
    assert any(note.startswith("nothing left to try") for note in result.notes)
    assert time.monotonic() - started < 60


# ---------------------------------------------------------------------- choosing within the noise
def _trial(number, detection, utility, defaults=False, sd=(0.01, 0.005), repeats=3, model="cart"):
    return {"number": number, "model": model, "params": {}, "defaults": defaults, "state": "COMPLETE",
            "detection": detection, "utility": utility, "detection_sd": sd[0], "utility_sd": sd[1],
            "repeats": repeats, "dcr_share": 0.5, "fit_seconds": 1.0}


def test_the_best_default_stays_chosen_unless_a_trial_beats_it_beyond_the_noise():
    from synthloop.tuning.run import choose, noise

    objectives = ("detection", "utility")
    default = _trial(0, 0.530, 0.900, defaults=True)
    other_default = _trial(1, 0.900, 0.850, defaults=True, model="independent")
    # better on both by less than two standard errors of the difference (sd 0.01 / 0.005, 3 repeats each)
    close = _trial(2, 0.522, 0.903)
    chosen, pareto, why = choose([default, other_default, close], objectives)
    assert chosen is default and "no trial beats it" in why
    assert {r["number"] for r in pareto} == {0, 2}          # within the noise, neither dominates the other
    # better by several standard errors on both: the tuned trial wins
    clear = _trial(3, 0.490, 0.915)
    chosen, _, why = choose([default, other_default, close, clear], objectives)
    assert chosen is clear and "beats the best default" in why
    # a large gain in detection bought with a utility loss beyond the noise: the default stays
    trade = _trial(4, 0.450, 0.880)
    assert choose([default, other_default, trade], objectives)[0] is default
    # the noise is pooled over the repeats; too few repeats fall back to the prior
    assert noise([default, other_default, close], "detection") == pytest.approx(0.01)
    assert noise([_trial(5, 0.5, 0.9, sd=(0.001, 0.001))], "detection") == 0.015
    # with no default finished, the lowest loss of the Pareto set
    chosen, _, why = choose([close, clear], objectives)
    assert chosen is clear and "no default" in why


def test_a_time_limited_neural_fit_is_the_fit_with_that_many_epochs():
    import synthloop as sl
    from synthloop.nn.clock import time_limit

    real = sl.datasets.load("penguins").dropna().reset_index(drop=True)
    schema = sl.Schema.infer(real)
    sl.synthesizers.get("tvae", epochs=1, batch_size=50, seed=0, progress=False).fit(real, schema)   # imports, warm
    with time_limit(1.0) as limit:
        cut = sl.synthesizers.get("tvae", epochs=100_000, batch_size=50, seed=0, progress=False).fit(real, schema)
    assert limit.stopped_after is not None and 1 <= limit.stopped_after == len(cut.history_) < 100_000
    again = sl.synthesizers.get("tvae", epochs=limit.stopped_after, batch_size=50, seed=0, progress=False).fit(real, schema)
    assert cut.sample(30, seed=1).equals(again.sample(30, seed=1))
    with time_limit(0.0) as limit:           # no time at all: one epoch still runs
        one = sl.synthesizers.get("tvae", epochs=5, batch_size=50, seed=0, progress=False).fit(real, schema)
    assert limit.stopped_after == 1 and len(one.history_) == 1


@pytest.mark.slow
def test_a_neural_default_trains_within_its_trial_share_and_is_saved_as_trained(tmp_path):
    import synthloop as sl

    real = sl.datasets.load("adult").sample(20000, random_state=0).reset_index(drop=True)
    # tvae's 300 default epochs take minutes on 16,000 rows (and ~9 s on 3,200, too few to test the clock on
    # an idle machine); the trial has 30 s, its fit 60% of them
    result = search(real, tmp_path / "s", budget=120, target="income", models=["tvae"], trial_timeout=30,
                    repeats=1, max_trials=1, seed=0)
    trial = result.trials[0]
    assert trial["state"] == "COMPLETE" and trial["defaults"], trial
    assert 1 <= trial["params"].get("epochs", 0) < 300 and trial["seconds"] < 30, trial
    assert Synthesizer.load(result.model_dir).epochs == trial["params"]["epochs"]


def test_default_trials_are_screened_but_never_pruned(tmp_path):
    import synthloop as sl

    real = sl.datasets.load("adult").sample(1600, random_state=1).reset_index(drop=True)   # 1,280 > 2 × 500: screened
    result = search(real, tmp_path / "s", budget=120, target="income", models=["cart", "independent"],
                    screen_rows=500, eval_rows=1000, repeats=2, max_trials=2, seed=0)
    screens = {t["model"]: t["screen_detection"] for t in result.trials}
    assert screens["independent"] > screens["cart"] + 0.1          # hopeless by the screen ...
    assert [t["state"] for t in result.trials] == ["COMPLETE", "COMPLETE"]    # ... and still scored in full
