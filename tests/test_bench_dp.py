"""The DP benchmark's grid runner (``benchmarks/dp.py``): resume, parameter scoping, the summary.

The fits themselves are the benchmark (minutes each); here ``judge`` is replaced by a stand-in that
records which cells it was asked for, so the bookkeeping around it is what is tested.
"""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def dp(script):
    return script("benchmarks/dp.py")


def _fake_judge(calls, fail=()):
    def judge(cell, timeout):
        calls.append((cell["model"], cell["epsilon"], cell["seed"]))
        if cell["seed"] in fail:
            raise RuntimeError("peer crashed")
        return {**cell, "fit_s": 10.0 + cell["seed"], "peak_mb": 1000 + 100 * cell["seed"], "spent_epsilon": 1.0,
                "metric": "AUC", "tstr": 0.80 + 0.01 * cell["seed"], "trtr": 0.92, "detection_auc": 0.75,
                "column_shapes": 0.99, "copy_rate": 0.0}
    return judge


def test_each_cell_is_written_as_it_finishes_and_resume_skips_done_cells(dp, tmp_path, monkeypatch):
    path = tmp_path / "grid.json"
    cells = dp.grid(["adult"], ["dp_mst"], [1.0, 3.0], [0, 1, 2], {"dp_mst": {}})
    calls: list = []
    monkeypatch.setattr(dp, "judge", _fake_judge(calls, fail={2}))
    rows, failures = dp.run(cells, path, resume=False, timeout=None)
    assert failures == 2 and len(rows) == 4                       # seed 2 failed at both ε: not recorded
    assert [(r["epsilon"], r["seed"]) for r in json.loads(path.read_text())] == [(1, 0), (1, 1), (3, 0), (3, 1)]
    calls.clear()
    monkeypatch.setattr(dp, "judge", _fake_judge(calls))
    rows, failures = dp.run(cells, path, resume=True, timeout=None)
    assert calls == [("dp_mst", 1.0, 2), ("dp_mst", 3.0, 2)] and failures == 0 and len(rows) == 6
    calls.clear()
    other = dp.grid(["adult"], ["dp_mst"], [1.0], [0], {"dp_mst": {"max_bins": 8}})
    dp.run(other, path, resume=True, timeout=None)                 # other parameters: another cell
    assert calls == [("dp_mst", 1.0, 0)]


def test_params_are_scoped_to_a_model_or_shared(dp):
    params = dp.parse_params(["smartnoise-aim:rounds=24", "seed_share=0.1", "solver=auto"],
                             ["dp_mst", "smartnoise-aim"])
    assert params == {"dp_mst": {"seed_share": 0.1, "solver": "auto"},
                      "smartnoise-aim": {"rounds": 24, "seed_share": 0.1, "solver": "auto"}}
    assert dp.parse_params(["dp_argn:epochs=3"], ["dp_mst"]) == {"dp_mst": {}}     # a model not run: ignored
    with pytest.raises(SystemExit, match="not a model"):
        dp.parse_params(["dp_argm:epochs=3"], ["dp_mst"])
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        dp.parse_params(["epochs"], ["dp_mst"])


def test_summary_has_medians_ranges_and_the_largest_peak_per_table_model_and_epsilon(dp, monkeypatch):
    monkeypatch.setattr(dp, "judge", _fake_judge([]))
    rows, _ = dp.run(dp.grid(["adult"], ["dp_mst"], [1.0], [0, 1, 2, 3, 4], {"dp_mst": {}}), None, False, None)
    table = dp.summary(rows).splitlines()
    assert len(table) == 3
    assert table[2] == ("| adult | `dp_mst` | 1 | 0–4 | 0.820 (0.800–0.840) AUC | 0.920 | 0.750 | 0.990 | 0.0000 "
                        "| 10–14 | 1.37 GB |")
