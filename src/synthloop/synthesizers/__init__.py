"""Synthesizers: models that learn a table and sample from it.

The registry maps a name to ``"module:Class"`` and imports lazily, so listing models never imports
torch. Third-party packages can add models through the ``synthloop.synthesizers`` entry-point group.
"""

from __future__ import annotations

from typing import Any

from synthloop.registry import Registry
from synthloop.synthesizers.base import Synthesizer
from synthloop.synthesizers.conditions import OneOf, Range
from synthloop.synthesizers.params import check_params

REGISTRY: Registry[type[Synthesizer]] = Registry("synthesizer", {
    "independent": "synthloop.synthesizers.independent:IndependentMarginals",
    "gaussian_copula": "synthloop.synthesizers.gaussian_copula:GaussianCopula",
    "cart": "synthloop.synthesizers.cart:SequentialCART",
    "ctgan": "synthloop.synthesizers.ctgan:CTGAN",
    "tvae": "synthloop.synthesizers.tvae:TVAE",
    "tabddpm": "synthloop.synthesizers.tabddpm:TabDDPM",
    "argn": "synthloop.synthesizers.argn:TabularARGN",
    "dp_mst": "synthloop.synthesizers.dp_mst:DPMST",
    "dp_vae": "synthloop.synthesizers.dp_vae:DPVAE",
    "dp_argn": "synthloop.synthesizers.dp_argn:DPARGN",
}, entry_point_group="synthloop.synthesizers")


def available() -> list[str]:
    """Registered synthesizer names, built-in first."""
    return REGISTRY.names()


def get_class(name: str) -> type[Synthesizer]:
    """The class registered under ``name`` (imports its module on first use)."""
    return REGISTRY.get(name)


def get(name: str, **params: Any) -> Synthesizer:
    """Create the synthesizer registered under ``name`` with the given parameters."""
    cls = get_class(name)
    return cls(**check_params(cls, params))


__all__ = ["REGISTRY", "OneOf", "Range", "Synthesizer", "available", "get", "get_class"]
