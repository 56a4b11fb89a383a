"""``synthloop evaluate REAL SYNTH``: score synthetic data, write HTML / JSON, apply gates (exit 1 on a failed gate)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synthloop.cli._common import EXIT_CHECK_FAILED, console


def evaluate_command(
    real: Annotated[Path, typer.Argument(help="Real (training) data: CSV or Parquet.")],
    synthetic: Annotated[Path, typer.Argument(help="Synthetic data with the same columns.")],
    holdout: Annotated[Path | None, typer.Option("--holdout", help="Real rows the synthesizer never saw; "
                                                 "enables baselines and privacy attacks.")] = None,
    schema: Annotated[Path | None, typer.Option("--schema", help="Schema JSON (target, sensitive columns).")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Write a self-contained HTML report here.")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the scores and details as JSON here.")] = None,
    gate: Annotated[list[str] | None, typer.Option("--gate", help="Fail (exit 1) unless e.g. 'detection_auc<=0.65' "
                                                   "or 'dcr_share<=baseline+0.05'. Repeatable.")] = None,
    metrics: Annotated[str, typer.Option("--metrics", help="default, all, fast, or comma-separated names.")] = "default",
    seed: Annotated[int, typer.Option("--seed", help="Seed for subsamples and models.")] = 0,
) -> None:
    """Score SYNTHETIC against REAL, each score next to the holdout's; gates set the exit code."""
    from synthloop.io import read_table
    from synthloop.report import evaluate
    from synthloop.schema import Schema

    loaded_schema = Schema.from_json(_read_text(schema)) if schema is not None else None
    chosen = metrics if metrics in ("default", "all", "fast") else [m.strip() for m in metrics.split(",") if m.strip()]
    report = evaluate(read_table(real), read_table(synthetic), loaded_schema, metrics=chosen,
                      holdout=read_table(holdout) if holdout is not None else None, seed=seed)
    result = report.check(gate) if gate else None
    console.print(report.rich_table())
    for note in report.meta.get("notes", []):
        console.print(f"[dim]note: {note}[/dim]")
    if html is not None:
        report.to_html(html)
        console.print(f"Wrote {html}")
    if json_path is not None:
        report.to_json(json_path)
        console.print(f"Wrote {json_path}")
    if result is not None:
        for row in result.results.itertuples(index=False):
            mark = "[green]pass[/green]" if row.passed else f"[bold red]FAIL[/bold red] {row.reason}"
            console.print(f"gate {row.gate}: {mark}")
        if not result.passed:
            raise SystemExit(EXIT_CHECK_FAILED)


def _read_text(path: Path) -> str:
    from synthloop.errors import SchemaError

    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SchemaError(f"Cannot read schema file '{path}': {exc.strerror}. Check the path.") from None
