"""Moved to :mod:`synthloop.loop.policies`; kept so existing imports work."""

from synthloop.loop.policies import Accumulate, Filtered, MixReal, NaiveFilter, Policy, Replace

__all__ = ["Accumulate", "Filtered", "MixReal", "NaiveFilter", "Policy", "Replace"]
