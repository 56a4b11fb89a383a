import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import synthloop as sl
from synthloop.errors import ConfigError
from synthloop.loop import (
    REGISTRY,
    Accumulate,
    DensityRatioVerifier,
    Filtered,
    MixReal,
    NaiveFilter,
    Policy,
    Replace,
    Verifier,
    available,
)
from synthloop.metrics import METRICS

ALL_POLICIES = [Replace(), Accumulate(), MixReal(0.25, fresh=False), Filtered(DensityRatioVerifier(max_iter=10), 3.0),
                Filtered(with_real=False), NaiveFilter(0.5)]


@pytest.mark.parametrize("policy", ALL_POLICIES, ids=lambda p: p.label)
def test_policies_round_trip_through_plain_config(policy):
    config = policy.to_config()
    assert json.loads(json.dumps(config)) == config  # plain data
    assert Policy.from_config(config) == policy
    assert Policy.from_config(json.loads(json.dumps(config))).to_config() == config
    assert "0x" not in repr(policy)  # no memory address in what identifies a run


def test_equal_settings_give_equal_configs_and_a_new_verifier_object_changes_nothing():
    assert Filtered().to_config() == Filtered().to_config()
    assert Filtered().to_config()["verifier"] == {"name": "density-ratio", "max_iter": 50, "clip": 20.0}
    assert Filtered() == Filtered() and hash(Filtered()) == hash(Filtered())


def test_one_registry_names_policies_and_verifiers():
    assert available("policy") == ["accumulate", "filtered", "mix-real", "naive-filter", "replace"]
    assert available("verifier") == ["density-ratio"]
    assert REGISTRY[("verifier", "density-ratio")] is DensityRatioVerifier
    assert isinstance(Verifier.from_config({"name": "density-ratio"}), DensityRatioVerifier)


def test_bad_policy_configs_list_every_problem():
    with pytest.raises(ConfigError, match="unknown policy 'replac' \\(did you mean 'replace'\\?\\)"):
        Policy.from_config({"name": "replac"})
    with pytest.raises(ConfigError) as error:
        Policy.from_config({"name": "mix-real", "fraction": "half", "fresh": 1, "bogus": 2})
    assert all(part in str(error.value) for part in ("'bogus'", "'fraction' must be a number", "'fresh' must be true"))
    with pytest.raises(ConfigError, match="verifier: unknown verifier 'oracle'"):
        Policy.from_config({"name": "filtered", "verifier": {"name": "oracle"}})
    with pytest.raises(ConfigError, match="sample_factor must be ≥ 1"):
        Policy.from_config({"name": "filtered", "sample_factor": 0.5})
    with pytest.raises(ConfigError, match="unknown policy 'density-ratio'"):  # a verifier is not a policy
        Policy.from_config({"name": "density-ratio"})


def test_the_guard_runs_without_importing_the_lab():
    code = ("import sys; from synthloop.loop.guard import guard_fit; import synthloop.cli.fit, synthloop.cli.lineage; "
            "print(sorted(m for m in sys.modules if m.startswith('synthloop.lab')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------- lab measures as registered metrics
def test_lab_measures_are_registered_metrics_with_distinct_names():
    from synthloop.lab.measures import MEASURES

    assert set(MEASURES) <= set(METRICS)
    assert not METRICS["tail_share"].default and not METRICS["detection_auc_split"].default  # report unchanged
    assert METRICS["tail_share"].goal == "real" and METRICS["variance_ratio"].goal == "real"
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"x": rng.standard_normal(2000)})
    same = pd.DataFrame({"x": rng.standard_normal(2000)})
    # the report's tail_mass is a 5/95 ratio score (≈ 1 for the same distribution); tail_share is a 1/99 mass (≈ 0.02)
    assert METRICS["tail_mass"](real, same, None).value > 0.8
    assert METRICS["tail_share"](real, same, None).value == pytest.approx(0.02, abs=0.01)


