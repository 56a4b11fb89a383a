"""The public API stays small, sorted and complete (the httpx pattern; see STYLE.md)."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

import synthloop

# Each curated public name and the module that provides it; a name becomes required once its module exists.
CURATED = {
    "Column": "synthloop.schema",
    "Schema": "synthloop.schema",
    "Report": "synthloop.report",
    "evaluate": "synthloop.report",
    "run_lab": "synthloop.lab",
    "search": "synthloop.tuning",
    "LineageStore": "synthloop.lineage",
    "align": "synthloop.align",
    "datasets": "synthloop.datasets",
    "errors": "synthloop.errors",
    "metrics": "synthloop.metrics",
    "synthesizers": "synthloop.synthesizers",
}
ALSO_ALLOWED = {"__version__"}


def test_all_is_sorted():
    assert list(synthloop.__all__) == sorted(synthloop.__all__)


def test_every_name_in_all_resolves():
    missing = [name for name in synthloop.__all__ if not hasattr(synthloop, name)]
    assert missing == []


def test_all_is_complete_for_the_parts_that_exist():
    present = {name for name, module in CURATED.items() if importlib.util.find_spec(module) is not None}
    assert present <= set(synthloop.__all__), f"add to synthloop.__all__: {sorted(present - set(synthloop.__all__))}"


def test_all_holds_only_curated_names():
    extra = set(synthloop.__all__) - set(CURATED) - ALSO_ALLOWED
    assert extra == set(), f"not part of the curated public API (STYLE.md): {sorted(extra)}"


def test_core_names_are_the_real_objects():
    from synthloop.schema import Column, Schema

    assert synthloop.Schema is Schema and synthloop.Column is Column


def test_version_matches_pyproject():
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert synthloop.__version__ == pyproject["project"]["version"]
