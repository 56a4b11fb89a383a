"""``synthloop lineage``: read a lineage store (which data is synthetic, from what, how deep)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from synthloop.cli._common import EXIT_CHECK_FAILED, console

app = typer.Typer(help="Read a lineage store: datasets, their parents, depth and synthetic share.",
                  no_args_is_help=True)

# One name everywhere: fit and sample record into --lineage, so the lineage commands read --lineage too;
# --store (the old name) is kept as a hidden alias so scripts that use it keep working.
StoreArgument = Annotated[Path, typer.Option("--lineage", "-l", metavar="STORE.db", help="The lineage store file.")]
StoreAlias = Annotated[Path | None, typer.Option("--store", "-s", hidden=True)]
DEFAULT_STORE = Path("lineage.db")


def _store(lineage: Path, alias: Path | None) -> Path:
    return alias if alias is not None else lineage


@app.command("show")
def show(dataset_id: Annotated[str, typer.Argument(metavar="ID", help="Dataset id (or a unique prefix of 4+ characters).")],
         store: StoreArgument = DEFAULT_STORE, alias: StoreAlias = None) -> None:
    """One dataset: kind, depth, synthetic share, parents, synthesizer and its events."""
    from synthloop.lineage import LineageStore

    lineage = LineageStore(_store(store, alias), create=False)
    record = lineage.get(dataset_id)
    for key, value in record.to_dict().items():
        if key == "created_at":
            value = datetime.fromtimestamp(value, tz=UTC).isoformat(timespec="seconds")
        console.print(f"[bold]{key:>16}[/bold]  {value}", highlight=False)
    for event in lineage.events(record.id):
        console.print(f"{'event':>16}  {event['action']} {event['detail']}", highlight=False)


@app.command("tree")
def tree(dataset_id: Annotated[str, typer.Argument(metavar="ID", help="Dataset id (or a unique prefix).")],
         store: StoreArgument = DEFAULT_STORE, alias: StoreAlias = None) -> None:
    """The dataset and its ancestors, back to the real data."""
    from rich.tree import Tree

    from synthloop.lineage import LineageStore

    lineage = LineageStore(_store(store, alias), create=False)
    root = lineage.get(dataset_id)
    view = Tree(_label(root))
    _add_parents(lineage, root, view, seen={root.id})
    console.print(view)


@app.command("audit")
def audit(store: StoreArgument = DEFAULT_STORE, alias: StoreAlias = None,
          max_synthetic_share: Annotated[float | None, typer.Option(metavar="SHARE",
                                                                    help="Guard threshold (default 0.5).")] = None,
          max_depth: Annotated[int | None, typer.Option(metavar="N", help="Guard threshold (default 1).")] = None) -> None:
    """Every dataset with kind, depth and share; exit 1 when a fit was recorded on data beyond the thresholds."""
    from rich.table import Table

    from synthloop.lineage import LineageStore
    from synthloop.loop.guard import GuardThresholds
    from synthloop.loop.guard import audit as audit_store

    defaults = GuardThresholds()
    thresholds = GuardThresholds(max_synthetic_share if max_synthetic_share is not None else defaults.max_synthetic_share,
                                 max_depth if max_depth is not None else defaults.max_depth)
    store = _store(store, alias)
    rows = audit_store(LineageStore(store, create=False), thresholds)
    table = Table(title=f"{store}: {len(rows)} datasets")
    table.add_column("id", no_wrap=True, min_width=16)
    for header in ("kind", "depth", "share", "rows", "made by", "fit on", "risk"):
        table.add_column(header, no_wrap=True)
    for row in rows.itertuples():
        risk = ("[red]yes[/red]" if row.fitted_on else "yes") if row.at_risk else ""
        table.add_row(row.id, row.kind, str(row.depth), f"{row.synthetic_share:.0%}", f"{row.n_rows:,}",
                      row.synthesizer if isinstance(row.synthesizer, str) else "", "yes" if row.fitted_on else "", risk)
    table.caption = (f"share = synthetic share; risk = beyond max_synthetic_share={thresholds.max_synthetic_share:.0%} "
                     f"or max_depth={thresholds.max_depth}")
    console.print(table)
    if (rows["at_risk"] & rows["fitted_on"]).any():
        raise typer.Exit(EXIT_CHECK_FAILED)


def _label(record) -> str:
    made = f" by {record.synthesizer}" if record.synthesizer else ""
    return (f"[bold]{record.id}[/bold] {record.kind}{made} · depth {record.depth} · "
            f"{record.synthetic_share:.0%} synthetic · {record.n_rows:,} rows" + (f" · {record.name}" if record.name else ""))


def _add_parents(lineage, record, node, seen: set[str]) -> None:
    for parent_id in record.parents:
        if parent_id not in lineage:
            node.add(f"{parent_id} [dim](not in this store; known from file provenance)[/dim]")
            continue
        parent = lineage.get(parent_id)
        child = node.add(_label(parent) + (" [dim](shown above)[/dim]" if parent.id in seen else ""))
        if parent.id not in seen:
            seen.add(parent.id)
            _add_parents(lineage, parent, child, seen)
