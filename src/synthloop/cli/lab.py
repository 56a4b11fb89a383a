"""``synthloop lab``: run, resume and reproduce model-collapse experiments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synthloop.cli._common import console

app = typer.Typer(help="Model-collapse lab: retrain on generated data under policies and watch what is lost.",
                  no_args_is_help=True)

BackendOption = Annotated[str | None, typer.Option("--backend", metavar="local|ray",
                                                   help="local (process pool) or ray; default: the config's.")]


@app.command("run")
def run(config: Annotated[Path, typer.Argument(metavar="CONFIG.toml", help="Lab config (TOML), e.g. examples/lab_adult.toml.")],
        backend: BackendOption = None,
        out: Annotated[Path | None, typer.Option("--out", "-o", metavar="DIR",
                                                 help="Run folder; default: the config's out_dir.")] = None,
        ) -> None:
    """Run the lab a TOML config describes (an interrupted run in the same folder is resumed)."""
    from synthloop.lab.config import LabConfig, run_config

    _render(run_config(LabConfig.load(config), backend=backend, out_dir=out))


@app.command("resume")
def resume(run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A lab run folder (it holds lab_config.json).")],
           backend: BackendOption = None) -> None:
    """Continue an interrupted run at its next unfinished generation."""
    from synthloop.lab.config import resume as resume_run

    _render(resume_run(run_dir, backend=backend))


@app.command("science")
def science(quick: Annotated[bool, typer.Option(help="Fewer chains: seconds instead of a minute.")] = False) -> None:
    """Reproduce the published collapse results (Gaussian, linear regression) next to the published numbers."""
    from rich.table import Table

    from synthloop.lab.science import reproduce

    table = Table("experiment", "quantity", "published", "measured")
    for row in reproduce(quick=quick):
        table.add_row(row["experiment"], row["quantity"], row["published"], f"{row['measured']:.4g}")
    console.print(table)


def _render(result) -> None:
    from rich.table import Table

    final = result.final()
    last = int(result.results["generation"].max())
    table = Table("measure", *map(str, final.index), "real data",
                  title=f"Generation {last}, mean over seeds ({result.out_dir or 'not saved'})")
    for measure in final.columns:
        reference = result.reference.get(measure, float("nan"))
        table.add_row(measure, *(f"{v:.3f}" for v in final[measure]), f"[dim]{reference:.3f}[/dim]")
    console.print(table)
    if result.out_dir is not None:
        console.print(f"Results: {result.out_dir / 'results.csv'}, {result.out_dir / 'results.json'}; "
                      f"page: {result.out_dir / 'report.html'}")
