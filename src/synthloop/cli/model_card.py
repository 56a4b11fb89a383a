"""``synthloop models show DIR``: a saved model's kind, parameters, training size and, for DP models, its ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from synthloop.cli._common import console, human_size
from synthloop.cli._ledger import print_ledger


def show(model_dir: Annotated[Path, typer.Argument(metavar="DIR", help="A saved model folder.")]) -> None:
    """Describe a saved model from its JSON (never its weights, never code): kind, parameters, columns, and
    the privacy ledger of a differentially private model (mechanism, rho, what each measurement bought)."""
    from synthloop.synthesizers.card import describe

    card = describe(model_dir)
    console.print(f"[bold]{escape(card.kind)}[/bold]" + (f": {escape(card.summary)}" if card.summary else ""),
                  soft_wrap=True)
    console.print(f"{escape(str(card.path))}: trained on {card.n_training_rows:,} rows, "
                  f"{len(card.schema.columns)} columns" + (f" (target {escape(card.schema.target)})"
                                                             if card.schema.target else "")
                  + f"; synthloop {escape(card.synthloop_version)}; {human_size(card.size_bytes)}", soft_wrap=True,
                  highlight=False)
    table = Table(title="Parameters", title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in card.params.items():
        table.add_row(escape(name), escape(repr(value)))
    console.print(table)
    if card.ledger is not None:
        print_ledger(card.ledger, f"Privacy ledger ({card.kind}: (epsilon, delta)-DP, zCDP accounting)")
        return
    kept = ("keeps its privacy reference inside the folder (every training row: share it like the training data)"
            if card.privacy_reference else "holds no training row")
    console.print(f"Not differentially private: no privacy ledger. Its samples are checked by the parity step "
                  f"(sample --privacy parity, see docs/privacy.md); this folder {kept}.", soft_wrap=True)
