"""synthloop: synthetic tabular data that stays trustworthy when it is used again and again.

>>> import synthloop as sl
>>> real = sl.datasets.load("penguins")
>>> schema = sl.Schema.infer(real, target="species")
>>> schema["species"].kind
'categorical'
"""

from synthloop import datasets, errors, metrics, synthesizers
from synthloop.report import Report, evaluate
from synthloop.schema import Column, Schema

__version__ = "0.1.0"

__all__ = ["Column", "Report", "Schema", "__version__", "datasets", "errors", "evaluate", "metrics", "synthesizers"]
