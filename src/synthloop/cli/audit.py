"""``synthloop audit``: the privacy ledger of a differentially private model (every value it read, and its cost)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from synthloop.cli._common import console


def audit(model_dir: Annotated[Path, typer.Argument(metavar="MODEL_DIR", help="A saved model folder.")]) -> None:
    """Print the privacy ledger of a DP model: the budget, each measurement's cost, and what was public."""
    from synthloop.errors import PrivacyError
    from synthloop.synthesizers import Synthesizer

    model = Synthesizer.load(model_dir)
    ledger = getattr(model, "ledger_", None)
    if ledger is None:
        raise PrivacyError(f"'{model_dir}' holds a '{model.name}' model, which is not differentially private: it has "
                           "no privacy ledger (its samples are protected by the parity step instead, see docs/privacy.md).")
    table = Table(title=escape(f"Privacy ledger of {model_dir} ({model.name})"))
    for header in ("what", "mechanism", "source", "rho"):
        table.add_column(header, justify="right" if header == "rho" else "left")
    for what, mechanism, source, rho in ledger.rows():
        table.add_row(escape(what), mechanism, source, f"{rho:.3g}" if source == "budget" else "-")
    console.print(table)
    style = "green" if ledger.complete else "yellow"
    console.print(f"[{style}]{escape(ledger.summary())}[/{style}]", soft_wrap=True)
