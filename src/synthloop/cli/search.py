"""``synthloop search``: choose a generator and its parameters for a table under a wall-clock budget."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from synthloop.cli._common import EXIT_CHECK_FAILED, console, err_console


def search(
    data: Annotated[Path, typer.Argument(metavar="DATA", help="Training table: CSV, TSV or Parquet.")],
    out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR",
                                      help="Search folder: search.journal (resumable), model/, search.html, search.json.")],
    budget: Annotated[str, typer.Option("--budget", "-b", metavar="TIME",
                                        help="Wall-clock budget, e.g. 90s, 10m, 1h.")] = "10m",
    target: Annotated[str | None, typer.Option("--target", "-t", metavar="COLUMN",
                                               help="Target column: enables the TSTR objective.")] = None,
    schema: Annotated[Path | None, typer.Option("--schema", metavar="SCHEMA.json",
                                                help="Schema JSON (default: inferred from DATA).")] = None,
    models: Annotated[str | None, typer.Option("--models", "-m", metavar="A,B",
                                               help="Candidate models (default: every registered model).")] = None,
    max_dcr_share: Annotated[float, typer.Option("--max-dcr-share", metavar="X",
                                                 help="Privacy gate: DCR share at most X (0.5 = like new data).")] = 0.55,
    backend: Annotated[str, typer.Option("--backend", metavar="local|ray", help="Where trials run.")] = "local",
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Trials at once.")] = 1,
    trial_timeout: Annotated[str | None, typer.Option(
        "--trial-timeout", metavar="TIME", help="Kill a trial after this long (default: a third of the budget).")] = None,
    trials: Annotated[int | None, typer.Option("--trials", min=1, metavar="N",
                                               help="Stop after N trials, even with budget left.")] = None,
    repeats: Annotated[int, typer.Option("--repeats", min=1, max=20, metavar="N",
                                         help="Samples scored per trial: the noise the choice weighs.")] = 3,
    seed: Annotated[int, typer.Option("--seed", help="Seeds the split, the sampler and every trial.")] = 0,
    lineage: Annotated[Path | None, typer.Option("--lineage", metavar="STORE.db",
                                                 help="Record the chosen model's training data in this store.")] = None,
) -> None:
    """Search the models and their spaces for DATA within --budget; save the chosen model in OUT/model.

    Running the same command again resumes the search in OUT. Exit 1 when no model can be chosen
    (no trial finished, or none meets the privacy gate); the best fallback is reported.
    """
    from synthloop.tuning import SearchFailed, parse_budget
    from synthloop.tuning import search as run_search

    def show(trial: dict) -> None:
        scores = " ".join(f"{key} {trial[key]:.3f}" for key in ("detection", "utility", "dcr_share") if key in trial)
        what = scores or escape(str(trial.get("error", "")))[:120]
        console.print(f"trial {trial['number']:>3} {trial['model']:<16} {trial['state'].lower():<9} {what}",
                      highlight=False)

    timeout = parse_budget(trial_timeout) if trial_timeout else None
    try:
        result = run_search(data, out, budget=budget, target=target, schema=schema, models=models,
                            max_dcr_share=max_dcr_share, seed=seed, backend=backend, n_jobs=jobs,
                            trial_timeout=timeout, max_trials=trials, repeats=repeats, lineage=lineage,
                            on_trial=show)
    except SearchFailed as failed:
        err_console.print(f"[bold red]No model chosen:[/bold red] {escape(str(failed))}", soft_wrap=True)
        err_console.print(f"Trials: {escape(str(out / 'search.html'))}", style="dim")
        raise typer.Exit(EXIT_CHECK_FAILED) from None
    chosen = result.chosen
    params = ", ".join(f"{k}={v}" for k, v in chosen["params"].items()) or "defaults"
    scores = ", ".join(f"{key} {chosen[key]:.3f}" for key in ("detection", "utility", "dcr_share") if key in chosen)
    console.print(f"Chose [bold]{chosen['model']}[/bold] ({escape(params)}): {scores} on the validation part; "
                  f"{len(result.trials)} trials in {result.seconds:.0f} s.", soft_wrap=True)
    for note in result.notes:
        console.print(f"[yellow]Note:[/yellow] {escape(note)}", soft_wrap=True)
    console.print(f"Saved to {escape(str(result.model_dir))}; trials and Pareto front: "
                  f"{escape(str(out / 'search.html'))}", soft_wrap=True)
    console.print(f"Next: synthloop sample {escape(str(result.model_dir))} -n 1000 -o synthetic.csv", style="dim")
