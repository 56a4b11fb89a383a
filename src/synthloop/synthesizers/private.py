"""What every differentially private model shares: a fit that reads nothing for free, and a ledger in its file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

import pandas as pd
from pydantic import BaseModel

from synthloop.errors import PrivacyError
from synthloop.privacy.accounting import Charge, Ledger, refuse_private_reads
from synthloop.schema import Schema
from synthloop.schema.values import InfOption
from synthloop.synthesizers._stored import STRICT, ArrayCheck


class _Entry(BaseModel):
    model_config = STRICT
    what: str
    mechanism: str
    rho: float
    source: Literal["budget", "public", "outside"]
    detail: dict[str, float]


class LedgerMeta(BaseModel):
    """A stored ledger's shape (its sums are checked by :meth:`Ledger.from_dict` on load)."""

    model_config = STRICT
    epsilon: float
    delta: float
    rho: float
    entries: list[_Entry]


class PrivateFit:
    """Mixin of the DP models (listed before the model's base class).

    ``fit`` refuses a missing schema (unless ``trust_inferred_schema``) and constraints that learn
    from the rows, before anything is read; :meth:`schema_record` is how the model lists the schema's
    category sets and bounds in its ledger: ``public``, or ``outside`` the budget when inferred.
    """

    keeps_training_rows: ClassVar[bool] = False
    needs_learned_columns: ClassVar[bool] = True
    name: ClassVar[str]
    trust_inferred_schema: bool

    def fit(self, data: pd.DataFrame, schema: Schema | None = None, *, inf: InfOption = "error") -> Any:
        refuse_private_reads(self.name, schema, self.trust_inferred_schema)
        self._schema_given = schema is not None
        return super().fit(data, schema, inf=inf)          # type: ignore[misc]

    def schema_record(self, ledger: Ledger) -> Callable[[str], Charge]:
        return ledger.public if getattr(self, "_schema_given", True) else ledger.outside


def check_ledger(check: ArrayCheck, meta: dict[str, Any]) -> None:
    """A stored ledger that overspends or does not match its own budget is one more problem of the file."""
    try:
        Ledger.from_dict(meta["ledger"])
    except PrivacyError as exc:
        check.require(False, str(exc))
