"""Alignment to a shifted target and refinement against real rows (issue 17), on real tables.

Alignment (``--part align``): a generator (``cart`` by default) is fitted on the *source* part of a
shifted split; 500 rows of the *target* part are known; every method is measured on held-out target
rows it never saw (detection AUC, TSTR, mean per-column KS/TVD), with the effective sample size and the
privacy figures against the source training rows (DCR share against held-out source rows, 0.5 = like
new data; exact copy rate). Methods: the source generator's output as is; ``align_table`` with weights,
and with transport + weights; the ``align_step`` inside sampling; ``adapt`` (refit with the 500 target
rows up-weighted to 30 % and to 50 % of the training rows); ``adapt`` (50 %) followed by ``align_step`` on
the adapted generator; a generator fitted on the 500 target rows alone. Besides copies of source rows,
``target_copy_rate`` counts output rows equal to one of the 500 known target rows on every column.
Splits (chosen before any run; all are reported):

- ``adult_age``: Adult's training split; the target is people aged 45 or more, the source everyone
  younger plus 20 % of the older rows (so the target lies inside the source's support, far from its mass);
- ``adult_birth``: Adult's training split by region of birth: the target is people born outside the
  United States (native_country known and not United-States, 3,310 rows), the source everyone else;
  ``native_country`` is left out of the alignment (the source never has the target's countries), so the
  shift is what comes with it (race, education, occupation, income);
- ``wage_year``: ISLP Wage (benchmark venv, see ``benchmarks/tables.py``); source 2003–2006, target
  2007–2009; ``year`` is left out of the alignment (the target's years lie outside the source's range).

Refinement (``--part refine``): each model is fitted on Adult's training split and samples 20,000 rows
as is and through ``refine_step(model, train)``; detection AUC and TSTR are measured on Adult's
test split (rows neither the model nor the detector saw).

    PYTHONPATH=src python benchmarks/align.py --part align --split adult_age
    PYTHONPATH=src python benchmarks/align.py --part align --split adult_birth
    PYTHONPATH=src python benchmarks/align.py --part align --split wage_year
    PYTHONPATH=src python benchmarks/align.py --part refine --models independent,tvae,tabddpm
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import synthloop as sl
from synthloop.align import adapt, align_step, align_table, conditional_align, discrepancy, refine_step

N_TARGET = 500
N_SYNTHETIC = 20_000
PRIVACY_ROWS = 5_000


def adult_age() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, str, list[str]]:
    """(source, target sample, target held out, source held out, label, columns left out of alignment)."""
    rng = np.random.default_rng(0)
    def part(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        old = frame["age"] >= 45
        lent = old & (rng.random(len(frame)) < 0.2)
        return frame[~old | lent].reset_index(drop=True), frame[old & ~lent].reset_index(drop=True)
    source, target = part(sl.datasets.load("adult", split="train"))
    source_holdout, _ = part(sl.datasets.load("adult", split="test"))
    target = target.iloc[rng.permutation(len(target))].reset_index(drop=True)
    return source, target.iloc[:N_TARGET], target.iloc[N_TARGET:N_TARGET + 5000], source_holdout, "income", []


def adult_birth() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, str, list[str]]:
    rng = np.random.default_rng(0)
    def part(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        abroad = frame["native_country"].notna() & (frame["native_country"] != "United-States")
        return frame[~abroad].reset_index(drop=True), frame[abroad].reset_index(drop=True)
    source, target = part(sl.datasets.load("adult", split="train"))
    source_holdout, _ = part(sl.datasets.load("adult", split="test"))
    target = target.iloc[rng.permutation(len(target))].reset_index(drop=True)
    return source, target.iloc[:N_TARGET], target.iloc[N_TARGET:], source_holdout, "income", ["native_country"]


def wage_year() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, str, list[str]]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import tables  # the benchmarks folder is not a package

    rng = np.random.default_rng(0)
    wage = tables.load("islp_wage")
    early = wage[wage["year"] <= 2006].reset_index(drop=True)
    late = wage[wage["year"] > 2006].reset_index(drop=True)
    early = early.iloc[rng.permutation(len(early))].reset_index(drop=True)
    late = late.iloc[rng.permutation(len(late))].reset_index(drop=True)
    cut = int(0.8 * len(early))
    return early.iloc[:cut], late.iloc[:N_TARGET], late.iloc[N_TARGET:], early.iloc[cut:], "wage", ["year"]


SPLITS = {"adult_age": adult_age, "adult_birth": adult_birth, "wage_year": wage_year}


def measure(name: str, table: pd.DataFrame, holdout: pd.DataFrame, schema: sl.Schema, label: str,
            source: pd.DataFrame, source_holdout: pd.DataFrame, extra: dict | None = None,
            left_out: tuple[str, ...] = (), known_target: pd.DataFrame | None = None) -> dict:
    """Discrepancy to the held-out target on the aligned columns; privacy against the source rows on all."""
    kinds = {k: v for k, v in schema.model_kinds().items() if k not in left_out}
    found = discrepancy(schema.to_model_frame(holdout), schema.to_model_frame(table), kinds,
                        rng=np.random.default_rng(0), label=label)
    report = sl.evaluate(source, table.iloc[:PRIVACY_ROWS], schema, metrics=["dcr_share", "exact_copy_rate"],
                         holdout=source_holdout)
    return {"method": name, "rows": len(table), "detection_auc": round(found.detection_auc, 3),
            f"tstr_{found.tstr_metric}": None if found.tstr is None else round(found.tstr, 3),
            "mean_divergence": round(float(found.divergences["divergence"].mean()), 3),
            "dcr_share": round(report.value("dcr_share"), 3), "exact_copy_rate": round(report.value("exact_copy_rate"), 4),
            **({} if known_target is None else {"target_copy_rate": round(copy_rate(table, known_target), 4)}),
            **(extra or {})}


def copy_rate(table: pd.DataFrame, rows: pd.DataFrame) -> float:
    """Share of ``table``'s rows equal to one of ``rows`` on every column of ``rows``."""
    def keys(frame: pd.DataFrame) -> list[tuple[str, ...]]:
        parts = []
        for name in rows.columns:
            values = frame[name]
            values = values.astype("float64").round(6) if pd.api.types.is_numeric_dtype(values) else values
            parts.append([str(v) if pd.notna(v) else "<NA>" for v in values.astype(object)])
        return list(zip(*parts))
    known = set(keys(rows))
    return float(np.mean([key in known for key in keys(table)]))


