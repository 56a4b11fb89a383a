"""``synthloop schema infer``: describe a table's columns as a schema JSON file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from synthloop.cli._common import INF_HELP, console, parse_kinds

app = typer.Typer(help="Describe a table: column kinds, missing values, categories, bounds.", no_args_is_help=True)


@app.command("infer")
def infer(
    data: Annotated[Path, typer.Argument(metavar="DATA", help="CSV, TSV or Parquet file to describe.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", metavar="SCHEMA.json",
                                             help="Where to write the schema JSON (default: print it).")] = None,
    target: Annotated[str | None, typer.Option("--target", "-t", metavar="COLUMN",
                                               help="Column a downstream model predicts.")] = None,
    kind: Annotated[list[str] | None, typer.Option(
        "--kind", "-k", metavar="COLUMN=KIND",
        help="Override a kind (numeric, categorical, boolean, datetime, id, constant); repeatable.")] = None,
    sensitive: Annotated[list[str] | None, typer.Option(
        "--sensitive", "-s", metavar="COLUMN", help="Mark a column for fairness and privacy checks; repeatable.")] = None,
    inf: Annotated[str, typer.Option("--inf", metavar="error|missing", help=INF_HELP)] = "error",
) -> None:
    """Infer a schema from DATA; edit the JSON to fix kinds, then pass it to `synthloop fit --schema`."""
    from synthloop.io import atomic_write, read_table
    from synthloop.schema import Schema

    schema = Schema.infer(read_table(data), target=target, kinds=parse_kinds(kind or []), sensitive=sensitive or [],
                           inf=inf)
    if out is None:
        typer.echo(schema.to_json())
        return
    with atomic_write(out, suffix=".json") as tmp:
        tmp.write_text(schema.to_json() + "\n", encoding="utf-8")
    console.print(schema_table(schema, title=escape(f"Schema of {data}")))
    console.print(f"Wrote {escape(str(out))}")


def schema_table(schema, *, title: str) -> Table:
    """One row per column: kind, missing values, and the categories or range learned."""
    table = Table(title=title, title_justify="left")
    for header in ("column", "kind", "missing", "details"):
        table.add_column(header, overflow="fold")
    for column in schema.columns:
        table.add_row(escape(column.name), escape(_kind_label(schema, column)), "yes" if column.nullable else "",
                      escape(_details(column)))
    return table


def _kind_label(schema, column) -> str:
    label = column.kind + (" (integer)" if column.kind == "numeric" and column.integer else "")
    marks = [m for m, on in (("target", column.name == schema.target), ("sensitive", column.sensitive)) if on]
    return label + (f" [{', '.join(marks)}]" if marks else "")


def _details(column) -> str:
    if column.kind in ("categorical", "boolean") and column.categories is not None:
        shown = ", ".join(column.categories[:4])
        more = f" … ({len(column.categories):,} levels)" if len(column.categories) > 4 else ""
        return shown + more
    if column.kind == "numeric" and column.low is not None:
        return f"{column.low:g} … {column.high:g}"
    if column.kind == "constant":
        return "all missing: copied, not learned" if column.value is None else f"always {column.value!r}: copied"
    if column.kind == "id":
        return "unique per row: regenerated, not learned"
    return ""
