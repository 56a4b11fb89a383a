"""What the data is: columns, kinds, target and domain constraints."""

from synthloop.schema.column import Column, Kind
from synthloop.schema.constraints import Constraint, FixedCombinations, Inequality, Predicate, Range
from synthloop.schema.schema import Schema

__all__ = ["Column", "Constraint", "FixedCombinations", "Inequality", "Kind", "Predicate", "Range", "Schema"]
