"""``synthloop sample MODEL -n N -o FOLDER``: a sample too large for one file, written in Parquet partitions."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from synthloop.cli._common import console, human_size


def sample_folder(model_dir: Path, n_rows: int, out: Path, *, seed: int, backend: str, jobs: int | None,
                  partition_rows: int, privacy: str | None, privacy_reference: Path | None) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from synthloop.partitions import partition_sizes, sample_partitions
    from synthloop.workflows import disk_size

    total = len(partition_sizes(n_rows, partition_rows))
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task(f"Sampling {n_rows:,} rows in partitions ({backend})", total=total)
        done = sample_partitions(model_dir, n_rows, out, partition_rows=partition_rows, seed=seed, backend=backend,
                                 n_jobs=jobs, privacy=privacy, privacy_reference=privacy_reference,
                                 on_partition=lambda index, rows: progress.advance(task))
    again = f" ({done.n_partitions - done.written} were there already)" if done.written < done.n_partitions else ""
    console.print(f"Wrote {done.n_rows:,} rows in {done.n_partitions} partitions{again} to {escape(str(out))} "
                  f"({human_size(disk_size(out))}) in {done.seconds:.1f} s ({done.rows_per_second:,.0f} rows/s; "
                  f"peak worker memory {done.peak_rss_mb:,.0f} MB).", soft_wrap=True)
    console.print(f"Next: synthloop evaluate REAL {escape(str(out))} --target COLUMN", style="dim")
