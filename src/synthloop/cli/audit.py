"""``synthloop audit``: the privacy ledger of a differentially private model (every value it read, and its cost)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from synthloop.cli._common import EXIT_CHECK_FAILED, console, working
from synthloop.cli._ledger import print_ledger


def audit(
    model_dir: Annotated[Path, typer.Argument(metavar="MODEL_DIR", help="A saved model folder.")],
    data: Annotated[Path | None, typer.Option("--data", metavar="DATA", help=(
        "Also run a canary membership audit: refit the model's parameters on DATA with and without a canary "
        "row and print an empirical lower bound on epsilon next to the claim (exit 1 if it exceeds it)."))] = None,
    schema: Annotated[Path | None, typer.Option("--schema", metavar="SCHEMA.json",
                                                help="The public schema for the canary fits (default: the model's).")] = None,
    fits: Annotated[int, typer.Option("--fits", min=4, help="Fits per world (with / without the canary).")] = 20,
) -> None:
    """Print the privacy ledger of a DP model (the budget, each measurement's cost, what was public); with
    --data, also a canary audit's empirical epsilon."""
    from synthloop.errors import PrivacyError
    from synthloop.synthesizers import Synthesizer

    model = Synthesizer.load(model_dir)
    ledger = getattr(model, "ledger_", None)
    if ledger is None:
        raise PrivacyError(f"'{model_dir}' holds a '{model.name}' model, which is not differentially private: it has "
                           "no privacy ledger (its samples are protected by the parity step instead, see docs/privacy.md).")
    print_ledger(ledger, f"Privacy ledger of {model_dir} ({model.name})")
    if data is None:
        return
    from synthloop.io import read_table
    from synthloop.privacy.audit import canary_audit
    from synthloop.schema import Schema

    public = Schema.from_json(schema.read_text(encoding="utf-8")) if schema is not None else model.schema_
    fresh = model.clone()
    if "progress" in fresh.get_params():
        fresh.set_params(progress=False)
    with working(f"Canary audit: {2 * fits} fits of {model.name}"):
        result = canary_audit(fresh, read_table(data), public, n_fits=fits)
    console.print(("[green]" if result.consistent else "[red]") + escape(result.summary()), soft_wrap=True)
    if not result.consistent:
        raise typer.Exit(EXIT_CHECK_FAILED)
