"""Read and write CSV / Parquet tables with messages that name the file and the fix."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from synthloop.errors import DataError
from synthloop.io.atomic import atomic_write

FORMATS = (".csv", ".csv.gz", ".parquet", ".pq", ".tsv")
DELIMITERS = (",", ";", "\t", "|")          # what text tables are separated by in practice
_SNIFF_LINES = 20
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def _format(path: Path) -> str:
    name = path.name.lower()
    for ext in FORMATS:
        if name.endswith(ext):
            return ext
    raise DataError(f"Cannot tell the format of '{path}': use a name ending in .csv, .csv.gz, .tsv or .parquet.")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV/Parquet file into a DataFrame; raise DataError with the file name on failure."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"File not found: '{path}'. Check the path.")
    if path.is_dir():
        raise DataError(f"'{path}' is a directory; give a CSV or Parquet file.")
    fmt = _format(path)
    if path.stat().st_size == 0:
        raise DataError(f"'{path}' is empty (0 bytes); it needs a header row and at least one data row.")
    try:
        if fmt in (".parquet", ".pq"):
            data = pd.read_parquet(path)
        else:
            data = pd.read_csv(path, sep=sniff_delimiter(path, fmt), low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"'{path}' has no columns; it needs a header row and at least one data row.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"Cannot read '{path}' as {fmt.lstrip('.')}: {first}") from None
    if len(data) == 0:
        raise DataError(f"'{path}' has a header but no data rows.")
    if fmt not in (".parquet", ".pq"):
        _check_duplicate_headers(path, fmt)
        _check_single_column(data, path)
    return data


def sniff_delimiter(path: Path, fmt: str) -> str:
    """The separator of a text table: the format's own (tab for .tsv, else comma) unless it splits the
    header into one field while another common separator splits every sniffed line alike.

    European spreadsheets export CSV with semicolons; read with commas they become one column that
    a synthesizer would silently fit as an id. The default wins whenever it finds two fields, so a
    well-formed comma file is never second-guessed.
    """
    default = "\t" if fmt == ".tsv" else ","
    lines = _head_lines(path, gz=fmt == ".csv.gz")
    if not lines or _fields(lines[:1], default)[0] > 1:
        return default
    best, best_count = default, 1
    for candidate in DELIMITERS:
        counts = _fields(lines, candidate)
        if counts[0] > best_count and all(count == counts[0] for count in counts):
            best, best_count = candidate, counts[0]
    return best


def _head_lines(path: Path, *, gz: bool) -> list[str]:
    opener = gzip.open if gz else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as handle:
            text = handle.read(64 * 1024)
    except OSError:
        return []        # pandas reports the unreadable file with its own message
    lines = text.splitlines()
    return [line for line in (lines[:-1] if len(lines) > 1 and len(text) == 64 * 1024 else lines)[:_SNIFF_LINES]
            if line.strip()]


def _fields(lines: list[str], delimiter: str) -> list[int]:
    return [len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)]


def _check_single_column(data: pd.DataFrame, path: Path) -> None:
    """One column whose header and cells hold a separator: the file is not separated the way it was read."""
    if data.shape[1] != 1:
        return
    header, cells = str(data.columns[0]), data.iloc[:, 0].dropna().astype(str).head(100)
    for delimiter in DELIMITERS:
        if delimiter in header and len(cells) and cells.str.contains(delimiter, regex=False).mean() > 0.5:
            raise DataError(f"'{path}' was read as one column, but its header and cells contain {_NAMES[delimiter]}s "
                            f"({delimiter!r}) whose count differs from line to line, so the separator could not be "
                            f"told apart. Save it with one separator throughout (e.g. comma-separated), or quote "
                            f"cells that contain the separator.")



def _check_duplicate_headers(path: Path, fmt: str) -> None:
    """pandas renames a repeated header 'a' to 'a.1'; read the header as written to tell a repeat from
    a real column named 'a.1'."""
    header = pd.read_csv(path, sep=sniff_delimiter(path, fmt), header=None, nrows=1, dtype=str,
                         keep_default_na=False).iloc[0].tolist()
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataError(f"'{path}' has duplicate column names {repeated}; rename them so each is unique.")


def write_table(data: pd.DataFrame, path: str | Path, *, metadata: Mapping[str, object] | None = None,
                keep_formulas: bool = False) -> Path:
    """Write a table atomically; ``metadata`` goes into Parquet file metadata or a ``.meta.json`` sidecar.

    In CSV and TSV files, text cells and column names that a spreadsheet would run as a formula
    (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return, and not a plain number) get a
    leading ``'``, as OWASP recommends against CSV injection; ``keep_formulas=True`` writes them as they are.
    """
    path = Path(path)
    fmt = _format(path)
    if fmt not in (".parquet", ".pq") and not keep_formulas:
        data = neutralise_formulas(data)
    with atomic_write(path, suffix=fmt) as tmp:
        if fmt in (".parquet", ".pq"):
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(data, preserve_index=False)
            if metadata:
                merged = dict(table.schema.metadata or {})
                merged[b"synthloop"] = json.dumps(dict(metadata), default=str).encode()
                table = table.replace_schema_metadata(merged)
            pq.write_table(table, tmp)
        else:
            data.to_csv(tmp, index=False, sep="\t" if fmt == ".tsv" else ",",
                        compression="gzip" if fmt == ".csv.gz" else None)
    if metadata and fmt not in (".parquet", ".pq"):
        with atomic_write(sidecar_path(path)) as tmp:
            tmp.write_text(json.dumps(dict(metadata), indent=2, default=str))
    return path


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def neutralise_formulas(data: pd.DataFrame) -> pd.DataFrame:
    """A copy where text that a spreadsheet would evaluate starts with ``'`` (numbers such as -5 stay)."""
    def safe(value: object) -> object:
        if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(value):
            return "'" + value
        return value

    out = data.rename(columns=lambda name: safe(name) if isinstance(name, str) else name)
    for position in range(out.shape[1]):
        values = out.iloc[:, position]
        if values.dtype == object or pd.api.types.is_string_dtype(values.dtype) or isinstance(values.dtype, pd.CategoricalDtype):
            text = values.astype(object)
            flagged = text.map(lambda v: safe(v) is not v)
            if flagged.any():
                out.isetitem(position, text.where(~flagged, text.map(safe)))
    return out


def sidecar_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".meta.json")


def read_metadata(path: str | Path) -> dict[str, object] | None:
    """The synthloop metadata written with a table (Parquet metadata or CSV sidecar), if any."""
    path = Path(path)
    if _format(path) in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        raw = (pq.read_schema(path).metadata or {}).get(b"synthloop")
        return json.loads(raw) if raw else None
    sidecar = sidecar_path(path)
    return json.loads(sidecar.read_text()) if sidecar.exists() else None


def check_table_path(path: str | Path) -> None:
    """Fail before any work when an output table's name has no known format or its folder cannot be written."""
    from synthloop.io.atomic import check_writable

    path = Path(path)
    if not path.name.lower().endswith(FORMATS):
        raise DataError(f"Cannot tell the format of '{path}': use a name ending in {', '.join(FORMATS)}.")
    if path.is_dir():
        raise DataError(f"'{path}' is a folder; give a file name, e.g. {path / 'synthetic.csv'}")
    check_writable(path)
