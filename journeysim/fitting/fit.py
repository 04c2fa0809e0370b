"""Fitting a journey map from an event log or a path file.

:func:`fit_events` reads the file with DuckDB in one windowed pass (see
:mod:`journeysim.logs.counts`), so a log larger than memory fits; the counts it returns
are small and become a :class:`~journeysim.journey.Journey`: entry shares and rows by
maximum likelihood (departure counts normalised), the departures behind each row in
``observations`` (so predictions can draw rows from their Dirichlet posterior),
goals with their mean value, per-touchpoint delays chosen by AIC among the map
format's distributions, segments when the log has a ``segment`` column, and stages
from an optional touchpoint-to-stage file.
"""

from __future__ import annotations

import dataclasses

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from journeysim._result import Result
from journeysim._text import fmt, format_table, interval, wrap
from journeysim.attribution.markov import markov_journey
from journeysim.errors import DataError, MapError, excerpt
from journeysim.fitting.delays import DelayChoice, GapStats, choose_delay
from journeysim.journey import Edge, Journey, Segment, Touchpoint
from journeysim.logs.counts import (NO_WINDOW, EventCounts, aggregate_events, describe_goals, dropped_events,
                                    without_user)
from journeysim.logs.layout import LogLayout
from journeysim.logs.paths import read_path_file
from journeysim.logs.sources import Source, connect, open_source, read_error
from journeysim.logs.stages import read_stages
from journeysim.maps.read import dump_journey, read_journey
from journeysim.maps.values import UNIT_SECONDS

__all__ = ["FitResult", "fit_events", "INTERVAL_LEVEL", "SINGLE_TOUCH"]

#: Level of the per-edge confidence intervals reported with a fit.
INTERVAL_LEVEL = 0.99
#: Above this share of single-touch journeys a fit warns that its map has few transitions.
SINGLE_TOUCH = 0.95


@dataclass(frozen=True, repr=False)
class FitResult(Result):
    """A fitted journey and how it was obtained.

    ``edges`` rows are ``(from, to, p, departures, low, high)`` with Wilson
    intervals at :data:`INTERVAL_LEVEL` (``to`` is ``"exit"`` for drop-off);
    ``delays`` maps a touchpoint to its chosen distribution and every candidate's AIC;
    ``goals_by_default``: the goals were taken by default (the touchpoints whose events
    carry a value); ``dropped`` counts the events the touchpoint map dropped, by name;
    ``without_user`` the events left out for having no user id (they belong to no customer)
    and ``without_user_row`` is the file row of the first.
    """

    journey: Journey
    source: str
    kind: str
    events: int
    journeys: int
    cut: int
    goals: tuple[str, ...]
    repeat: bool
    lookback: float | None
    edges: tuple[tuple[str, str, float, float, float, float], ...]
    delays: Mapping[str, DelayChoice] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    method: str = ""
    goals_by_default: bool = False
    dropped: Mapping[str, int] = field(default_factory=dict)
    without_user: int = 0
    without_user_row: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "events": self.events,
            "journeys": self.journeys,
            "cut_by_lookback": self.cut,
            "goals": list(self.goals),
            "goals_by_default": self.goals_by_default,
            "dropped_events": dict(self.dropped),
            "events_without_user": self.without_user,
            "first_row_without_user": self.without_user_row,
            "repeat": self.repeat,
            "lookback_seconds": self.lookback,
            "edges": [{"from": a, "to": b, "p": p, "departures": n, "ci": [lo, hi]} for a, b, p, n, lo, hi in self.edges],
            "delays": {k: {"dist": c.dist, "mean": None if c.delay is None else c.delay.mean,
                           "sd": None if c.delay is None else c.delay.sd, "gaps": c.n,
                           "aic": {d: (None if math.isinf(a) else a) for d, a in c.aic.items()}}
                       for k, c in self.delays.items()},
            "warnings": list(self.warnings),
            "method": self.method,
            "map": dump_journey(self.journey),
        }

    def summary(self) -> str:
        what = "events" if self.kind == "events" else "paths"
        head = [
            ("source", f"{self.source} ({what})"),
            ("events read" if self.kind == "events" else "touches read", fmt(self.events)),
            ("journeys", fmt(self.journeys)),
            ("journeys cut by the lookback window", fmt(self.cut)),
            ("goals", ", ".join(self.goals) + (" (by default: the touchpoints whose events carry a value; name "
                                               "yours with --goal)" if self.goals_by_default else "")),
            ("touchpoints", fmt(len(self.journey.names))),
            ("segments", ", ".join(self.journey.segments) or "none"),
        ]
        if self.dropped:
            head.append(("events dropped (touchpoint map)", dropped_events(self.dropped)))
        parts = [format_table("fitted journey", ["item", "value"], head)]
        edges = [(a, b, fmt(p), fmt(int(n)), interval((lo, hi))) for a, b, p, n, lo, hi in self.edges]
        parts.append(format_table(f"transitions ({INTERVAL_LEVEL:.0%} Wilson intervals)",
                                  ["from", "to", "p", "departures", "interval"], edges))
        if self.delays:
            rows = []
            for name, c in self.delays.items():
                aic = ", ".join(f"{d} {a:.1f}" for d, a in sorted(c.aic.items(), key=lambda kv: kv[1])
                                if math.isfinite(a))
                rows.append((name, c.dist, fmt(c.n), fmt(None if c.delay is None else c.delay.mean),
                             fmt(None if c.delay is None else c.delay.sd), aic or "-"))
            parts.append(format_table(f"delays ({self.journey.time_unit}s; chosen by lowest AIC)",
                                      ["touchpoint", "chosen", "gaps", "mean", "sd", "AIC"], rows))
        parts.extend(wrap(f"warning: {w}") for w in self.warnings)
        parts.append(wrap(f"method: {self.method}"))
        return "\n".join(parts)

    def _headline(self) -> str:
        return (f"{self.source} ({self.kind}): {len(self.journey.names)} touchpoints from {self.events} "
                f"{'events' if self.kind == 'events' else 'touches'}, {self.journeys} journeys")

    def _table(self):
        """One row per fitted transition (``to`` is ``exit`` for drop-off) with its Wilson interval."""
        return ("from", "to", "p", "departures", "low", "high"), self.edges


