"""Reading delimited text files with errors that name the file and the line.

pandas' own errors on malformed input are hard to act on ("could not convert string to int"),
so every field is read as text first, then converted column by column; the first bad value
is reported with its file and 1-based line number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from monorec.errors import DataError


def read_delimited(
    path: Path,
    columns: Sequence[str],
    *,
    sep: str,
    encoding: str = "utf-8",
    header: bool = False,
    integer: Sequence[str] = (),
    optional_numeric: Sequence[str] = (),
    quoting: int = csv.QUOTE_NONE,
) -> pd.DataFrame:
    """Read `path` into a DataFrame with the given columns, validating every row.

    integer: columns that must hold an integer on every row.
    optional_numeric: columns that may be empty (read as NaN) but otherwise must be numbers.
    Multi-character separators (MovieLens' `::`) are replaced by a tab before parsing so the
    fast C parser can be used; the files in question contain no tabs.
    """
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    text = path.read_bytes().decode(encoding)
    if len(sep) > 1:
        if "\t" in text:
            raise DataError(f"{path}: unexpected tab character in a '{sep}'-separated file")
        text, sep = text.replace(sep, "\t"), "\t"
    if not text.strip():
        raise DataError(f"{path} is empty")
    first_line = 2 if header else 1
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None,
            skiprows=1 if header else 0,
            names=list(columns),
            dtype=str,
            keep_default_na=False,
            quoting=quoting,
            on_bad_lines="error",
            engine="c",
            skip_blank_lines=True,
        )
    except pd.errors.ParserError as error:
        raise DataError(f"{path}: malformed line: {error}") from None
    if frame.empty:
        raise DataError(f"{path} has no data rows")
    line_numbers = _line_numbers(text, first_line)
    for column in integer:
        _check_numeric(frame, column, path, line_numbers, allow_empty=False, integer=True)
    for column in optional_numeric:
        _check_numeric(frame, column, path, line_numbers, allow_empty=True, integer=False)
    return frame


def _line_numbers(text: str, first_line: int) -> list[int]:
    """1-based file line of each data row (blank lines are skipped by the parser)."""
    lines = text.splitlines()[first_line - 1 :]
    return [first_line + i for i, line in enumerate(lines) if line.strip()]


def _check_numeric(
    frame: pd.DataFrame, column: str, path: Path, lines: list[int], *, allow_empty: bool, integer: bool
) -> None:
    raw = frame[column].str.strip()
    empty = raw.eq("")
    values = pd.to_numeric(raw.mask(empty), errors="coerce")
    bad = values.isna() & ~(empty & allow_empty)
    if integer:
        bad |= values.notna() & (values % 1 != 0)
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        expected = "an integer" if integer else "a number"
        raise DataError(
            f"{path}, line {lines[row]}: column '{column}' must be {expected}, got {frame[column].iloc[row]!r}"
        )
    frame[column] = values.astype("int64" if integer else "float64")


TEXT_DELIMITERS = {".csv": ",", ".txt": ",", ".tsv": "\t"}


def _read_parquet(path: Path, columns: Sequence[str] | None) -> pd.DataFrame:
    """Only the named columns, read by pyarrow (a 50 M-row file's other columns never load)."""
    available = pq.read_schema(path).names
    missing = [c for c in columns or () if c not in available]
    if missing:
        raise DataError(f"{path}: unknown column(s) {missing}; the file has {available}")
    return pd.read_parquet(path, columns=list(columns) if columns else None)


def read_table(
    path: Path,
    columns: Sequence[str] | None = None,
    sep: str | None = None,
    header: bool = True,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read a user-supplied parquet or delimited text file, checking that the named columns exist.

    Text files take `sep` (any string; multi-character ones such as MovieLens' `::` included),
    else the delimiter their extension implies (.csv, .txt: comma; .tsv: tab). Without a header
    row (`header=False`) the columns are named by position: "0", "1", ...
    """
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = _read_parquet(path, columns)
        else:
            delimiter = sep or TEXT_DELIMITERS.get(suffix)
            if delimiter is None:
                raise DataError(
                    f"{path}: unsupported file type '{suffix}' (use .csv, .tsv or .parquet, or set "
                    "data.generic.sep to read it as delimited text)"
                )
            frame = _read_text(path, delimiter, header, encoding)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except pd.errors.ParserError as error:
        raise DataError(f"{path}: malformed line: {error}") from None
    except pa.ArrowException as error:
        raise DataError(f"{path}: not a readable parquet file: {error}") from None
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path}: not {encoding} text ({error.reason} at byte {error.start}); set data.generic.encoding, "
            "e.g. latin-1"
        ) from None
    except LookupError:
        raise DataError(f"unknown text encoding {encoding!r} (data.generic.encoding)") from None
    if frame.empty:
        raise DataError(f"{path} has no data rows")
    missing = [c for c in columns or () if c not in frame.columns]
    if missing:
        hint = "" if header else " (without a header row, name columns by position: '0', '1', ...)"
        raise DataError(f"{path}: unknown column(s) {missing}; the file has {list(frame.columns)}{hint}")
    return frame


def _read_text(path: Path, sep: str, header: bool, encoding: str) -> pd.DataFrame:
    source: Path | io.StringIO = path
    if len(sep) > 1:  # the C parser takes one character: swap the separator for a tab the file lacks
        text = path.read_text(encoding=encoding)
        if "\t" in text:
            raise DataError(f"{path}: unexpected tab character in a '{sep}'-separated file")
        source, sep = io.StringIO(text.replace(sep, "\t")), "\t"
    frame = pd.read_csv(
        source, sep=sep, header=0 if header else None, on_bad_lines="error", engine="c", encoding=encoding
    )
    if not header:
        frame.columns = [str(position) for position in range(frame.shape[1])]
    return frame
