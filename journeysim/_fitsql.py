"""The one DuckDB pass that turns an event log into counts.

Every event is looked at once, beside the next one in its customer's timeline, and
classified by how it ends: ``move`` to the next event's touchpoint, ``goal`` (a goal
ends the journey unless ``repeat``), ``cut`` (the next event is beyond the lookback
window) or ``end`` (the customer's last event in the data).

Every visit that is not reached by a ``move`` starts a journey (the customer's first
event, the event after a goal unless ``repeat``, the event after a cut), so journey
starts need no second window: they are visits minus moves in. The grouped counts (by
segment, touchpoint, kind and destination) carry the gap statistics the delay fit
needs; the result is small whatever the log's size.

Speed (the sort is nearly all of the cost): touchpoints and segments travel through
the sort as 64-bit hashes, not text, and are named again from their few distinct
values afterwards (two names with one hash are detected and the pass rerun on the
text). The timelines come from one external sort by user, time and file row,
followed by a streaming ``LEAD ... OVER ()``, which is about half the cost of
``LEAD ... OVER (PARTITION BY user ORDER BY time)``; the pass checks that every row
is followed by a larger key, so it can never silently read an unsorted stream. A CSV
is parsed once into a temporary table (DuckDB spills it to disk when it outgrows
memory), which the pass and the name lookup then read instead of the text.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from journeysim._logread import Source, quote
from journeysim.errors import DataError

__all__ = ["EventCounts", "aggregate_events", "default_goals", "NO_WINDOW"]

#: A lookback (in seconds) longer than any log: no journey is ever cut.
NO_WINDOW = 2.0 ** 52 / 1e6

_KINDS = {0: "goal", 1: "end", 2: "cut", 3: "move"}
# Row problems, as bits of ``bad``, in the order they are reported.
_BAD_T, _BAD_U, _BAD_TP, _BAD_VAL, _NEG_VAL = 1, 2, 4, 8, 16
_STAGED = "__journeysim_events"


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


def default_goals(con: duckdb.DuckDBPyConnection, source: Source) -> list[str]:
    """Touchpoints whose events carry a positive value: the goals when none are named."""
    if not source.has("value"):
        return []
    rows = con.execute(
        f"SELECT DISTINCT CAST(touchpoint AS VARCHAR) FROM {source.relation} "
        f"WHERE TRY_CAST({quote('value')} AS DOUBLE) > 0 ORDER BY 1").fetchall()
    return [r[0] for r in rows if r[0] is not None]


def _events(source: Source, relation: str, row: str) -> str:
    """One row per event: user, time (µs), file row, value, problem bits, names and their hashes."""
    value = f"TRY_CAST({quote('value')} AS DOUBLE)" if source.has("value") else "0.0"
    raw_value = f"trim(coalesce(CAST({quote('value')} AS VARCHAR), '')) <> ''" if source.has("value") else "false"
    seg = (f"coalesce(CAST({quote('segment')} AS VARCHAR), '(none)')" if source.has("segment")
           else "NULL::VARCHAR")
    segc = "hash(seg)" if source.has("segment") else "NULL::UBIGINT"
    return f"""
    SELECT u, t, rn, val, tp, seg, hash(tp) AS tpc, {segc} AS segc,
           (CASE WHEN t IS NULL THEN {_BAD_T} ELSE 0 END | CASE WHEN u IS NULL THEN {_BAD_U} ELSE 0 END
            | CASE WHEN tp IS NULL OR trim(tp) = '' THEN {_BAD_TP} ELSE 0 END
            | CASE WHEN val IS NULL AND bad_text THEN {_BAD_VAL} ELSE 0 END
            | CASE WHEN val < 0 THEN {_NEG_VAL} ELSE 0 END)::UTINYINT AS bad
    FROM (SELECT user_id AS u, epoch_us(TRY_CAST({quote('timestamp')} AS TIMESTAMP)) AS t, {row} AS rn,
                 {value} AS val, {raw_value} AS bad_text, CAST(touchpoint AS VARCHAR) AS tp, {seg} AS seg
          FROM {relation})"""


def _pass_sql(events: str, code: str, over: str) -> str:
    """The windowed pass; ``code`` is ``c`` (hashes) or empty (text); ``over`` the window of ``LEAD``."""
    tp, seg = f"tp{code}", f"seg{code}"
    return f"""
    WITH s AS (
        SELECT u, t, rn, val, bad, {tp} AS tp, {seg} AS seg FROM {events} {'ORDER BY u, t, rn' if not over else ''}
    ), w AS (
        SELECT tp, seg, val, bad, t, u, rn, LEAD(u) OVER o AS nu, LEAD(t) OVER o AS nt, LEAD(rn) OVER o AS nrn,
               LEAD(tp) OVER o AS next_tp, LEAD(seg) OVER o AS next_seg
        FROM s WINDOW o AS ({over})
    ), f AS (
        SELECT *, CASE WHEN NOT $repeat AND list_contains($goals, tp) THEN 0
                       WHEN nu IS DISTINCT FROM u THEN 1
                       WHEN nt - t > $window THEN 2
                       ELSE 3 END AS kind,
               nu < u OR (nu = u AND (nt < t OR (nt = t AND nrn < rn))) AS unsorted
        FROM w
    ), g AS (
        SELECT seg, tp, val, bad, kind, unsorted, CASE WHEN kind = 3 THEN next_tp END AS dest,
               CASE WHEN kind = 3 THEN next_seg END AS dest_seg, CASE WHEN kind = 3 THEN (nt - t) / $unit END AS gap
        FROM f
    )
    SELECT CAST(seg AS VARCHAR) AS seg, CAST(tp AS VARCHAR) AS tp, kind, CAST(dest AS VARCHAR) AS dest,
           CAST(dest_seg AS VARCHAR) AS dest_seg, * EXCLUDE (seg, tp, kind, dest, dest_seg) FROM (
    SELECT seg, tp, kind, dest, dest_seg,
           count(*) AS n, coalesce(sum(val), 0) AS value_total,
           count(gap) AS gaps, coalesce(sum(gap), 0) AS gap_total,
           coalesce(sum(ln(gap)) FILTER (WHERE gap > 0), 0) AS gap_log,
           coalesce(sum(ln(gap) ^ 2) FILTER (WHERE gap > 0), 0) AS gap_log2,
           count(*) FILTER (WHERE gap = 0) AS gap_zeros, min(gap) AS gap_min, max(gap) AS gap_max,
           bit_or(bad) AS bad, bool_or(unsorted) AS unsorted
    FROM g GROUP BY ALL)
    """


def aggregate_events(
    con: duckdb.DuckDBPyConnection, source: Source, goals: list[str], *, repeat: bool, lookback: float,
    unit_seconds: float,
) -> EventCounts:
    """Classify every event in one pass over the timelines and return the grouped counts.

    ``lookback`` is in seconds; gaps come back in units of ``unit_seconds``.
    Raises :class:`DataError` naming the first bad row (unparsable timestamp, empty
    user or touchpoint, a value that is not a number or is negative).
    """
    try:
        if source.csv is not None:
            # Rows keep the file's order (preserve_insertion_order), so rowid numbers them.
            con.execute(f"CREATE OR REPLACE TEMP TABLE {_STAGED} AS {_events(source, source.csv, 'NULL::BIGINT')}")
            events = f"(SELECT * REPLACE (rowid + 1 AS rn) FROM {_STAGED})"
        else:
            events = f"({_events(source, source.relation, '__row')})"
        names = _names(con, events)
        code, keys = "c", [r[0] for r in con.execute("SELECT hash(unnest($g::VARCHAR[]))", {"g": goals}).fetchall()]
        if names is None:   # two names share a hash: run on the text
            code, keys = "", list(goals)
        params = {"window": int(lookback * 1e6), "repeat": repeat, "goals": keys, "unit": unit_seconds * 1e6}
        groups = con.execute(_pass_sql(events, code, ""), params).df()
        if groups.unsorted.any():   # the sorted rows did not arrive in order: use the slower ordered window
            groups = con.execute(_pass_sql(events, code, "ORDER BY u, t, rn"), params).df()
        bad = int(np.bitwise_or.reduce(groups.bad.to_numpy(dtype=np.int64)))
        if bad:
            _check_rows(con, source, events, bad)
    except duckdb.Error as exc:
        raise DataError(f"{source.path}: cannot read ({str(exc).strip().splitlines()[0]})") from None
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_STAGED}")
    if names is not None:
        for column, lookup in (("tp", names[0]), ("dest", names[0]), ("seg", names[1]), ("dest_seg", names[1])):
            groups[column] = groups[column].map(lookup, na_action="ignore")
    groups["kind"] = groups.kind.map(_KINDS)
    groups = groups[["seg", "tp", "kind", "dest", "dest_seg", "n", "value_total", "gaps", "gap_total", "gap_log",
                     "gap_log2", "gap_zeros", "gap_min", "gap_max"]]
    return EventCounts(groups, source.has("value"), source.has("segment"))


def _names(con: duckdb.DuckDBPyConnection, events: str) -> tuple[dict, dict] | None:
    """Touchpoint and segment names by hash (as text, the pass's output), or None if two names share one."""
    out = []
    for code, name in (("tpc", "tp"), ("segc", "seg")):
        pairs = set(con.execute(f"SELECT CAST({code} AS VARCHAR), {name} FROM (SELECT DISTINCT {code}, {name} "
                                f"FROM {events} WHERE {code} IS NOT NULL)").fetchall())
        lookup = dict(pairs)
        if len(lookup) != len(pairs):
            return None
        out.append(lookup)
    return out[0], out[1]


def _check_rows(con: duckdb.DuckDBPyConnection, source: Source, events: str, bad: int) -> None:
    """Raise for the first bad row of the first kind of problem; the rows are looked up only then."""
    def raw(column: str, row: int):
        sql = f"SELECT {quote(column)} FROM {source.relation} WHERE __row = $row"
        return con.execute(sql, {"row": row}).fetchone()[0]

    for bit in (_BAD_T, _BAD_U, _BAD_TP, _BAD_VAL, _NEG_VAL):
        if bad & bit:
            row = int(con.execute(f"SELECT min(rn) FROM {events} WHERE bad & {bit} <> 0").fetchone()[0])
            break
    if bit == _BAD_T:
        raise DataError(f"{source.where(row)}: timestamp {raw('timestamp', row)!r} is not a date and time "
                        "(use e.g. 2025-03-01 14:05:00 or 2025-03-01T14:05:00)")
    if bit == _BAD_U:
        raise DataError(f"{source.where(row)}: user_id is empty")
    if bit == _BAD_TP:
        raise DataError(f"{source.where(row)}: touchpoint is empty")
    if bit == _BAD_VAL:
        raise DataError(f"{source.where(row)}: value {raw('value', row)!r} is not a number")
    raise DataError(f"{source.where(row)}: value {float(raw('value', row)):g} is negative (must be >= 0)")
