"""Moved to :mod:`synthloop.loop.verifiers`; kept so existing imports work."""

from synthloop.loop.verifiers import DensityRatioVerifier, FittedVerifier, TypicalityScore, Verifier

__all__ = ["DensityRatioVerifier", "FittedVerifier", "TypicalityScore", "Verifier"]
