"""Reversible column encodings for neural synthesizers: TableEncoder and the Layout it publishes."""

from synthloop.transforms.base import ColumnTransform, Layout, Span, SpanSpec
from synthloop.transforms.categorical import OneHotTransform
from synthloop.transforms.numeric import ModeSpecificNormalizer, NumericTransform, QuantileNormalizer
from synthloop.transforms.table import TableEncoder

__all__ = [
    "ColumnTransform",
    "Layout",
    "ModeSpecificNormalizer",
    "NumericTransform",
    "OneHotTransform",
    "QuantileNormalizer",
    "Span",
    "SpanSpec",
    "TableEncoder",
]
