"""One registry mechanic for every "name → object" table: synthesizers, metrics, datasets, transforms, policies.

A :class:`Registry` maps names to objects or to lazy ``"module:attribute"`` strings (imported on first
use, so listing synthesizers never imports torch), can take third-party entries from an
entry-point group, and answers an unknown name with one :class:`~synthloop.errors.ConfigError`
carrying a did-you-mean and the available names (:func:`unknown_name`). A leaf module: it imports
nothing from synthloop but the errors.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Generic, TypeVar

from synthloop.errors import ConfigError

T = TypeVar("T")


def unknown_name(kind: str, name: object, known: Iterable[str]) -> ConfigError:
    """``Unknown metric 'ks_tset'. Did you mean 'ks_test'? Available: ...`` as an error to raise."""
    known = list(known)
    close = difflib.get_close_matches(str(name), known, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return ConfigError(f"Unknown {kind} '{name}'.{hint} Available: {', '.join(known) or 'none'}.")


class Registry(Generic[T]):
    """Named entries of one ``kind``; built-ins keep their order, entry-point plugins follow sorted."""

    def __init__(self, kind: str, entries: Mapping[str, T | str] | None = None, *, entry_point_group: str | None = None):
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._entries: dict[str, T | str] = dict(entries or {})

    def register(self, name: str, entry: T | str) -> None:
        """Add ``entry`` (an object, or a lazy ``"module:attribute"``) under ``name``; names are unique."""
        if name in self._entries and self._entries[name] is not entry:
            raise ConfigError(f"{self.kind} '{name}' is registered twice.")
        self._entries[name] = entry

    def _all(self) -> dict[str, T | str]:
        found = dict(self._entries)
        if self.entry_point_group is not None:
            from importlib.metadata import entry_points

            for entry in entry_points(group=self.entry_point_group):
                found.setdefault(entry.name, entry.value)
        return found

    def names(self) -> list[str]:
        """Registered names: built-ins in registration order, then plugins sorted."""
        return [*self._entries, *sorted(set(self._all()) - set(self._entries))]

    def target(self, name: str) -> T | str:
        """The raw entry (a lazy ``"module:attribute"`` stays a string): for introspection without importing."""
        entries = self._all()
        if name not in entries:
            raise unknown_name(self.kind, name, self.names())
        return entries[name]

    def get(self, name: str) -> T:
        """The object registered under ``name``, imported on first use."""
        entry = self.target(name)
        if isinstance(entry, str):
            module_name, _, attribute = entry.partition(":")
            return getattr(importlib.import_module(module_name), attribute)
        return entry

    def __contains__(self, name: object) -> bool:
        return name in self._all()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


__all__ = ["Registry", "unknown_name"]
