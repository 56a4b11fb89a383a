"""``synthloop align`` as one library call: read the tables, align, write the result with its provenance.

The output path is checked before any work, and nothing is written when alignment refuses the
target (:class:`~synthloop.errors.AlignmentError`). The written table's provenance names what was
aligned to what: the synthetic input's id as parent, the target's id and the alignment summary
(method, effective sample size, discrepancy before and after) in its parameters. Resampled rows
are recorded as one more synthetic generation than their input (the conservative reading for the
collapse guard).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from synthloop.align.table import AlignResult, Method, align_table
from synthloop.errors import AlignmentError


@dataclass(frozen=True)
class AlignFilesResult:
    """What :func:`align_files` wrote, and the alignment's report."""

    out: Path
    n_rows: int
    seconds: float
    dataset_id: str
    result: AlignResult


def align_files(synthetic: str | Path, target: str | Path, out: str | Path, *, n_rows: int | None = None,
                method: Method = "weights", max_ratio: float = 20.0, min_ess: float = 0.05,
                holdout: str | Path | None = None, label: str | None = None, lineage: str | Path | None = None,
                seed: int = 0, display: Callable[[str], AbstractContextManager[Any]] | None = None) -> AlignFilesResult:
    """Align the table in ``synthetic`` to the rows in ``target`` (or the marginals in a ``.json`` target) and
    write it to ``out`` (see :func:`align_table`)."""
    from synthloop.io import read_table, write_table
    from synthloop.io.tables import check_table_path
    from synthloop.lineage import DatasetRecord, LineageStore, fingerprint, provenance_of, register_table

    out = Path(out)
    check_table_path(out)
    synthetic_rows, target_rows = read_table(synthetic), _read_target(Path(target))
    holdout_rows = None if holdout is None else read_table(holdout)
    start = time.perf_counter()
    shown = f"{len(target_rows):,} rows of" if isinstance(target_rows, pd.DataFrame) else "the marginals in"
    with (display or _quiet)(f"Aligning {len(synthetic_rows):,} rows of {Path(synthetic).name} to {shown} "
                             f"{Path(target).name}"):
        result = align_table(synthetic_rows, target_rows, n_rows=n_rows, method=method, max_ratio=max_ratio,
                             min_ess=min_ess, holdout=holdout_rows, label=label, seed=seed)
        inherited = provenance_of(synthetic) or {}
        target_id = fingerprint(target_rows) if isinstance(target_rows, pd.DataFrame) else \
            hashlib.sha256(json.dumps(target_rows, sort_keys=True).encode()).hexdigest()[:16]
        params = {"action": "align", "aligned_to": target_id, **result.summary()}
        if lineage is not None:
            store = LineageStore(lineage)
            parent = register_table(store, synthetic_rows, provenance=inherited or None, kind=None if inherited
                                    else "synthetic", name=Path(synthetic).name)
            record = store.add_fingerprint(fingerprint(result.table), n_rows=len(result.table),
                                           n_columns=result.table.shape[1], kind="synthetic", parents=[parent.id],
                                           synthesizer=parent.synthesizer, params=params, action="align")
        else:
            record = DatasetRecord(id=fingerprint(result.table), kind="synthetic", n_rows=len(result.table),
                                   n_columns=result.table.shape[1], parents=(fingerprint(synthetic_rows),),
                                   synthesizer=inherited.get("synthesizer"), params=params,
                                   depth=int(inherited.get("depth", 0)) + 1, synthetic_share=1.0)
        write_table(result.table, out, metadata=record.provenance())
    return AlignFilesResult(out, len(result.table), time.perf_counter() - start, record.id, result)


def _read_target(path: Path) -> pd.DataFrame | dict[str, Any]:
    """A target table, or target marginals ``{column: {label: share}}`` from a ``.json`` file."""
    from synthloop.io import read_table

    if path.suffix.lower() != ".json":
        return read_table(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AlignmentError(f"Target marginals file not found: '{path}'.") from None
    except (OSError, ValueError) as exc:
        raise AlignmentError(f"Cannot read target marginals from '{path}': {exc}. Expected JSON like "
                             '{"sex": {"Female": 0.5, "Male": 0.5}}.') from None


def _quiet(message: str) -> AbstractContextManager[None]:
    return contextlib.nullcontext()
