"""Exceptions and warnings raised by synthloop.

Every error a user can cause derives from :class:`SynthloopError`, so callers (and the CLI, which
maps them to exit code 2) can catch one class::

    SynthloopError
    ├── SchemaError            data does not match a schema, or a schema file is invalid
    ├── DataError              unreadable, empty or malformed input tables
    ├── ConfigError            unknown synthesizer, bad parameter, bad lab or gate config
    ├── NotFittedError         sample/save called before fit
    ├── ConditionError         conditional sampling asked for something impossible
    ├── ConstraintError        constraints cannot be satisfied
    ├── ArtifactError          a model directory is missing, corrupt, or not a synthloop model
    ├── LineageError           lineage store missing, corrupt, or unknown dataset id
    │   └── CollapseRiskError  the guard refuses data too synthetic or too deep (strict mode)
    ├── PrivacyError           a privacy setting cannot be met
    ├── AlignmentError         a target distribution cannot be reached from the synthetic rows
    └── MissingDependency      an optional extra is not installed

    SynthloopWarning           advisory messages (constant columns, collapse guard, …)
"""

from __future__ import annotations


class SynthloopError(Exception):
    """Base class for every error synthloop raises on purpose."""


class SchemaError(SynthloopError, ValueError):
    """Data does not match the schema, or the schema itself is invalid."""


class DataError(SynthloopError, ValueError):
    """An input table is unreadable, empty or malformed."""


class ConfigError(SynthloopError, ValueError):
    """A name, parameter or configuration value is not valid."""


class NotFittedError(SynthloopError, RuntimeError):
    """The object must be fitted before this call."""


class ConditionError(SynthloopError, ValueError):
    """A conditional-sampling request cannot be met."""


class ConstraintError(SynthloopError, ValueError):
    """Domain constraints cannot be satisfied."""


class ArtifactError(SynthloopError, OSError):
    """A saved model directory is missing, corrupt or unsafe."""


class LineageError(SynthloopError, ValueError):
    """A lineage store or record is missing or invalid."""


class CollapseRiskError(LineageError):
    """Training data is too synthetic, or too many generations deep, and the guard is strict."""


class PrivacyError(SynthloopError, ValueError):
    """A privacy setting cannot be satisfied for this data."""


class AlignmentError(SynthloopError, ValueError):
    """Synthetic rows cannot be aligned to a target (columns, labels or support it never produces, weights collapse)."""


class MissingDependency(SynthloopError, ImportError):
    """An optional dependency (a synthloop extra) is not installed."""


class SynthloopWarning(UserWarning):
    """Advisory warnings from synthloop."""


def format_problems(headline: str, problems: list[str], fix: str = "") -> str:
    """One message for several problems: ``"Headline (3 problems):\n  - a\n  - b\n  - c\nfix"``.

    Validators collect every problem before raising, so a user fixes a config in one round.
    """
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"{headline} ({count}):\n{lines}" + (f"\n{fix}" if fix else "")


def require(module: str, extra: str, purpose: str):
    """Import an optional module or raise :class:`MissingDependency` naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(
            f"{purpose} needs the '{module}' package. Install it with: pip install 'synthloop[{extra}]'"
        ) from exc
