"""Shared CLI helpers: the consoles, the error-to-exit-code policy and argument parsers.

Exit codes: 0 ok · 1 a check or gate failed · 2 bad input or usage · 130 interrupted (Ctrl-C).
Every :class:`~synthloop.errors.SynthloopError` is printed as one message (no traceback) and exits 2;
:class:`SynthloopGroup` does this for every command, so ``typer.testing.CliRunner`` and the console
script behave alike.
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
import typing
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperArgument, TyperGroup

from synthloop.errors import ConfigError, SynthloopError, SynthloopWarning


class SafeConsole(Console):
    """A console that shows control characters (ANSI escapes, bells, carriage returns) in data as
    visible ``\\x1b`` escapes: a column name or value must not recolour, clear or retitle the
    terminal. Every string, in ``print`` and in table cells alike, passes through ``render_str``."""

    def render_str(self, text: str, **kwargs: Any):
        return super().render_str(visible_controls(text), **kwargs)


def visible_controls(text: str) -> str:
    """Control characters other than newline and tab, written as Python escapes."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
LOG_WIDTH = 200        # off a terminal (CI logs, pipes) rich would cut tables and commands at 80 columns


def _console(*, stderr: bool = False) -> Console:
    """A console that wraps to the terminal, or, writing to a log, wraps nothing and draws tables full width."""
    stream = sys.stderr if stderr else sys.stdout
    if stream is not None and stream.isatty():
        return SafeConsole(stderr=stderr)
    return SafeConsole(stderr=stderr, width=LOG_WIDTH, soft_wrap=True)


console = _console()
err_console = _console(stderr=True)

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class SynthloopGroup(TyperGroup):
    """A command group that turns synthloop errors, warnings and Ctrl-C into clean terminal output."""

    def invoke(self, ctx: Any) -> Any:
        with warnings.catch_warnings():
            if not sys.warnoptions:  # users see synthloop's advice; library deprecations only on request (-W)
                warnings.simplefilter("ignore")
                warnings.simplefilter("default", SynthloopWarning)
            warnings.showwarning = _show_warning
            try:
                return super().invoke(ctx)
            except SynthloopError as exc:
                err_console.print(f"[bold red]Error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
                raise typer.Exit(EXIT_BAD_INPUT) from None
            except OSError as exc:
                if exc.filename is None:  # not about a path the user gave: a bug worth its traceback
                    raise
                err_console.print(f"[bold red]Error:[/bold red] cannot use '{escape(str(exc.filename))}': "
                                  f"{escape(str(exc.strerror or exc))}. Check the path and its permissions.",
                                  highlight=False, soft_wrap=True)
                raise typer.Exit(EXIT_BAD_INPUT) from None
            except KeyboardInterrupt:
                err_console.print("[yellow]Interrupted.[/yellow] Nothing partial was written: "
                                  "outputs appear whole or not at all. Run the command again.")
                raise typer.Exit(EXIT_INTERRUPTED) from None


def _no_type_label(self: Any, ctx: Any) -> None:
    return None


# One metavar style in every help text: arguments read "DATA  Training table…" like options read
# "--out DIR", not "DATA <path>" (typer appends a lower-case type label to arguments only).
TyperArgument.display_type_rich = _no_type_label


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, SynthloopWarning):
        err_console.print(f"[yellow]Warning:[/yellow] {escape(str(message))}", highlight=False, soft_wrap=True)
    else:
        err_console.print(f"[dim]{category.__name__}: {escape(str(message))}[/dim]", highlight=False, soft_wrap=True)


def run_safely(app: typer.Typer) -> int:
    """Run the app as the console script does and return its exit code (usage errors exit 2)."""
    try:
        app(prog_name="synthloop")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_BAD_INPUT)
    return EXIT_OK


@contextlib.contextmanager
def working(message: str, *, live: bool = True) -> Iterator[dict[str, float]]:
    """Show ``message`` while the block runs; yields a dict that receives ``seconds`` at the end.

    ``live`` shows a spinner. ``fit`` passes ``live=False`` and prints the message once instead: neural
    synthesizers draw their own epoch progress bar, and two live displays would overwrite each other.
    """
    timing: dict[str, float] = {}
    start = time.perf_counter()
    live = live and err_console.is_terminal
    display = err_console.status(f"{escape(message)}…", spinner="dots") if live else contextlib.nullcontext()
    if not live:
        err_console.print(f"{escape(message)}…", style="dim", highlight=False)
    with display:
        try:
            yield timing
        finally:
            timing["seconds"] = time.perf_counter() - start


@contextlib.contextmanager
def steps(description: str, total: int) -> Iterator[typing.Callable[[str], None]]:
    """One progress display for a command of ``total`` steps; yields ``advance(label)``, called as each
    step starts. A bar on a terminal (stderr, so piped output stays clean); plain lines in logs."""
    if not err_console.is_terminal:
        done = 0

        def line(label: str) -> None:
            nonlocal done
            done += 1
            err_console.print(f"{escape(description)} [{done}/{total}] {escape(label)}", style="dim", highlight=False)

        yield line
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    bar = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(bar_width=24),
                   MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.fields[label]}"),
                   console=err_console, transient=True)
    with bar:
        task = bar.add_task(description, total=total, label="")
        started = [False]

        def advance(label: str) -> None:
            bar.update(task, advance=1 if started[0] else 0, label=label)
            started[0] = True

        yield advance
        bar.update(task, completed=total)


def library_defaults(function: typing.Callable[..., Any]) -> dict[str, Any]:
    """The keyword defaults of a library function, so CLI options never re-declare them."""
    import inspect

    return {name: p.default for name, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty}


# ---------------------------------------------------------------------- argument parsing
def split_pair(text: str, option: str) -> tuple[str, str]:
    """``"key=value"`` → ``("key", "value")``; anything else is a usage error naming the option."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{option} expects KEY=VALUE, got '{text}'. Example: {option} {_EXAMPLES.get(option, 'key=value')}")
    return key.strip(), value


_EXAMPLES = {"--param": "epochs=50", "--where": "sex=Female", "--kind": "zip=categorical"}


def parse_conditions(pairs: Sequence[str]) -> dict[str, object] | None:
    """``["sex=Female", "income=>50K", "age>=30", "occupation in (Sales,Tech-support)"]`` →
    ``{"sex": "Female", "income": ">50K", "age": Range(low="30"), "occupation": OneOf(...)}`` (values stay text;
    the model reads them by the column's kind). See :func:`synthloop.synthesizers.conditions.parse_where`."""
    from synthloop.synthesizers.conditions import parse_where

    conditions = dict(parse_where(pair) for pair in pairs)
    return conditions or None


INF_HELP = "How to read infinite numbers: 'error' (refuse the table) or 'missing' (read them as missing values)."


def parse_kinds(pairs: Sequence[str]) -> dict[str, str]:
    return dict((key, value.strip()) for key, value in (split_pair(pair, "--kind") for pair in pairs))


def human_size(path_or_bytes: Path | int) -> str:
    """``1536`` or a path (a folder counts its files) → ``"1.5 KB"``."""
    from synthloop.workflows import disk_size

    size = path_or_bytes if isinstance(path_or_bytes, int) else disk_size(path_or_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"
