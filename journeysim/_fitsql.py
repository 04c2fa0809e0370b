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

Speed: sorting the timelines is nearly all of the cost, so only what the timelines
need is sorted: user, time, file row and one 64-bit hash of (touchpoint, segment).
A first, cheap grouped scan names the hashes (two pairs with one hash are detected,
and the hash is salted anew), totals the values and finds bad rows. The timelines
come from one external sort by user, time and file row followed by a streaming
``LEAD ... OVER ()``, about half the cost of ``LEAD ... OVER (PARTITION BY user ORDER
BY time)``; the pass checks that every row is followed by a larger key, and falls back
to the ordered window if not, so it never reads an unsorted stream. A CSV is parsed
once into a temporary table (DuckDB spills it to disk when it outgrows memory), which
both scans then read instead of the text.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass

import duckdb
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
_SALTS = 4   # hashes tried before giving up (a collision among a few thousand names has odds ~1e-12)


@dataclass(frozen=True)
class EventCounts:
    """Grouped counts of one event log (see the module docstring for the columns).

    ``values`` is the total event value of each touchpoint.
    """

    groups: pd.DataFrame
    values: pd.Series
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
    """One row per event: user, time (µs), file row, value, touchpoint, segment, their hash, problem bits."""
    value = f"TRY_CAST({quote('value')} AS DOUBLE)" if source.has("value") else "0.0"
    raw_value = quote("value") if source.has("value") else "NULL"
    seg = (f"coalesce(CAST({quote('segment')} AS VARCHAR), '(none)')" if source.has("segment")
           else "NULL::VARCHAR")
    return f"""
    SELECT u, t, rn, val, tp, seg, hash(tp, seg, 0) AS sc,
           (CASE WHEN t IS NULL THEN {_BAD_T} ELSE 0 END | CASE WHEN u IS NULL THEN {_BAD_U} ELSE 0 END
            | CASE WHEN val IS NULL AND raw_value IS NOT NULL THEN {_BAD_VAL} ELSE 0 END
            | CASE WHEN val < 0 THEN {_NEG_VAL} ELSE 0 END)::UTINYINT AS bad
    FROM (SELECT user_id AS u, epoch_us(TRY_CAST({quote('timestamp')} AS TIMESTAMP)) AS t, {row} AS rn,
                 {value} AS val, {raw_value} AS raw_value, CAST(touchpoint AS VARCHAR) AS tp, {seg} AS seg
          FROM {relation})"""


