"""Lineage: which data is real, which is synthetic, from what, and how many generations deep.

The names below load on first use: ``import synthloop`` reaches ``lineage.fingerprint`` (the report's
holdout overlap check) and need not import sqlite3 and the store with it.
"""

from __future__ import annotations

import importlib

from synthloop.lineage.fingerprint import fingerprint  # bound here, or the submodule would shadow the function

_LAZY = {"DatasetRecord": "store", "LineageStore": "store",
         **{name: "record" for name in ("link_model", "model_link", "provenance_of", "record_fit", "record_sample",
                                        "register_file", "register_table", "sample_provenance", "training_record")}}

__all__ = ["DatasetRecord", "LineageStore", "fingerprint", "link_model", "model_link", "provenance_of",
           "record_fit", "record_sample", "register_file", "register_table", "sample_provenance", "training_record"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"synthloop.lineage.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'synthloop.lineage' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
