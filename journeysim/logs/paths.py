"""Paths: journeys reduced to their ordered touchpoints and their outcome.

A :class:`PathTable` holds one row per distinct path, with how many journeys took it
and converted, did not, and the value they brought. It comes from a
ChannelAttribution-style path file or from an event log (journeys end at a goal, or
when the customer is inactive for longer than the lookback window), and is what
attribution and the path-file fit work from. Touches are stored flat (CSR-style) so
that every model is a few vectorised passes even for millions of paths.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import duckdb
import numpy as np
import pandas as pd

from journeysim.errors import EXCERPT_LENGTH, DataError, excerpt
from journeysim.logs._path_csv import csv_path_table
from journeysim.logs.counts import NO_WINDOW, describe_goals, window_micros, without_user
from journeysim.logs.sources import Source, quote

__all__ = ["PathTable", "read_clean_path_csv", "read_path_file", "require_conversions", "event_paths"]


@dataclass(frozen=True, eq=False)
class PathTable:
    """Distinct paths: touches of path ``i`` are ``touches[offsets[i]:offsets[i + 1]]`` (channel ids)."""

    channels: tuple[str, ...]
    offsets: np.ndarray
    touches: np.ndarray
    conversions: np.ndarray
    nulls: np.ndarray
    value: np.ndarray
    #: Journeys that reached a goal with no touch before it (they take part in no model).
    direct: int = 0
    #: The goals an event log's journeys end at (empty for a path file), and whether they were taken by default.
    goals: tuple[str, ...] = ()
    goals_by_default: bool = False
    #: A path file without ``total_null``: only converting journeys are known (nulls are 0).
    conversions_only: bool = False
    #: Events the touchpoint map dropped, by name.
    dropped: tuple[tuple[str, int], ...] = ()
    #: Events of an event log left out for having no user id, and the file row of the first.
    without_user: int = 0
    without_user_row: int | None = None
    #: What reading the file found suspicious (attribution repeats them).
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_paths(cls, paths, conversions, nulls, value=None) -> PathTable:
        """Build a table from Python sequences of touchpoint names (tests, small data).

        Examples
        --------
        >>> t = PathTable.from_paths([["a", "b"], ["b"]], [1, 0], [0, 2])
        >>> t.channels, t.offsets.tolist(), t.touches.tolist(), t.journeys
        (('a', 'b'), [0, 2, 3], [0, 1, 1], 3.0)
        """
        flat = [x for p in paths for x in p]
        codes, uniques = pd.factorize(pd.Series(flat, dtype=object), sort=True)
        lengths = np.array([len(p) for p in paths], dtype=np.int64)
        if (lengths == 0).any():
            raise DataError("a path must have at least one touchpoint")
        conv = np.asarray(conversions, dtype=float)
        return cls(tuple(str(u) for u in uniques), np.concatenate([[0], np.cumsum(lengths)]),
                   codes.astype(np.int64), conv, np.asarray(nulls, dtype=float),
                   np.zeros(len(paths)) if value is None else np.asarray(value, dtype=float))

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def path_of_touch(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.conversions)), self.lengths)

    @property
    def journeys(self) -> float:
        return float(self.conversions.sum() + self.nulls.sum())

    def with_counts(self, conversions: np.ndarray, nulls: np.ndarray, value: np.ndarray) -> PathTable:
        """The same paths with other counts (a bootstrap replicate)."""
        return replace(self, conversions=conversions, nulls=nulls, value=value)


def _fetch_table(con: duckdb.DuckDBPyConnection, table: str, direct: int) -> PathTable:
    # Channel codes are assigned inside DuckDB so that only integers cross into numpy.
    con.execute(f"CREATE OR REPLACE TEMP TABLE __channels AS SELECT x, row_number() OVER (ORDER BY x) - 1 AS code "
                f"FROM (SELECT DISTINCT unnest(parts) AS x FROM {table})")
    channels = tuple(r[0] for r in con.execute("SELECT x FROM __channels ORDER BY code").fetchall())
    codes = con.execute(f"SELECT code FROM (SELECT pid, unnest(parts) AS x, generate_subscripts(parts, 1) AS i "
                        f"FROM {table}) JOIN __channels USING (x) ORDER BY pid, i").fetchnumpy()["code"]
    counts = con.execute(f"SELECT c, nn, v, len(parts) AS k FROM {table} ORDER BY pid").fetchnumpy()
    lengths = np.asarray(counts["k"], dtype=np.int64)
    return PathTable(
        channels, np.concatenate([[0], np.cumsum(lengths)]), np.asarray(codes, dtype=np.int64),
        np.asarray(counts["c"], dtype=float), np.asarray(counts["nn"], dtype=float),
        np.asarray(counts["v"], dtype=float), direct)


_PATH_CHECK = ("raw_path IS NULL OR list_contains(parts, '')", "raw_path",
               "path {!r} has an empty touchpoint (touchpoints are separated by '>')")
_CHECKS = [
    ("c IS NULL", "raw_c", "total_conversions {!r} is not a number"),
    ("nn IS NULL", "raw_nn", "total_null {!r} is not a number"),
    ("v IS NULL AND raw_v IS NOT NULL", "raw_v", "total_conversion_value {!r} is not a number"),
    ("NOT isfinite(c)", "raw_c", "total_conversions {!r} is not a finite number"),
    ("NOT isfinite(nn)", "raw_nn", "total_null {!r} is not a finite number"),
    ("NOT isfinite(v)", "raw_v", "total_conversion_value {!r} is not a finite number"),
    ("c < 0", "raw_c", "total_conversions {} is negative (counts must be >= 0)"),
    ("nn < 0", "raw_nn", "total_null {} is negative (counts must be >= 0)"),
    ("v < 0", "raw_v", "total_conversion_value {} is negative (must be >= 0)"),
    ("v > 0 AND c = 0", "raw_v", "total_conversion_value {} on a path with no conversions (total_conversions "
     "is 0): the value of conversions that did not happen"),
]
_PARTS = "list_transform(string_split(raw_path, '>'), lambda x: trim(x))"


def read_clean_path_csv(path: str | os.PathLike) -> PathTable | None:
    """A CSV path file read without DuckDB, or ``None`` if it is not one that reads cleanly (then
    :func:`read_path_file` reads it and names what is wrong).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "paths.csv"
    >>> _ = f.write_text("path,total_conversions,total_null\\na > b,1,0\\nb,0,2\\na>b,1,1\\n")
    >>> t = read_clean_path_csv(f)
    >>> t.channels, t.offsets.tolist(), t.conversions.tolist(), t.nulls.tolist()
    (('a', 'b'), [0, 2, 3], [2.0, 0.0], [1.0, 2.0])
    """
    found = csv_path_table(path)
    return None if found is None else PathTable(*found)


def read_path_file(con: duckdb.DuckDBPyConnection, source: Source) -> PathTable:
    """Read a path file (``path`` with ``>``-separated touchpoints, ``total_conversions``, optional
    ``total_null`` and ``total_conversion_value``); raise :class:`DataError` naming the first bad row.

    Without ``total_null`` (analytics tools export only the conversion paths) no journey
    is known not to have converted: the table says so (``conversions_only``). Rows with the
    same path (the same touchpoints, however spaced) are added up, and the paths come in the
    order of their first row. A clean CSV is read by pyarrow (see :func:`read_clean_path_csv`),
    anything else by DuckDB.
    """
    if source.csv is not None and (found := csv_path_table(source.path)) is not None:
        return require_conversions(PathTable(*found), source.path)
    return require_conversions(replace(_duckdb_paths(con, source), conversions_only=not source.has("total_null")),
                               source.path)


def require_conversions(table: PathTable, path: str | os.PathLike) -> PathTable:
    """``table``, refused when no path converted: every model would credit nothing to every touchpoint, and
    ``fit`` would make a map whose goal no one reaches.

    Examples
    --------
    >>> require_conversions(PathTable.from_paths([["a"], ["b"]], [0, 0], [3, 4]), "paths.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    journeysim.errors.DataError: paths.csv: no conversions: total_conversions is 0 on every path (a path file ...
    """
    if not table.conversions.any():
        raise DataError(f"{path}: no conversions: total_conversions is 0 on every path (a path file lists journeys "
                        "and how many of them converted)")
    return table


def _duckdb_paths(con: duckdb.DuckDBPyConnection, source: Source) -> PathTable:
    value = f"TRY_CAST({quote('total_conversion_value')} AS DOUBLE)" if source.has("total_conversion_value") else "0.0"
    raw_value = (f"CAST({quote('total_conversion_value')} AS VARCHAR)" if source.has("total_conversion_value")
                 else "'0'")
    nulls, raw_nulls = (("TRY_CAST(total_null AS DOUBLE)", "CAST(total_null AS VARCHAR)") if source.has("total_null")
                        else ("0.0", "'0'"))
    rows = f"""
        SELECT __row AS pid, CAST(path AS VARCHAR) AS raw_path,
               TRY_CAST(total_conversions AS DOUBLE) AS c, CAST(total_conversions AS VARCHAR) AS raw_c,
               {nulls} AS nn, {raw_nulls} AS raw_nn,
               {value} AS v, {raw_value} AS raw_v
        FROM {source.relation}"""
    # One pass adds up the rows of each distinct text and flags any bad row; only the distinct texts
    # (usually thousands, where rows are millions) are then split into touchpoints.
    bad = " OR ".join(f"({condition})" for condition, _, _ in _CHECKS)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE __texts AS
        SELECT raw_path, {_PARTS} AS parts, pid, c, nn, v, bad FROM (
            SELECT raw_path, min(pid) AS pid, sum(c) AS c, sum(nn) AS nn, sum(coalesce(v, 0)) AS v,
                   bool_or({bad}) AS bad
            FROM ({rows}) GROUP BY raw_path)""")
    if con.execute(f"SELECT bool_or(bad OR {_PATH_CHECK[0]}) FROM __texts").fetchone()[0]:
        _first_problem(con, rows, source)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE __paths AS
        SELECT min(pid) AS pid, parts, sum(c) AS c, sum(nn) AS nn, sum(v) AS v FROM __texts GROUP BY parts""")
    table = _fetch_table(con, "__paths", 0)
    if len(table.conversions) == 0:
        raise DataError(f"{source.path}: no paths")
    return table


def _first_problem(con: duckdb.DuckDBPyConnection, rows: str, source: Source):
    """Raise the error of the file's first problem: the first check in order that a row fails, at its first row."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE __rows AS SELECT *, {_PARTS} AS parts FROM ({rows})")
    checks = [_PATH_CHECK, *_CHECKS]
    firsts = con.execute("SELECT " + ", ".join(f"min(pid) FILTER (WHERE {c})" for c, _, _ in checks)
                         + " FROM __rows").fetchone()
    columns = {"raw_path": "path", "raw_c": "total_conversions", "raw_nn": "total_null",
               "raw_v": "total_conversion_value"}
    for (_, raw, message), row in zip(checks, firsts):
        if row is not None:
            bad = con.execute(f"SELECT {raw} FROM __rows WHERE pid = $row", {"row": row}).fetchone()[0]
            if bad is None or not str(bad).strip():
                raise DataError(f"{source.where(row)}: {columns[raw]} is empty")
            raise DataError(f"{source.where(row)}: " + message.format(_Shown(bad)))