def _pass_sql(events: str, over: str) -> str:
    """The pass over the timelines; ``over`` is the window of ``LEAD`` (empty: the sorted stream)."""
    return f"""
    WITH s AS (
        SELECT u, t, rn, sc FROM {events} {'' if over else 'ORDER BY u, t, rn'}
    ), w AS (
        SELECT sc, t, u, rn, LEAD(u) OVER o AS nu, LEAD(t) OVER o AS nt, LEAD(rn) OVER o AS nrn,
               LEAD(sc) OVER o AS nsc
        FROM s WINDOW o AS ({over})
    ), f AS (
        SELECT sc, nsc, t, nt, CASE WHEN NOT $repeat AND list_contains($goals::UBIGINT[], sc) THEN 0
                                    WHEN nu IS DISTINCT FROM u THEN 1
                                    WHEN nt - t > $window THEN 2
                                    ELSE 3 END AS kind,
               nu < u OR (nu = u AND (nt < t OR (nt = t AND nrn < rn))) AS unsorted
        FROM w
    ), g AS (
        SELECT sc, kind, unsorted, CASE WHEN kind = 3 THEN nsc END AS dest,
               CASE WHEN kind = 3 THEN (nt - t) / $unit END AS gap
        FROM f
    )
    SELECT CAST(sc AS VARCHAR) AS sc, kind, CAST(dest AS VARCHAR) AS dest, * EXCLUDE (sc, kind, dest) FROM (
        SELECT sc, kind, dest, count(*) AS n, count(gap) AS gaps, coalesce(sum(gap), 0) AS gap_total,
               coalesce(sum(ln(gap)) FILTER (WHERE gap > 0), 0) AS gap_log,
               coalesce(sum(ln(gap) ^ 2) FILTER (WHERE gap > 0), 0) AS gap_log2,
               count(*) FILTER (WHERE gap = 0) AS gap_zeros, min(gap) AS gap_min, max(gap) AS gap_max,
               coalesce(bool_or(unsorted), false) AS unsorted
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
        for salt in range(_SALTS):
            hashed = f"(SELECT * REPLACE (hash(tp, seg, {salt}) AS sc) FROM {events})" if salt else events
            names = _names(con, hashed)
            if names is not None:
                break
        else:
            raise DataError(f"{source.path}: touchpoint names whose hashes collide {_SALTS} times over")
        bad = functools.reduce(operator.or_, map(int, names.bad), 0)
        if (names.tp.isna() | (names.tp.str.strip(" ") == "")).any():   # names are few: checked here, not per row
            bad |= _BAD_TP
        if bad:
            _check_rows(con, source, events, bad)
        params = {"window": int(lookback * 1e6), "repeat": repeat, "unit": unit_seconds * 1e6,
                  "goals": list(names.index[names.tp.isin(goals)])}
        groups = con.execute(_pass_sql(hashed, ""), params).df()
        if groups.unsorted.any():   # the sorted rows did not arrive in order: use the slower ordered window
            groups = con.execute(_pass_sql(hashed, "ORDER BY u, t, rn"), params).df()
    except duckdb.Error as exc:
        raise DataError(f"{source.path}: cannot read ({str(exc).strip().splitlines()[0]})") from None
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_STAGED}")
    groups = pd.DataFrame({
        "seg": groups.sc.map(names.seg), "tp": groups.sc.map(names.tp), "kind": groups.kind.map(_KINDS),
        "dest": groups.dest.map(names.tp, na_action="ignore"),
        "dest_seg": groups.dest.map(names.seg, na_action="ignore"),
        **{c: groups[c] for c in ("n", "gaps", "gap_total", "gap_log", "gap_log2", "gap_zeros", "gap_min", "gap_max")}})
    return EventCounts(groups, names.groupby("tp").val.sum(), source.has("value"), source.has("segment"))


def _names(con: duckdb.DuckDBPyConnection, hashed: str) -> pd.DataFrame | None:
    """Touchpoint, segment, value total and problem bits by hash (as text), or None if two pairs share one."""
    names = con.execute(f"SELECT CAST(sc AS VARCHAR) AS sc, tp, seg, coalesce(sum(val), 0) AS val, bit_or(bad) AS bad "
                        f"FROM {hashed} GROUP BY sc, tp, seg").df()
    return None if names.sc.duplicated().any() else names.set_index("sc")


def _check_rows(con: duckdb.DuckDBPyConnection, source: Source, events: str, bad: int) -> None:
    """Raise for the first bad row of the first kind of problem (``bad``: the kinds suspected)."""
    def raw(column: str, row: int):
        sql = f"SELECT {quote(column)} FROM {source.relation} WHERE __row = $row"
        return con.execute(sql, {"row": row}).fetchone()[0]

    where = {
        _BAD_TP: f"SELECT min(rn) FROM {events} WHERE tp IS NULL OR trim(tp) = ''",
        # Suspects are values that did not parse; blank ones are allowed.
        _BAD_VAL: f"SELECT min(__row) FROM {source.relation} WHERE TRY_CAST({quote('value')} AS DOUBLE) IS NULL "
                  f"AND trim(coalesce(CAST({quote('value')} AS VARCHAR), '')) <> ''",
    }
    for bit in (_BAD_T, _BAD_U, _BAD_TP, _BAD_VAL, _NEG_VAL):
        if bad & bit:
            row = con.execute(where.get(bit, f"SELECT min(rn) FROM {events} WHERE bad & {bit} <> 0")).fetchone()[0]
            if row is not None:
                break
    else:
        return
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
