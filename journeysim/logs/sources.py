"""Opening event logs and path files in DuckDB: which kind a file is, and its columns.

Both ``fit`` and ``attribute`` read through here, so a file is recognised the same way
by both: a ``path`` column makes it a ChannelAttribution-style path file, otherwise
it must be an event log with ``user_id``, ``timestamp`` and ``touchpoint`` (or the
columns its :class:`~journeysim.logs.layout.LogLayout` names). An event log's
relation shows the file's columns under those names, so every later query reads
any layout alike; conversion flags and event names become touchpoints in
:meth:`Source.touchpoints`.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from journeysim.errors import DataError, UsageError, did_you_mean, excerpt, whole_number
from journeysim.logs._sql import literal, quote
from journeysim.logs.layout import OPTIONS, ROLES, LogLayout

__all__ = ["EVENT_COLUMNS", "PATH_COLUMNS", "Source", "open_source", "connect", "parse_duration", "quote", "run_query",
           "read_error", "quote_made"]

EVENT_COLUMNS = ("user_id", "timestamp", "touchpoint")
PATH_COLUMNS = ("path", "total_conversions", "total_null")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_LONGEST = 36_500 * 86_400   # seconds: --lookback beyond a century is a typo
#: The relation's name of the conversion column's text, and of the touchpoint map's pattern columns.
FLAG = "__flag"
_PATTERN = "__pattern_{}"
# DuckDB types whose values are never blank text (the user id check is then only for NULL).
_NEVER_BLANK = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                "UBIGINT", "UHUGEINT", "DECIMAL", "FLOAT", "DOUBLE", "DATE", "TIME", "TIMESTAMP", "BOOLEAN", "UUID")


@dataclass(frozen=True)
class Source:
    """A file opened for reading: its kind, its columns and the SQL that reads it.

    ``relation`` selects the columns (an event log's under the names of
    :data:`~journeysim.logs.layout.ROLES`, whatever the file calls them) plus ``__row``,
    the 1-based data row number used in error messages (the CSV header is not
    counted); a CSV's ``csv`` reads the same columns without ``__row``. ``columns``
    are the roles present (a path file's: its columns).
    """

    path: str
    kind: str              # "events" or "paths"
    columns: tuple[str, ...]
    relation: str
    csv: str | None = None   # a CSV's bare reader, without ``__row`` (whose numbering costs a streaming window)
    time_type: str = "VARCHAR"   # DuckDB's type of the timestamp column
    layout: LogLayout = field(default_factory=LogLayout)
    user_type: str = "VARCHAR"   # DuckDB's type of the user id column

    def has(self, column: str) -> bool:
        return column in self.columns

    def label(self, role: str) -> str:
        """The file's name of an event log's column, for messages."""
        return self.layout.column(role)

    def micros(self) -> str:
        """SQL for each event's time in µs since 1970 UTC (NULL where the text is not a time).

        Text may carry a UTC offset, so it is read as an instant (the session is in UTC, so
        text without one is UTC); a zoned column is one already; any other time is taken as
        UTC as it stands (casting it through the zone would cost far more, to the same result).
        Epoch numbers (:attr:`LogLayout.time_unit`) are scaled to µs and rounded half up, as
        the fast CSV reader does.
        """
        column = quote("timestamp")
        if self.layout.unit_micros is not None:
            return f"TRY_CAST(floor(TRY_CAST({column} AS DOUBLE) * {self.layout.unit_micros} + 0.5) AS BIGINT)"
        if self.time_type == "VARCHAR":
            return f"epoch_us(TRY_CAST({column} AS TIMESTAMPTZ))"
        if self.time_type == "TIMESTAMP WITH TIME ZONE":
            return f"epoch_us({column})"
        return f"epoch_us(TRY_CAST({column} AS TIMESTAMP))"

    def no_user(self, column: str = '"user_id"') -> str:
        """SQL that is true for an event without a user id: NULL, or text that DuckDB's ``trim`` leaves empty.

        A number or a time (a Parquet column of them) is never blank, and is not cast to text to be checked.
        """
        if self.user_type.startswith(_NEVER_BLANK):
            return f"({column} IS NULL)"
        text = column if self.user_type == "VARCHAR" else f"CAST({column} AS VARCHAR)"
        # trim costs ~70 ns a row: only texts that may start with a space get it. Texts compare by their UTF-8
        # bytes, and every text in ['!', U+00A0) starts with a character that is not a space trim takes off.
        return (f"(CASE WHEN {column} IS NULL THEN true WHEN {text} >= '!' AND {text} < '\u00a0' THEN false "
                f"ELSE trim({text}) = '' END)")

    def where(self, row: int) -> str:
        return f"{self.path}: row {row}"

    @property
    def plain(self) -> bool:
        """Whether the touchpoint column holds the touchpoints as they are (no conversion flags, no map)."""
        return self.layout.conversion is None and self.layout.touchpoints is None

    def touchpoints(self, relation: str, goal: str) -> str:
        """``relation`` with each row's touchpoint ``__tp``, whether it also converted ``__conv``, whether its
        flag is not one ``__bad_flag``, and whether it is dropped ``__drop`` (an event the touchpoint map
        does not keep).

        A row flagged as a conversion is its touchpoint followed by ``goal`` (``__conv``), or
        ``goal`` alone when it has no touchpoint; a conversion is never dropped (an unmapped
        one is ``goal`` alone). Only for a :attr:`plain` source is ``__tp`` the touchpoint
        column untrimmed (names are trimmed on the few distinct pairs), and the other
        columns constants.
        """
        raw = f"CAST({quote('touchpoint')} AS VARCHAR)"
        if self.plain:
            return f"(SELECT *, {raw} AS __tp, false AS __conv, false AS __bad_flag, false AS __drop FROM {relation})"
        layout = self.layout
        name = f"NULLIF(trim({raw}), '')"
        mapped = name
        if layout.touchpoints is not None:
            patterns = {c: i for i, c in enumerate(layout.touchpoints.columns)}
            mapped = layout.touchpoints.sql("__name", lambda c: f"CAST({quote(_PATTERN.format(patterns[c]))} AS VARCHAR)",
                                            layout.keep_unmapped)
            mapped = f"CASE WHEN __name IS NOT NULL THEN {mapped} END"
        flag = layout.conversion_sql(f"CAST({quote(FLAG)} AS VARCHAR)") if layout.conversion else "false"
        return f"""(SELECT * EXCLUDE (__name, __mapped, __flagged),
               CASE WHEN __mapped IS NOT NULL THEN __mapped WHEN coalesce(__flagged, false) THEN {literal(goal)}
                    ELSE {raw} END AS __tp,
               coalesce(__flagged, false) AND __mapped IS NOT NULL AS __conv, __flagged IS NULL AS __bad_flag,
               __name IS NOT NULL AND __mapped IS NULL AND NOT coalesce(__flagged, false) AS __drop
        FROM (SELECT *, {mapped} AS __mapped, {flag} AS __flagged
              FROM (SELECT *, {name} AS __name FROM {relation})))"""


@contextmanager
def connect(threads: int | None = None):
    """A DuckDB connection that spills to a private temporary folder (logs larger than memory)."""
    if threads is not None and (not whole_number(threads) or not 1 <= threads <= 1024):
        raise UsageError(f"threads={excerpt(threads)}: must be a whole number from 1 to 1,024 (or None: all cores)")
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


def open_source(con: duckdb.DuckDBPyConnection, path: str | os.PathLike, layout: LogLayout | None = None) -> Source:
    """Recognise ``path`` as an event log (in ``layout``) or a path file and check its columns."""
    if layout is not None and not isinstance(layout, LogLayout):
        raise UsageError(f"layout={excerpt(layout)}: must be a LogLayout (the columns and conversions of the log), "
                         f"not {type(layout).__name__}")
    layout = layout or LogLayout()
    source = str(path)
    if Path(path).is_dir():
        raise DataError(f"{source}: is a folder, not an event log or path file")
    if not Path(path).is_file():
        raise DataError(f"{source}: no such file")
    if Path(path).stat().st_size == 0:
        raise DataError(f"{source}: empty file (expected a header row and data rows)")
    parquet = Path(path).suffix.lower() == ".parquet"
    lit = literal(source)
    try:
        if parquet:
            described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({lit})").fetchall()
        else:
            described = con.execute(f"DESCRIBE SELECT * FROM read_csv({lit}, {_CSV})").fetchall()
    except duckdb.Error as exc:
        raise read_error(source, exc, f"cannot read as {'Parquet' if parquet else 'CSV'}") from None
    columns = tuple(str(c[0]) for c in described)
    types = {str(c[0]): str(c[1]) for c in described}
    needed = [layout.column(role) for role in EVENT_COLUMNS]
    if "path" in columns and not (layout != LogLayout() and set(needed) <= set(columns)):
        return _path_source(con, path, source, columns, parquet)
    wanted = needed + [layout.column(r) for r in ("value", "segment") if layout.given(r)]
    missing = [c for c in wanted if c not in columns]
    if missing and not parquet and (ragged := _ragged_row(path, needed)):
        raise DataError(f"{source}: {ragged}")
    if missing:
        raise DataError(_missing(source, missing[0], columns, layout))
    if layout.conversion is not None and layout.conversion not in columns:
        raise DataError(f"{source}: missing column {excerpt(layout.conversion)}{_found(columns)}; it is named by "
                        "--conversion-column")
    patterns = layout.touchpoints.columns if layout.touchpoints is not None else ()
    for column in patterns:
        if column not in columns:
            rule = next(r for r in layout.touchpoints.rules if r.column == column)
            raise DataError(f"{rule.where}: the pattern's column {excerpt(column)} is not in {source}{_found(columns)}")
    roles = {role: layout.column(role) for role in ROLES if layout.column(role) in columns}
    time_type = types[roles["timestamp"]] if parquet else "VARCHAR"
    if layout.time_unit is not None and time_type.startswith(("TIMESTAMP", "DATE")):
        raise DataError(f"{source}: column {excerpt(roles['timestamp'])} holds dates and times ({time_type}); "
                        "--time-unit is for numbers of seconds, milliseconds or microseconds since 1970")
    aliases = {**{role: c for role, c in roles.items()}, **({FLAG: layout.conversion} if layout.conversion else {}),
               **{_PATTERN.format(i): c for i, c in enumerate(patterns)}}
    select = ", ".join(f"{quote(c)} AS {quote(alias)}" for alias, c in aliases.items())
    if parquet:
        relation = (f"(SELECT {select}, file_row_number + 1 AS __row "
                    f"FROM read_parquet({lit}, file_row_number = true))")
        return Source(source, "events", tuple(roles), relation, time_type=time_type, layout=layout,
                      user_type=types[roles["user_id"]])
    # Text columns stay text so that a bad timestamp or value is reported by row, not by the sniffer; user ids
    # are labels (007 is not 7, and 64-bit hashes overflow a BIGINT), whatever the first rows look like.
    text = [c for c in dict.fromkeys(aliases.values()) if c not in (roles["touchpoint"], roles.get("segment"))]
    reader = f"read_csv({lit}, {_CSV}, types = {_types(text)})"
    relation = f"(SELECT {select}, row_number() OVER () AS __row FROM {reader})"
    return Source(source, "events", tuple(roles), relation, csv=f"(SELECT {select} FROM {reader})",
                  time_type=time_type, layout=layout)


#: DuckDB's CSV options: quoting as CSV has it, always. Its sniffer turns quoting off when the rows it samples
#: hold no quote, and a field quoted further down (``"product, page"``, ``""``) then splits or keeps its quotes.
_CSV = "header = true, quote = '\"', escape = '\"'"


def _types(text: list[str]) -> str:
    return "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in text) + "}"


def _path_source(con, path, source: str, columns: tuple[str, ...], parquet: bool) -> Source:
    """A path file: ``path`` and ``total_conversions``; ``total_null`` and ``total_conversion_value`` if present."""
    missing = [c for c in PATH_COLUMNS[:2] if c not in columns]
    if missing and not parquet and (ragged := _ragged_row(path, PATH_COLUMNS[:2])):
        raise DataError(f"{source}: {ragged}")
    if missing:
        raise DataError(f"{source}: missing column {excerpt(missing[0])}{_found(columns)}; a path file needs path and "
                        "total_conversions, and has total_null (journeys that did not convert) and "
                        "total_conversion_value if it can")
    lit = literal(source)
    if parquet:
        relation = (f"(SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS __row "
                    f"FROM read_parquet({lit}, file_row_number = true))")
        return Source(source, "paths", columns, relation)
    # the paths are text too: a file of paths T and F read as booleans 'true' and 'false', 007 as 7
    text = [c for c in ("path", "total_conversions", "total_null", "total_conversion_value") if c in columns]
    reader = f"read_csv({lit}, {_CSV}, types = {_types(text)})"
    return Source(source, "paths", columns, f"(SELECT *, row_number() OVER () AS __row FROM {reader})", csv=reader)


def _found(columns) -> str:
    return f" (found {', '.join(columns) or 'none'})"


def _missing(source: str, column: str, columns: tuple[str, ...], layout: LogLayout) -> str:
    """The message for a missing event-log column: what was found, and the option that names it."""
    role = next(r for r in ROLES if layout.column(r) == column)
    head = f"{source}: missing column {excerpt(column)}{did_you_mean(column, columns)}{_found(columns)}"
    if layout.given(role):
        return f"{head}, named by {OPTIONS[role]}"
    return (f"{head}; name yours with {OPTIONS[role]} (an event log needs "
            f"{', '.join(layout.column(r) for r in EVENT_COLUMNS)}; a path file needs path, total_conversions)")


def _ragged_row(path: str | os.PathLike, needed, rows: int = 100_000) -> str | None:
    """What is wrong when the header names the columns but DuckDB's sniffer read another line as the header
    (it does when rows have more or fewer fields than the header, or a quote is never closed): the first such row,
    or ``None``."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        first = fh.readline()
        for delimiter in (",", ";", "\t", "|"):
            header = [name.strip() for name in next(csv.reader([first], delimiter=delimiter))]
            if set(needed) <= set(header):
                break
        else:
            return None
        n = 0
        try:
            for n, row in enumerate(csv.reader(fh, delimiter=delimiter, strict=True), start=1):
                if n > rows:
                    break
                if row and len(row) != len(header):
                    return (f"row {n} has {len(row)} fields but the header has {len(header)} "
                            f"({excerpt(delimiter)}-separated: {', '.join(header)})")
        except csv.Error:
            return (f"row {n + 1} opens a quote that is never closed (an unbalanced quote; a quoted field ends "
                    "with a quote, and a quote inside it is doubled)")
    return None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


def quote_made(path: str | os.PathLike, name: str | None) -> bool:
    """Whether ``name`` (read from the CSV ``path``, spaces trimmed) is one an unbalanced quote made.

    Such a name keeps its opening quote (DuckDB's reader, when it gives up on quoting). A well-quoted field
    loses its quotes, so a name that starts with a quote of its own (``"Black Friday" banner``) is in the
    file quoted, its quotes doubled; the file is searched for that spelling only for such rare names.
    Parquet files have no quoting to unbalance.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> log = pathlib.Path(tempfile.mkdtemp()) / "log.csv"
    >>> q = '"'   # the file: u1's touchpoint well quoted, u2's quote never closed
    >>> _ = log.write_text(f"user_id,timestamp,touchpoint\\nu1,2025-01-01,{q * 3}Sale{q * 2} banner{q}\\n"
    ...                    f"u2,2025-01-01,{q}ad\\n")
    >>> quote_made(log, '"Sale" banner'), quote_made(log, '"ad'), quote_made(log, "ad")
    (False, True, False)
    """
    if name is None or not name.startswith('"') or Path(path).suffix.lower() == ".parquet":
        return False
    import mmap

    spelled = ('"' + name.replace('"', '""')).encode()
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as text:
        return text.find(spelled) < 0


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
