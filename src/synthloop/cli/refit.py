"""``synthloop refit``: refit a synthesizer on fresh real rows under a loop policy, guarded and gated."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from synthloop.cli._common import EXIT_CHECK_FAILED, console, working


def refit(
    model_dir: Annotated[Path, typer.Argument(metavar="MODEL_DIR", help="The model to refresh (from synthloop fit).")],
    feedback: Annotated[list[Path], typer.Option("--feedback", "-f", metavar="FILE",
                                                 help="Fresh real rows (repeatable), e.g. the windows that drifted.")],
    out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="Where the refreshed model goes.")],
    policy: Annotated[str, typer.Option(
        "--policy", metavar="accumulate|mix-real",
        help="mix-real: a share --fraction of real rows (default); accumulate: fresh real rows plus as many of "
             "the old model's rows.")] = "mix-real",
    fraction: Annotated[float, typer.Option("--fraction", metavar="λ",
                                            help="mix-real: the share of real rows in the training set.")] = 0.8,
    n_history: Annotated[int | None, typer.Option(
        "--history-rows", metavar="N", help="Rows drawn from the old model (default: enough to use every fresh row).")]
        = None,
    lineage: Annotated[Path | None, typer.Option("--lineage", metavar="STORE.db",
                                                 help="Record feedback, history, training set and gate here.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse (instead of warn) when the collapse guard fires.")]
        = False,
    sample_out: Annotated[Path | None, typer.Option("--sample-out", metavar="FILE",
                                                    help="Write refreshed synthetic rows here if the gate passes.")]
        = None,
    n_rows: Annotated[int | None, typer.Option("--n-rows", "-n", min=1, metavar="N")] = None,
    seed: Annotated[int, typer.Option("--seed", metavar="SEED")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it holds a model.")] = False,
) -> None:
    """Refit MODEL_DIR on fresh real rows (never on its own output alone), then gate the refreshed model against
    held-out feedback rows. Exit 1 when the gate fails (the model is saved; no sample is released)."""
    from synthloop.workflows import refit_table

    chosen = {"name": policy, "fraction": fraction} if policy == "mix-real" else policy
    done = refit_table(model_dir, feedback, out, policy=chosen, n_history=n_history, lineage=lineage, strict=strict,
                       sample_out=sample_out, n_rows=n_rows, seed=seed, force=force, display=working)
    console.print(f"Refitted {done.synthesizer} into {escape(str(out))} on {done.n_training:,} rows "
                  f"({done.synthetic_share:.0%} from the old model, policy {done.policy['name']}) in "
                  f"{done.seconds:.1f} s.")
    if done.before is not None and done.after is not None:
        console.print(f"Against {done.n_holdout:,} held-out feedback rows: C2ST AUC {done.before.joint.auc:.3f} (old) → "
                      f"{done.after.joint.auc:.3f} (refreshed); drifted columns "
                      f"{', '.join(done.before.drifted_columns) or 'none'} → {', '.join(done.after.drifted_columns) or 'none'}.")
    for note in done.notes:
        console.print(f"[yellow]Note:[/yellow] {escape(note)}")
    if done.lineage is not None:
        console.print(f"Recorded the training set {done.training_id} (mixed, depth {done.depth}) in "
                      f"{escape(str(done.lineage))}.")
    if not done.released:
        console.print("[red]Gate failed:[/red] the refreshed model still differs from the new real data; "
                      "no sample was released.")
        raise typer.Exit(EXIT_CHECK_FAILED)
    if done.sample_out is not None:
        console.print(f"Released refreshed synthetic rows to {escape(str(done.sample_out))}.")
