"""The ``synthloop`` command line. Each command parses arguments, makes one library call and renders
the result; it holds no logic. Exit codes: 0 ok · 1 a check or gate failed · 2 bad input or usage."""

from __future__ import annotations

import sys

import typer

from synthloop.cli._common import run_safely
from synthloop.cli.evaluate import evaluate_command

app = typer.Typer(name="synthloop", help="Synthetic tabular data that stays trustworthy when reused.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.command("models")
def models() -> None:
    """List the registered synthesizers and their parameters."""
    from synthloop.cli._common import console
    from synthloop.synthesizers import available, get_class

    for name in available():
        cls = get_class(name)
        params = ", ".join(f"{k}={v!r}" for k, v in cls().get_params().items())
        console.print(f"[bold]{name}[/bold]  {params}")


app.command("evaluate")(evaluate_command)


def main() -> None:
    """Console-script entry point: run the app and map synthloop errors to exit code 2."""
    sys.exit(run_safely(app))
