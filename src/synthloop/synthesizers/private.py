"""What every differentially private model shares: a fit that reads nothing for free, and a ledger in its file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

import pandas as pd
from pydantic import BaseModel

from synthloop.errors import PrivacyError
from synthloop.privacy.accounting import Charge, Ledger, refuse_private_reads
from synthloop.privacy.domains import DomainPlan, buy_domains, dp_row_count
from synthloop.schema import Schema
from synthloop.schema.values import InfOption
from synthloop.synthesizers._stored import STRICT, ArrayCheck
from synthloop.synthesizers.params import Interval
from synthloop.synthesizers.seeds import SeedTree

#: Share of the budget the DP-SGD models spend on a DP row count (it sets their sampling rate and batch size).
ROW_COUNT_SHARE = 0.01
#: ``domain_share``: a share of the budget, below all of it (the model needs the rest).
DOMAIN_SHARE = Interval(0, 1, closed="left")


class _Entry(BaseModel):
    model_config = STRICT
    what: str
    mechanism: str
    rho: float
    source: Literal["budget", "public", "outside"]
    detail: dict[str, float]
    delta: float = 0.0


class LedgerMeta(BaseModel):
    """A stored ledger's shape (its sums are checked by :meth:`Ledger.from_dict` on load)."""

    model_config = STRICT
    epsilon: float
    delta: float
    rho: float
    reserved_delta: float = 0.0
    entries: list[_Entry]


class PrivateFit:
    """Mixin of the DP models (listed before the model's base class).

    ``fit`` refuses a missing schema (unless ``trust_inferred_schema``), constraints that learn from the
    rows, and a schema without bounds or category lists when ``domain_share`` is 0, before anything is
    read. A model's ``_fit`` starts with :meth:`open_ledger`, which buys what the schema lacks
    (:mod:`synthloop.privacy.domains`) with ``domain_share`` of the budget; :meth:`schema_record` is how
    the model lists the rest of the schema's category sets and bounds: ``public``, or ``outside`` the
    budget when inferred.
    """

    keeps_training_rows: ClassVar[bool] = False
    needs_learned_columns: ClassVar[bool] = True
    name: ClassVar[str]
    trust_inferred_schema: bool
    domain_share: float
    epsilon: float
    delta: float
    schema_: Schema

    def fit(self, data: pd.DataFrame, schema: Schema | None = None, *, inf: InfOption = "error") -> Any:
        refuse_private_reads(self.name, schema, self.trust_inferred_schema)
        gaps = DomainPlan.of(schema) if schema is not None else None
        if gaps is not None and not gaps.empty and not self.domain_share:
            raise gaps.refusal(self.name)
        self._schema_given = schema is not None
        return super().fit(data, schema, inf=inf)          # type: ignore[misc]

    def open_ledger(self, data: pd.DataFrame, seeds: SeedTree) -> tuple[pd.DataFrame, Ledger]:
        """The fit's ledger, after buying the bounds and category sets the schema lacks (``self.schema_`` is
        completed with them); the rows to learn: those whose labels were kept (all, when nothing was bought).

        Half of delta is reserved for partition selection when a category set is bought."""
        gaps = DomainPlan.of(self.schema_)
        ledger = Ledger(self.epsilon, self.delta, n_rows=len(data),
                        reserved_delta=self.delta / 2 if gaps.categories else 0.0)
        self._bought = frozenset((*gaps.bounds, *gaps.categories))
        if gaps.empty:
            return data, ledger
        self.schema_, data = buy_domains(gaps, self.schema_, data, self.domain_share * ledger.rho, ledger,
                                         seeds.generator("domains"))
        return data, ledger

    def buy_row_count(self, n_rows: int, share: float, ledger: Ledger, seeds: SeedTree, *, why: str) -> float:
        """A DP estimate of the row count for ``share`` of the budget; also kept as ``n_training_rows_``."""
        count = dp_row_count(n_rows, share * ledger.rho, ledger, seeds.generator("count"), why=why)
        self.n_training_rows_ = round(count)          # the exact count is never stored
        return count

    def schema_record(self, ledger: Ledger) -> Callable[[str], Charge]:
        return ledger.public if getattr(self, "_schema_given", True) else ledger.outside

    @property
    def bought_columns(self) -> frozenset[str]:
        """Columns whose bounds or category set this fit bought (their ledger entries are the purchases)."""
        return getattr(self, "_bought", frozenset())


def check_ledger(check: ArrayCheck, meta: dict[str, Any]) -> None:
    """A stored ledger that overspends or does not match its own budget is one more problem of the file."""
    try:
        Ledger.from_dict(meta["ledger"])
    except PrivacyError as exc:
        check.require(False, str(exc))
