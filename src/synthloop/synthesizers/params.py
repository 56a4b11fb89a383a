"""Parameters checked where they live: one validator over type hints and declared constraints.

Every synthesizer declares its parameters once, as keyword-only ``__init__`` arguments with type
hints and defaults; ranges and choices sit beside them as a class attribute::

    param_constraints = {"critic_steps": Interval(1, None), "lr": Interval(0, None, closed="neither")}

:func:`check_params` is the one place that reads them. ``synthesizers.get``, ``set_params`` and
``fit`` call it; the CLI (``-p KEY=VALUE``), lab TOML configs and a search go through ``get``, so they
all reject the same values with the same words, and every problem is listed in one
:class:`~synthloop.errors.ConfigError` ("3 problems: ..."), not one per attempt. Values are
normalised on the way in (a JSON list becomes the tuple a ``tuple[int, ...]`` parameter holds, an int
becomes the float a ``float`` parameter holds), so ``clone().get_params() == get_params()``;
``__init__`` stores what it is given and never converts.

*Run options* (where to checkpoint, which device, whether to show progress, how many sampling steps
or threads) change how a fit or a sample runs, not what is learned: a class lists them in
``run_options``, and they are never written into a saved model's ``config.json``.

This module is torch-free: the device check imports torch only for a device that needs it.
"""

from __future__ import annotations

import collections.abc
import difflib
import inspect
import json
import math
import numbers
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from synthloop.errors import ConfigError, format_problems

#: Parameters that may be run options wherever a model has them (a model adds its own in ``run_options``).
RUN_OPTIONS = frozenset({"checkpoint_dir", "checkpoint_every", "device", "progress", "sample_steps", "threads"})


# ---------------------------------------------------------------------- constraints
@dataclass(frozen=True)
class Interval:
    """A number in ``[low, high]`` (``None``: unbounded); ``closed`` says which ends are included.

    NaN and infinities are never inside, so ``lr=nan`` or ``epochs=inf`` fail here, not mid-training.
    """

    low: float | None
    high: float | None
    closed: Literal["both", "left", "right", "neither"] = "both"

    def problem(self, value: Any) -> str | None:
        if value is None or isinstance(value, bool) or not isinstance(value, numbers.Real):
            return None                                    # the type check reports it
        if not math.isfinite(value):
            return f"must be a finite number, {self.describe()}"
        low_ok = self.low is None or (value >= self.low if self.closed in ("both", "left") else value > self.low)
        high_ok = self.high is None or (value <= self.high if self.closed in ("both", "right") else value < self.high)
        return None if low_ok and high_ok else f"must be {self.describe()}"

    def describe(self) -> str:
        low = "≥" if self.closed in ("both", "left") else ">"
        high = "≤" if self.closed in ("both", "right") else "<"
        if self.high is None:
            return f"{low} {_number(self.low)}" if self.low is not None else "any number"
        if self.low is None:
            return f"{high} {_number(self.high)}"
        return f"{low} {_number(self.low)} and {high} {_number(self.high)}"


@dataclass(frozen=True)
class Choices:
    """One of a fixed set of values (case-sensitive), with a did-you-mean for strings."""

    options: tuple[Any, ...]

    def problem(self, value: Any) -> str | None:
        if value in self.options:
            return None
        hint = ""
        if isinstance(value, str):
            close = difflib.get_close_matches(value, [o for o in self.options if isinstance(o, str)], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"must be one of {', '.join(map(repr, self.options))}{hint}"

    def describe(self) -> str:
        return "one of " + ", ".join(map(repr, self.options))


@dataclass(frozen=True)
class Items:
    """A sequence whose every item meets ``each``, with at least ``min_len`` items (layer widths, …)."""

    each: Interval | Choices | None = None
    min_len: int = 0

    def problem(self, value: Any) -> str | None:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            return "must be a list"
        if len(value) < self.min_len:
            return f"must list at least {self.min_len} item{'s' * (self.min_len > 1)}"
        if self.each is None:
            return None
        bad = [item for item in value if self.each.problem(item) is not None]
        return f"must hold items {self.each.describe()} (not {', '.join(map(repr, bad[:3]))})" if bad else None

    def describe(self) -> str:
        return "a list" + (f" of items {self.each.describe()}" if self.each is not None else "")


@dataclass(frozen=True)
class Device:
    """``"auto"``, ``"cpu"`` or an accelerator torch can use *here*; otherwise says what is available."""

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, str) or value in ("auto", "cpu"):
            return None
        options = available_devices()
        if value in options:
            return None
        return f"must be a device on this machine; available: {', '.join(options)}"

    def describe(self) -> str:
        return "a device (auto, cpu, cuda, cuda:N where available)"


