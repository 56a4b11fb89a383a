"""``synthloop evaluate REAL SYNTH``: score synthetic data, write HTML / JSON, apply gates (exit 1 on a failed gate).

The terminal shows progress per metric, the scores with their intervals, the families that were
skipped and why, the verdict and every gate; the HTML report carries the same verdict and gates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from synthloop.cli._common import EXIT_CHECK_FAILED, console, steps


def evaluate_command(
    real: Annotated[Path, typer.Argument(metavar="REAL", help="Real (training) data: CSV or Parquet.")],
    synthetic: Annotated[Path, typer.Argument(metavar="SYNTHETIC", help="Synthetic data with the same columns "
                                              "(a file, or a folder of Parquet partitions).")],
    holdout: Annotated[Path | None, typer.Option("--holdout", metavar="FILE", help="Real rows the synthesizer never saw; "
                                                 "enables baselines and privacy attacks.")] = None,
    schema: Annotated[Path | None, typer.Option("--schema", metavar="SCHEMA.json",
                                                help="Schema JSON (target, sensitive columns).")] = None,
    target: Annotated[str | None, typer.Option("--target", metavar="COLUMN",
                                               help="The column models predict (enables utility and fairness "
                                                    "metrics); overrides the schema's.")] = None,
    html: Annotated[Path | None, typer.Option("--html", metavar="FILE",
                                              help="Write a self-contained HTML report here.")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", metavar="FILE",
                                                   help="Write the scores and details as JSON here.")] = None,
    gate: Annotated[list[str] | None, typer.Option("--gate", metavar="METRIC<=VALUE",
                                                   help="Fail (exit 1) unless e.g. 'detection_auc<=0.65' "
                                                   "or 'dcr_share<=baseline+0.05'. Repeatable.")] = None,
    metrics: Annotated[str, typer.Option("--metrics", metavar="NAMES",
                                         help="default, all, fast, or comma-separated names.")] = "default",
    seed: Annotated[int, typer.Option("--seed", metavar="SEED", help="Seed for subsamples and models.")] = 0,
) -> None:
    """Score SYNTHETIC against REAL, each score next to the holdout's; gates set the exit code."""
    from synthloop.io import read_table
    from synthloop.report import evaluate
    from synthloop.report.evaluate import select_metrics
    from synthloop.schema import Schema

    loaded_schema = Schema.from_json(_read_text(schema)) if schema is not None else None
    chosen = metrics if metrics in ("default", "all", "fast") else [m.strip() for m in metrics.split(",") if m.strip()]
    real_table = read_table(real)
    if target is not None:
        loaded_schema = with_target(loaded_schema, real_table, target)
    holdout_table = read_table(holdout) if holdout is not None else None
    with steps("Scoring", total=len(select_metrics(chosen)) + 1) as advance:
        options = {"metrics": chosen, "holdout": holdout_table, "seed": seed,
                   "on_step": lambda name, done, total: advance(name)}
        if synthetic.is_dir():      # a folder of Parquet partitions: exact counts streamed, scores on a seeded sample
            from synthloop.partitions import evaluate_partitions

            report = evaluate_partitions(real_table, synthetic, loaded_schema, **options)
        else:
            report = evaluate(real_table, read_table(synthetic), loaded_schema, **options)
    decision = report.decide(gate or [])
    console.print(report.rich_table())
    for note in report.meta.get("notes", []):
        console.print(f"[dim]note: {escape(note)}[/dim]")
    for family, why in report.meta.get("families_skipped", {}).items():
        console.print(f"[yellow]Skipped {family}:[/yellow] {escape(why)}{_hint(why)}")
    if html is not None:
        report.to_html(html, gates=gate or [])
        console.print(f"Wrote {html}")
    if json_path is not None:
        report.to_json(json_path)
        console.print(f"Wrote {json_path}")
    for row in decision.gates.itertuples(index=False):
        mark = "[green]pass[/green]" if row.passed else f"[bold red]FAIL[/bold red] {escape(row.reason)}"
        origin = "gate" if row.source == "yours" else f"default {'gate' if row.severity == 'blocker' else 'check'}"
        console.print(f"{origin} {escape(row.gate)}: {mark}", highlight=False)
    colour = {"ready": "green", "ready with caveats": "yellow", "not ready": "red"}[decision.verdict]
    console.print(f"[bold {colour}]Verdict: {decision.verdict}[/bold {colour}]")
    for reason in (*decision.reasons, *decision.caveats):
        console.print(f"  - {escape(reason)}", highlight=False)
    if gate and not report.check(gate).passed:
        raise SystemExit(EXIT_CHECK_FAILED)


def with_target(schema, real, target: str):
    """The schema (inferred when not given) with ``target`` as its target column."""
    from synthloop.errors import DataError
    from synthloop.schema import Schema

    if target not in real.columns:
        raise DataError(f"--target '{target}' is not a column of the real data; columns: {', '.join(map(str, real.columns))}.")
    if schema is None:
        return Schema.infer(real, target=target)
    return Schema.from_dict({**schema.to_dict(), "target": target})


def _hint(why: str) -> str:
    return " (pass --target COLUMN, or --schema with a target)" if "target" in why else ""


def _read_text(path: Path) -> str:
    from synthloop.errors import SchemaError

    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SchemaError(f"Cannot read schema file '{path}': {exc.strerror}. Check the path.") from None
