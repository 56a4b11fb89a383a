"""Table primitives shared by metrics, privacy, synthesizers and the coming drift monitor.

A leaf package (it imports nothing else from synthloop), so every part that compares rows or columns
uses one definition of each concept:

- :mod:`~synthloop.tabular.hashing`: one 64-bit row hash (numbers canonicalised the same way everywhere);
- :mod:`~synthloop.tabular.labels`: one rule that turns any value into a category label;
- :mod:`~synthloop.tabular.geometry`: one mixed-table distance (standardised numerics, pooled one-hot labels);
- :mod:`~synthloop.tabular.divergences`: per-column KS, TVD, Wasserstein, Jensen–Shannon, PSI, tail share.
"""
