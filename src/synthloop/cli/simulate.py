"""``synthloop simulate``: write a stream of windows with drift and its ground truth (a synthetic environment)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from synthloop.cli._common import console, steps


def simulate(
    scenario: Annotated[Path, typer.Argument(metavar="SCENARIO.toml",
                                             help="The scenario: drifts, schedule, windows, rows, seed.")],
    out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="A new folder for the windows.")],
    model: Annotated[Path | None, typer.Option("--model", "-m", metavar="MODEL_DIR",
                                               help="Draw windows from this fitted synthesizer.")] = None,
    data: Annotated[Path | None, typer.Option("--data", metavar="FILE",
                                              help="Or bootstrap windows from this table's rows.")] = None,
    fmt: Annotated[str, typer.Option("--format", metavar="csv|parquet")] = "csv",
) -> None:
    """Generate SCENARIO's windows (window-000.csv, …) and truth.json (change point, intensities) into DIR."""
    from synthloop.simulate import Scenario
    from synthloop.workflows import simulate_stream

    plan = Scenario.from_toml(scenario)
    with steps(f"Simulating {plan.name}", plan.windows) as advance:
        written = simulate_stream(plan, out, model=model, data=data, fmt=fmt, progress=advance)
    point = "never within the stream" if plan.change_point is None else f"at window {plan.change_point}"
    console.print(f"Wrote {plan.windows} windows of {plan.rows:,} rows to {escape(str(written))}; drift starts "
                  f"{point} (truth.json).")
