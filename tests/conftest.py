from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthloop as sl


@pytest.fixture(scope="session")
def script():
    """Import a script of the repository by its path (``script("benchmarks/dp.py")``); see ``_load_script``."""
    return _load_script


def _load_script(relative: str):
    """A script of the repository (``benchmarks/dp.py``, ``examples/x.py``) imported as a module.

    A benchmark puts its own folder on ``sys.path`` to import its siblings; that entry is taken off
    again so other tests do not import from it.
    """
    import importlib.util
    import sys

    path = Path(__file__).resolve().parent.parent / relative
    spec = importlib.util.spec_from_file_location(f"script_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module                     # dataclasses look their module up while it runs
    try:
        spec.loader.exec_module(module)
    finally:
        if str(path.parent) in sys.path:
            sys.path.remove(str(path.parent))
    return module

@pytest.fixture(scope="session")
def adult_train() -> pd.DataFrame:
    return sl.datasets.load("adult", split="train")


@pytest.fixture(scope="session")
def adult_small(adult_train) -> pd.DataFrame:
    """2,000 Adult rows: real data, small enough for fast tests."""
    return adult_train.sample(2000, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="session")
def penguins() -> pd.DataFrame:
    return sl.datasets.load("penguins")


@pytest.fixture
def penguins_csv(tmp_path, penguins) -> Path:
    """The penguins table as a CSV file, for the command-line tests."""
    path = tmp_path / "penguins.csv"
    penguins.to_csv(path, index=False)
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def lineage_location(request, tmp_path):
    """Where a lineage store lives: an SQLite file, and a fresh schema on the PostgreSQL server named by
    SYNTHLOOP_TEST_POSTGRES (``.ci/postgres start`` prints it; without it the PostgreSQL runs skip)."""
    if request.param == "sqlite":
        yield tmp_path / "lineage.db"
        return
    import os
    import uuid

    dsn = os.environ.get("SYNTHLOOP_TEST_POSTGRES")
    if not dsn:
        pytest.skip("SYNTHLOOP_TEST_POSTGRES is not set (eval \"$(.ci/postgres start)\" sets it)")
    psycopg = pytest.importorskip("psycopg")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{dsn}{'&' if '?' in dsn else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as db:
            db.execute(f"DROP SCHEMA {schema} CASCADE")


def _opacus_epsilon(detail, delta: float) -> float:
    """Opacus' own RDP analysis (its default orders, fractional ones included) of a DP-SGD ledger entry, with
    the zCDP bought before training added at every order (rho-zCDP is (alpha, rho·alpha)-RDP)."""
    from opacus.accountants.analysis.rdp import compute_rdp, get_privacy_spent
    from opacus.accountants.rdp import RDPAccountant

    orders = np.asarray(RDPAccountant.DEFAULT_ALPHAS, dtype="float64")
    rdp = np.asarray(compute_rdp(q=detail["sample_rate"], noise_multiplier=detail["noise_multiplier"],
                                 steps=int(detail["steps"]), orders=list(orders))) + detail["prior_rho"] * orders
    return float(get_privacy_spent(orders=list(orders), rdp=rdp, delta=delta)[0])


@pytest.fixture(scope="session")
def opacus_epsilon():
    """Opacus' own epsilon of a DP-SGD ledger entry's detail (see ``_opacus_epsilon``)."""
    return _opacus_epsilon
