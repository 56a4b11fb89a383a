"""DP models on the privacy-parity tables: fit seconds, peak memory, TSTR, detection AUC, column shapes, copies.

    PYTHONPATH=src python benchmarks/dp.py --tables adult,islp_default,breast_cancer \
        --models dp_mst,dp_argn,smartnoise-mst,smartnoise-aim --epsilons 1,3,10 --seeds 0,1,2,3,4 \
        --json dp_grid.json                                       # the issue's grid, one invocation
    PYTHONPATH=src python benchmarks/dp.py ... --json dp_grid.json --resume   # continue it, skipping done cells
    PYTHONPATH=src python benchmarks/dp.py --summarize a.json b.json          # the summary of finished runs
    PYTHONPATH=src python benchmarks/dp.py --model dp_argn -p progress=false --epsilons 1 --seeds 0,1,2 --json a.json
    PYTHONPATH=src python benchmarks/dp.py --models dp_mst,smartnoise-aim -p smartnoise-aim:rounds=24 --json b.json

Runs every cell of the grid tables × models × ε × seeds (δ = 1e-5). Each cell trains on a table's
train split (Adult, or any table of ``tables.py``, which needs the tables venv), judges on its test
split with the evaluation suite's metrics (the same as ``privacy_parity.py``): TSTR (AUC for
classification targets, R² for regression), detection AUC (holdout vs synthetic), column shapes
(mean 1 − KS / 1 − TVD, synthetic vs holdout), exact copies of training rows. The schema is inferred
from the training split and passed *as the public schema*: the category sets and bounds of these
tables are published with them, and the ledger lists them as public.

Every fit runs in a fresh process, so its peak memory is its own: a synthloop fit re-runs this
script with ``--fit-cell`` (loads the table, fits, samples, writes the rows, reports its own maximum
resident size, JAX included); ``smartnoise-aim`` / ``smartnoise-mst`` run smartnoise-synth in its own
venv (``/work/benchenv/smartnoise``) through ``peers/smartnoise_runner.py``, which never imports
synthloop and reports its own peak; they are given the same public category sets and bounds (no
preprocessor budget needed). (A single process's ``ru_maxrss`` only grows, so measuring it in the
parent after each fit would report the largest earlier fit for every later cell.)

With ``--json`` each finished cell is appended to the file as soon as it is judged (written whole
through a temporary file, so an interrupted run keeps every finished cell); ``--resume`` reads the
file and skips the cells it holds (same table, model, ε, seed and parameters). A failed cell is
reported on stderr, not recorded, and the run goes on; the exit status is 1 if any cell failed.
At the end a markdown table per (table, model, ε) is printed over every row in the file.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import synthloop as sl
from synthloop.metrics.detection import detection_auc
from synthloop.metrics.fidelity import ks_complement, tv_complement
from synthloop.metrics.privacy import exact_copy_rate
from synthloop.metrics.registry import NotApplicable
from synthloop.metrics.utility import tstr_auc, tstr_r2

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tables  # the sibling catalogue of real tables

HERE = Path(__file__).resolve().parent
PEER_PYTHON = "/work/benchenv/smartnoise/bin/python"
MODELS = ["dp_mst", "dp_vae", "dp_argn", "smartnoise-aim", "smartnoise-mst"]
DELTA = 1e-5
SEED = 0
CELL_KEYS = ("table", "model", "epsilon", "seed", "params")


def load_table(name: str) -> tuple[pd.DataFrame, pd.DataFrame, sl.Schema]:
    """Train split, test split and the public schema (inferred from the train split)."""
    if name == "adult":
        train, holdout = sl.datasets.load("adult", split="train"), sl.datasets.load("adult", split="test")
    else:
        train, holdout = tables.split(name)
    return train, holdout, tables.schema_of(name, train)


def column_shapes(real, synthetic, schema) -> float:
    parts = []
    for metric in (ks_complement, tv_complement):
        try:
            parts.append(metric(real, synthetic, schema).details.iloc[:, 1].to_numpy())
        except NotApplicable:
            continue
    return float(np.mean(np.concatenate(parts)))


def _run_child(command: list[str], name: str, timeout: float | None) -> dict:
    """Run one fitting process; its last stdout line is a JSON object with its own timings and peak."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        raise RuntimeError(f"{name} did not finish within {timeout:g} s") from error
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def fit_synthloop(cell: dict, train: pd.DataFrame, schema: sl.Schema, folder: Path,
                  timeout: float | None) -> tuple[pd.DataFrame, dict]:
    """Fit in a fresh process of this script (``--fit-cell``), so the peak memory is this fit's."""
    spec = {k: cell[k] for k in CELL_KEYS} | {"out": str(folder / "out.parquet")}
    info = _run_child([sys.executable, str(Path(__file__).resolve()), "--fit-cell", json.dumps(spec)],
                      cell["model"], timeout)
    return pd.read_parquet(spec["out"]), info


