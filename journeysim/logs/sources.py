"""Opening event logs and path files in DuckDB: which kind a file is, and its columns.

Both ``fit`` and ``attribute`` read through here, so a file is recognised the same way
by both: a ``path`` column makes it a ChannelAttribution-style path file, otherwise
it must be an event log with ``user_id``, ``timestamp`` and ``touchpoint``.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from journeysim.errors import DataError, UsageError, excerpt

__all__ = ["EVENT_COLUMNS", "PATH_COLUMNS", "Source", "open_source", "connect", "parse_duration", "quote", "run_query",
           "read_error"]

EVENT_COLUMNS = ("user_id", "timestamp", "touchpoint")
PATH_COLUMNS = ("path", "total_conversions", "total_null")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_LONGEST = 36_500 * 86_400   # seconds: --lookback beyond a century is a typo


def quote(name: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Source:
    """A file opened for reading: its kind, its columns and the SQL that reads it.

    ``relation`` selects every column plus ``__row``, the 1-based data row number
    used in error messages (the CSV header is not counted); a CSV's ``csv`` reads the
    same columns without ``__row``.
    """

    path: str
    kind: str              # "events" or "paths"
    columns: tuple[str, ...]
    relation: str
    csv: str | None = None   # a CSV's bare reader, without ``__row`` (whose numbering costs a streaming window)
    time_type: str = "VARCHAR"   # DuckDB's type of the timestamp column

    def has(self, column: str) -> bool:
        return column in self.columns

    def micros(self) -> str:
        """SQL for each event's time in µs since 1970 UTC (NULL where the text is not a time).

        Text may carry a UTC offset, so it is read as an instant (the session is in UTC, so
        text without one is UTC); a zoned column is one already; any other time is taken as
        UTC as it stands (casting it through the zone would cost far more, to the same result).
        """
        column = quote("timestamp")
        if self.time_type == "VARCHAR":
            return f"epoch_us(TRY_CAST({column} AS TIMESTAMPTZ))"
        if self.time_type == "TIMESTAMP WITH TIME ZONE":
            return f"epoch_us({column})"
        return f"epoch_us(TRY_CAST({column} AS TIMESTAMP))"

    def where(self, row: int) -> str:
        return f"{self.path}: row {row}"


@contextmanager
def connect(threads: int | None = None):
    """A DuckDB connection that spills to a private temporary folder (logs larger than memory)."""
    spill = tempfile.mkdtemp(prefix="journeysim-duckdb-")
    # Insertion order is kept: a staged CSV's rowid is its file row, and a sorted stream arrives in order.
    con = duckdb.connect(config={"temp_directory": spill, "preserve_insertion_order": True})
    # Times are instants in UTC: a timestamp with an offset (2025-03-01T14:05:00+02:00, ...Z) is converted to
    # UTC, one without is taken as UTC, whatever the machine's time zone (so no gap jumps at a DST change).
    con.execute("SET TimeZone = 'UTC'")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    try:
        yield con
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def open_source(con: duckdb.DuckDBPyConnection, path: str | os.PathLike) -> Source:
    """Recognise ``path`` as an event log or a path file and check its columns."""
    source = str(path)
    if Path(path).is_dir():
        raise DataError(f"{source}: is a folder, not an event log or path file")
    if not Path(path).is_file():
        raise DataError(f"{source}: no such file")
    if Path(path).stat().st_size == 0:
        raise DataError(f"{source}: empty file (expected a header row and data rows)")
    parquet = Path(path).suffix.lower() == ".parquet"
    lit = _literal(source)
    try:
        if parquet:
            reader = f"read_parquet({lit}, file_row_number = true)"
            described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({lit})").fetchall()
        else:
            described = con.execute(f"DESCRIBE SELECT * FROM read_csv({lit}, header = true)").fetchall()
            reader = None
    except duckdb.Error as exc:
        raise read_error(source, exc, f"cannot read as {'Parquet' if parquet else 'CSV'}") from None
    columns = tuple(str(c[0]) for c in described)
    kind = "paths" if "path" in columns else "events"
    needed = PATH_COLUMNS if kind == "paths" else EVENT_COLUMNS
    missing = [c for c in needed if c not in columns]
    if missing and not parquet and (ragged := _ragged_row(path)):
        raise DataError(f"{source}: {ragged}")
    if missing:
        raise DataError(
            f"{source}: missing column {excerpt(missing[0])} (found {', '.join(columns) or 'none'}; an event log needs "
            f"{', '.join(EVENT_COLUMNS)}; a path file needs {', '.join(PATH_COLUMNS)})")
    if reader is None:
        # Text columns stay text so that a bad timestamp or count is reported by row, not by the sniffer; user
        # ids are labels (007 is not 7, and 64-bit hashes overflow a BIGINT), whatever the first rows look like.
        text = [c for c in ("user_id", "timestamp", "total_conversions", "total_null", "total_conversion_value",
                            "value") if c in columns]
        types = "{" + ", ".join(f"{_literal(c)}: 'VARCHAR'" for c in text) + "}"
        reader = f"read_csv({lit}, header = true, types = {types})"
        relation = f"(SELECT *, row_number() OVER () AS __row FROM {reader})"
    else:
        relation = f"(SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS __row FROM {reader})"
    time_type = "VARCHAR" if not parquet else next((str(c[1]) for c in described if c[0] == "timestamp"), "VARCHAR")
    return Source(source, kind, columns, relation, csv=None if parquet else reader, time_type=time_type)


def _ragged_row(path: str | os.PathLike, rows: int = 100_000) -> str | None:
    """What is wrong when the header names the columns but DuckDB's sniffer read another line as the header
    (it does when rows have more or fewer fields than the header): the first such row, or ``None``."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        first = fh.readline()
        for delimiter in (",", ";", "\t", "|"):
            header = [name.strip() for name in next(csv.reader([first], delimiter=delimiter))]
            if set(EVENT_COLUMNS) <= set(header) or set(PATH_COLUMNS) <= set(header):
                break
        else:
            return None
        for n, row in enumerate(csv.reader(fh, delimiter=delimiter), start=1):
            if n > rows:
                break
            if row and len(row) != len(header):
                return (f"row {n} has {len(row)} fields but the header has {len(header)} "
                        f"({excerpt(delimiter)}-separated: {', '.join(header)})")
    return None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


