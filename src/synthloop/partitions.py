"""Tables larger than one process: sample into a folder of Parquet partitions, evaluate over one.

**Sampling** (``synthloop sample MODEL -n N -o OUT/ --backend local|ray``): ``N`` rows are cut into
partitions of ``partition_rows`` (the last one shorter), so exactly ``N`` rows are written. Partition
``i`` draws with seed ``task_seeds(seed, n_partitions)[i]`` and, inside it, chunks of ``chunk_rows``
with seeds spawned from that one, so the folder is the same whatever the backend and the worker count,
and a worker holds one chunk at a time (bounded memory: the model plus ``chunk_rows`` rows). Each
partition is written atomically as ``part-00000.parquet``; a manifest (``_partitions.json``) records
the model, ``N``, the partition size and the seed, so running the same command again after an
interruption writes only the missing partitions, and a different request for the same folder is
refused.

**Evaluating** a folder (``synthloop evaluate REAL OUT/``): the partitions are streamed in batches;
exact counts come from every row (rows, training-row copies by the shared row hash, category
frequencies per column), and the evaluation suite runs on a seeded sample of ``sample_rows`` rows drawn
uniformly from all partitions. The report's ``meta["streamed"]`` holds the exact counts.

Pointing Ray at a cluster: call ``ray.init(address="ray://HEAD:10001")`` (or set ``RAY_ADDRESS``)
before ``sample_partitions``; the workers need synthloop installed and ``OUT`` on a shared file system.
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthloop.errors import ArtifactError, ConfigError
from synthloop.parallel import check_backend, map_tasks, task_seeds

MANIFEST = "_partitions.json"
PART = "part-{:05d}.parquet"


@dataclass(frozen=True)
class PartitionedSample:
    """What :func:`sample_partitions` wrote: the folder, its rows, and what this call did."""

    out: Path
    n_rows: int
    n_partitions: int
    written: int              # partitions written by this call (the others were there already)
    seconds: float
    rows_per_second: float    # rows written by this call / seconds
    peak_rss_mb: float        # the largest peak resident memory of one worker process (0: none ran)


def partition_sizes(n_rows: int, partition_rows: int) -> list[int]:
    if n_rows < 0 or partition_rows < 1:
        raise ConfigError(f"n_rows must be ≥ 0 and partition_rows ≥ 1, got {n_rows} and {partition_rows}")
    full, rest = divmod(n_rows, partition_rows)
    return [partition_rows] * full + ([rest] if rest else [])


def sample_partitions(model_dir: str | Path, n_rows: int, out: str | Path, *, partition_rows: int = 1_000_000,
                      chunk_rows: int = 100_000, seed: int = 0, backend: str = "local", n_jobs: int | None = None,
                      privacy: str | None = None, privacy_reference: str | Path | None = None,
                      on_partition: Callable[[int, int], None] | None = None) -> PartitionedSample:
    """Draw exactly ``n_rows`` rows from the saved model into Parquet partitions under ``out``; see the module doc.

    ``on_partition(index, rows)`` is called as each partition is written.
    """
    from synthloop.workflows import default_reference_dir

    model_dir, out = Path(model_dir), Path(out)
    check_backend(backend)
    if not (model_dir / "config.json").is_file():
        raise ArtifactError(f"'{model_dir}' is not a synthloop model folder (no config.json).")
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be ≥ 1, got {chunk_rows}")
    sizes = partition_sizes(n_rows, partition_rows)
    reference = privacy_reference
    if reference is None and default_reference_dir(model_dir).is_dir():
        reference = default_reference_dir(model_dir)
    manifest = {"format": "synthloop-partitions/1", "model": _model_id(model_dir), "n_rows": n_rows,
                "partition_rows": partition_rows, "chunk_rows": chunk_rows, "seed": seed, "privacy": privacy,
                "partitions": len(sizes)}
    _check_folder(out, manifest)
    seeds = task_seeds(seed, len(sizes))
    missing = [i for i in range(len(sizes)) if not (out / PART.format(i)).is_file()]
    tasks = [(str(model_dir), None if reference is None else str(reference), str(out / PART.format(i)), sizes[i],
              chunk_rows, seeds[i], privacy) for i in missing]
    start = time.perf_counter()
    done = map_tasks(_write_partition, tasks, backend=backend, n_jobs=n_jobs,
                     on_done=None if on_partition is None else lambda k, value: on_partition(missing[k], value[0]))
    seconds = time.perf_counter() - start
    written_rows = sum(rows for rows, _ in done)
    return PartitionedSample(out=out, n_rows=n_rows, n_partitions=len(sizes), written=len(done), seconds=seconds,
                             rows_per_second=written_rows / seconds if seconds > 0 else 0.0,
                             peak_rss_mb=max((rss for _, rss in done), default=0.0))


def _model_id(model_dir: Path) -> str:
    import hashlib

    return hashlib.sha256((model_dir / "config.json").read_bytes()).hexdigest()[:16]


def _check_folder(out: Path, manifest: dict[str, Any]) -> None:
    """Start a new folder (writing the manifest) or continue the same request; refuse anything else."""
    from synthloop.io.atomic import atomic_write

    path = out / MANIFEST
    if path.is_file():
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored != manifest:
            changed = ", ".join(k for k in manifest if stored.get(k) != manifest[k])
            raise ConfigError(f"'{out}' holds partitions of another request ({changed} differ); give a new folder, "
                              "or the same model, rows, partition size and seed to resume it.")
        return
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ArtifactError(f"'{out}' exists and is not a partition folder written by synthloop; give a new folder.")
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2))


def _write_partition(model_dir: str, reference: str | None, path: str, n_rows: int, chunk_rows: int, seed: int,
                     privacy: str | None) -> tuple[int, float]:
    """In a worker: load the model, draw ``n_rows`` in chunks, append each to one Parquet file, atomically."""
    import warnings

    import pyarrow as pa
    import pyarrow.parquet as pq

    from synthloop.errors import SynthloopWarning
    from synthloop.io.atomic import atomic_write
    from synthloop.synthesizers import Synthesizer

    model = Synthesizer.load(model_dir, privacy_reference=reference)
    if "progress" in model.get_params():
        model.set_params(progress=False)
    chunks = partition_sizes(n_rows, chunk_rows)
    chunk_seeds = task_seeds(seed, len(chunks))
    with atomic_write(path, suffix=".parquet") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", SynthloopWarning)      # privacy "off" without a reference: said once by the caller
        writer = None
        try:
            for size, chunk_seed in zip(chunks, chunk_seeds, strict=True):
                table = pa.Table.from_pandas(model.sample(size, seed=chunk_seed, privacy=privacy), preserve_index=False,
                                             schema=None if writer is None else writer.schema)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
            if writer is None:                                   # an empty partition still has its columns
                pq.write_table(pa.Table.from_pandas(model.sample(0, seed=seed), preserve_index=False), tmp)
        finally:
            if writer is not None:
                writer.close()
    return n_rows, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------- evaluating a folder
def partition_files(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise ArtifactError(f"'{folder}' holds no .parquet partitions.")
    return files


def stream_counts(folder: str | Path, real: pd.DataFrame, schema, *, sample_rows: int = 50_000, seed: int = 0,
                  batch_rows: int = 65_536) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One pass over every partition: a uniform seeded sample of ``sample_rows`` rows, and exact counts.

    Counts: ``rows``; ``copies`` (rows equal to a training row, by the shared row hash); per categorical
    column the frequency of each label and ``tvd``, its total variation distance to the real column.
    Memory holds one batch, the sample, the training-row hashes and the label counts.
    """
    import pyarrow.parquet as pq

    from synthloop.metrics.encoding import model_view
    from synthloop.tabular.hashing import hash_rows

    files = partition_files(folder)
    total = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(total, min(sample_rows, total), replace=False)) if total else np.array([], int)
    kinds = schema.model_kinds()
    numeric = [n for n, k in kinds.items() if k == "numeric"]
    labels = [n for n, k in kinds.items() if k != "numeric"]
    real_hashes = np.unique(hash_rows(model_view(real, schema), numeric, labels))
    counts: dict[str, pd.Series] = {name: pd.Series(dtype="int64") for name in labels}
    copies, offset, picked = 0, 0, []
    for file in files:
        for batch in pq.ParquetFile(file).iter_batches(batch_size=batch_rows):
            frame = batch.to_pandas()
            view = model_view(frame, schema)
            copies += int(np.isin(hash_rows(view, numeric, labels), real_hashes).sum())
            for name in labels:
                counts[name] = counts[name].add(frame[name].astype("object").fillna("<missing>").value_counts(),
                                                fill_value=0)
            inside = chosen[(chosen >= offset) & (chosen < offset + len(frame))] - offset
            if len(inside):
                picked.append(frame.iloc[inside])
            offset += len(frame)
    sample = pd.concat(picked, ignore_index=True) if picked else real.iloc[:0]
    columns = {}
    for name in labels:
        synthetic_share = counts[name] / max(total, 1)
        real_share = real[name].astype("object").fillna("<missing>").value_counts(normalize=True)
        tvd = 0.5 * float(synthetic_share.sub(real_share, fill_value=0).abs().sum())
        columns[name] = {"tvd": round(tvd, 6), "labels": {str(k): int(v) for k, v in counts[name].items()}}
    return sample, {"rows": int(total), "partitions": len(files), "copies": copies,
                    "copy_rate": copies / total if total else 0.0, "sample_rows": len(sample), "columns": columns}


def evaluate_partitions(real: pd.DataFrame, folder: str | Path, schema=None, *, sample_rows: int = 50_000,
                        seed: int = 0, **evaluate_options: Any):
    """``evaluate`` on a seeded sample of a partition folder, with the exact streamed counts in ``meta["streamed"]``."""
    from synthloop.report import evaluate
    from synthloop.schema import Schema

    schema = schema if schema is not None else Schema.infer(real)
    sample, counts = stream_counts(folder, real, schema, sample_rows=sample_rows, seed=seed)
    report = evaluate(real, sample, schema, seed=seed, **evaluate_options)
    report.meta["streamed"] = counts
    report.meta.setdefault("notes", []).append(
        f"scores on a seeded sample of {counts['sample_rows']:,} of {counts['rows']:,} rows in {counts['partitions']} "
        f"partitions; exact over every row: {counts['copies']:,} training-row copies "
        f"({counts['copy_rate']:.4%}), per-column label frequencies")
    return report
