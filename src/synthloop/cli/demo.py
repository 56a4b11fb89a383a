"""``synthloop demo``: fit the baselines on bundled Adult, sample, and show what was made and how good it is."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from synthloop.cli._common import console, human_size, library_defaults
from synthloop.demo import DEMO_MODELS, run_demo

_DEFAULTS = library_defaults(run_demo)


def demo(
    rows: Annotated[int | None, typer.Option(
        "--rows", metavar="N", help="Train on a random N of Adult's 39,073 training rows (default: all).")] = _DEFAULTS["rows"],
    out: Annotated[Path, typer.Option(
        "--out", "-o", metavar="DIR", help="Directory for models, synthetic tables and reports.")] = Path(_DEFAULTS["out_dir"]),
    model: Annotated[list[str] | None, typer.Option(
        "--model", "-m", metavar="NAME", help=f"Synthesizers to run (default: {', '.join(DEMO_MODELS)}); repeatable.")] = None,
    score: Annotated[bool, typer.Option(
        "--score/--no-score", help="Score each synthetic table (synthloop.evaluate) and write an HTML report.")]
    = _DEFAULTS["evaluate"],
) -> None:
    """Fit the baseline synthesizers on bundled Adult census data, sample, save and score them."""
    with console.status("Loading Adult…", spinner="dots") as status:
        result = run_demo(rows=rows, out_dir=out, models=tuple(model or DEMO_MODELS), evaluate=score,
                          on_step=lambda message: status.update(f"{message}…"))
    console.print(_runs_table(result))
    if result.holdout_scores or any(run.scores for run in result.runs):
        console.print(_scores_table(result))
    else:
        console.print("[dim]Not scored (--no-score); run synthloop evaluate on a synthetic table to score it.[/dim]")
    for name, reason in result.skipped.items():
        console.print(f"[yellow]Skipped {name}:[/yellow] {escape(reason)}")
    _print_files(result)


def _runs_table(result) -> Table:
    table = Table(title=f"{result.dataset}: trained on {result.n_train_rows:,} real rows "
                        f"({result.n_holdout_rows:,} held out)", title_justify="left")
    for header in ("synthesizer", "fit (s)", "sample (s)", "rows made", "model size"):
        table.add_column(header, justify="left" if header == "synthesizer" else "right")
    for run in result.runs:
        size = human_size(run.model_dir) if run.model_dir else "—"
        table.add_row(run.model, f"{run.fit_seconds:.1f}", f"{run.sample_seconds:.1f}", f"{run.n_synthetic_rows:,}", size)
    return table


def _scores_table(result) -> Table:
    table = Table(title="How good: each synthetic table vs the real training data "
                        "(the holdout column is real data: what 'as good as real' looks like)", title_justify="left")
    table.add_column("metric", no_wrap=True)
    table.add_column("goal", no_wrap=True)
    for run in result.runs:
        table.add_column(run.model, justify="right")
    table.add_column("real holdout", justify="right", style="dim")
    metrics = list(dict.fromkeys([*result.holdout_scores, *(m for run in result.runs for m in run.scores)]))
    for metric in metrics:
        goal = {"max": "higher", "min": "lower"}.get(result.score_goals.get(metric, ""), "")
        cells = [_fmt(run.scores.get(metric)) for run in result.runs]
        table.add_row(metric, goal, *cells, _fmt(result.holdout_scores.get(metric)))
    return table


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _print_files(result) -> None:
    if result.out_dir is None:
        return
    console.print(f"\nWrote to {result.out_dir}/:")
    for run in result.runs:
        paths = [p for p in (run.model_dir, run.synthetic_path, run.report_path) if p is not None]
        console.print(f"  {run.model}: " + ", ".join(str(p) for p in paths))
    if result.summary_path is not None:
        console.print(f"  summary: {result.summary_path}")
    first = result.runs[0] if result.runs else None
    if first is not None and first.model_dir is not None:
        console.print(f"\nTry: synthloop sample {first.model_dir} -n 1000 -o more.csv --where sex=Female", style="dim")
