"""The one DuckDB pass that turns an event log into counts.

Every event is looked at once, beside the next one in its customer's timeline, and
classified by how it ends: ``move`` to the next event's touchpoint, ``cut`` (the next
event is beyond the lookback window) or ``end`` (the customer's last event in the
data); unless ``repeat``, a goal's events are then relabelled ``goal`` (a goal ends
the journey whatever follows), so the pass itself needs no goals.

Every visit that is not reached by a ``move`` starts a journey (the customer's first
event, the event after a goal unless ``repeat``, the event after a cut), so journey
starts need no second window: they are visits minus moves in. The grouped counts (by
segment, touchpoint, kind and destination) carry the gap statistics the delay fit
needs; the result is small whatever the log's size.

A CSV whose customers' events come in time order (as exports usually are) is counted
without a sort, as it is read (:mod:`journeysim.logs._stream`); the rest of this
module is the sorted pass, for every other log.

Speed: only what the timelines need is sorted: user, time, file row and a number for
(touchpoint, segment). The timelines come from one external sort followed by a
streaming ``LEAD ... OVER ()``, about half the cost of ``LEAD ... OVER (PARTITION BY
user ORDER BY time)``; the pass checks that every row is followed by a larger (user,
time, file row), and falls back to the ordered window if not, so it never reads an
unsorted stream. Rows are staged in a temporary table (DuckDB spills it to disk when
it outgrows memory) that every later query reads instead of the file, in one of two
ways:

* a clean CSV is parsed by :mod:`journeysim.logs._csv`, which numbers the (touchpoint,
  segment) pairs as it reads and says whether the file is in time order (exports
  usually are: then the sort key is just user and file row, the same order);
* anything else (Parquet, a CSV with a bad row or an unusual dialect) by DuckDB, with
  a 64-bit hash of the pair and a problem bit per row; a cheap grouped scan names the
  hashes (two pairs with one hash are detected, and the hash is salted anew), totals
  the values and finds the first bad row.

Checks come in the order a reader needs them: bad rows first, then an empty log, then
the goals (by default the touchpoints whose events carry a positive value), so that
each message says what is actually wrong.

An event without a user id (NULL, empty, or only spaces as DuckDB's ``trim`` sees them)
belongs to no customer: it is checked as every row is, then left out of the counts, and
the events left out and the first one's row are counted (:func:`without_user`). Both
readers do so, after the touchpoint map (an event the map drops is dropped, whatever its
user), so they count the same events.

A row flagged as a conversion (see :mod:`journeysim.logs.layout`) is counted by both
passes as a pair of its own, (touchpoint, segment, converted); afterwards
:func:`_split_conversions` turns each such pair into its touchpoint followed by the
goal, so the passes themselves never learn of conversion flags.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from journeysim.errors import DataError, UsageError, did_you_mean, excerpt
from journeysim.logs._csv import CsvEvents, csv_events
from journeysim.logs._sql import SPACES, trimmed
from journeysim.logs._stream import Transitions, count_in_order
from journeysim.logs.layout import DEFAULT_GOAL, TIME_UNITS, UNIT_NAMES
from journeysim.logs.sources import FLAG, Source, quote, quote_made, read_error

__all__ = ["EventCounts", "aggregate_events", "NO_WINDOW", "window_micros", "describe_goals", "dropped_events",
           "without_user"]

#: A lookback (in seconds) longer than any log: no journey is ever cut.
NO_WINDOW = 2.0 ** 52 / 1e6

_KINDS = {0: "goal", 1: "end", 2: "cut", 3: "move"}
# Row problems, as bits of ``bad``, in the order they are reported.
_BAD_T, _BAD_FLAG, _BAD_TP, _BAD_VAL, _NEG_VAL, _BAD_QUOTE = 1, 32, 4, 8, 16, 64
_STAGED = "__journeysim_events"
# Pair numbers of the fast reader packed below the file row (see _pass_sql).
_PAIR_BITS = 24
_PAIR_MASK = (1 << _PAIR_BITS) - 1
_STREAM = "__journeysim_stream"
_SORTED = "one DuckDB pass (LEAD over each customer's timeline, sorted by user and time)"
_IN_ORDER = ("one pass over the file in its order (each customer's last event held in a hash table; the file "
             "has each customer's events in time order)")
_SALTS = 4   # hashes tried before giving up (a collision among a few thousand names has odds ~1e-12)
#: Epoch times read with --time-unit must fall in these years, else the unit is probably wrong.
_EPOCH_YEARS = (1990, 2100)
_DEFAULT_GOALS = "taken by default: the touchpoints whose events carry a positive value"


@dataclass(frozen=True)
class EventCounts:
    """Grouped counts of one event log (see the module docstring for the columns).

    ``values`` is the total event value of each touchpoint; ``goals`` are the goals
    the journeys were cut at (those asked for, else the default ones: then
    ``goals_by_default``); ``dropped`` counts the events of each name the touchpoint
    map dropped; ``without_user`` the events (kept by the map) left out for having no
    user id, and ``without_user_row`` is the file row of the first (1-based, the CSV
    header not counted); ``method`` says how the timelines were followed.
    """

    groups: pd.DataFrame
    values: pd.Series
    has_value: bool
    has_segment: bool
    goals: tuple[str, ...]
    method: str = ""
    goals_by_default: bool = False
    dropped: dict[str, int] = field(default_factory=dict)
    without_user: int = 0
    without_user_row: int | None = None

    def starts(self, segment: str | None = None) -> pd.Series:
        """Journeys started at each touchpoint (of one segment): visits not reached by a move.

        A segment's journeys are its customers' runs of events in it: a move from another
        segment (the customer changed segment) starts one, see :meth:`moves`.
        """
        g = self.groups if segment is None else self.groups[self.groups.seg == segment]
        visits = g.groupby("tp").n.sum()
        arrived = self.moves(segment).groupby("dest").n.sum()
        out = visits.sub(arrived, fill_value=0)
        return out[out > 0]

    def moves(self, segment: str | None = None) -> pd.DataFrame:
        """The move groups (of one segment: from it and into it; a move into another segment ends a journey of
        the segment, as a drop-off, since a map's customer keeps one segment)."""
        moves = self.groups[self.groups.kind == "move"]
        return moves if segment is None else moves[(moves.seg == segment) & (moves.dest_seg == segment)]

    def segment_changes(self) -> int:
        """Moves from one segment to another."""
        moves = self.moves()
        return int(moves.n[moves.seg != moves.dest_seg].sum()) if self.has_segment else 0


def window_micros(lookback: float) -> int:
    """The lookback window in µs as the passes compare gaps with it; a lookback longer than any log is no window."""
    if isinstance(lookback, bool) or not isinstance(lookback, (int, float, np.integer, np.floating)) \
            or not lookback > 0:
        raise UsageError(f"lookback={excerpt(lookback)}: must be a number of seconds > 0 (or None: no window)")
    return int(min(lookback, NO_WINDOW) * 1e6)


def _events(source: Source, relation: str, row: str, goal: str) -> str:
    """One row per event: user, time (µs), file row, value, touchpoint, segment, converted, dropped (by the
    touchpoint map: the callers leave those rows out, after numbering them), their hash, problem bits, and
    whether the event has no user id (``anon``: it is checked, then left out of the counts)."""
    value = f"TRY_CAST({quote('value')} AS DOUBLE)" if source.has("value") else "0.0"
    raw_value = quote("value") if source.has("value") else "NULL"
    seg = (f"coalesce(CAST({quote('segment')} AS VARCHAR), '(none)')" if source.has("segment")
           else "NULL::VARCHAR")
    return f"""
    SELECT u, t, rn, val, tp, seg, conv, drop, {_hash(source, 0)} AS sc, {source.no_user('u')} AS anon,
           (CASE WHEN t IS NULL THEN {_BAD_T} ELSE 0 END
            | CASE WHEN (val IS NULL AND raw_value IS NOT NULL) OR NOT isfinite(val) THEN {_BAD_VAL} ELSE 0 END
            | CASE WHEN val < 0 THEN {_NEG_VAL} ELSE 0 END | CASE WHEN bad_flag THEN {_BAD_FLAG} ELSE 0 END
           )::UTINYINT AS bad
    FROM (SELECT user_id AS u, {source.micros()} AS t, {row} AS rn, {value} AS val, {raw_value} AS raw_value,
                 __tp AS tp, {seg} AS seg, __conv AS conv, __bad_flag AS bad_flag, __drop AS drop
          FROM {source.touchpoints(relation, goal)})"""


def _hash(source: Source, salt: int) -> str:
    """The hash of an event's (touchpoint, segment[, converted]) pair."""
    return f"hash(tp, seg, {salt})" if source.plain else f"hash(tp, seg, conv, {salt})"


def _pass_sql(events: str, over: str, *, window: int, unit: float, key: str = "u, t, rn", packed: bool = False) -> str:
    """The pass over the timelines; ``over`` is the window of ``LEAD`` (empty: the stream sorted by ``key``).

    ``key`` may be ``u, rn`` when the file is in time order: the same order, and a sort
    on a shorter key. ``packed``: the pair numbers are small (below 2**24), so the file
    row and the pair number travel as one integer, one ``LEAD`` fewer.

    Goals play no part here (a goal's events are relabelled afterwards, see
    :func:`_end_at_goals`), so the pass can run before the goals are known; nor do
    ``end`` events (see :func:`_with_ends`). The settings are numbers written into the
    SQL so that DuckDB folds them.
    """
    if packed:   # file row in the high bits: comparing two packed values compares their rows
        payload, leads, sc, nsc, later = (f"(rn::UBIGINT << {_PAIR_BITS}) | sc::UBIGINT AS p", "LEAD(p) OVER o AS np",
                                          f"p & {_PAIR_MASK}", f"np & {_PAIR_MASK}", "np < p")
    else:
        payload, leads, sc, nsc, later = ("rn, sc", "LEAD(rn) OVER o AS nrn, LEAD(sc) OVER o AS nsc", "sc", "nsc",
                                          "nrn < rn")
    return f"""
    WITH s AS (
        SELECT u, t, {payload} FROM {events} {'' if over else f'ORDER BY {key}'}
    ), w AS (
        SELECT *, LEAD(u) OVER o AS nu, LEAD(t) OVER o AS nt, {leads}
        FROM s WINDOW o AS ({over})
    ), f AS (
        SELECT {sc} AS sc, {nsc} AS nsc, nt - t AS d,
               CASE WHEN nu <> u THEN 1 WHEN nt - t > {int(window)} THEN 2 ELSE 3 END AS kind,
               nu < u OR (nu = u AND (nt < t OR (nt = t AND {later}))) AS unsorted
        FROM w
        -- A customer's last event (most events) ends a journey: those are counted as the events not
        -- counted here (see _with_ends), which spares the grouping most rows. Unsorted ones stay, to be seen.
        WHERE nu <= u
    ), g AS (
        SELECT sc, kind, unsorted, CASE WHEN kind = 3 THEN nsc END AS dest,
               CASE WHEN kind = 3 THEN d / {excerpt(float(unit))} END AS gap
        FROM f
    ), h AS (   -- the log of a positive gap; zero gaps are counted apart
        SELECT *, ln(CASE WHEN gap > 0 THEN gap END) AS lg FROM g
    )
    SELECT CAST(sc AS VARCHAR) AS sc, kind, CAST(dest AS VARCHAR) AS dest, count(*) AS n, count(gap) AS gaps,
           coalesce(sum(gap), 0) AS gap_total, coalesce(sum(lg), 0) AS gap_log, coalesce(sum(lg * lg), 0) AS gap_log2,
           count(gap) - count(lg) AS gap_zeros, min(gap) AS gap_min, max(gap) AS gap_max,
           coalesce(bool_or(unsorted), false) AS unsorted
    FROM h GROUP BY sc, kind, dest
    """


def aggregate_events(
    con: duckdb.DuckDBPyConnection, source: Source, goals: list[str] | tuple[str, ...], *, repeat: bool,
    lookback: float, unit_seconds: float, threads: int | None = None, in_order: bool = True,
) -> EventCounts:
    """Classify every event in one pass over the timelines and return the grouped counts.

    ``goals`` may be empty: then the touchpoints whose events carry a positive value.
    ``lookback`` is in seconds; gaps come back in units of ``unit_seconds``;
    ``threads`` is the thread count of the CSV reader and DuckDB; ``in_order`` = False
    skips the pass in file order (:mod:`journeysim.logs._stream`) and sorts every log.
    Raises :class:`DataError` naming the first bad row (unparsable timestamp, empty
    touchpoint, a value that is not a number or is negative), then for a log without
    events (an event without a user id is no customer's: it is left out and counted),
    then for a missing or unknown goal.
    """
    goal = _conversion_goal(source, goals)
    settings = dict(window=window_micros(lookback), unit=unit_seconds * 1e6)
    method = _SORTED
    try:
        events = csv_events(con, source, goal=goal, threads=threads) if source.csv is not None else None
        counted = count_in_order(events, **settings) if events is not None and in_order else None
        if counted is not None:
            names, method = events.names(), _IN_ORDER
            span, dropped, anonymous = events.span, events.dropped, (events.without_user, events.without_user_row)
            goals, by_default = _goals(con, source, names, goals, goal, span, anonymous)
            groups = _counted_groups(counted)
        else:
            if events is not None and in_order and not events.unclean:   # read again, to be sorted
                events = csv_events(con, source, goal=goal, threads=threads)
            staged = _stage_fast(con, events) if events is not None and not events.unclean else None
            if staged is not None:
                (hashed, names, key), span, dropped = staged, events.span, events.dropped
                anonymous = (events.without_user, events.without_user_row)
            else:
                every, hashed, names, anonymous = _stage_exact(con, source, goal)
                key, span, dropped = "u, t, rn", _span(con, source, every), _dropped(con, source, goal)
            # The fast reader numbers the pairs from 0 (DuckDB's reader hashes them); rows stay below 2**40.
            packed = staged is not None and len(names) <= _PAIR_MASK
            goals, by_default = _goals(con, source, names, goals, goal, span, anonymous)
            groups = con.execute(_pass_sql(hashed, "", **settings, key=key, packed=packed)).df()
            if groups.unsorted.any():   # the sorted rows did not arrive in order: use the slower ordered window
                groups = con.execute(_pass_sql(hashed, "ORDER BY u, t, rn", **settings)).df()
    except duckdb.Error as exc:
        raise read_error(source.path, exc) from None
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_STAGED}")
    groups = _with_ends(groups, names)
    if goal is not None:
        groups, names = _split_conversions(groups, names, goal)
    groups = pd.DataFrame({
        "seg": groups.sc.map(names.seg), "tp": groups.sc.map(names.tp), "kind": groups.kind.map(_KINDS),
        "dest": groups.dest.map(names.tp, na_action="ignore"),
        "dest_seg": groups.dest.map(names.seg, na_action="ignore"),
        **{c: groups[c] for c in ("n", "gaps", "gap_total", "gap_log", "gap_log2", "gap_zeros", "gap_min", "gap_max")}})
    # In the order of the names, not of the pair numbers: sums over groups come out the same in any layout.
    groups = groups.sort_values(["seg", "tp", "kind", "dest_seg", "dest"], key=lambda c: c.fillna(""),
                                kind="stable", ignore_index=True)
    if not repeat:
        groups = _end_at_goals(groups, goals)
    return EventCounts(groups, names.groupby("tp").val.sum(), source.has("value"), source.has("segment"),
                       tuple(goals), method, by_default, dropped, *anonymous)