def fit_events(
    path: str | os.PathLike,
    *,
    goals: Sequence[str] = (),
    repeat: bool = False,
    lookback: float | None = None,
    stages: str | os.PathLike | None = None,
    threads: int | None = None,
    layout: LogLayout | None = None,
) -> FitResult:
    """Fit a journey map from an event log (CSV or Parquet) or a path file (``journeysim fit``; ``journeysim.fit``).

    Parameters
    ----------
    path : path of the file. Event logs have ``user_id, timestamp, touchpoint`` and
        optionally ``value`` and ``segment``; path files have ``path`` (touchpoints
        separated by ``>``), ``total_conversions``, ``total_null`` and optionally
        ``total_conversion_value``. The kind is detected from the columns.
    goals : goal touchpoints; by default, those whose events carry a positive value.
        (A path file's goal is the conversion that ends its paths.)
    repeat : a goal does not end the journey: the customer's later touches continue it.
    lookback : seconds of inactivity after which a customer's next touch starts a new
        journey (the earlier one counts as dropped off and as cut); ``None``: never.
    stages : a file mapping touchpoints to stages (see :func:`journeysim.logs.stages.read_stages`).
    threads : threads of the CSV reader and DuckDB (default: all cores; 1 keeps the fit on one core).
    layout : how an export names its columns, flags conversions, writes times and names events
        (see :class:`~journeysim.logs.layout.LogLayout`); by default the names above.

    Returns
    -------
    FitResult
        The fitted ``journey`` (with ``observations``), each edge's Wilson interval and
        the delay chosen per touchpoint.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from journeysim.engines.eventlog import simulate_event_log, write_event_log
    >>> truth = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.3}}, goals=["buy"],
    ...                           touchpoint_attributes={"buy": {"value": 40.0}})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     log = pathlib.Path(d) / "log.csv"
    ...     write_event_log(simulate_event_log(truth, 2000, rng=np.random.default_rng(3)), log)
    ...     fit = fit_events(log)
    >>> fit.goals, round(fit.journey.rows["ad"]["buy"].p, 3), dict(fit.journey.observations)
    (('buy',), 0.3, {'entry': 2000.0, 'ad': 2000.0})
    """
    stage_map = read_stages(stages) if stages is not None else None
    warnings: list[str] = []
    try:
        with connect(threads) as con:
            source = open_source(con, path, layout)
            if source.kind == "paths":
                table = read_path_file(con, source)
                if table.conversions_only:
                    raise DataError(f"{path}: no total_null column: a path file of converting journeys alone would "
                                    "fit a map in which every journey converts; add total_null (the journeys that "
                                    "did not convert) to fit a map (attribute reads the file as it is)")
                journey, _ = markov_journey(table, 1, name=Path(path).stem)
                counts = _path_counts(journey)
                result = dict(kind="paths", events=int(len(table.touches)), journeys=int(table.journeys), cut=0,
                              goals=journey.goals, repeat=False, lookback=None, delays={},
                              method="first-order Markov chain of the paths; rows are maximum-likelihood estimates")
            else:
                window = NO_WINDOW if lookback is None else lookback
                agg = aggregate_events(con, source, goals, repeat=repeat, lookback=window,
                                       unit_seconds=UNIT_SECONDS["day"], threads=threads)
                journey, counts, delays, warnings = _events_journey(agg, Path(path).stem)
                warnings = _journey_checks(agg, source, lookback) + warnings
                if agg.without_user:
                    warnings.insert(0, without_user(agg.without_user, agg.without_user_row, source.label("user_id")))
                g = agg.groups
                result = dict(kind="events", events=int(g.n.sum()), journeys=int(agg.starts().sum()),
                              cut=int(g.loc[g.kind == "cut", "n"].sum()), goals=agg.goals, repeat=repeat,
                              lookback=lookback, delays=delays, goals_by_default=agg.goals_by_default,
                              dropped=agg.dropped, without_user=agg.without_user,
                              without_user_row=agg.without_user_row,
                              method=f"{agg.method}; rows and entry are maximum-likelihood estimates; delays "
                              "fitted to the gaps to the next touch by maximum likelihood, chosen by AIC")
    except duckdb.Error as exc:   # a read that fails past the checks (e.g. a bad byte deep in the file)
        raise read_error(str(path), exc) from None
    if stage_map is not None:
        journey, unknown = _with_stages(journey, stage_map)
        warnings += unknown
    try:
        journey = read_journey(dump_journey(journey), str(path))
    except MapError as exc:
        raise DataError(f"{path}: the fitted map is not valid: {exc.messages[0]}") from None
    return FitResult(journey=journey, source=str(path), edges=_edges(journey, counts), warnings=tuple(warnings),
                     **result)