@dataclass(frozen=True)
class Either:
    """Meets one of ``options`` (e.g. ``"auto"`` or a list of column names); reports the first's problem."""

    options: tuple[Interval | Choices | Items, ...]

    def problem(self, value: Any) -> str | None:
        problems = [option.problem(value) for option in self.options]
        return None if None in problems else problems[0]

    def describe(self) -> str:
        return " or ".join(option.describe() for option in self.options)


Constraint = Interval | Choices | Items | Device | Either

POSITIVE_INT = Interval(1, None)
NON_NEGATIVE = Interval(0, None)
POSITIVE = Interval(0, None, closed="neither")
SEED = Interval(0, None)
#: A layer width or code size: wider layers than this would not fit in memory at any batch size.
WIDTH = Interval(1, 65_536)


def available_devices() -> list[str]:
    """Device names this machine accepts: ``auto``, ``cpu`` and each visible CUDA / MPS device."""
    options = ["auto", "cpu"]
    try:
        import torch
    except ImportError:
        return options
    if torch.cuda.is_available():
        options += ["cuda", *(f"cuda:{i}" for i in range(torch.cuda.device_count()))]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        options.append("mps")
    return options


# ---------------------------------------------------------------------- the validator
def param_names(cls: type) -> list[str]:
    """The keyword-only ``__init__`` parameters of ``cls``, in declaration order."""
    signature = inspect.signature(cls.__init__)
    return [p.name for p in signature.parameters.values() if p.name != "self" and p.kind is p.KEYWORD_ONLY]


def param_defaults(cls: type) -> dict[str, Any]:
    parameters = inspect.signature(cls.__init__).parameters
    return {name: parameters[name].default for name in param_names(cls)}


def run_options(cls: type) -> frozenset[str]:
    """The parameters of ``cls`` that are run options (never saved with a model)."""
    declared = getattr(cls, "run_options", RUN_OPTIONS)
    return frozenset(declared) & frozenset(param_names(cls))


def check_params(cls: type, params: Mapping[str, Any], *, text: bool = False) -> dict[str, Any]:
    """Validate ``params`` for ``cls`` and return them normalised; every problem in one ConfigError.

    ``text=True`` reads each value as the CLI does: a JSON literal when it is one (``50``, ``[64, 64]``,
    ``null``), else the text itself, so ``-p device=cpu`` needs no quotes.
    """
    names = param_names(cls)
    defaults = param_defaults(cls)
    hints = _hints(cls)
    constraints: Mapping[str, Constraint] = getattr(cls, "param_constraints", {})
    label = getattr(cls, "name", cls.__name__)
    problems: list[str] = []
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            problems.append(f"'{key}' is not a parameter of '{label}'.{hint} Parameters: {', '.join(names)}")
            continue
        hint = hints.get(key, Any if defaults[key] is None else type(defaults[key]))
        candidates = (parse_literal(value), value) if text and isinstance(value, str) else (value,)
        accepted = next((c for c in candidates if _accepts(hint, c)), _MISSING)
        if accepted is _MISSING:
            example = f" (default {defaults[key]!r})" if defaults[key] is not inspect.Parameter.empty else ""
            problems.append(f"'{key}' must be {_describe(hint)}, got {value!r}{example}")
            continue
        normalised = _normalise(hint, accepted)
        constraint = constraints.get(key)
        problem = constraint.problem(normalised) if constraint is not None else None
        if problem:
            problems.append(f"'{key}' {problem}, got {accepted!r}")
            continue
        out[key] = normalised
    if problems:
        raise ConfigError(format_problems(f"Invalid parameters for '{label}'", problems,
                                          "See each parameter with: synthloop models"))
    return out


