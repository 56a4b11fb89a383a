"""synthloop: synthetic tabular data that stays trustworthy when it is used again and again.

>>> import synthloop as sl
>>> real = sl.datasets.load("penguins")
>>> schema = sl.Schema.infer(real, target="species")
>>> schema["species"].kind
'categorical'
"""

from synthloop import align, datasets, errors, metrics, synthesizers
from synthloop._version import __version__
from synthloop.report import Report, evaluate
from synthloop.schema import Column, Schema

__all__ = ["Column", "LineageStore", "Report", "Schema", "__version__", "align", "datasets", "errors", "evaluate",
           "metrics", "run_lab", "search", "synthesizers"]

# Imported on first use, so `import synthloop` stays light.
_LAZY = {"run_lab": "synthloop.lab.run", "LineageStore": "synthloop.lineage.store", "search": "synthloop.tuning"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'synthloop' has no attribute '{name}'")