def test_rare_category_measures_differ_only_by_threshold():
    real = pd.DataFrame({"c": ["a"] * 960 + ["b"] * 30 + ["c"] * 8 + ["d"] * 2})  # b: 3%, c: 0.8%, d: 0.2%
    synthetic = pd.DataFrame({"c": ["a"] * 90 + ["b"] * 9 + ["c"]})
    retention = METRICS["rare_category_retention"](real, synthetic, None)   # under 5%: b, c, d
    survival = METRICS["rare_category_survival"](real, synthetic, None)     # under 1%: c, d
    assert set(retention.details["category"]) == {"b", "c", "d"} and retention.value == pytest.approx(2 / 3)
    assert set(survival.details["category"]) == {"c", "d"} and survival.value == pytest.approx(1 / 2)


def test_split_detection_auc_is_not_clipped_at_one_half():
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"x": rng.standard_normal(400), "c": rng.choice(["a", "b"], 400)})
    values = [METRICS["detection_auc_split"](real, real.sample(frac=1.0, random_state=s).assign(
        x=rng.standard_normal(400)), None, rng=np.random.default_rng(s)).value for s in range(6)]
    assert min(values) < 0.5 < max(values)  # same distribution: noise on both sides of chance
    assert np.mean(values) == pytest.approx(0.5, abs=0.05)


def test_variance_ratio_goal_real_is_worse_either_way_in_the_report():
    from synthloop.report.terminal import verdict

    assert verdict(1.6, 1.0, "real", 0.0, float("inf")) == "worse"
    assert verdict(0.4, 1.0, "real", 0.0, float("inf")) == "worse"
    assert verdict(1.0005, 1.0, "real", 0.0, float("inf")) == "as real"


# ---------------------------------------------------------------- lab correctness
def _categorical_table(n, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.choice(list("abcd"), n, p=[0.6, 0.3, 0.08, 0.02]), "c": rng.choice(["u", "v"], n)})


def test_purely_categorical_tables_run_with_the_privacy_step():
    from synthloop.synthesizers import get

    real, holdout = _categorical_table(300, 0), _categorical_table(300, 1)  # share most rows by chance, honestly
    result = sl.run_lab(real, get("independent"), [Replace(), Accumulate()], generations=6, holdout=holdout,
                        n_rows=100, seed=[0, 1], n_jobs=1, metrics=["category_coverage"])
    assert len(result.results) == 2 * 2 * 6 and (result.results["privacy"] == "parity").all()
    assert result.final().loc["replace", "category_coverage"] < 1.0  # the rare category is lost, sampling goes on
    from synthloop.lineage.fingerprint import row_hashes

    assert np.isin(row_hashes(holdout), row_hashes(real)).mean() > 0.9  # refused before: "more than 1% overlap"


def test_privacy_setting_is_part_of_the_run(tmp_path):
    from synthloop.synthesizers import get

    real = sl.datasets.load("penguins").dropna().reset_index(drop=True)
    kwargs = dict(generations=1, n_rows=60, n_jobs=1, metrics=["tail_share"], out_dir=tmp_path / "run")
    result = sl.run_lab(real, get("independent"), Replace(), privacy="off", **kwargs)
    assert (result.results["privacy"] == "off").all() and result.privacy == "off"
    assert json.loads((tmp_path / "run" / "results.json").read_text())["privacy"] == "off"
    assert 'privacy="off"' in (tmp_path / "run" / "report.html").read_text()
    with pytest.raises(ConfigError, match="privacy differ"):
        sl.run_lab(real, get("independent"), Replace(), privacy="parity", **kwargs)
    with pytest.raises(ConfigError, match="Unknown privacy setting"):
        sl.run_lab(real, get("independent"), Replace(), privacy="strict", n_jobs=1)


def test_the_reference_line_is_a_fresh_real_sample_and_summaries_show_medians():
    from synthloop.synthesizers import get

    real = sl.datasets.load("adult", split="train").sample(400, random_state=1).reset_index(drop=True)
    holdout = sl.datasets.load("adult", split="test").sample(800, random_state=1).reset_index(drop=True)
    result = sl.run_lab(real, get("independent"), Replace(), generations=1, holdout=holdout, n_rows=300, n_jobs=1,
                        metrics=["rare_category_survival"])
    # the training rows keep every rare category by construction; fresh real rows do not
    assert result.reference["rare_category_survival"] < 0.9
    assert ("rare_category_survival", "median") in result.summary().columns
    assert result.final("median").shape == result.final().shape
