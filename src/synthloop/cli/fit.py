"""``synthloop fit``: train a synthesizer on a table and save it as a model directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from synthloop.cli._common import INF_HELP, console, human_size, split_pair, working
from synthloop.cli._ledger import print_ledger
from synthloop.workflows import default_checkpoint


def fit(
    data: Annotated[Path, typer.Argument(metavar="DATA", help="Training table: CSV, TSV or Parquet.")],
    model: Annotated[str, typer.Option("--model", "-m", metavar="NAME",
                                      help="Synthesizer name (see: synthloop models).")],
    out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="Directory to save the fitted model to.")],
    schema: Annotated[Path | None, typer.Option("--schema", metavar="SCHEMA.json",
                                                help="Schema JSON (default: inferred from DATA).")] = None,
    param: Annotated[list[str] | None, typer.Option(
        "--param", "-p", metavar="KEY=VALUE",
        help="Model parameter, value as JSON (e.g. -p epochs=50 -p hidden=[64,64]); repeatable.")] = None,
    lineage: Annotated[Path | None, typer.Option("--lineage", metavar="STORE.db",
                                                 help="Record the fit in this lineage store (created if missing).")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse (exit 2) instead of warning when DATA is too "
                                                          "synthetic or too many generations deep.")] = False,
    keep_privacy_reference: Annotated[bool, typer.Option(
        "--keep-privacy-reference",
        help="Keep the training-row reference that sample --privacy parity|no-copies needs INSIDE the model "
             "folder (SENSITIVE: every training row; the folder can then not be shared).")] = False,
    privacy_reference: Annotated[Path | None, typer.Option(
        "--privacy-reference", metavar="DIR",
        help="Where to keep that reference APART from the model (default: OUT.privacy beside OUT, owner-only); "
             "sample finds it there. Share OUT alone; keep DIR like the training data.")] = None,
    no_privacy_reference: Annotated[bool, typer.Option(
        "--no-privacy-reference", help="Keep no reference anywhere: samples of this model are not privacy-checked.")] = False,
    inf: Annotated[str, typer.Option("--inf", metavar="error|missing", help=INF_HELP)] = "error",
    force: Annotated[bool, typer.Option("--force", help="Replace OUT when it already holds a synthloop model "
                                                        "(a folder holding anything else is never replaced).")] = False,
    adapt_to: Annotated[Path | None, typer.Option(
        "--adapt-to", metavar="TARGET", help="Adapt the generator to these target rows (every column of DATA; a few "
                                             "hundred are enough): fit on DATA plus TARGET repeated to --target-share "
                                             "of the training rows (synthloop.align.adapt).")] = None,
    target_share: Annotated[float | None, typer.Option(
        "--target-share", metavar="SHARE",
        help="TARGET's share of the training rows with --adapt-to, between 0 and 1 (default 0.5).")] = None,
) -> None:
    """Fit a synthesizer to DATA and save it to OUT (config.json + schema.json + weights.safetensors)."""
    from synthloop.workflows import fit_table

    # checkpoint= names this module's default_checkpoint, the seam tests use to see where checkpoints go.
    done = fit_table(data, model, out, schema=schema, params=dict(split_pair(pair, "--param") for pair in param or []),
                     params_as_text=True, lineage=lineage, strict=strict, keep_privacy_reference=keep_privacy_reference,
                     privacy_reference=privacy_reference, no_privacy_reference=no_privacy_reference, inf=inf,
                     force=force, adapt_to=adapt_to, target_share=target_share,
                     display=lambda message: working(message, live=False), checkpoint=default_checkpoint)
    console.print(f"Fitted [bold]{model}[/bold] on {done.n_rows:,} rows in {done.seconds:.1f} s; "
                  f"saved to {escape(str(out))} ({human_size(done.size_bytes)}).")
    if done.adapted_to is not None:
        console.print(f"Adapted to the rows of {escape(str(adapt_to))} ({done.adapted_to}); align its samples to them "
                      f"too with: synthloop sample {escape(str(out))} --align-to {escape(str(adapt_to))}",
                      highlight=False, soft_wrap=True)
    for note in done.schema_notes:
        console.print(f"[yellow]Note:[/yellow] {escape(note)}")
    if done.lineage is not None:
        console.print(f"Recorded the training data as {done.training_id} ({done.training_kind}, depth "
                      f"{done.training_depth}) in {escape(str(lineage))}; see it with: "
                      f"synthloop lineage show {done.training_id} --lineage {escape(str(lineage))}",
                      highlight=False, soft_wrap=True)
    if done.ledger is not None:
        print_ledger(done.ledger, f"Privacy ledger of {out} ({model}); every entry: synthloop models show {out}",
                     short=True)
        console.print(f"Privacy: {escape(done.ledger_summary or '')}; the ledger: synthloop audit {escape(str(out))}",
                      soft_wrap=True)
    for note in done.privacy_notes:
        console.print(f"[yellow]Note:[/yellow] {escape(note)}", soft_wrap=True)
    console.print(f"Next: synthloop sample {escape(str(out))} -n {done.n_rows} -o synthetic.csv", style="dim", soft_wrap=True)
