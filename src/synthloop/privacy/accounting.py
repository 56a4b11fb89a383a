"""Differential-privacy accounting in zero-concentrated DP (zCDP), and the ledger that enforces a budget.

A DP model is given ``(epsilon, delta)``; it converts them once to a zCDP budget ``rho``
(:func:`rho_for`, the conversion of Canonne, Kamath and Steinke 2020, which is tighter than
``rho = eps**2 / (4 log(1/delta))``), and every release of a data-dependent value is charged to a
:class:`Ledger` *before* it happens. zCDP composes by adding rho, so the ledger is a sum; a charge
that would take the total past the budget raises :class:`~synthloop.errors.PrivacyError` and nothing
is released.

Values the model uses without paying (category sets, numeric bounds, row counts, ...) must come from
a public schema the user supplies; the ledger lists them as ``public`` entries (rho 0), so "what did
this model read" has one answer. A schema inferred from the training data is recorded as
``outside the budget`` and the ledger says the guarantee does not cover it (:attr:`Ledger.complete`).

**A share of delta for partition selection.** Releasing the labels of a categorical column that the
schema does not list (:mod:`synthloop.privacy.domains`) cannot be pure zCDP: a label held by one row
is released with a small probability. The ledger then keeps ``reserved_delta`` of delta for such
releases (each charge says how much of it it uses) and converts only ``delta - reserved_delta`` to rho:
approximate zCDP composes by adding both (Bun and Steinke 2016), so the total stays (epsilon, delta).

This module is numpy/scipy-only: ``synthloop audit`` reads a ledger without JAX or torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from synthloop.errors import ConfigError, PrivacyError

#: Relative slack on the budget check: rounding in sigma = sqrt(Δ²/2ρ) must not refuse the last charge.
_SLACK = 1e-9

Source = Literal["budget", "public", "outside"]


# ---------------------------------------------------------------------- zCDP <-> (eps, delta)
def delta_for(rho: float, epsilon: float) -> float:
    """The smallest delta such that rho-zCDP implies (epsilon, delta)-DP (Canonne, Kamath, Steinke 2020, Prop. 12).

    delta = min over alpha > 1 of exp((alpha-1)(alpha*rho - epsilon)) / (alpha-1) * (1 - 1/alpha)**alpha;
    the objective is convex in alpha, so a bounded scalar search finds it.
    """
    if rho <= 0:
        return 0.0
    from scipy.optimize import minimize_scalar

    def log_delta(alpha: float) -> float:
        return (alpha - 1) * (alpha * rho - epsilon) + alpha * math.log1p(-1 / alpha) - math.log(alpha - 1)

    high = max((epsilon + 1) / (2 * rho) + 2, 2.0)
    best = minimize_scalar(log_delta, bounds=(1.0 + 1e-9, high), method="bounded", options={"xatol": 1e-10})
    return float(min(math.exp(min(best.fun, 0.0)), 1.0))


def epsilon_for(rho: float, delta: float) -> float:
    """The smallest epsilon such that rho-zCDP implies (epsilon, delta)-DP (bisection on :func:`delta_for`)."""
    if rho <= 0:
        return 0.0
    low, high = 0.0, rho + 2 * math.sqrt(rho * math.log(1 / delta)) + 1.0     # the classic bound is an upper end
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (low, middle) if delta_for(rho, middle) <= delta else (middle, high)
    return high


def rho_for(epsilon: float, delta: float) -> float:
    """The largest zCDP rho whose (epsilon, delta) guarantee holds: the budget a DP model spends."""
    check_budget(epsilon, delta)
    low, high = 0.0, epsilon            # rho-zCDP implies (rho + 2 sqrt(rho log 1/δ), δ): rho < eps always
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if delta_for(middle, epsilon) <= delta else (low, middle)
    return low


def check_budget(epsilon: float, delta: float, n_rows: int | None = None) -> None:
    """Refuse budgets that promise nothing: epsilon ≤ 0, delta outside (0, 1), or delta ≥ 1/n."""
    problems = []
    if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon > 0):
        problems.append(f"epsilon must be a finite number > 0, got {epsilon!r}")
    if not (isinstance(delta, (int, float)) and 0 < delta < 1):
        problems.append(f"delta must be in (0, 1), got {delta!r}")
    elif n_rows is not None and delta >= 1 / n_rows:
        problems.append(f"delta = {delta:g} is ≥ 1/n = {1 / n_rows:.3g} for {n_rows:,} rows: a mechanism could then "
                        "publish a whole row and still meet it; use delta well below 1/n (e.g. 1e-5 or 1/n²)")
    if problems:
        raise ConfigError("Invalid privacy budget:\n" + "\n".join(f"  - {p}" for p in problems))


# ---------------------------------------------------------------------- the ledger
@dataclass(frozen=True)
class Charge:
    """One entry of a ledger: what was bought or read, by which mechanism, at what zCDP cost."""

    what: str                      # "1-way marginal of age", "category set of workclass", ...
    mechanism: str                 # "gaussian", "exponential", "public schema", "inferred from the data"
    rho: float                     # zCDP cost (0 for public values; inf would void the guarantee)
    source: Source = "budget"
    detail: Mapping[str, float] = field(default_factory=dict)   # sigma, sensitivity, epsilon of the mechanism
    delta: float = 0.0             # the share of the reserved delta this release may fail with (partition selection)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["detail"] = dict(self.detail)
        return out


class Ledger:
    """The privacy budget of one fit and every charge against it; refuses to overspend.

    ``charge`` records a release before it is made; ``public`` records a value taken from the
    user's schema; ``outside`` records a value read from the data without paying (then
    :attr:`complete` is False and every report says so).
    """

    def __init__(self, epsilon: float, delta: float, *, n_rows: int | None = None, reserved_delta: float = 0.0):
        check_budget(epsilon, delta, n_rows)
        if not 0 <= reserved_delta < delta:
            raise ConfigError(f"reserved_delta must be in [0, delta = {delta:g}), got {reserved_delta!r}")
        self.epsilon = float(epsilon)
        self.delta = float(delta)
        self.reserved_delta = float(reserved_delta)
        self.rho = rho_for(epsilon, delta - reserved_delta)
        self.entries: list[Charge] = []

    # ------------------------------------------------------------------ recording
    def charge(self, what: str, mechanism: str, rho: float, *, delta: float = 0.0, **detail: float) -> Charge:
        """Spend ``rho`` (and ``delta`` of the reserved delta) on ``what``; PrivacyError (and nothing recorded)
        when the budget cannot cover it."""
        if not (math.isfinite(rho) and rho > 0):
            raise PrivacyError(f"A charge must cost a finite rho > 0, got {rho!r} for {what}.")
        if self.spent + rho > self.rho * (1 + _SLACK):
            raise PrivacyError(f"Privacy budget exceeded: {what} would cost rho = {rho:.4g}, but only "
                               f"{self.remaining:.4g} of rho = {self.rho:.4g} (epsilon = {self.epsilon:g}, "
                               f"delta = {self.delta:g}) is left. Nothing was released.")
        if not 0 <= delta <= self.reserved_delta * (1 + _SLACK) - self.spent_delta:
            raise PrivacyError(f"Privacy budget exceeded: {what} needs delta = {delta:.3g} of the "
                               f"{self.reserved_delta:.3g} reserved, of which {self.spent_delta:.3g} is spent. "
                               "Nothing was released.")
        entry = Charge(what, mechanism, float(rho), "budget", dict(detail), float(delta))
        self.entries.append(entry)
        return entry

    def public(self, what: str, mechanism: str = "public schema") -> Charge:
        entry = Charge(what, mechanism, 0.0, "public")
        self.entries.append(entry)
        return entry

    def outside(self, what: str, mechanism: str = "inferred from the training data") -> Charge:
        entry = Charge(what, mechanism, 0.0, "outside")
        self.entries.append(entry)
        return entry

    # ------------------------------------------------------------------ reading
    @property
    def spent(self) -> float:
        return math.fsum(e.rho for e in self.entries)

    @property
    def spent_delta(self) -> float:
        """The part of the reserved delta the releases so far may fail with."""
        return math.fsum(e.delta for e in self.entries)

    @property
    def remaining(self) -> float:
        return max(self.rho - self.spent, 0.0)

    @property
    def complete(self) -> bool:
        """True when every value the model read was paid for or public (no ``outside`` entry)."""
        return not any(e.source == "outside" for e in self.entries)

    def spent_epsilon(self) -> float:
        """The (epsilon, delta) guarantee of what was actually spent, at the ledger's delta."""
        return epsilon_for(self.spent, self.delta - self.reserved_delta)

    def summary(self) -> str:
        words = (f"rho = {self.spent:.4g} of {self.rho:.4g} spent (epsilon = {self.spent_epsilon():.3g} of "
                 f"{self.epsilon:g} at delta = {self.delta:g}) over {sum(e.source == 'budget' for e in self.entries)} "
                 "measurements")
        if self.spent_delta:
            words += (f"; {self.spent_delta:.2g} of delta is the chance that partition selection releases a label "
                      "held by one row")
        if not self.complete:
            outside = sum(e.source == "outside" for e in self.entries)
            words += (f"; NOT a complete guarantee: {outside} value(s) were read from the training data outside "
                      "the budget (a schema inferred from the data); fit with a public schema")
        return words

    # ------------------------------------------------------------------ state
    def to_dict(self) -> dict[str, Any]:
        return {"epsilon": self.epsilon, "delta": self.delta, "rho": self.rho, "reserved_delta": self.reserved_delta,
                "entries": [e.to_dict() for e in self.entries]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ledger:
        """Rebuild a stored ledger; a stored total over its own budget is refused (a tampered file)."""
        ledger = cls(data["epsilon"], data["delta"], reserved_delta=float(data.get("reserved_delta", 0.0)))
        if abs(ledger.rho - float(data["rho"])) > 1e-6 * max(ledger.rho, 1e-12):
            raise PrivacyError(f"The stored ledger's rho {data['rho']!r} does not match its epsilon and delta.")
        ledger.entries = [_entry(e) for e in data["entries"]]
        if ledger.spent > ledger.rho * (1 + _SLACK):
            raise PrivacyError(f"The stored ledger spends rho = {ledger.spent:.4g}, over its budget {ledger.rho:.4g}.")
        if ledger.spent_delta > ledger.reserved_delta * (1 + _SLACK):
            raise PrivacyError(f"The stored ledger spends delta = {ledger.spent_delta:.3g}, over its reserved "
                               f"{ledger.reserved_delta:.3g}.")
        return ledger

    def rows(self) -> Sequence[tuple[str, str, str, float]]:
        """(what, mechanism, source, rho) per entry: what ``synthloop audit`` prints."""
        return [(e.what, e.mechanism, e.source, e.rho) for e in self.entries]

    def grouped(self) -> Sequence[tuple[str, str, int, str, float]]:
        """(mechanism, source, entries, the first entry's what, total rho) per mechanism and source, in
        first-seen order: the short ledger ``synthloop fit`` prints."""
        groups: dict[tuple[str, str], list[Charge]] = {}
        for entry in self.entries:
            groups.setdefault((entry.mechanism, entry.source), []).append(entry)
        return [(mechanism, source, len(entries), entries[0].what, math.fsum(e.rho for e in entries))
                for (mechanism, source), entries in groups.items()]


def _entry(data: Mapping[str, Any]) -> Charge:
    source = data["source"]
    if source not in ("budget", "public", "outside"):
        raise PrivacyError(f"Unknown ledger entry source {source!r}.")
    rho = float(data["rho"])
    delta = float(data.get("delta", 0.0))
    if not math.isfinite(rho) or rho < 0 or (source != "budget" and rho != 0) or not 0 <= delta < 1:
        raise PrivacyError(f"Invalid ledger entry cost {rho!r} (delta {delta!r}) for {data['what']!r}.")
    return Charge(str(data["what"]), str(data["mechanism"]), rho, source,
                  {str(k): float(v) for k, v in dict(data.get("detail", {})).items()}, delta)


def refuse_private_reads(model: str, schema: Any, trust_inferred_schema: bool) -> None:
    """What a DP model may not read for free: a schema inferred from the data (unless the user accepts a
    guarantee that excludes it) and constraints that learn their allowed values from the training rows."""
    from synthloop.schema.constraints import Constraint

    if schema is None and not trust_inferred_schema:
        raise PrivacyError(f"{model} reads category sets and numeric bounds from a public schema, never from the "
                           "data for free. Pass one (synthloop schema infer DATA -o schema.json, review it, then "
                           "--schema schema.json), or set trust_inferred_schema=true to accept a guarantee "
                           "that excludes them.")
    reading = [type(c).__name__ for c in (schema.constraints if schema is not None else ())
               if type(c).fitted is not Constraint.fitted]
    if reading:
        raise PrivacyError(f"Constraint(s) {', '.join(reading)} learn their allowed values from the training data, "
                           "outside the privacy budget; a DP model refuses them. Use Range, Inequality or "
                           "Predicate constraints (checked on the synthetic rows: post-processing).")