def _journey_checks(agg: EventCounts, source: Source, lookback: float | None) -> list[str]:
    """Refuse a log in which no customer moved between touchpoints; warn when journeys are almost all a
    single touch (at least :data:`SINGLE_TOUCH` of them: each journey with two touches or more has a move
    into a touchpoint that is not a goal, so the others are at least the journeys less those moves)."""
    journeys = float(agg.starts().sum())
    moves = agg.moves()
    cut = int(agg.groups.loc[agg.groups.kind == "cut", "n"].sum())
    user = source.label("user_id")
    if moves.empty or moves.n.sum() == 0:
        why = (f"every next touch came after the lookback window ({cut:,} cut): lengthen --lookback" if cut else
               f"is {excerpt(user)} the customer id (name it with --user-column)? A log with one row per customer holds "
               "no journeys")
        raise DataError(f"{source.path}: no customer moved from one touchpoint to another ({journeys:,.0f} journeys "
                        f"of a single touch; {describe_goals(agg.goals, agg.goals_by_default)}): {why}")
    single = 1 - moves.n[~moves.dest.isin(agg.goals)].sum() / journeys
    if single <= SINGLE_TOUCH:
        return []
    window = " and --lookback" if lookback is not None else ""
    share = f"every one of the {journeys:,.0f} journeys is" if single >= 1 else \
        f"at least {single:.1%} of the {journeys:,.0f} journeys are"
    guessed = (f"; the goals were taken by default ({', '.join(agg.goals)}): if {excerpt(source.label('value'))} is the value "
               "of the touch that converted, flag the conversions with --conversion-column COLUMN[=VALUE] instead"
               if agg.goals_by_default else "")
    return [f"{share} a single touch: the map has few transitions (real e-commerce logs can be like this; if "
            f"customers should have several touches, check that {excerpt(user)} is the customer id (--user-column){window})"
            f"{guessed}"]


