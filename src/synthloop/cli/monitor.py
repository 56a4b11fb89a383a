"""``synthloop monitor``: compare windows of new rows with a reference table; exit 1 when any drifted."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from synthloop.cli._common import EXIT_CHECK_FAILED, console, steps


def monitor(
    reference: Annotated[Path, typer.Argument(metavar="REFERENCE",
                                              help="The reference table (real or synthetic; lineage says which).")],
    windows: Annotated[list[Path], typer.Argument(metavar="WINDOW...", help="Tables of new rows, oldest first.")],
    target: Annotated[str | None, typer.Option(
        "--target", "-t", metavar="COLUMN",
        help="Label column: also estimate the model's AUC on unlabeled windows (CBPE) and report the realised "
             "AUC where windows hold labels.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", metavar="FILE.json",
                                                  help="Write every window's report as JSON.")] = None,
    html_out: Annotated[Path | None, typer.Option("--html", metavar="FILE.html",
                                                  help="Write the drift timeline as one HTML page.")] = None,
    lineage: Annotated[Path | None, typer.Option(
        "--lineage", metavar="STORE.db", help="Register the tables and log each check (the timeline) here.")] = None,
    alpha: Annotated[float, typer.Option("--alpha", metavar="A",
                                         help="Family-wise false-alarm rate per window (Holm).")] = 0.01,
    no_joint: Annotated[bool, typer.Option("--no-joint", help="Skip the classifier two-sample test.")] = False,
    seed: Annotated[int, typer.Option("--seed", metavar="SEED")] = 0,
) -> None:
    """Check each WINDOW for drift against REFERENCE: per column (KS / χ², Holm, effect floors), jointly
    (classifier two-sample test) and, with --target, the model's estimated performance. Exit 1 on drift."""
    from synthloop.monitor import MonitorSettings
    from synthloop.monitor.monitor import monitor_files

    settings = MonitorSettings(alpha=alpha, multivariate=not no_joint)
    with steps("Checking windows", len(windows)) as advance:
        reports = monitor_files(reference, windows, target=target, lineage=lineage, json_out=json_out,
                                html_out=html_out, seed=seed, settings=settings, progress=advance)
    for report in reports:
        colour = "red" if report.drifted else "green"
        line = f"[{colour}]{'DRIFT' if report.drifted else 'ok   '}[/{colour}] {escape(report.window)}"
        performance = report.performance
        if performance is not None and performance.estimated_auc is not None:
            realised = "" if performance.realised_auc is None else f", realised {performance.realised_auc:.3f}"
            line += f"  (model AUC estimated {performance.estimated_auc:.3f}{realised})"
        console.print(line, highlight=False)
        for alarm in report.alarms:
            console.print(f"      {escape(alarm)}", highlight=False, soft_wrap=True)
    drifted = sum(r.drifted for r in reports)
    console.print(f"{drifted} of {len(reports)} windows drifted (reference: {reports[0].reference_kind}, "
                  f"{reports[0].n_reference:,} rows).")
    for label, path in (("JSON", json_out), ("HTML", html_out)):
        if path is not None:
            console.print(f"Wrote the {label} report to {escape(str(path))}.")
    if drifted:
        raise typer.Exit(EXIT_CHECK_FAILED)