def read_error(path: str, exc: Exception, doing: str = "cannot read") -> DataError:
    """DuckDB's reading error ``exc`` as a one-line :class:`DataError` about ``path``.

    A file that is not UTF-8 (DuckDB reports a byte-sequence mismatch on a file line)
    is named as such, with its data row (the header is line 1).

    Examples
    --------
    >>> read_error("log.csv", ValueError("Invalid Input Error: CSV Error on Line: 3\\nOriginal Line: ...\\n"
    ...            "Invalid unicode (byte sequence mismatch) detected. This file is not utf-8 encoded."))
    DataError('log.csv: is not UTF-8 text (first bad character in row 2); save it as UTF-8')
    >>> read_error("log.csv", ValueError("Invalid Input Error: CSV Error on Line: 9\\nOriginal Line: 1,2,3,4,5\\n"
    ...            "Expected Number of Columns: 4 Found: 5\\n"))
    DataError('log.csv: row 8 has 5 fields but the header has 4')
    >>> read_error("log.csv", ValueError("Conversion Error: something\\nmore"))
    DataError('log.csv: cannot read (Conversion Error: something)')
    """
    text = str(exc)
    if "byte sequence mismatch" in text or "not utf-8 encoded" in text.lower():
        line = re.search(r"CSV Error on Line: (\d+)", text)
        where = f" (first bad character in row {int(line.group(1)) - 1})" if line and int(line.group(1)) > 1 else ""
        return DataError(f"{path}: is not UTF-8 text{where}; save it as UTF-8")
    fields = re.search(r"CSV Error on Line: (\d+).*Expected Number of Columns: (\d+) Found: (\d+)", text, re.S)
    if fields:
        line, header, found = map(int, fields.groups())
        return DataError(f"{path}: row {line - 1} has {found} fields but the header has {header}")
    return DataError(f"{path}: {doing} ({_first_line(exc)})")


def parse_duration(text: str) -> float:
    """A duration such as ``30d``, ``12h``, ``90m``, ``45s`` or ``2w``, in seconds.

    Examples
    --------
    >>> parse_duration("30d"), parse_duration("1.5h")
    (2592000.0, 5400.0)
    >>> parse_duration("999999999w")
    Traceback (most recent call last):
    ...
    journeysim.errors.UsageError: --lookback '999999999w' is longer than 100 years (36500d, the most allowed); leave it out for no window
    >>> parse_duration("30 days")
    Traceback (most recent call last):
    ...
    journeysim.errors.UsageError: --lookback '30 days' is not a duration (a number and a unit: s, m, h, d or w, e.g. 30d)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", str(text))
    if not match or float(match.group(1)) <= 0:
        raise UsageError(f"--lookback {excerpt(text)} is not a duration (a number and a unit: s, m, h, d or w, e.g. 30d)")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds > _LONGEST:
        raise UsageError(f"--lookback {excerpt(text)} is longer than 100 years (36500d, the most allowed); leave it out "
                         "for no window")
    return seconds


def run_query(con: duckdb.DuckDBPyConnection, source: Source, sql: str, params=None):
    """Run ``sql`` and turn DuckDB's reading errors into one-line :class:`DataError`."""
    try:
        return con.execute(sql, params or []).fetchall()
    except duckdb.Error as exc:
        raise read_error(source.path, exc) from None