def parse_literal(text: str) -> Any:
    """A JSON literal when the text is one (``50``, ``0.1``, ``true``, ``[128, 128]``, ``null``), else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        lowered = text.strip().lower()
        return {"true": True, "false": False, "none": None}.get(lowered, text)


def describe_constraint(cls: type, name: str) -> str:
    """The declared range or choices of a parameter, in words ("" when none is declared)."""
    constraint = getattr(cls, "param_constraints", {}).get(name)
    return constraint.describe() if constraint is not None else ""


_MISSING = object()


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls.__init__)
    except Exception:  # hints naming types only imported for type checking: fall back to the defaults' types
        return {}


def _options(hint: Any) -> tuple[Any, ...]:
    return typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)


def _accepts(hint: Any, value: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(arg, value) for arg in args)
    if origin is typing.Literal:
        return value in args
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if hint in (tuple, list) or origin in (tuple, list, collections.abc.Sequence):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            return False
        item = args[0] if args and ((len(args) == 2 and args[1] is Ellipsis) or origin is not tuple) else Any
        return all(_accepts(item, v) for v in value)
    if hint is dict or origin in (dict, collections.abc.Mapping):
        return isinstance(value, dict)
    return isinstance(value, hint) if isinstance(hint, type) else True


def _normalise(hint: Any, value: Any) -> Any:
    """Lists become tuples where the parameter is a tuple; numpy scalars become Python numbers; an
    int becomes a float for a float-only parameter."""
    options = _options(hint)
    if isinstance(value, list) and any(o is tuple or typing.get_origin(o) is tuple for o in options):
        value = tuple(value)
    if isinstance(value, tuple):
        return tuple(int(v) if isinstance(v, numbers.Integral) and not isinstance(v, bool) else v for v in value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return float(value) if float in options and int not in options else int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return value


def _describe(hint: Any) -> str:
    options = [o for o in _options(hint)]
    words = []
    for option in options:
        if option is type(None):
            words.append("None")
        elif option in (int, float, str, bool):
            words.append({int: "a whole number", float: "a number", str: "a text", bool: "true or false"}[option])
        elif option is tuple or typing.get_origin(option) in (tuple, list, collections.abc.Sequence):
            words.append("a list such as [64, 64]" if int in typing.get_args(option) else "a list")
        else:
            words.append(str(option).replace("typing.", ""))
    return " or ".join(words)


def _number(value: float | None) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# ---------------------------------------------------------------------- torch-free introspection
def read_signature(target: str) -> tuple[str, dict[str, Any]] | None:
    """The first docstring line and keyword defaults of ``"module:Class"``, read from its source.

    ``synthloop models`` lists every model without importing it: importing the neural models imports
    torch (seconds on a cold or loaded machine, for a table of defaults). The class's own ``__init__``
    is read with :mod:`ast`; defaults that are not literals are shown as written. Returns None when the
    source cannot be read that way (a compiled plugin, an inherited ``__init__``): import it then.
    """
    import ast
    import importlib.util

    module_name, _, class_name = target.partition(":")
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    with open(spec.origin, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    node = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name), None)
    init = next((n for n in (node.body if node else []) if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
    if node is None or init is None:
        return None
    docstring = ast.get_docstring(node) or class_name
    defaults = {}
    for arg, default in zip(init.args.kwonlyargs, init.args.kw_defaults, strict=True):
        if default is None:
            continue
        try:
            defaults[arg.arg] = ast.literal_eval(default)
        except ValueError:
            defaults[arg.arg] = _Source(ast.unparse(default))
    return docstring.strip().splitlines()[0], defaults


class _Source(str):
    """A default shown as its source text (its repr has no quotes)."""

    def __repr__(self) -> str:
        return str(self)