def fit_cell(spec: dict) -> None:
    """The child's side: load, fit, sample, write; print fit seconds, peak MB and spent ε as JSON."""
    train, _, schema = load_table(spec["table"])
    start = time.perf_counter()
    model = sl.synthesizers.get(spec["model"], epsilon=spec["epsilon"], delta=DELTA, seed=spec["seed"],
                                **spec["params"]).fit(train, schema)
    fit_s = time.perf_counter() - start
    model.sample(len(train), seed=spec["seed"]).to_parquet(spec["out"], index=False)
    print(json.dumps({"fit_s": round(fit_s, 1),
                      "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                      "spent_epsilon": round(model.ledger_.spent_epsilon(), 4)}))


def fit_peer(cell: dict, train: pd.DataFrame, schema: sl.Schema, folder: Path,
             timeout: float | None) -> tuple[pd.DataFrame, dict]:
    """smartnoise-synth in its own venv; the public schema goes along as JSON (categories, bounds)."""
    public = {"categorical": {c.name: list(c.categories or ()) for c in schema.columns if c.kind != "numeric"},
              "continuous": {c.name: [c.low, c.high, bool(c.integer)] for c in schema.columns if c.kind == "numeric"}}
    train.to_parquet(folder / "train.parquet", index=False)
    (folder / "schema.json").write_text(json.dumps(public))
    command = [PEER_PYTHON, str(HERE / "peers" / "smartnoise_runner.py"), "--synth", cell["model"].split("-")[1],
               "--epsilon", str(cell["epsilon"]), "--delta", str(DELTA), "--seed", str(cell["seed"]), "--train",
               str(folder / "train.parquet"), "--schema", str(folder / "schema.json"), "--out",
               str(folder / "out.parquet"), *[f"--{k.replace('_', '-')}={v}" for k, v in cell["params"].items()]]
    info = _run_child(command, cell["model"], timeout)
    return pd.read_parquet(folder / "out.parquet"), {
        "fit_s": round(info["fit_seconds"], 1), "peak_mb": round(info["peak_mb"]), "spent_epsilon": cell["epsilon"]}


def judge(cell: dict, timeout: float | None) -> dict:
    """Fit one cell in its own process and score its samples against the table's test split."""
    train, holdout, schema = load_table(cell["table"])
    fit = fit_peer if cell["model"].startswith("smartnoise") else fit_synthloop
    with tempfile.TemporaryDirectory() as folder:
        synthetic, timing = fit(cell, train, schema, Path(folder), timeout)
    synthetic = synthetic[list(train.columns)]
    classification = tables.TABLES[cell["table"]].task == "classification"
    utility = (tstr_auc if classification else tstr_r2)(train, synthetic, schema, holdout=holdout,
                                                          rng=np.random.default_rng(SEED))
    return {**cell, **timing, "metric": "AUC" if classification else "R2", "tstr": utility.value,
            "trtr": utility.baseline,
            "detection_auc": detection_auc(holdout, synthetic, schema, rng=np.random.default_rng(SEED)).value,
            "column_shapes": column_shapes(holdout, synthetic, schema),
            "copy_rate": exact_copy_rate(train, synthetic, schema).value}


def parse_params(items: list[str], models: list[str]) -> dict[str, dict]:
    """``KEY=VALUE`` (every model) or ``MODEL:KEY=VALUE`` (that model only, ignored when it is not run,
    so one command line can serve several runs); values are JSON, or a bare word taken as a string."""
    params: dict[str, dict] = {m: {} for m in models}
    for item in items:
        scope, colon, assignment = item.partition(":") if ":" in item.partition("=")[0] else ("", "", item)
        key, equals, value = assignment.partition("=")
        if not equals or not key:
            raise SystemExit(f"--param {item!r}: expected KEY=VALUE or MODEL:KEY=VALUE")
        if colon and scope not in MODELS:
            raise SystemExit(f"--param {item!r}: {scope!r} is not a model ({', '.join(MODELS)})")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value          # a bare word (e.g. -p solver=auto) is a string
        for model in ([scope] if scope in params else []) if colon else models:
            params[model][key] = parsed
    return params


def grid(tables_: list[str], models: list[str], epsilons: list[float], seeds: list[int],
         params: dict[str, dict]) -> list[dict]:
    """Cells in run order: table, then model, then ε, then seed."""
    return [{"table": t, "model": m, "epsilon": e, "seed": s, "params": params[m]}
            for t in tables_ for m in models for e in epsilons for s in seeds]


def cell_key(row: dict) -> str:
    return json.dumps([row["table"], row["model"], float(row["epsilon"]), int(row["seed"]),
                       row.get("params", {})], sort_keys=True)


def read_rows(path: Path) -> list[dict]:
    rows = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(rows, list):
        raise SystemExit(f"{path}: expected a JSON list of cells")
    return rows


def write_rows(path: Path, rows: list[dict]) -> None:
    """Replace the file whole (temporary file + rename), so an interruption never leaves half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    os.replace(partial, path)


def _span(values: list[float], digits: int = 0) -> str:
    low, high = min(values), max(values)
    return f"{low:.{digits}f}" if round(low, digits) == round(high, digits) else f"{low:.{digits}f}–{high:.{digits}f}"


def _seeds(seeds: list[int]) -> str:
    seeds = sorted(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))


def _label(model: str, params: dict) -> str:
    shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(params.items()) if k != "progress")
    return f"`{model}`" + (f" `{shown}`" if shown else "")


def summary(rows: list[dict]) -> str:
    """One markdown row per (table, model + parameters, ε): medians and ranges over the seeds, maxima of
    copies and peak memory; rows sorted by table, model and ε whatever order the cells ran in."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        key = (row["table"], _label(row["model"], row.get("params", {})), float(row["epsilon"]))
        groups.setdefault(key, []).append(row)
    lines = ["| table | model | ε | seeds | TSTR median (range) | real | detection median | column shapes "
             "| copies (max) | fit (s) | peak memory (max) |", "|---" * 11 + "|"]
    def order(key: tuple) -> tuple:                 # tables as tables.py lists them, then models as MODELS
        model = key[1].split("`")[1]
        return (list(tables.TABLES).index(key[0]) if key[0] in tables.TABLES else len(tables.TABLES), key[0],
                MODELS.index(model) if model in MODELS else len(MODELS), key[1], key[2])

    for (table, label, epsilon), some in sorted(groups.items(), key=lambda item: order(item[0])):
        tstr = [r["tstr"] for r in some]
        spread = f" ({min(tstr):.3f}–{max(tstr):.3f})" if len(some) > 1 else ""
        lines.append(
            f"| {table} | {label} | {epsilon:g} | {_seeds([r['seed'] for r in some])} | "
            f"{statistics.median(tstr):.3f}{spread} {some[0].get('metric', 'AUC')} | {some[0]['trtr']:.3f} | "
            f"{statistics.median(r['detection_auc'] for r in some):.3f} | "
            f"{statistics.median(r['column_shapes'] for r in some):.3f} | {max(r['copy_rate'] for r in some):.4f} | "
            f"{_span([r['fit_s'] for r in some])} | {max(r['peak_mb'] for r in some) / 1024:.2f} GB |")
    return "\n".join(lines)


def run(cells: list[dict], path: Path | None, resume: bool, timeout: float | None) -> tuple[list[dict], int]:
    """Run the cells not yet in ``path``; append each to it as soon as it is judged."""
    rows = read_rows(path) if path is not None and resume and path.exists() else []
    done = {cell_key(r) for r in rows}
    failures = 0
    for cell in cells:
        if cell_key(cell) in done:
            continue
        try:
            row = judge(cell, timeout)
        except RuntimeError as error:
            failures += 1
            print(f"cell {cell_key(cell)} failed: {error}", file=sys.stderr, flush=True)
            continue
        print(json.dumps(row), flush=True)
        rows.append(row)
        done.add(cell_key(row))
        if path is not None:
            write_rows(path, rows)
    return rows, failures


def _list(text: str, kind=str) -> list:
    return [kind(item) for item in text.split(",") if item.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", "--table", default="adult", help="comma-separated tables of tables.py")
    parser.add_argument("--models", "--model", default="dp_mst", help=f"comma-separated, of {', '.join(MODELS)}")
    parser.add_argument("--epsilons", default="1")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--param", "-p", action="append", default=[], metavar="[MODEL:]KEY=VALUE",
                        help="extra model parameter, value as JSON (e.g. -p epochs=10, -p smartnoise-aim:rounds=24)")
    parser.add_argument("--json", type=Path, help="append each finished cell here")
    parser.add_argument("--resume", action="store_true", help="keep the cells already in --json and skip them")
    parser.add_argument("--cell-timeout", type=float, help="give up on a fit after this many seconds")
    parser.add_argument("--summarize", type=Path, nargs="+", metavar="JSON", help="only print the summary of these")
    parser.add_argument("--fit-cell", help=argparse.SUPPRESS)    # the child process of fit_synthloop
    args = parser.parse_args()
    if args.fit_cell:
        return fit_cell(json.loads(args.fit_cell))
    if args.summarize:
        print(summary([row for path in args.summarize for row in read_rows(path)]))
        return None
    tables_, models = _list(args.tables), _list(args.models)
    for name, known in [*((t, tables.TABLES) for t in tables_), *((m, MODELS) for m in models)]:
        if name not in known:
            parser.error(f"unknown table or model {name!r}")
    if args.json is not None and args.json.exists() and not args.resume:
        parser.error(f"{args.json} exists: pass --resume to continue it, or choose another file")
    cells = grid(tables_, models, _list(args.epsilons, float), _list(args.seeds, int),
                 parse_params(args.param, models))
    rows, failures = run(cells, args.json, args.resume, args.cell_timeout)
    print(summary(rows))
    if failures:
        raise SystemExit(f"{failures} cell(s) failed (see above); rerun with --resume to retry them")
    return None


if __name__ == "__main__":
    main()
