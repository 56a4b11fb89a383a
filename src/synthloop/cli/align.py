"""``synthloop align SYNTHETIC --to TARGET -o OUT``: resample (and optionally transport) synthetic rows toward a target sample."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from synthloop.cli._common import console, working


def align(
    synthetic: Annotated[Path, typer.Argument(metavar="SYNTHETIC", help="The synthetic table to align (CSV or Parquet).")],
    to: Annotated[Path, typer.Option("--to", metavar="TARGET", help="Rows of the target distribution (a few hundred "
                                     "are enough; its columns must all be in SYNTHETIC), or a .json file of "
                                     "marginals {column: {label: share}}.")],
    out: Annotated[Path, typer.Option("--out", "-o", metavar="FILE", help="Output .csv, .tsv or .parquet file.")],
    n_rows: Annotated[int | None, typer.Option("--n-rows", "-n", min=1, metavar="N",
                                               help="Rows to write (default: as many as SYNTHETIC).")] = None,
    method: Annotated[str, typer.Option("--method", metavar="weights|transport|both",
                                        help="Density-ratio weights and resampling, optimal transport of numeric "
                                             "columns (needs synthloop[ot]), or both.")] = "weights",
    holdout: Annotated[Path | None, typer.Option("--holdout", metavar="FILE", help="Target rows not in TARGET, to "
                                                 "measure before/after honestly.")] = None,
    label: Annotated[str | None, typer.Option("--label", metavar="COLUMN", help="Also report train-synthetic-test-"
                                              "on-target for this column.")] = None,
    max_ratio: Annotated[float, typer.Option("--max-ratio", min=1.0, help="Clip density ratios here.")] = 20.0,
    min_ess: Annotated[float, typer.Option("--min-ess", min=0.0, max=1.0, help="Refuse when the effective sample "
                                           "size falls below this share of SYNTHETIC's rows.")] = 0.05,
    lineage: Annotated[Path | None, typer.Option("--lineage", metavar="STORE.db",
                                                 help="Record the aligned table in this lineage store.")] = None,
    seed: Annotated[int, typer.Option("--seed", metavar="SEED", help="Seed of folds, classifiers and resampling.")] = 0,
) -> None:
    """Align a synthetic table to a target sample and write exactly N rows to OUT."""
    from synthloop.align import align_files

    done = align_files(synthetic, to, out, n_rows=n_rows, method=method, max_ratio=max_ratio, min_ess=min_ess,
                       holdout=holdout, label=label, lineage=lineage, seed=seed, display=working)
    result = done.result
    console.print(f"Wrote {done.n_rows:,} aligned rows ({result.method}) to {escape(str(out))} in {done.seconds:.1f} s "
                  f"as {done.dataset_id}.", highlight=False)
    if result.ess is not None:
        console.print(f"Effective sample size {result.ess:,.0f} rows ({result.ess_share:.1%} of the input).")
    if result.before is not None and result.after is not None:
        for name, before, after in _rows(result):
            console.print(f"  {name:<22} {before:>8} → {after}", highlight=False)
        moved = result.before.divergences.merge(result.after.divergences, on=["column", "kind"],
                                                suffixes=("_before", "_after"))
        moved = moved.assign(change=moved["divergence_before"] - moved["divergence_after"]).nlargest(3, "change")
        for row in moved.itertuples():
            measure = "KS" if row.kind == "numeric" else "TVD"
            console.print(f"  {escape(row.column)[:18]:<18} {measure:<3} {row.divergence_before:>8.3f} → "
                          f"{row.divergence_after:.3f}", highlight=False)
    for note in result.notes:
        console.print(f"[yellow]Note:[/yellow] {escape(note)}")


def _rows(result) -> list[tuple[str, str, str]]:
    before, after = result.before.to_dict(), result.after.to_dict()
    rows = [("mean KS/TVD", f"{before['mean_divergence']:.3f}", f"{after['mean_divergence']:.3f}")]
    if before["detection_auc"] is not None:
        rows.insert(0, ("detection AUC", f"{before['detection_auc']:.3f}", f"{after['detection_auc']:.3f}"))
    if before["tstr"] is not None and after["tstr"] is not None:
        rows.append((f"TSTR ({before['tstr_metric']})", f"{before['tstr']:.3f}", f"{after['tstr']:.3f}"))
    return rows
