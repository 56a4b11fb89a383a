"""``synthloop sample``: generate rows from a saved synthesizer, written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from synthloop.cli._common import console, human_size, parse_conditions, working


def sample(
    model_dir: Annotated[Path, typer.Argument(metavar="MODEL_DIR", help="A model directory written by synthloop fit.")],
    out: Annotated[Path, typer.Option("--out", "-o", metavar="FILE|DIR",
                                      help="Output .csv, .csv.gz, .tsv or .parquet file; a name without a suffix "
                                           "is a folder of Parquet partitions (large samples, --backend).")],
    n_rows: Annotated[int | None, typer.Option("--n-rows", "-n", min=0, metavar="N",
                                               help="Rows to generate (not with --seed-data).")] = None,
    seed_data: Annotated[Path | None, typer.Option(
        "--seed-data", metavar="FILE",
        help="Impute: a table with some cells missing; writes one row per input row, its given cells unchanged "
             "and the missing ones drawn given them (models that support it, e.g. argn).")] = None,
    where: Annotated[list[str] | None, typer.Option(
        "--where", "-w", metavar="CONDITION",
        help="Condition every row must meet: COLUMN=VALUE, COLUMN>=VALUE (also <=, >, <) or "
             "\"COLUMN in (A,B)\", e.g. --where sex=Female --where age>=30; repeatable.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", metavar="SEED",
                                             help="Seed for this draw (default: the model's seed).")] = None,
    lineage: Annotated[Path | None, typer.Option("--lineage", metavar="STORE.db",
                                                 help="Record the sample in this lineage store (created if missing).")] = None,
    privacy: Annotated[str | None, typer.Option(
        "--privacy", metavar="parity|no-copies|off",
        help="Regenerate rows that copy training rows (no-copies) or sit closer to them than held-out "
             "real rows do (parity). Both need the model's privacy reference (fit keeps it in MODEL_DIR.privacy). "
             "Default: parity when the reference is found, else off (with a note).")] = None,
    privacy_reference: Annotated[Path | None, typer.Option(
        "--privacy-reference", metavar="DIR",
        help="The privacy reference fit kept apart (default: MODEL_DIR.privacy when it exists).")] = None,
    align_to: Annotated[Path | None, typer.Option(
        "--align-to", metavar="TARGET", help="Rows of a target distribution: keep drawn rows in proportion to a "
                                             "classifier's density ratio target/model (before the privacy step).")] = None,
    align_shift: Annotated[str | None, typer.Option(
        "--align-shift", metavar="auto|COLUMN[,COLUMN]", help="With --align-to: take these shifted column(s) from "
        "TARGET rows (condition on them; auto = the most shifted one) and align the rest with the ratio step "
        "(synthloop.align.conditional_align).")] = None,
    refine: Annotated[Path | None, typer.Option(
        "--refine", metavar="REAL", help="Real rows (usually the training data): reject drawn rows where a detector "
                                         "tells them from these (discriminator rejection sampling).")] = None,
    keep_formulas: Annotated[bool, typer.Option(
        "--keep-formulas", help="Write CSV cells starting with =, +, -, @ as they are (default: prefix them with ' "
                                "so that a spreadsheet shows them instead of running them).")] = False,
    backend: Annotated[str, typer.Option("--backend", metavar="local|ray",
                                         help="Partitions (OUT a folder): local processes or Ray.")] = "local",
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", min=1, help="Partitions at once (default: CPUs).")] = None,
    partition_rows: Annotated[int, typer.Option("--partition-rows", min=1, metavar="N",
                                                help="Rows per Parquet partition (OUT a folder).")] = 1_000_000,
) -> None:
    """Generate N rows from a saved synthesizer and write them atomically to OUT (a file, or a folder of partitions)."""
    from synthloop.synthesizers.conditions import describe, split_conditions
    from synthloop.workflows import sample_table

    if out.suffix == "" and n_rows is not None and not where and seed_data is None and align_to is None \
            and refine is None:
        from synthloop.cli.partitions import sample_folder

        sample_folder(model_dir, n_rows, out, seed=seed or 0, backend=backend, jobs=jobs, partition_rows=partition_rows,
                      privacy=privacy, privacy_reference=privacy_reference)
        return

    conditions = parse_conditions(where or [])
    done = sample_table(model_dir, n_rows, out, conditions=conditions, seed=seed, privacy=privacy,
                        privacy_reference=privacy_reference, lineage=lineage, keep_formulas=keep_formulas,
                        seed_data=seed_data, align_to=align_to, refine=refine, display=working,
                        align_shift=None if align_shift is None else
                        "auto" if align_shift.strip() == "auto" else [c.strip() for c in align_shift.split(",") if c.strip()])
    shown = f" where {describe(*split_conditions(conditions))}" if conditions else ""
    console.print(f"Wrote {done.n_rows:,} rows{escape(shown)} to {escape(str(out))} ({human_size(done.size_bytes)}) "
                  f"in {done.seconds:.1f} s.")
    if done.lineage is not None:
        console.print(f"Recorded the sample as {done.sample_id} (synthetic, depth {done.sample_depth}) "
                      f"in {escape(str(lineage))}; "
                      f"see its ancestry with: synthloop lineage tree {done.sample_id} --lineage {escape(str(lineage))}",
                      highlight=False, soft_wrap=True)
    info = done.privacy
    copies = "copies returned unknown" if info.n_copies_returned is None else f"{info.n_copies_returned:,} copies returned"
    console.print(f"Privacy {info.privacy}: {info.n_replaced:,} rows regenerated ({info.n_replaced_copies:,} training "
                  f"copies, {info.n_replaced_close:,} too close); {copies}; "
                  f"largest marginal shift {info.max_marginal_shift:.3f}.")
    for note in done.notes:
        console.print(f"[yellow]Note:[/yellow] {escape(note)}")
