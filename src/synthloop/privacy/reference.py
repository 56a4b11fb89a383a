"""The privacy reference: what the privacy step compares synthetic rows with, and how it is kept.

It holds, for the training rows (model view): a sorted 64-bit hash of every distinct row (for
copies), every row as standardised float32 numerics and pooled label codes (for closeness, in the
shared geometry of :mod:`synthloop.tabular.geometry`), and the held-out rates measured by
cross-fitting (see :meth:`PrivacyReference.build`). **It is as sensitive as the training data**:
the hashes answer "was this exact row in training?" and the points are the rows themselves.

Hence its life cycle:

- ``fit`` does not build it. The model keeps the training model frame in memory (never in a file)
  and the reference is built on the first ``sample`` that asks for privacy (on Adult this moved
  about 1 s out of ``independent``'s 1.5 s fit);
- ``save`` leaves it out of the model folder: the folder can be shared. The reference is stored
  apart, in a folder of its own, owner-only (``model.save_privacy_reference(DIR)``, read back by
  ``Synthesizer.load(path, privacy_reference=DIR)``; the CLI's ``fit`` writes it to ``OUT.privacy``
  and ``sample`` finds it there), or, when asked, inside the model folder
  (``save(path, keep_privacy_reference=True)``, CLI ``--keep-privacy-reference``). Either way it is
  two files, ``privacy_reference.safetensors`` and ``privacy_reference.json``, as sensitive as the
  training data;
- a model class with ``keeps_training_rows = False`` (differentially private models) never keeps
  the frame, so no reference can ever be built from it.

Calibration (so the held-out rates are measured, not assumed): the training rows are cross-fitted
in 20 folds; every row, checked against the folds it is not in, gives the held-out exact-match rate,
and up to 2,000 of them give the DCR percentiles (1st, 5th, 10th, 25th and 50th). Held-out rows are
compared with 95% of the training rows, synthetic rows with all of them, which errs a little on the
safe side.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthloop.errors import ArtifactError
from synthloop.tabular.geometry import MixedGeometry, nearest_distances
from synthloop.tabular.hashing import hash_rows

#: Held-out DCR percentiles that bound the "too close" bands of the parity setting: the tails *and*
#: the bulk (up to the median), so the whole distance distribution sits no closer than held-out rows
#: (issue 13: with the 1st and 5th only, a table of few continuous columns kept a median ratio of 0.6).
PARITY_LEVELS = (0.01, 0.05, 0.10, 0.25, 0.50)
REFERENCE_WEIGHTS = "privacy_reference.safetensors"
REFERENCE_META = "privacy_reference.json"
# Each held-out row is compared with the other 95% of the training rows, synthetic rows with all of
# them: with 5 folds (80%) held-out distances were longer by the missing fifth, which at the median
# band alone made a model drawing exactly like real data lose ~8% of its rows to the check.
_N_FOLDS = 20
_MAX_CALIBRATION_ROWS = 2_000
_BLOCK_CAP = 1.0 - 1e-9  # below one differing label: only rows with the same labels can be that close


@dataclass(frozen=True)
class PrivacyReference:
    """What the privacy step checks copies and closeness against (see the module docstring)."""

    geometry: MixedGeometry
    hashes: np.ndarray            # (n_unique_rows,) sorted uint64 row hashes
    points: np.ndarray            # (n_rows, n_numeric) standardised numerics, float32, NaN kept
    codes: np.ndarray             # (n_rows, n_categorical) int32 pooled label codes
    thresholds: np.ndarray        # DCR at PARITY_LEVELS among held-out (cross-fitted) rows
    copy_rate: float              # held-out rows equal to some training row
    band_rates: np.ndarray        # held-out share with DCR <= each threshold
    n_calibration: int

    # ------------------------------------------------------------------ build
    @classmethod
    def build(cls, kinds: dict[str, str], model_frame: pd.DataFrame, rng: np.random.Generator) -> PrivacyReference:
        """Hash, encode and calibrate on the training rows (model view; ``kinds`` from ``schema.model_kinds()``)."""
        geometry = MixedGeometry.fit(model_frame, kinds)
        points = geometry.points(model_frame).astype("float32")
        codes = geometry.codes(model_frame)
        row_hashes = hash_rows(model_frame, geometry.numeric, geometry.categorical)
        base = cls(geometry, np.unique(row_hashes), points, codes, np.zeros(len(PARITY_LEVELS)), 0.0,
                   np.zeros(len(PARITY_LEVELS)), 0)
        return base._calibrated(row_hashes, rng)

    def _calibrated(self, row_hashes: np.ndarray, rng: np.random.Generator) -> PrivacyReference:
        """Cross-fit in folds: each held-out fold against the others gives the copy rate (all rows) and
        the DCR percentiles (up to 2,000 rows)."""
        n_rows = len(row_hashes)
        n_folds = min(_N_FOLDS, n_rows)
        folds = rng.permutation(n_rows) % n_folds
        measured = np.zeros(n_rows, dtype=bool)
        measured[rng.permutation(n_rows)[:_MAX_CALIBRATION_ROWS]] = True
        is_copy = np.zeros(n_rows, dtype=bool)
        dcr = np.full(n_rows, np.nan)
        for fold in range(n_folds):
            inside, others = folds == fold, np.flatnonzero(folds != fold)
            is_copy[inside] = np.isin(row_hashes[inside], row_hashes[others])
            queries = np.flatnonzero(inside & measured)
            dcr[queries] = self._calibration_distances(queries, others)
        dcr = np.where(is_copy, 0.0, dcr)[measured]
        thresholds = np.quantile(dcr, PARITY_LEVELS, method="inverted_cdf")
        band_rates = np.array([(dcr <= t).mean() for t in thresholds])
        return PrivacyReference(self.geometry, self.hashes, self.points, self.codes, thresholds,
                                float(is_copy.mean()), band_rates, len(dcr))

    def _calibration_distances(self, queries: np.ndarray, others: np.ndarray) -> np.ndarray:
        """Exact DCR where it is below 1 (rows sharing every label); the rest only when percentiles need it."""
        reference = (self.points[others], self.codes[others])
        dcr = nearest_distances(self.geometry, (self.points[queries], self.codes[queries]), reference, cap=_BLOCK_CAP)
        if np.mean(dcr < 1.0) < max(PARITY_LEVELS):
            far = dcr >= 1.0
            dcr[far] = nearest_distances(self.geometry, (self.points[queries[far]], self.codes[queries[far]]), reference)
        return dcr

    # ------------------------------------------------------------------ queries
    def is_copy(self, model_rows: pd.DataFrame) -> np.ndarray:
        """Rows (canonical model view) that equal a training row on every learned column."""
        if not self.geometry.numeric and not self.geometry.categorical:
            return np.ones(len(model_rows), dtype=bool)
        return np.isin(hash_rows(model_rows, self.geometry.numeric, self.geometry.categorical), self.hashes)

    def distances(self, model_rows: pd.DataFrame) -> np.ndarray:
        """Distance from each row to its closest training record."""
        query = (self.geometry.points(model_rows).astype("float32"), self.geometry.codes(model_rows))
        cap = _BLOCK_CAP if self.thresholds.max(initial=0.0) < 1.0 else None
        return nearest_distances(self.geometry, query, (self.points, self.codes), cap=cap)

    # ------------------------------------------------------------------ persistence
    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        geometry_arrays, geometry_meta = self.geometry.to_state()
        arrays = {**{f"geometry/{k}": v for k, v in geometry_arrays.items()}, "hashes": self.hashes,
                  "points": self.points, "codes": self.codes, "thresholds": self.thresholds,
                  "band_rates": self.band_rates}
        meta = {"geometry": geometry_meta, "copy_rate": self.copy_rate, "n_calibration": self.n_calibration}
        return arrays, meta

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> PrivacyReference:
        geometry = MixedGeometry.from_state({k[len("geometry/"):]: v for k, v in arrays.items()
                                             if k.startswith("geometry/")}, meta["geometry"])
        points, codes = np.asarray(arrays["points"], "float32"), np.asarray(arrays["codes"], "int32")
        if points.shape[1:] != (len(geometry.numeric),) or codes.shape != (len(points), len(geometry.categorical)):
            raise ValueError("privacy reference arrays do not match its columns")
        return cls(geometry, np.asarray(arrays["hashes"], np.uint64), points, codes,
                   np.asarray(arrays["thresholds"], "float64"), float(meta["copy_rate"]),
                   np.asarray(arrays["band_rates"], "float64"), int(meta["n_calibration"]))

    def to_files(self) -> dict[str, bytes]:
        """The two files of a model folder that hold the reference (see ``save(keep_privacy_reference=True)``)."""
        from safetensors.numpy import save

        arrays, meta = self.to_state()
        weights = save({k: np.ascontiguousarray(v) for k, v in arrays.items()})
        return {REFERENCE_WEIGHTS: weights, REFERENCE_META: json.dumps(meta, indent=2).encode()}


def check_reference_target(path: str | Path, *, overwrite: bool = False) -> Path:
    """A folder that may take a privacy reference: new, empty, or (with ``overwrite``) one holding only a reference."""
    path = Path(path)
    if path.is_symlink() or path.is_file():
        raise ArtifactError(f"'{path}' is a file or a link; give a folder for the privacy reference.")
    if path.is_dir():
        contents = {p.name for p in path.iterdir()}
        if contents and (not overwrite or not contents <= {REFERENCE_WEIGHTS, REFERENCE_META}):
            what = "holds a privacy reference; pass overwrite=True (CLI: --force) to replace it" \
                if contents <= {REFERENCE_WEIGHTS, REFERENCE_META} else "holds other files; give a new folder"
            raise ArtifactError(f"'{path}' {what}.")
    return path


def load_reference(folder: str | Path, n_training_rows: int | None = None) -> PrivacyReference | None:
    """The reference kept in a model folder, or None when it was not kept; never executes code.

    Both files are read as the model's own are (plain files inside the folder, bounded size, a checked
    safetensors header, strict JSON), and the reference may hold no more rows than the model was trained on.
    """
    from pydantic import BaseModel, ConfigDict, Field, JsonValue

    from synthloop.io.artifacts import MAX_JSON_BYTES, check_json, max_weights_bytes, read_member, read_safetensors

    class _Meta(BaseModel):
        model_config = ConfigDict(strict=True, extra="forbid")
        geometry: dict[str, JsonValue]
        copy_rate: float = Field(ge=0, le=1)
        n_calibration: int = Field(ge=0)

    folder = Path(folder)
    weights, meta_file = folder / REFERENCE_WEIGHTS, folder / REFERENCE_META
    if not weights.exists() and not meta_file.exists():
        return None
    fix = (f"Delete {REFERENCE_WEIGHTS} and {REFERENCE_META} to use the model without it, "
           "or re-fit and save with keep_privacy_reference=True.")
    try:
        meta = json.loads(read_member(folder, REFERENCE_META, MAX_JSON_BYTES))
        check_json(_Meta, meta, meta_file)
        arrays = read_safetensors(read_member(folder, REFERENCE_WEIGHTS, max_weights_bytes()), weights)
        reference = PrivacyReference.from_state(arrays, meta)
    except ArtifactError as exc:
        raise ArtifactError(f"{exc} {fix}") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise ArtifactError(f"The privacy reference in '{folder}' is corrupt or incomplete ({type(exc).__name__}: "
                            f"{exc}). {fix}") from None
    if n_training_rows is not None and len(reference.points) > n_training_rows:
        raise ArtifactError(f"The privacy reference in '{folder}' holds more rows than the {n_training_rows} "
                            f"training rows of its model. {fix}")
    return reference
