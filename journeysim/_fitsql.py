"""The one DuckDB pass that turns an event log into counts.

Every event is looked at once, beside the next one in its customer's timeline
(``LEAD`` over ``PARTITION BY user_id ORDER BY timestamp``), and classified by how it
ends: ``move`` to the next event's touchpoint, ``goal`` (a goal ends the journey unless
``repeat``), ``cut`` (the next event is beyond the lookback window) or ``end`` (the
customer's last event in the data).

Every visit that is not reached by a ``move`` starts a journey (the customer's first
event, the event after a goal unless ``repeat``, the event after a cut), so journey
starts need no second window: they are visits minus moves in. The grouped counts (by
segment, touchpoint, kind and destination) carry the gap statistics the delay fit
needs; the result is small whatever the log's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from journeysim._logread import Source, quote
from journeysim.errors import DataError

__all__ = ["EventCounts", "aggregate_events", "default_goals", "NO_WINDOW"]

#: A lookback (in seconds) longer than any log: no journey is ever cut.
NO_WINDOW = 2.0 ** 52 / 1e6


@dataclass(frozen=True)
class EventCounts:
    """Grouped counts of one event log (see the module docstring for the columns)."""

    groups: pd.DataFrame
    has_value: bool
    has_segment: bool

    def starts(self, segment: str | None = None) -> pd.Series:
        """Journeys started at each touchpoint (of one segment): visits not reached by a move."""
        g = self.groups if segment is None else self.groups[self.groups.seg == segment]
        visits = g.groupby("tp").n.sum()
        moves = self.groups[self.groups.kind == "move"]
        if segment is not None:
            moves = moves[moves.dest_seg == segment]
        arrived = moves.groupby("dest").n.sum()
        out = visits.sub(arrived, fill_value=0)
        return out[out > 0]


def _columns(source: Source) -> tuple[str, str]:
    value = (f"TRY_CAST({quote('value')} AS DOUBLE)" if source.has("value") else "0.0")
    segment = (f"coalesce(CAST({quote('segment')} AS VARCHAR), '(none)')" if source.has("segment") else "NULL::VARCHAR")
    return value, segment


def default_goals(con: duckdb.DuckDBPyConnection, source: Source) -> list[str]:
    """Touchpoints whose events carry a positive value: the goals when none are named."""
    if not source.has("value"):
        return []
    rows = con.execute(
        f"SELECT DISTINCT CAST(touchpoint AS VARCHAR) FROM {source.relation} "
        f"WHERE TRY_CAST({quote('value')} AS DOUBLE) > 0 ORDER BY 1").fetchall()
    return [r[0] for r in rows if r[0] is not None]


def aggregate_events(
    con: duckdb.DuckDBPyConnection, source: Source, goals: list[str], *, repeat: bool, lookback: float,
    unit_seconds: float,
) -> EventCounts:
    """Classify every event in one windowed pass and return the grouped counts.

    ``lookback`` is in seconds; gaps come back in units of ``unit_seconds``.
    Raises :class:`DataError` naming the first bad row (unparsable timestamp, empty
    user or touchpoint, a value that is not a number or is negative).
    """
    value, segment = _columns(source)
    raw_value = f"CAST({quote('value')} AS VARCHAR)" if source.has("value") else "NULL::VARCHAR"
    next_seg = "LEAD(seg) OVER o" if source.has("segment") else "NULL::VARCHAR"
    sql = f"""
    WITH src AS (
        SELECT user_id AS u, CAST(touchpoint AS VARCHAR) AS tp,
               epoch_us(TRY_CAST({quote('timestamp')} AS TIMESTAMP)) AS t, {value} AS val, {segment} AS seg,
               __row AS rn,
               {value} IS NULL AND trim(coalesce({raw_value}, '')) <> '' AS bad_val
        FROM {source.relation}
    ), w AS (
        SELECT seg, tp, u, t, val, rn, bad_val,
               LEAD(tp) OVER o AS next_tp, LEAD(t) OVER o - t AS gap_next, {next_seg} AS next_seg
        FROM src WINDOW o AS (PARTITION BY u ORDER BY t, rn)
    ), f AS (
        SELECT *, CASE WHEN NOT $repeat AND list_contains($goals, tp) THEN 'goal'
                       WHEN next_tp IS NULL THEN 'end'
                       WHEN gap_next > $window THEN 'cut'
                       ELSE 'move' END AS kind
        FROM w
    ), g AS (
        SELECT *, CASE WHEN kind = 'move' THEN next_tp END AS dest,
               CASE WHEN kind = 'move' THEN next_seg END AS dest_seg,
               CASE WHEN kind = 'move' THEN gap_next / $unit END AS gap
        FROM f
    )
    SELECT seg, tp, kind, dest, dest_seg,
           count(*) AS n, coalesce(sum(val), 0) AS value_total,
           count(gap) AS gaps, coalesce(sum(gap), 0) AS gap_total,
           coalesce(sum(ln(gap)) FILTER (WHERE gap > 0), 0) AS gap_log,
           coalesce(sum(ln(gap) ^ 2) FILTER (WHERE gap > 0), 0) AS gap_log2,
           count(*) FILTER (WHERE gap = 0) AS gap_zeros, min(gap) AS gap_min, max(gap) AS gap_max,
           min(rn) FILTER (WHERE t IS NULL) AS bad_t_row, min(rn) FILTER (WHERE u IS NULL) AS bad_u_row,
           min(rn) FILTER (WHERE tp IS NULL OR trim(tp) = '') AS bad_tp_row,
           min(rn) FILTER (WHERE bad_val) AS bad_val_row, min(rn) FILTER (WHERE val < 0) AS neg_val_row
    FROM g GROUP BY ALL
    """
    params = {"window": int(lookback * 1e6), "repeat": repeat, "goals": list(goals), "unit": unit_seconds * 1e6}
    try:
        groups = con.execute(sql, params).df()
    except duckdb.Error as exc:
        raise DataError(f"{source.path}: cannot read ({str(exc).strip().splitlines()[0]})") from None
    _check_rows(con, source, groups)
    groups = groups[["seg", "tp", "kind", "dest", "dest_seg", "n", "value_total", "gaps", "gap_total", "gap_log",
                     "gap_log2", "gap_zeros", "gap_min", "gap_max"]]
    return EventCounts(groups, source.has("value"), source.has("segment"))


def _check_rows(con: duckdb.DuckDBPyConnection, source: Source, groups: pd.DataFrame) -> None:
    """Raise for the first bad row of each kind; its raw text is looked up only then."""
    def first(column: str) -> int | None:
        rows = groups[column].dropna()
        return None if rows.empty else int(rows.min())

    def raw(column: str, row: int):
        return con.execute(f"SELECT {quote(column)} FROM {source.relation} WHERE __row = $row", {"row": row}).fetchone()[0]

    if (row := first("bad_t_row")) is not None:
        raise DataError(f"{source.where(row)}: timestamp {raw('timestamp', row)!r} is not a date and time "
                        "(use e.g. 2025-03-01 14:05:00 or 2025-03-01T14:05:00)")
    if (row := first("bad_u_row")) is not None:
        raise DataError(f"{source.where(row)}: user_id is empty")
    if (row := first("bad_tp_row")) is not None:
        raise DataError(f"{source.where(row)}: touchpoint is empty")
    if (row := first("bad_val_row")) is not None:
        raise DataError(f"{source.where(row)}: value {raw('value', row)!r} is not a number")
    if (row := first("neg_val_row")) is not None:
        raise DataError(f"{source.where(row)}: value {float(raw('value', row)):g} is negative (must be >= 0)")
