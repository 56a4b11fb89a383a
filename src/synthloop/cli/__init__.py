"""The ``synthloop`` command line. Each command parses arguments, makes one library call and renders
the result; it holds no logic. Exit codes: 0 ok · 1 a check or gate failed · 2 bad input or usage.

Commands live in their own modules and are registered here with one line each.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from synthloop.cli import audit, catalog, demo, federated, fit, lab, lineage, monitor, refit, sample, schema, simulate, workbench
from synthloop.cli import search as search_cli
from synthloop.cli._common import SynthloopGroup, run_safely
from synthloop.cli.align import align as align_command
from synthloop.cli.evaluate import evaluate_command

app = typer.Typer(name="synthloop", help="Synthetic tabular data that stays trustworthy when reused.",
                  cls=SynthloopGroup, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode=None)

def _version(value: bool) -> None:
    if value:
        from synthloop import __version__

        typer.echo(f"synthloop {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Synthetic tabular data that stays trustworthy when reused."""


app.add_typer(schema.app, name="schema")
app.command("fit")(fit.fit)
app.command("sample")(sample.sample)
app.command("evaluate")(evaluate_command)
app.add_typer(catalog.models_app, name="models")
app.add_typer(catalog.datasets_app, name="datasets")
app.command("demo")(demo.demo)
app.add_typer(lab.app, name="lab")
app.add_typer(lineage.app, name="lineage")
app.command("serve")(workbench.serve)
app.add_typer(workbench.app, name="workbench")
app.command("align")(align_command)
app.command("search")(search_cli.search)
app.command("audit")(audit.audit)
app.add_typer(federated.app, name="federated")
app.command("monitor")(monitor.monitor)
app.command("simulate")(simulate.simulate)
app.command("refit")(refit.refit)


def main() -> None:
    """Console-script entry point (``synthloop``, ``python -m synthloop``)."""
    sys.exit(run_safely(app))
