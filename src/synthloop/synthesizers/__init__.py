"""Synthesizers: models that learn a table and sample from it.

The registry maps a name to ``"module:Class"`` and imports lazily, so listing models never imports
torch. Third-party packages can add models through the ``synthloop.synthesizers`` entry-point group.
"""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points
from typing import Any

from synthloop.errors import ConfigError
from synthloop.synthesizers.base import Synthesizer

_REGISTRY: dict[str, str] = {
    "independent": "synthloop.synthesizers.independent:IndependentMarginals",
    "gaussian_copula": "synthloop.synthesizers.gaussian_copula:GaussianCopula",
    "cart": "synthloop.synthesizers.cart:SequentialCART",
    "ctgan": "synthloop.synthesizers.ctgan:CTGAN",
    "tvae": "synthloop.synthesizers.tvae:TVAE",
    "tabddpm": "synthloop.synthesizers.tabddpm:TabDDPM",
    "argn": "synthloop.synthesizers.argn:TabularARGN",
}


def _all() -> dict[str, str]:
    found = dict(_REGISTRY)
    for entry in entry_points(group="synthloop.synthesizers"):
        found.setdefault(entry.name, entry.value)
    return found


def available() -> list[str]:
    """Registered synthesizer names, built-in first."""
    names = _all()
    return [*_REGISTRY, *sorted(set(names) - set(_REGISTRY))]


def get_class(name: str) -> type[Synthesizer]:
    """The class registered under ``name`` (imports its module on first use)."""
    registry = _all()
    if name not in registry:
        close = difflib.get_close_matches(name, list(registry), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"Unknown synthesizer '{name}'.{hint} Available: {', '.join(available())}.")
    module_name, _, class_name = registry[name].partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, class_name)


def get(name: str, **params: Any) -> Synthesizer:
    """Create the synthesizer registered under ``name`` with the given parameters."""
    cls = get_class(name)
    return cls().set_params(**params) if params else cls()


__all__ = ["Synthesizer", "available", "get", "get_class"]
