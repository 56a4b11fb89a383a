"""Loop settings as values: policies and verifiers are frozen dataclasses named in one registry.

A run of the lab, a feedback refit and its lineage record all need to say *which* policy they used
in a form that survives a file and compares equal on the next run. ``repr`` does not (a verifier
object's repr holds a memory address), so every loop value converts to a plain, JSON-ready mapping
with :meth:`LoopValue.to_config` and back with :meth:`LoopValue.from_config`, through
:data:`REGISTRY` (kind, name) → class. Nested values (a policy's verifier) nest as mappings.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from synthloop.errors import ConfigError

#: (kind, name) → class, for every registered loop value ("policy", "verifier").
REGISTRY: dict[tuple[str, str], type[LoopValue]] = {}

V = TypeVar("V", bound="type[LoopValue]")


class LoopValue:
    """Base of policies and verifiers: a frozen dataclass with a registered ``name``."""

    kind: ClassVar[str] = "value"
    name: ClassVar[str] = ""

    def to_config(self) -> dict[str, Any]:
        """``{"name": ..., field: value, ...}``: plain data, equal for equal settings (JSON/TOML-ready)."""
        config: dict[str, Any] = {"name": self.name}
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            config[field.name] = value.to_config() if isinstance(value, LoopValue) else value
        return config

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LoopValue:
        """The registered value of this kind that ``config`` names, with every problem listed in one error."""
        if isinstance(config, LoopValue):
            return config
        if not isinstance(config, Mapping) or "name" not in config:
            raise ConfigError(f"A {cls.kind} config is a table with a 'name' key, got {config!r}.")
        name = str(config["name"])
        target = REGISTRY.get((cls.kind, name))
        if target is None or not issubclass(target, cls):
            names = sorted(n for k, n in REGISTRY if k == cls.kind)
            close = difflib.get_close_matches(name, names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown {cls.kind} {name!r}{hint}; choose one of {', '.join(names)}")
        return target._build({k: v for k, v in config.items() if k != "name"})

    @classmethod
    def _build(cls, settings: Mapping[str, Any]) -> LoopValue:
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
        hints = typing.get_type_hints(cls)
        problems = [f"unknown setting {key!r} for {cls.kind} '{cls.name}' (settings: {', '.join(fields) or 'none'})"
                    for key in settings if key not in fields]
        values: dict[str, Any] = {}
        for key, value in settings.items():
            if key not in fields:
                continue
            expected = hints.get(key)
            if isinstance(expected, type) and issubclass(expected, LoopValue):
                try:
                    values[key] = expected.from_config(value)
                except ConfigError as exc:
                    problems.append(f"{key}: {exc}")
                continue
            problem = _type_problem(value, expected)
            if problem:
                problems.append(f"{cls.kind} '{cls.name}' setting {key!r} {problem}")
            else:
                values[key] = float(value) if expected is float else value
        if problems:
            raise ConfigError("; ".join(problems))
        return cls(**values)


def _type_problem(value: Any, expected: Any) -> str | None:
    """Why ``value`` does not fit a plain type hint (bool, int, float, str), or None."""
    if expected is bool and not isinstance(value, bool):
        return f"must be true or false, got {value!r}"
    if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
        return f"must be an integer, got {value!r}"
    if expected is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"must be a number, got {value!r}"
    if expected is str and not isinstance(value, str):
        return f"must be text, got {value!r}"
    return None


def register(name: str) -> Callable[[V], V]:
    """Class decorator: name a loop value and list it in :data:`REGISTRY` under its kind."""

    def decorate(cls: V) -> V:
        key = (cls.kind, name)
        if key in REGISTRY and REGISTRY[key].__qualname__ != cls.__qualname__:
            raise ConfigError(f"A {cls.kind} named '{name}' is already registered.")
        cls.name = name
        REGISTRY[key] = cls
        return cls

    return decorate


def available(kind: str) -> list[str]:
    """Registered names of one kind (``"policy"``, ``"verifier"``)."""
    return sorted(name for k, name in REGISTRY if k == kind)