METHODS = ("oracle", "weights", "both", "step", "conditional", "adapt", "adapt_step", "alone", "speed")
#: Run only when asked (chosen after the first round's results, reported as such): the two most shifted columns.
EXTRA_METHODS = ("conditional2", "speed_steps")


def run_align(split: str, model_name: str, methods: tuple[str, ...] = METHODS) -> None:
    source, target, target_holdout, source_holdout, label, left_out = SPLITS[split]()
    schema = sl.Schema.infer(source, target=label)
    aligned_columns = [c for c in target.columns if c not in left_out]
    print(f"{split}: source {len(source):,} rows, target sample {len(target)}, target held out {len(target_holdout):,}; "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    model = sl.synthesizers.get(model_name, seed=0).fit(source, schema)
    synthetic = model.sample(N_SYNTHETIC, seed=0)

    def show(row: dict) -> None:
        print(json.dumps(row), flush=True)

    args = (target_holdout, schema, label, source, source_holdout)
    left = {"left_out": tuple(left_out), "known_target": target}
    show(measure("source generator", synthetic, *args, **left))
    show(measure("real source rows (held out): the shift itself", source_holdout, *args, **left))
    show(measure("target rows themselves (500 real)", target, *args, **left))
    if "oracle" in methods:
        # How well TSTR can do at all: a model trained on 2,500 real target rows, scored on the other held-out half
        # (the source generator scored on the same half, for a paired comparison).
        half = len(target_holdout) // 2
        first, second = target_holdout.iloc[:half], target_holdout.iloc[half:]
        kinds = {k: v for k, v in schema.model_kinds().items() if k not in left_out}
        view = schema.to_model_frame
        for what, table in (("real target rows (oracle)", first), ("source generator", synthetic)):
            found = discrepancy(view(second), view(table), kinds, rng=np.random.default_rng(0), label=label)
            print(json.dumps({"method": f"TSTR on the second held-out half: {what}", "rows": len(table),
                              f"tstr_{found.tstr_metric}": round(found.tstr, 3)}), flush=True)
    for method in [m for m in ("weights", "both") if m in methods]:
        start = time.perf_counter()
        result = align_table(synthetic, target[aligned_columns], schema, method=method, measure=False, seed=0)
        seconds = time.perf_counter() - start
        show(measure(f"align_table {method}", result.table, *args, **left,
                     extra={"ess_share": round(result.ess_share, 3) if result.ess_share else None,
                            "seconds": round(seconds, 1)}))
    if "step" in methods:
        start = time.perf_counter()
        step = align_step(model, target[aligned_columns], seed=0)
        stepped = model.sample(N_SYNTHETIC, seed=1, steps=[step])
        show(measure("align_step in sampling", stepped, *args, **left,
                     extra={"ess_share": round(step.report.ess_share, 3),
                            "acceptance": round(step.report.acceptance, 3), "coverage": round(step.report.coverage, 3),
                            "seconds": round(time.perf_counter() - start, 1)}))
    if "conditional" in methods:
        start = time.perf_counter()
        aligned = conditional_align(model, target[aligned_columns], seed=0)
        rows = aligned.sample(N_SYNTHETIC, seed=1)
        report = aligned.step.report
        show(measure("conditional_align (shifted column from the target + residual step)", rows, *args, **left,
                     extra={"shifted_columns": list(aligned.columns), "ess_share": round(report.ess_share, 3),
                            "acceptance": round(report.acceptance, 3), "coverage": round(report.coverage, 3),
                            "step_detection_auc": round(report.detection_auc, 3),
                            "seconds": round(time.perf_counter() - start, 1),
                            "replaced_by_parity": model.last_sample_info_.n_replaced}))
    if "conditional2" in methods:
        chosen = conditional_align(model, target[aligned_columns], seed=0) if "conditional" not in methods else aligned
        two = sorted(chosen.divergences, key=chosen.divergences.get, reverse=True)[:2]
        start = time.perf_counter()
        aligned = conditional_align(model, target[aligned_columns], columns=two, seed=0)
        rows = aligned.sample(N_SYNTHETIC, seed=1)
        report = aligned.step.report
        show(measure("conditional_align, the two most shifted columns", rows, *args, **left,
                     extra={"shifted_columns": list(aligned.columns), "ess_share": round(report.ess_share, 3),
                            "acceptance": round(report.acceptance, 3), "coverage": round(report.coverage, 3),
                            "step_detection_auc": round(report.detection_auc, 3),
                            "seconds": round(time.perf_counter() - start, 1),
                            "replaced_by_parity": model.last_sample_info_.n_replaced}))
    for share in [s for s in (0.3, 0.5) if "adapt" in methods or (s == 0.5 and "adapt_step" in methods)]:
        start = time.perf_counter()
        # The schema of source and target together: a column can be constant in the source (native_country
        # is United-States there) and vary in the target.
        adapted = adapt(model, source, target, target_share=share,
                        schema=sl.Schema.infer(pd.concat([source, target], ignore_index=True), target=label))
        fit_seconds = time.perf_counter() - start
        show(measure(f"adapt (target {share:.0%} of rows)", adapted.sample(N_SYNTHETIC, seed=0), *args, **left,
                     extra={"fit_seconds": round(fit_seconds, 1), "replaced_by_parity": adapted.last_sample_info_.n_replaced}))
    if "adapt_step" in methods:
        start = time.perf_counter()
        step = align_step(adapted, target[aligned_columns], seed=0)
        stepped = adapted.sample(N_SYNTHETIC, seed=1, steps=[step])
        show(measure("adapt (50%) + align_step", stepped, *args, **left,
                     extra={"ess_share": round(step.report.ess_share, 3), "acceptance": round(step.report.acceptance, 3),
                            "coverage": round(step.report.coverage, 3),
                            "step_detection_auc": round(step.report.detection_auc, 3),
                            "seconds": round(time.perf_counter() - start, 1),
                            "replaced_by_parity": adapted.last_sample_info_.n_replaced}))
    if "alone" in methods:
        alone = sl.synthesizers.get(model_name, seed=0).fit(target, sl.Schema.infer(target, target=label))
        show(measure("fit on 500 target rows", alone.sample(N_SYNTHETIC, seed=0), *args, **left))
    if "speed_steps" in methods:
        step_speed(model, target[aligned_columns])
    if "speed" in methods:
        big = model.sample(40_000, seed=2, privacy="off")
        start = time.perf_counter()
        align_table(big, target[aligned_columns], schema, measure=False, seed=0)
        print(json.dumps({"seconds_per_40k_rows_weights": round(time.perf_counter() - start, 1)}), flush=True)


def step_speed(model: sl.synthesizers.Synthesizer, target: pd.DataFrame) -> None:
    """Seconds to build each row step and draw 40,000 rows through it (privacy step on)."""
    for name, build in (("align_step", lambda: align_step(model, target, seed=0)),
                        ("conditional_align", lambda: conditional_align(model, target, seed=0))):
        start = time.perf_counter()
        built = build()
        rows = model.sample(40_000, seed=3, steps=[built]) if name == "align_step" else built.sample(40_000, seed=3)
        print(json.dumps({f"seconds_per_40k_rows_{name}": round(time.perf_counter() - start, 1), "rows": len(rows)}),
              flush=True)


def weakest_slices(test: pd.DataFrame, table: pd.DataFrame, schema: sl.Schema, top: int = 4) -> list[str]:
    """The slices where a detector is most confidently right (synthloop's detection report), as text."""
    from synthloop.metrics.detection import adversarial_validation

    found = adversarial_validation(test, table, schema, rng=np.random.default_rng(0), max_rows=5_000).slices.head(top)
    return [f"{r.column}={r.slice}: confidence {r.confidence:.2f}, synthetic share {r.synthetic_share:.2f}"
            for r in found.itertuples()]


def run_refine(models: list[str], slices: bool = False) -> None:
    train = sl.datasets.load("adult", split="train")
    test = sl.datasets.load("adult", split="test")
    schema = sl.Schema.infer(train, target="income")
    for name in models:
        model = sl.synthesizers.get(name, seed=0, **({"progress": False} if name != "independent" else {}))
        start = time.perf_counter()
        model.fit(train, schema)
        fit_seconds = time.perf_counter() - start
        plain = model.sample(N_SYNTHETIC, seed=0)
        start = time.perf_counter()
        step = refine_step(model, train, seed=0)
        refined = model.sample(N_SYNTHETIC, seed=1, steps=[step])
        seconds = time.perf_counter() - start
        if slices:
            print(json.dumps({"model": name, "weakest_slices": {
                what: weakest_slices(test, table, schema) for what, table in (("plain", plain), ("refined", refined))}}),
                flush=True)
        for what, table, extra in (("plain", plain, {"fit_seconds": round(fit_seconds, 1)}),
                                   ("refined", refined, {"acceptance": round(step.report.acceptance, 3),
                                                         "ess_share": round(step.report.ess_share, 3),
                                                         "seconds": round(seconds, 1),
                                                         "replaced_by_parity": model.last_sample_info_.n_replaced})):
            print(json.dumps({"model": name, **measure(what, table, test, schema, "income", train, test, extra)}),
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["align", "refine"], default="align")
    parser.add_argument("--split", choices=list(SPLITS), default="adult_age")
    parser.add_argument("--model", default="cart", help="generator of the alignment part")
    parser.add_argument("--models", default="independent,tvae,tabddpm", help="models of the refinement part")
    parser.add_argument("--methods", default=",".join(METHODS), help="alignment methods to run (baselines always)")
    parser.add_argument("--slices", action="store_true", help="also print the weakest slices before and after")
    args = parser.parse_args()
    if args.part == "align":
        run_align(args.split, args.model, tuple(filter(None, args.methods.split(","))))
    else:
        run_refine(list(filter(None, args.models.split(","))), slices=args.slices)


if __name__ == "__main__":
    main()
