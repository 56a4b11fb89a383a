"""``synthloop fit``: train a synthesizer on a table and save it as a model directory."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from synthloop.cli._common import INF_HELP, check_model_dir, console, human_size, parse_params, read_schema, working
from synthloop.cli.schema import schema_notes


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
        help="Also save the training-row reference that sample --privacy parity|no-copies needs. SENSITIVE: "
             "those files hold every training row; without them the model samples with privacy off.")] = False,
    inf: Annotated[str, typer.Option("--inf", metavar="error|missing", help=INF_HELP)] = "error",
    force: Annotated[bool, typer.Option("--force", help="Replace OUT when it already holds a synthloop model "
                                                        "(a folder holding anything else is never replaced).")] = False,
) -> None:
    """Fit a synthesizer to DATA and save it to OUT (config.json + schema.json + weights.safetensors)."""
    from synthloop.io import read_table
    from synthloop.lineage import LineageStore, link_model
    from synthloop.loop.guard import guard_fit
    from synthloop.schema.values import check_inf
    from synthloop.synthesizers import get

    check_model_dir(out, overwrite=force)
    check_inf(inf)
    synthesizer = get(model, **parse_params(model, param or []))
    checkpoint = default_checkpoint(synthesizer, out)
    table_schema = read_schema(schema)
    real = read_table(data)
    store = LineageStore(lineage) if lineage is not None else None
    training = guard_fit(store, real, synthesizer=model, params=synthesizer.hyperparameters(), source=data, strict=strict)
    with working(f"Fitting {model} on {len(real):,} rows × {real.shape[1]} columns of {data.name}", live=False) as timing:
        synthesizer.fit(real, table_schema, inf=inf)
        synthesizer.save(out, keep_privacy_reference=keep_privacy_reference, overwrite=force)
    link_model(out, training, store)
    if checkpoint is not None:
        shutil.rmtree(checkpoint, ignore_errors=True)
    console.print(f"Fitted [bold]{model}[/bold] on {len(real):,} rows in {timing['seconds']:.1f} s; "
                  f"saved to {escape(str(out))} ({human_size(out)}).")
    for note in schema_notes(synthesizer.schema_):
        console.print(f"[yellow]Note:[/yellow] {escape(note)}")
    if store is not None:
        console.print(f"Recorded the training data as {training.id} ({training.kind}, depth {training.depth}) "
                      f"in {escape(str(lineage))}; see it with: "
                      f"synthloop lineage show {training.id} --lineage {escape(str(lineage))}",
                      highlight=False, soft_wrap=True)
    if keep_privacy_reference:
        console.print(f"[yellow]Note:[/yellow] {escape(str(out))} keeps the privacy reference (every training row), so it "
                      "is written readable by you only (0700): share it like the training data, or delete "
                      "privacy_reference.* before sharing.", soft_wrap=True)
    console.print(f"Next: synthloop sample {escape(str(out))} -n {len(real)} -o synthetic.csv", style="dim", soft_wrap=True)


def default_checkpoint(synthesizer, out: Path) -> Path | None:
    """Neural models checkpoint beside OUT (not inside: saving replaces OUT whole), so that re-running
    the same command after Ctrl-C or a killed process resumes from the last checkpoint."""
    params = synthesizer.get_params()
    if "checkpoint_dir" not in params or params["checkpoint_dir"] is not None:
        return None
    checkpoint = out.parent / f".{out.name}.checkpoint"
    synthesizer.set_params(checkpoint_dir=str(checkpoint))
    return checkpoint
