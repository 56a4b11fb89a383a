"""How the CLI shows a privacy ledger: every entry (``audit``, ``models show``) or one row per mechanism (``fit``)."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from synthloop.cli._common import console
from synthloop.privacy.accounting import Ledger


def print_ledger(ledger: Ledger, title: str, *, short: bool = False) -> None:
    """The ledger as a table (``short``: one row per mechanism and source), then its summary line."""
    table = Table(title=escape(title), title_justify="left")
    if short:
        for header in ("mechanism", "source", "entries", "what it bought (first entry)", "rho"):
            table.add_column(header, justify="right" if header in ("entries", "rho") else "left", overflow="fold")
        for mechanism, source, count, what, rho in ledger.grouped():
            table.add_row(mechanism, source, str(count), escape(what), _rho(source, rho))
    else:
        for header in ("what it bought", "mechanism", "source", "rho", "detail"):
            table.add_column(header, justify="right" if header == "rho" else "left", overflow="fold")
        for entry in ledger.entries:
            detail = ", ".join(f"{key}={value:.4g}" for key, value in
                               {**entry.detail, **({"delta": entry.delta} if entry.delta else {})}.items())
            table.add_row(escape(entry.what), entry.mechanism, entry.source, _rho(entry.source, entry.rho), detail)
    console.print(table)
    style = "green" if ledger.complete else "yellow"
    console.print(f"[{style}]{escape(ledger.summary())}[/{style}]", soft_wrap=True)


def _rho(source: str, rho: float) -> str:
    return f"{rho:.3g}" if source == "budget" else "-"