def event_paths(
    con: duckdb.DuckDBPyConnection, source: Source, goals: list[str], *, lookback: float = NO_WINDOW,
    by_default: bool = False, dropped: dict[str, int] | None = None, anonymous: tuple[int, int | None] = (0, None),
) -> PathTable:
    """Cut an event log into journeys (ending at a goal, or after ``lookback`` seconds of inactivity)
    and count the distinct paths of touches before the goal. Events without a user id belong to no
    journey (:func:`~journeysim.logs.counts.aggregate_events` counts them).

    A row flagged as a conversion is its touch followed by the goal (the log's one goal);
    ``by_default``, ``dropped`` and ``anonymous`` (events without a user id, the row of the first) are
    recorded in the table (see :class:`PathTable`).
    Paths are numbered in their order (not the grouping's), so that sums over them do not
    vary from run to run.
    """
    value = f"TRY_CAST({quote('value')} AS DOUBLE)" if source.has("value") else "0.0"
    goal = goals[0] if source.layout.conversion is not None else ""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE __paths AS
        WITH rows AS (
            SELECT user_id AS u, trim(__tp) AS tp, __conv AS conv, {source.micros()} AS t,
                   coalesce({value}, 0) AS val, __row AS rn
            FROM {source.touchpoints(source.relation, goal)} WHERE NOT __drop AND NOT {source.no_user()}
        ), src AS (   -- a touch flagged as a conversion, then the conversion (sub 1) with the row's value
            SELECT u, tp, t, CASE WHEN conv THEN 0 ELSE val END AS val, rn, 0 AS sub FROM rows
            UNION ALL
            SELECT u, $goal AS tp, t, val, rn, 1 AS sub FROM rows WHERE conv
        ), s AS (
            SELECT *, list_contains($goals, tp) AS is_goal,
                   CASE WHEN LAG(tp) OVER o IS NULL OR t - LAG(t) OVER o > $window
                             OR list_contains($goals, LAG(tp) OVER o) THEN 1 ELSE 0 END AS starts
            FROM src WINDOW o AS (PARTITION BY u ORDER BY t, rn, sub)
        ), j AS (
            SELECT *, sum(starts) OVER (PARTITION BY u ORDER BY t, rn, sub ROWS UNBOUNDED PRECEDING) AS jid FROM s
        ), jr AS (
            SELECT list(tp ORDER BY t, rn, sub) FILTER (WHERE NOT is_goal) AS parts, bool_or(is_goal) AS conv,
                   coalesce(sum(val) FILTER (WHERE is_goal), 0) AS value
            FROM j GROUP BY u, jid
        )
        SELECT row_number() OVER (ORDER BY parts) AS pid, parts, sum(conv::INT)::DOUBLE AS c,
               sum((NOT conv)::INT)::DOUBLE AS nn, sum(value) AS v
        FROM jr GROUP BY parts""", {"goals": list(goals), "goal": goal, "window": window_micros(lookback)})
    direct = con.execute("SELECT coalesce(sum(c), 0) FROM __paths WHERE parts IS NULL OR len(parts) = 0").fetchone()[0]
    con.execute("DELETE FROM __paths WHERE parts IS NULL OR len(parts) = 0")
    table = _fetch_table(con, "__paths", int(direct))
    # A value column read as the goals' (a flag layout renamed to the standard one): the fix is the flag option.
    flag = (f": if {excerpt(source.label('value'))} is the value of the touch that converted, flag the conversions with "
            "--conversion-column COLUMN[=VALUE]") if by_default else ""
    if len(table.conversions) == 0:
        raise DataError(f"{source.path}: no journeys with a touchpoint before the goal "
                        f"({describe_goals(goals, by_default)}){flag}")
    converted = float(table.conversions.sum())
    if converted == 0:
        raise DataError(f"{source.path}: no journey with a touch before its goal converted ({_many(table.journeys, 'journey')} "
                        f"with touches, none converting; {_many(direct, 'conversion')} with no touch before the goal; "
                        f"{describe_goals(goals, by_default)}): there is nothing to attribute"
                        + (flag or "; name the goals with --goal"))
    warnings = (without_user(*anonymous, source.label("user_id")),) if anonymous[0] else ()
    if by_default and direct > converted:
        warnings += (f"{int(direct):,} of the {int(direct) + converted:,.0f} conversions had no touch before the goal "
                    f"and take part in no model ({describe_goals(goals, True)}){flag} instead",)
    return replace(table, goals=tuple(goals), goals_by_default=by_default, dropped=tuple((dropped or {}).items()),
                   without_user=anonymous[0], without_user_row=anonymous[1], warnings=warnings)


def _many(n: float, noun: str) -> str:
    return f"{n:,.0f} {noun}" + ("" if n == 1 else "s")


class _Shown:
    """A cell shown in a message through :func:`~journeysim.errors.excerpt` (``{!r}`` in the checks above)."""

    def __init__(self, value):
        self.value = value

    def __repr__(self) -> str:
        return excerpt(self.value)

    def __str__(self) -> str:
        text = str(self.value)
        return text if len(text) <= EXCERPT_LENGTH else text[:EXCERPT_LENGTH - 3] + "..."