def _path_counts(journey: Journey) -> dict[str, float]:
    return {k: v for k, v in journey.observations.items() if k != "entry"}


def _events_journey(agg: EventCounts, name: str):
    groups, goals = agg.groups, agg.goals
    visits = groups.groupby("tp").n.sum().sort_values(ascending=False, kind="stable")
    names = list(visits.index)
    departing = groups[groups.kind != "goal"]
    rows, departures = _rows(departing, agg.moves())
    starts = agg.starts()
    total = float(starts.sum())
    value = agg.values / visits
    delays = {tp: choose_delay(_gap_stats(g)) for tp, g in groups[groups.gaps > 0].groupby("tp")}
    touchpoints = {n: Touchpoint(n, goal=n in goals, value=float(value.get(n, 0.0)) if n in goals else 0.0,
                                 delay=delays[n].delay if n in delays else None) for n in names}
    segments, warnings = {}, []
    if agg.has_segment:
        parts = {seg: agg.starts(seg) for seg in groups.seg.dropna().unique()}
        entered = sum(float(p.sum()) for p in parts.values())
        for seg in sorted(parts):
            seg_starts, part = parts[seg], groups[groups.seg == seg]
            seg_rows, seg_departures = _rows(part[part.kind != "goal"], agg.moves(seg))
            segments[seg] = Segment(seg, float(seg_starts.sum() / entered), seg_rows,
                                    {k: float(v / seg_starts.sum()) for k, v in seg_starts.items()},
                                    {"entry": float(seg_starts.sum()), **seg_departures})
        if changes := agg.segment_changes():
            warnings.append(f"{changes} moves changed segment: each ends a journey of the segment left (as a "
                            "drop-off) and starts one of the segment entered; segment shares count those journeys")
    observations = {"entry": total, **{k: float(v) for k, v in departures.items()}}
    journey = Journey(touchpoints=touchpoints, entry={k: float(v / total) for k, v in starts.items()}, rows=rows,
                      name=name, segments=segments, observations=observations)
    return journey, departures, delays, warnings


def _rows(departing: pd.DataFrame, moves: pd.DataFrame) -> tuple[dict[str, dict[str, Edge]], dict[str, float]]:
    """Rows from departures and the moves among them; what a row leaves is drop-off."""
    departures = departing.groupby("tp").n.sum()
    moves = moves.groupby(["tp", "dest"]).n.sum()
    rows: dict[str, dict[str, Edge]] = {tp: {} for tp in departures.index}
    for (a, b), n in moves.items():
        rows[a][b] = Edge(float(n / departures[a]))
    return rows, {k: float(v) for k, v in departures.items()}


def _gap_stats(g: pd.DataFrame) -> GapStats:
    return GapStats(int(g.gaps.sum()), float(g.gap_total.sum()), float(g.gap_log.sum()), float(g.gap_log2.sum()),
                    int(g.gap_zeros.sum()), float(g.gap_min.min()), float(g.gap_max.max()))


def _edges(journey: Journey, departures: Mapping[str, float]) -> tuple:
    out = []
    for a in journey.names:
        n = departures.get(a, 0.0)
        if n <= 0:
            continue
        outcomes = [(b, e.p) for b, e in journey.rows.get(a, {}).items()] + [("exit", journey.exit_probability(a))]
        for b, p in outcomes:
            count = np.rint(p * n)
            lo, hi = proportion_confint(count, n, alpha=1 - INTERVAL_LEVEL, method="wilson")
            out.append((a, b, float(p), float(n), float(lo), float(hi)))
    return tuple(out)


def _with_stages(journey: Journey, stage_map: Mapping[str, str]) -> tuple[Journey, list[str]]:
    stages = tuple(dict.fromkeys(stage_map.values()))
    unknown = [t for t in stage_map if t not in journey.touchpoints]
    warnings = [f"stages file names touchpoint {excerpt(t)}, which never occurs in the data" for t in unknown]
    touchpoints = {n: dataclasses.replace(t, stage=stage_map.get(n)) for n, t in journey.touchpoints.items()}
    order = {s: i for i, s in enumerate(stages)}
    ranked = sorted(touchpoints, key=lambda n: order.get(stage_map.get(n), len(order)))
    return journey.replace(touchpoints={n: touchpoints[n] for n in ranked}, stages=stages), warnings
