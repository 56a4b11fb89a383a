"""Shared CLI helpers: the console and the error-to-exit-code policy."""

from __future__ import annotations

import typer
from rich.console import Console

from synthloop.errors import SynthloopError

console = Console()
err_console = Console(stderr=True)

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def run_safely(app: typer.Typer) -> int:
    """Run the typer app; a SynthloopError prints its message (no traceback) and exits 2."""
    try:
        app(standalone_mode=False)
    except SynthloopError as exc:
        err_console.print(f"[bold red]Error:[/bold red] {exc}", highlight=False)
        return EXIT_BAD_INPUT
    except (typer.Exit, SystemExit) as exc:
        return int(getattr(exc, "exit_code", getattr(exc, "code", 0)) or 0)
    except KeyboardInterrupt:
        err_console.print("[yellow]Interrupted.[/yellow] Anything written so far is complete; re-run to resume.")
        return 130
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return EXIT_BAD_INPUT
        raise
    return EXIT_OK
