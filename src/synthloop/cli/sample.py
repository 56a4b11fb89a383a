"""``synthloop sample``: generate rows from a saved synthesizer, written atomically."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from synthloop.cli._common import check_table_path, console, human_size, parse_conditions, working


def sample(
    model_dir: Annotated[Path, typer.Argument(metavar="MODEL_DIR", help="A model directory written by synthloop fit.")],
    out: Annotated[Path, typer.Option("--out", "-o", metavar="FILE",
                                      help="Output .csv, .csv.gz, .tsv or .parquet file.")],
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
    keep_formulas: Annotated[bool, typer.Option(
        "--keep-formulas", help="Write CSV cells starting with =, +, -, @ as they are (default: prefix them with ' "
                                "so that a spreadsheet shows them instead of running them).")] = False,
) -> None:
    """Generate N rows from a saved synthesizer and write them atomically to OUT."""
    from synthloop.cli.fit import default_reference_dir
    from synthloop.errors import ConfigError, SynthloopWarning
    from synthloop.io import read_table, write_table
    from synthloop.lineage import LineageStore, sample_provenance
    from synthloop.synthesizers import Synthesizer
    from synthloop.synthesizers.conditions import describe, split_conditions

    check_table_path(out)
    if (n_rows is None) == (seed_data is None):
        raise ConfigError("Give exactly one of --n-rows N (generate N rows) and --seed-data FILE (fill in its missing cells).")
    conditions = parse_conditions(where or [])
    if seed_data is not None and conditions:
        raise ConfigError("--where and --seed-data do not combine: put the conditions into the seed table's columns.")
    partial = read_table(seed_data) if seed_data is not None else None
    reference = privacy_reference
    if reference is None and default_reference_dir(model_dir).is_dir():
        reference = default_reference_dir(model_dir)
    synthesizer = Synthesizer.load(model_dir, privacy_reference=reference)
    if "progress" in synthesizer.get_params():
        # One live display: the command's own. A model's chunk bar counts the rows it draws, which
        # privacy regeneration and conditions make more than the rows asked for.
        synthesizer.set_params(progress=False)
    doing = (f"Sampling {n_rows:,} rows" if partial is None else f"Imputing {len(partial):,} rows") + f" from {synthesizer.name}"
    with working(doing) as timing, warnings.catch_warnings():
        warnings.simplefilter("ignore", SynthloopWarning)        # the note below says it
        if partial is not None:
            synthetic = synthesizer.impute(partial, seed=seed)
        else:
            synthetic = synthesizer.sample(n_rows, conditions=conditions, seed=seed, privacy=privacy)
        provenance = sample_provenance(synthetic, model_dir, synthesizer=synthesizer.name,
                                       params=synthesizer.hyperparameters(),
                                       store=LineageStore(lineage) if lineage is not None else None)
        write_table(synthetic, out, metadata=provenance, keep_formulas=keep_formulas)
    shown = f" where {describe(*split_conditions(conditions))}" if conditions else ""
    console.print(f"Wrote {len(synthetic):,} rows{escape(shown)} to {escape(str(out))} ({human_size(out)}) "
                  f"in {timing['seconds']:.1f} s.")
    if lineage is not None:
        found = provenance.get("lineage", provenance)
        console.print(f"Recorded the sample as {found.get('id')} (synthetic, depth {found.get('depth')}) "
                      f"in {escape(str(lineage))}; "
                      f"see its ancestry with: synthloop lineage tree {found.get('id')} --lineage {escape(str(lineage))}",
                      highlight=False, soft_wrap=True)
    info = synthesizer.last_sample_info_
    copies = "copies returned unknown" if info.n_copies_returned is None else f"{info.n_copies_returned:,} copies returned"
    console.print(f"Privacy {info.privacy}: {info.n_replaced:,} rows regenerated ({info.n_replaced_copies:,} training "
                  f"copies, {info.n_replaced_close:,} too close); {copies}; "
                  f"largest marginal shift {info.max_marginal_shift:.3f}.")
    if info.note:
        console.print(f"[yellow]Note:[/yellow] {escape(info.note)}")