def _conversion_goal(source: Source, goals) -> str | None:
    """The goal a conversion-flag log's conversions reach (``None``: the log has no conversion flags)."""
    if source.layout.conversion is None:
        return None
    goals = list(dict.fromkeys(goals))
    if len(goals) > 1:
        raise UsageError(f"--goal: a log whose rows flag conversions has one goal, the conversion (got "
                         f"{', '.join(map(excerpt, goals))}); name it with one --goal, or leave it out for "
                         f"{excerpt(DEFAULT_GOAL)}")
    return goals[0] if goals else DEFAULT_GOAL


def _split_conversions(groups: pd.DataFrame, names: pd.DataFrame, goal: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each converting pair (a touch flagged as a conversion) as its touch followed by ``goal``.

    The pair's moves in are moves to its touch; its own groups (moves on, cuts, ends) are
    the goal's; and each of its events adds a move from the touch to the goal, without a
    gap (the conversion's time is the touch's: it tells nothing of the touch's delay).
    """
    converting = names[names.conv]
    if converting.empty:
        return groups, names
    names = names[~names.conv].copy()
    keys = {(tp, _seg(seg)): sc for sc, tp, seg in zip(names.index, names.tp, names.seg)}

    def key(tp: str, seg) -> str:
        found = keys.get((tp, _seg(seg)))
        if found is None:
            found = keys[(tp, _seg(seg))] = f"{len(names)}+"   # not a number: no pass ever made it
            names.loc[found] = {"tp": tp, "seg": seg, "conv": False, "n": 0, "val": 0.0, "bad": 0}
        return found

    touch = {sc: key(tp, seg) for sc, tp, seg in zip(converting.index, converting.tp, converting.seg)}
    reached = {sc: key(goal, seg) for sc, seg in zip(converting.index, converting.seg)}
    for sc, row in converting.iterrows():
        names.loc[touch[sc], "n"] += row.n
        names.loc[reached[sc], ["n", "val"]] += [row.n, row.val]
    groups = groups.assign(sc=groups.sc.replace(reached), dest=groups.dest.replace(touch))
    moves = pd.DataFrame({"sc": [touch[sc] for sc in converting.index], "kind": 3,
                          "dest": [reached[sc] for sc in converting.index], "n": converting.n.to_numpy(np.int64),
                          "gaps": 0, "gap_total": 0.0, "gap_log": 0.0, "gap_log2": 0.0, "gap_zeros": 0})
    return pd.concat([groups, moves], ignore_index=True), names


def _seg(seg):
    return seg if isinstance(seg, str) else None


def _span(con: duckdb.DuckDBPyConnection, source: Source, hashed: str) -> tuple[int, int] | None:
    """The first and last event times (µs) when they are epoch numbers (then their unit is checked), events
    without a user id included (the fast reader checks every row's time as it reads)."""
    if source.layout.time_unit is None:
        return None
    return con.execute(f"SELECT min(t), max(t) FROM {hashed}").fetchone()


def _dropped(con: duckdb.DuckDBPyConnection, source: Source, goal: str | None) -> dict[str, int]:
    """Events the touchpoint map drops, by name (most first)."""
    if source.layout.touchpoints is None:
        return {}
    rows = con.execute(f"SELECT trim(CAST({quote('touchpoint')} AS VARCHAR)) AS e, count(*) AS n "
                       f"FROM {source.touchpoints(source.relation, goal or '')} WHERE __drop "
                       "GROUP BY e ORDER BY n DESC, e").fetchall()
    return {e: int(n) for e, n in rows}


def _stage_fast(con: duckdb.DuckDBPyConnection, events: CsvEvents):
    """Stage a clean CSV streamed by :mod:`journeysim.logs._csv`: (events relation, names, sort key), or
    ``None`` when the file needs DuckDB's reader."""
    con.register(_STREAM, events.reader)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {_STAGED} AS SELECT * FROM {_STREAM}")
    except Exception:   # the stream stopped at a row that needs DuckDB's reader, whatever wraps the error
        if events.unclean:
            return None
        raise
    finally:
        con.unregister(_STREAM)
    # Rows keep the file's order (preserve_insertion_order), so rowid numbers them (in 4 bytes if it can: a
    # shorter sort key).
    rn = "(rowid + 1)::UINTEGER" if events.rows < 2**32 - 1 else "rowid + 1"
    return (f"(SELECT u, t, {rn} AS rn, sc FROM {_STAGED})", events.names(),
            "u, rn" if events.time_ordered else "u, t, rn")


def _counted_groups(counted: Transitions) -> pd.DataFrame:
    """The groups of :func:`_pass_sql` from the counts of the pass in file order."""
    move, gaps = counted.dest >= 0, counted.gaps
    return pd.DataFrame({
        "sc": counted.sc.astype(str), "kind": np.where(move, 3, 2),
        "dest": np.where(move, counted.dest.astype(str), None), "n": counted.n, "gaps": np.where(move, counted.n, 0),
        "gap_total": gaps[:, 0], "gap_log": gaps[:, 1], "gap_log2": gaps[:, 2], "gap_zeros": counted.zeros,
        "gap_min": np.where(move, gaps[:, 3], np.nan), "gap_max": np.where(move, gaps[:, 4], np.nan),
        "unsorted": False})


def _with_ends(groups: pd.DataFrame, names: pd.DataFrame) -> pd.DataFrame:
    """Add the ``end`` groups the pass leaves out: each pair's events that neither moved on nor were cut."""
    ends = names.n.sub(groups.groupby("sc").n.sum(), fill_value=0)
    ends = ends[ends > 0]
    end = pd.DataFrame({"sc": ends.index, "kind": 1, "dest": None, "n": ends.to_numpy(dtype=np.int64), "gaps": 0,
                        "gap_total": 0.0, "gap_log": 0.0, "gap_log2": 0.0, "gap_zeros": 0})
    return pd.concat([groups, end], ignore_index=True)


def _end_at_goals(groups: pd.DataFrame, goals: list[str]) -> pd.DataFrame:
    """A goal's events end their journey whatever follows: one ``goal`` group per goal and segment."""
    at_goal = groups.tp.isin(goals)
    ended = (groups[at_goal].groupby(["seg", "tp"], dropna=False, sort=False).n.sum().reset_index()
             .assign(kind="goal", gaps=0, gap_total=0.0, gap_log=0.0, gap_log2=0.0, gap_zeros=0))
    return pd.concat([groups[~at_goal], ended], ignore_index=True)


def _stage_exact(con: duckdb.DuckDBPyConnection, source: Source, goal: str | None):
    """Stage (a CSV) or wrap (Parquet) the events with DuckDB's reader, hash-coded, and check every row.

    Returns the events relation (every event the touchpoint map keeps), the same without the
    events that have no user id (the ones counted), the names of its hashes, and (events
    without a user id, the row of the first); raises for the first bad row.
    """
    goal = goal or ""
    if source.csv is not None:
        # Rows keep the file's order (preserve_insertion_order), so rowid numbers them.
        con.execute(f"CREATE OR REPLACE TEMP TABLE {_STAGED} AS {_events(source, source.csv, 'NULL::BIGINT', goal)}")
        events = f"(SELECT * REPLACE (rowid + 1 AS rn) FROM {_STAGED}{'' if source.plain else ' WHERE NOT drop'})"
    else:
        events = f"(SELECT * FROM ({_events(source, source.relation, '__row', goal)}){'' if source.plain else ' WHERE NOT drop'})"
    for salt in range(_SALTS):
        hashed = f"(SELECT * REPLACE ({_hash(source, salt)} AS sc) FROM {events})" if salt else events
        names = _names(con, hashed)
        if names is not None:
            break
    else:
        raise DataError(f"{source.path}: touchpoint names whose hashes collide {_SALTS} times over")
    if names.empty:
        return hashed, hashed, names.drop(columns=["anon", "anon_row"]), (0, None)
    bad = functools.reduce(operator.or_, map(int, names.bad), 0)
    if (names.tp.isna() | (names.tp.str.strip(SPACES) == "")).any():   # names are few: checked here, not per row
        bad |= _BAD_TP
    made = {x for x in {*names.tp.dropna(), *names.seg.dropna()} if quote_made(source.path, x)}
    if made:
        bad |= _BAD_QUOTE
    if bad:
        _check_rows(con, source, events, bad, goal, made)
    anonymous = int(names.anon.sum())
    first = int(names.anon_row.min()) if anonymous else None
    names = names[names.n > 0].drop(columns=["anon", "anon_row"])
    return hashed, (f"(SELECT * FROM {hashed} WHERE NOT anon)" if anonymous else hashed), names, (anonymous, first)


def without_user(events: int, row: int | None, label: str = "user_id") -> str:
    """The warning that events without a user id (``label``: the file's name of the column) were left out.

    Examples
    --------
    >>> without_user(1234, 3)
    "1,234 events with an empty 'user_id' (the first in row 3) were left out: they belong to no customer"
    >>> without_user(1, 7, "user_pseudo_id")
    "1 event with an empty 'user_pseudo_id' (row 7) was left out: it belongs to no customer"
    """
    if events == 1:
        return f"1 event with an empty {excerpt(label)} (row {row}) was left out: it belongs to no customer"
    return (f"{events:,} events with an empty {excerpt(label)} (the first in row {row}) were left out: "
            "they belong to no customer")


def describe_goals(goals, by_default: bool) -> str:
    """The goals in words, and how they were chosen, for messages.

    Examples
    --------
    >>> describe_goals(["buy"], True)
    "goals: 'buy' (taken by default: the touchpoints whose events carry a positive value)"
    """
    return f"goals: {', '.join(map(excerpt, goals))}" + (f" ({_DEFAULT_GOALS})" if by_default else "")


def dropped_events(dropped, shown: int = 5) -> str:
    """Events dropped by the touchpoint map, in words: the total and the most frequent names.

    Examples
    --------
    >>> dropped_events({"scroll": 800, "session_start": 434})
    '1,234 (scroll 800, session_start 434)'
    """
    items = sorted(dict(dropped).items(), key=lambda kv: (-kv[1], kv[0]))
    listed = ", ".join(f"{name} {n:,}" for name, n in items[:shown]) + (", ..." if len(items) > shown else "")
    return f"{sum(n for _, n in items):,} ({listed})"


def _goals(con, source: Source, names: pd.DataFrame, goals, goal: str | None, span,
           anonymous: tuple[int, int | None] = (0, None)) -> tuple[list[str], bool]:
    """The goals asked for, checked against the log, or by default those whose events carry a value; and
    whether they were taken by default. Refuses goals that leave no touch before them."""
    if names.empty:
        if anonymous[0]:
            raise DataError(f"{source.path}: no events left: every one of the {anonymous[0]:,} events has an empty "
                            f"{excerpt(source.label('user_id'))}, so none belongs to a customer "
                            f"(is it the customer id? name yours with --user-column)")
        what = "the file has only a header" if source.csv is not None else "the file has no rows"
        raise DataError(f"{source.path}: no events ({what})")
    if span is not None:
        _check_span(source, *span)
    seen = set(names.tp)
    by_default = not goals and goal is None
    if goal is not None:
        if not names.conv.any() and goal not in seen:
            raise DataError(f"{source.path}: no conversions: no row's {source.layout.describe_conversion()}"
                            f"{_flag_values(con, source)}")
        goals = [goal]
    goals = list(dict.fromkeys(goals)) or sorted(set(names.tp[names.val > 0]))
    if not goals:
        raise DataError(f"{source.path}: no goal: name one with --goal TOUCHPOINT, give goal events a positive "
                        f"{source.label('value')}, or flag conversions with --conversion-column COLUMN[=VALUE]")
    for name in goals:
        if name not in seen and goal is None:
            raise DataError(f"{source.path}: goal {excerpt(name)} never occurs in the log{did_you_mean(name, seen)}")
    touches = set(names.tp[names.conv]) | (seen - set(goals))
    if not touches:
        if by_default:
            raise DataError(
                f"{source.path}: every touchpoint is a goal ({describe_goals(goals, True)}), so no journey has a "
                f"touch before its goal: if {excerpt(source.label('value'))} is the value of the touch that converted, flag "
                "the conversions with --conversion-column COLUMN[=VALUE]; otherwise name the goals with --goal")
        raise DataError(f"{source.path}: every touchpoint is a goal ({describe_goals(goals, False)}), so no journey "
                        "has a touch before its goal; name only the goals with --goal")
    return goals, by_default


def _flag_values(con: duckdb.DuckDBPyConnection, source: Source) -> str:
    """A few of the conversion column's values, for the message that none marks a conversion."""
    rows = con.execute(f"SELECT DISTINCT trim(CAST({quote(FLAG)} AS VARCHAR)) AS v FROM {source.relation} "
                       "WHERE v IS NOT NULL ORDER BY v LIMIT 6").fetchall()
    shown = ", ".join(excerpt(r[0]) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
    return f" (its values: {shown})" if rows else f" ({excerpt(source.layout.conversion)} is empty on every row)"


def _check_span(source: Source, first: int, last: int) -> None:
    """Refuse epoch times outside 1990-2100: their unit is almost certainly not the one given."""
    low, high = (pd.Timestamp(f"{y}-01-01").value // 1000 for y in _EPOCH_YEARS)
    if low <= first and last < high:
        return
    layout = source.layout
    fits = [u for u, micros in TIME_UNITS.items()
            if low <= first / layout.unit_micros * micros and last / layout.unit_micros * micros < high]
    hint = (f"are they {', or '.join(f'{UNIT_NAMES[u]} (--time-unit {u})' for u in fits)}?" if fits
            else "is it the time column?")
    when = [np.datetime_as_string(np.datetime64(int(t), "us"), unit="D") for t in (first, last)]
    raise DataError(f"{source.path}: column {excerpt(source.label('timestamp'))} read as {layout.unit_name} since 1970 "
                    f"(--time-unit {layout.time_unit}) runs from {when[0]} to {when[1]}: {hint}")


def _names(con: duckdb.DuckDBPyConnection, hashed: str) -> pd.DataFrame | None:
    """Touchpoint, segment, converted, events, value total and problem bits by hash (as text), or None if two
    pairs share one. Events and value count the events with a user id; ``anon`` counts those without one (their
    first row ``anon_row``), whose names are still checked.

    Names are trimmed of spaces here, on the few pairs, not on every event: two spellings
    (' ad', 'ad') keep two hashes that name the same touchpoint.
    """
    names = con.execute(f"SELECT CAST(sc AS VARCHAR) AS sc, trim(tp) AS tp, "
                        f"CASE WHEN seg IS NOT NULL THEN coalesce(NULLIF(trim(seg), ''), '(none)') END AS seg, conv, "
                        f"count(*) FILTER (WHERE NOT anon) AS n, coalesce(sum(val) FILTER (WHERE NOT anon), 0) AS val, "
                        f"bit_or(bad) AS bad, count(*) FILTER (WHERE anon) AS anon, "
                        f"min(rn) FILTER (WHERE anon) AS anon_row FROM {hashed} GROUP BY sc, tp, seg, conv").df()
    return None if names.sc.duplicated().any() else names.set_index("sc")


def _is_float(text) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def _check_rows(con: duckdb.DuckDBPyConnection, source: Source, events: str, bad: int, goal: str,
                made: set[str] = frozenset()) -> None:
    """Raise for the first bad row of the first kind of problem (``bad``: the kinds suspected; ``made``: the
    touchpoint and segment names an unbalanced quote made, see :func:`~journeysim.logs.sources.quote_made`)."""
    def raw(column: str, row: int):
        sql = f"SELECT {quote(column)} FROM {source.relation} WHERE __row = $row"
        return con.execute(sql, {"row": row}).fetchone()[0]

    kept = f"{source.touchpoints(source.relation, goal)} WHERE NOT __drop AND"
    where = {
        _BAD_TP: f"SELECT min(rn) FROM {events} WHERE tp IS NULL OR trim(tp) = ''",
        _BAD_QUOTE: f"SELECT min(rn) FROM {events} WHERE list_contains($made, trim(tp)) "
                    f"OR list_contains($made, trim(seg))",
        # Suspects are values that did not parse (blank ones are allowed) or are not finite.
        _BAD_VAL: f"SELECT min(__row) FROM {kept} ((TRY_CAST({quote('value')} AS DOUBLE) IS NULL "
                  f"AND trim(coalesce(CAST({quote('value')} AS VARCHAR), '')) <> '') "
                  f"OR NOT isfinite(TRY_CAST({quote('value')} AS DOUBLE)))",
    }
    for bit in (_BAD_T, _BAD_FLAG, _BAD_TP, _BAD_QUOTE, _BAD_VAL, _NEG_VAL):
        if bad & bit:
            sql = where.get(bit, f"SELECT min(rn) FROM {events} WHERE bad & {bit} <> 0")
            row = con.execute(sql, {"made": sorted(made)} if bit == _BAD_QUOTE else None).fetchone()[0]
            if row is not None:
                break
    else:
        return
    at, label = source.where(row), source.label
    if bit == _BAD_T:
        raise DataError(f"{at}: {_bad_time(source, raw('timestamp', row))}")
    if bit == _BAD_FLAG:
        column = source.layout.conversion
        raise DataError(f"{at}: {column} {excerpt(raw(FLAG, row))} is not a conversion flag (1/0, true/false, yes/no); "
                        f"if one value marks the conversions, name it: --conversion-column {column}=VALUE")
    if bit == _BAD_TP:
        flagged = " and the row is not a conversion" if source.layout.conversion else ""
        raise DataError(f"{at}: {label('touchpoint')} is empty{flagged}")
    if bit == _BAD_QUOTE:
        column = "touchpoint" if trimmed(str(raw("touchpoint", row) or "")) in made else "segment"
        raise DataError(f"{at}: {label(column)} {excerpt(raw(column, row))} opens a quote that is never closed "
                        "(an unbalanced quote; a quoted field ends with a quote, and a quote inside it is doubled)")
    if bit == _BAD_VAL:
        bad_value = raw("value", row)
        what = "a finite number" if _is_float(bad_value) else "a number"
        raise DataError(f"{at}: {label('value')} {excerpt(bad_value)} is not {what}")
    raise DataError(f"{at}: {label('value')} {float(raw('value', row)):g} is negative (must be >= 0)")


def _bad_time(source: Source, text) -> str:
    """What is wrong with a time that did not read, and the ``--time-unit`` that would read it."""
    label, layout = source.label("timestamp"), source.layout
    if text is None:                 # NULL in Parquet (NaT), or an empty field
        return f"{label} is empty (every event needs its date and time)"
    number = _is_float(text) and np.isfinite(float(text))
    low, high = (pd.Timestamp(f"{y}-01-01").value // 1000 for y in _EPOCH_YEARS)
    fits = [u for u, micros in TIME_UNITS.items() if number and low <= float(text) * micros < high]
    if layout.time_unit is not None:
        if not number:
            return f"{label} {excerpt(text)} is not a number of {layout.unit_name} since 1970 (--time-unit {layout.time_unit})"
        guess = f": are they {UNIT_NAMES[fits[0]]} (--time-unit {fits[0]})?" if fits else ""
        return f"{label} {excerpt(text)} is too large a number of {layout.unit_name} since 1970{guess}"
    if not number:
        return f"{label} {excerpt(text)} is not a date and time (use e.g. 2025-03-01 14:05:00 or 2025-03-01T14:05:00)"
    guess = f" (this one reads as {UNIT_NAMES[fits[0]]}: --time-unit {fits[0]})" if fits else ""
    return (f"{label} {excerpt(text)} is a number, not a date and time; if the column counts seconds, milliseconds or "
            f"microseconds since 1970, say which with --time-unit s, ms or us{guess}")
