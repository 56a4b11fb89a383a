"""Column: what one column of a table is (kind, missing values, categories, bounds)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

Kind = Literal["numeric", "categorical", "boolean", "datetime", "id", "constant"]
KINDS: tuple[str, ...] = ("numeric", "categorical", "boolean", "datetime", "id", "constant")


@dataclass(frozen=True)
class Column:
    """One column of a table.

    Parameters
    ----------
    name
        Column name, exactly as in the data (unicode and spaces are fine).
    kind
        ``numeric``, ``categorical``, ``boolean``, ``datetime``, ``id`` (unique per row, regenerated,
        never learned) or ``constant`` (one value, copied, never learned).
    nullable
        Whether the column may hold missing values.
    categories
        Observed labels of a categorical column (as strings), in a stable order.
    low, high
        Observed (or declared) bounds of a numeric or datetime column; samples are clipped to them.
        Exact Python integers for integer columns (a float64 bound would round ``2**63 - 1`` up).
    integer
        Numeric values are whole numbers and come back as whole numbers (whole days for datetimes).
    dtype
        The pandas dtype the column had, restored on output.
    sensitive
        Marks a column for fairness and attribute-inference checks.
    value
        The value of a ``constant`` column (JSON-compatible).
    decimals
        Samples are rounded to this many decimals, as the training data had (of a second for
        datetimes and durations); None keeps full precision.
    timezone
        The zone of a timezone-aware datetime column ('Asia/Kolkata', 'UTC+05:30'); samples come
        back in it.
    origin
        For an integer column beyond float64's exact range (|value| > 2**53) that spans less than
        2**53: the model view holds ``value - origin``, so every value stays exact.
    """

    name: str
    kind: Kind
    nullable: bool = False
    categories: tuple[str, ...] | None = None
    low: int | float | None = None
    high: int | float | None = None
    integer: bool = False
    dtype: str = "object"
    sensitive: bool = False
    value: Any = field(default=None)
    decimals: int | None = None
    timezone: str | None = None
    origin: int | None = None

    def with_(self, **changes: Any) -> Column:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if out["categories"] is not None:
            out["categories"] = list(out["categories"])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Column:
        data = dict(data)
        if data.get("categories") is not None:
            data["categories"] = tuple(data["categories"])
        return cls(**data)
