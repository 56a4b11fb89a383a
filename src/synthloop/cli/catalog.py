"""``synthloop models`` and ``synthloop datasets``: what ships with synthloop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from synthloop.cli import model_card
from synthloop.cli._common import console, human_size, working

models_app = typer.Typer(help="The registered synthesizers (list them), or what a saved model holds (models show DIR).")


@models_app.callback(invoke_without_command=True)
def models(ctx: typer.Context) -> None:
    """List the registered synthesizers with their parameters and defaults (set them with fit -p KEY=VALUE);
    `synthloop models show DIR` describes a saved model."""
    if ctx.invoked_subcommand is not None:
        return
    from synthloop.errors import MissingDependency
    from synthloop.synthesizers import REGISTRY
    from synthloop.synthesizers.params import read_signature

    table = Table(title="Synthesizers (synthloop fit DATA -m NAME -p KEY=VALUE)", title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("what it is")
    table.add_column("parameters (defaults)", overflow="fold")
    for name in REGISTRY.names():
        target = REGISTRY.target(name)
        # Read from the source, so listing the neural models does not import torch.
        static = read_signature(target) if isinstance(target, str) else None
        if static is None:
            try:
                cls = REGISTRY.get(name)
            except (MissingDependency, ImportError) as exc:
                table.add_row(name, "[yellow]not available[/yellow]", str(exc).splitlines()[0])
                continue
            summary = (cls.__doc__ or cls.__name__).strip().splitlines()[0]
            static = summary, cls().get_params()
        summary, defaults = static
        params = ", ".join(f"{key}={value!r}" for key, value in defaults.items())
        table.add_row(name, summary, params or "—")
    console.print(table)


models_app.command("show")(model_card.show)

datasets_app = typer.Typer(help="Bundled real datasets: list them, or export one to a file.")


@datasets_app.callback(invoke_without_command=True)
def datasets(ctx: typer.Context) -> None:
    """List the bundled datasets (run `synthloop datasets export NAME -o FILE` to get one as a file)."""
    if ctx.invoked_subcommand is not None:
        return
    from synthloop import datasets as bundled

    table = Table(title="Bundled datasets (synthloop datasets export NAME -o FILE)", title_justify="left")
    for header in ("name", "rows", "columns", "target", "task", "source", "licence"):
        table.add_column(header, overflow="fold")
    for name in bundled.available():
        info, frame = bundled.info(name), bundled.load(name)
        table.add_row(name, f"{len(frame):,}", str(frame.shape[1]), info.target or "—", info.task, info.source, info.licence)
    console.print(table)


@datasets_app.command("export")
def export(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Dataset name (see: synthloop datasets).")],
    out: Annotated[Path, typer.Option("--out", "-o", metavar="FILE", help="Output .csv, .csv.gz, .tsv or .parquet file.")],
    split: Annotated[Literal["all", "train", "test"], typer.Option("--split", metavar="all|train|test",
                                                                   help="all, or the fixed-seed stratified "
                                                                   "80% train / 20% test split.")] = "all",
    rows: Annotated[int | None, typer.Option("--rows", min=1, metavar="N",
                                             help="A seeded random N of the rows (default: all), for a quick try.")] = None,
) -> None:
    """Write a bundled dataset to a file, e.g. to try `synthloop fit` on real data."""
    from synthloop import datasets as bundled
    from synthloop.io import write_table
    from synthloop.io.tables import check_table_path

    check_table_path(out)
    with working(f"Exporting {name} ({split})"):
        frame = bundled.load(name, split=split)
        if rows is not None and rows < len(frame):
            frame = frame.sample(rows, random_state=0).reset_index(drop=True)
        write_table(frame, out)
    console.print(f"Wrote {len(frame):,} rows × {frame.shape[1]} columns of {name} ({split}) to {out} ({human_size(out)}).")
