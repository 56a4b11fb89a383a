"""``synthloop lab``: run, resume and reproduce model-collapse experiments."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
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

    lab_config = LabConfig.load(config)
    with lab_progress(_total(lab_config)) as on_generation:
        result = run_config(lab_config, backend=backend, out_dir=out, on_generation=on_generation)
    _render(result)


@app.command("resume")
def resume(run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A lab run folder (it holds lab_config.json).")],
           backend: BackendOption = None) -> None:
    """Continue an interrupted run at its next unfinished generation."""
    from synthloop.lab.config import CONFIG_FILE, LabConfig
    from synthloop.lab.config import resume as resume_run

    saved = run_dir / CONFIG_FILE
    total = _total(LabConfig.load(saved)) if saved.is_file() else 0
    with lab_progress(total) as on_generation:
        result = resume_run(run_dir, backend=backend, on_generation=on_generation)
    _render(result)


@app.command("science")
def science(quick: Annotated[bool, typer.Option(help="Fewer chains: seconds instead of a minute.")] = False) -> None:
    """Reproduce the published collapse results (Gaussian, linear regression) next to the published numbers."""
    from rich.table import Table

    from synthloop.lab.science import reproduce

    table = Table("experiment", "quantity", "published", "measured")
    for row in reproduce(quick=quick):
        table.add_row(row["experiment"], row["quantity"], row["published"], f"{row['measured']:.4g}")
    console.print(table)


def _total(config) -> int:
    """Generations the run does in all (policies × seeds × generations)."""
    return len(config.policies) * len(config.run.seeds) * config.run.generations


@contextlib.contextmanager
def lab_progress(total: int) -> Iterator:
    """One live bar on a terminal, one plain line per finished generation otherwise (CI logs)."""
    done = 0
    if not console.is_terminal:
        def line(label: str, seed: int, generation: int) -> None:
            nonlocal done
            done += 1
            console.print(f"[{done}/{total}] {label} seed {seed}: generation {generation} done", highlight=False)

        yield line
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("Lab generations", total=total)

        def advance(label: str, seed: int, generation: int) -> None:
            progress.update(task, advance=1, description=f"Lab: {label} seed {seed} gen {generation}")

        yield advance


def _render(result) -> None:
    from rich.table import Table

    means, medians = result.final("mean"), result.final("median")
    last = int(result.results["generation"].max())
    table = Table("measure", *map(str, means.index), "fresh real sample",
                  title=f"Generation {last}, mean (median) over seeds ({result.out_dir or 'not saved'})")
    for measure in means.columns:
        reference = result.reference.get(measure, float("nan"))
        table.add_row(measure, *(f"{m:.3f} ({d:.3f})" for m, d in zip(means[measure], medians[measure])),
                      f"[dim]{reference:.3f}[/dim]")
    console.print(table)
    console.print(f"Every generation sampled with privacy={result.privacy!r}; the last column is a fresh real sample "
                  "(holdout rows, never trained on).")
    if result.out_dir is not None:
        console.print(f"Results: {result.out_dir / 'results.csv'}, {result.out_dir / 'results.json'}; "
                      f"page: {result.out_dir / 'report.html'}")
