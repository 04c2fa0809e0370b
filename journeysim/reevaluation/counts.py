"""The counts a re-evaluation compares: observed departures, or a hand-drawn map's pseudo-counts.

A fitted map carries ``observations`` (departures per touchpoint and ``entry``, per segment
too), so a row's counts are ``p * n`` for every outcome, drop-off included, and its posterior
is Dirichlet with the Jeffreys prior (1/2 per outcome the row has). A hand-drawn map has no
counts; given a prior strength ``N`` each of its rows (and its entry) counts as ``N``
observations, and its posterior is the Dirichlet centred on its probabilities, ``N p``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from journeysim.errors import DataError
from journeysim.journey import EXIT, Edge, Journey, Segment

__all__ = ["LOG_SUFFIXES", "JEFFREYS", "CountedMap", "counts", "counted", "alone", "segment_journey",
           "posterior_draw", "read_counted", "load_counted", "with_pseudo_counts", "unpacked"]

#: File suffixes read as event logs (fitted on the fly) rather than as maps.
LOG_SUFFIXES = (".csv", ".parquet", ".pq")
#: The Dirichlet prior added to each outcome of a row with observed counts.
JEFFREYS = 0.5


@dataclass(frozen=True)
class CountedMap:
    """A map read for a re-evaluation, with what reading it found: whether an event log's goals were taken by
    default, and the fit's warnings (each naming the file)."""

    journey: Journey
    goals_by_default: bool = False
    warnings: tuple[str, ...] = ()


def unpacked(maps: Sequence[Journey | CountedMap]) -> tuple[list[Journey], bool, tuple[str, ...]]:
    """The journeys of ``maps``, whether any log's goals were taken by default, and their warnings (once each)."""
    notes = [m for m in maps if isinstance(m, CountedMap)]
    return ([m.journey if isinstance(m, CountedMap) else m for m in maps], any(m.goals_by_default for m in notes),
            tuple(dict.fromkeys(w for m in notes for w in m.warnings)))


def counted(journey: Journey) -> bool:
    """Whether the map carries observation counts (``observations`` with ``entry``)."""
    return "entry" in journey.observations


def counts(journey: Journey, name: str) -> dict[str, float] | None:
    """Departures from ``name`` by outcome (``p * n``, drop-off as ``exit``), or ``None`` without a count.

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.1}}, goals=["buy"], observations={"ad": 1000, "entry": 1000})
    >>> counts(j, "ad")
    {'buy': 100.0, 'exit': 900.0}
    """
    n = journey.observations.get(name)
    if n is None or name not in journey.touchpoints:
        return None
    row = {b: e.p * n for b, e in journey.rows.get(name, {}).items()}
    row[EXIT] = journey.exit_probability(name) * n
    return row


def with_pseudo_counts(journey: Journey, strength: float) -> Journey:
    """A hand-drawn map whose every row, and entry, counts as ``strength`` observations (each segment's too).

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.1}}, goals=["buy"])
    >>> dict(with_pseudo_counts(j, 50).observations)
    {'ad': 50.0, 'buy': 50.0, 'entry': 50.0}
    """
    n = float(strength)
    pseudo = {**dict.fromkeys(journey.names, n), "entry": n}
    segments = {k: dataclasses.replace(s, observations=pseudo) for k, s in journey.segments.items()}
    return journey.replace(observations=pseudo, segments=segments)


def alone(journey: Journey) -> Journey:
    """The journey without segments or routing into them: its top-level rows (pooled, in a fitted map)."""
    if not journey.segments and all(t.refer_segment is None for t in journey.touchpoints.values()):
        return journey
    # Referred customers join the rows compared, wherever their route sent them.
    touchpoints = {n: dataclasses.replace(t, refer_segment=None) for n, t in journey.touchpoints.items()}
    return journey.replace(segments={}, touchpoints=touchpoints)


def segment_journey(journey: Journey, segment: str) -> Journey:
    """The journey as ``segment`` sees it, with the segment's own observation counts."""
    seg: Segment = journey.segments[segment]
    return alone(journey.for_segment(segment).replace(observations=seg.observations))


def posterior_draw(journey: Journey, rng: np.random.Generator, prior: float = JEFFREYS) -> Journey:
    """One draw of the map's rows and entry from their Dirichlet posteriors (rows without counts stay).

    ``prior`` is added to each outcome's count; with ``prior=0`` (pseudo-counts, centred on the map's
    probabilities) outcomes of probability 0 stay at 0.
    """
    rows = dict(journey.rows)
    for name in journey.touchpoints:
        row = counts(journey, name)
        if row is None:
            continue
        if not prior:
            row = {t: x for t, x in row.items() if x > 0}
        if len(row) < 2:
            continue
        targets = list(row)
        p = rng.dirichlet(np.array([row[t] for t in targets]) + prior)
        old = journey.rows.get(name, {})
        rows[name] = {t: Edge(float(q), old[t].delay, old[t].extra) for t, q in zip(targets, p) if t != EXIT}
    n = journey.observations["entry"]
    names = [e for e in journey.entry if prior or journey.entry[e] > 0]
    shares = rng.dirichlet(np.array([journey.entry[e] * n for e in names]) + prior) if len(names) > 1 else [1.0]
    return journey.replace(rows=rows, entry=dict(zip(names, map(float, shares))))


def read_counted(path: str, goals=(), layout=None, *, hand_drawn: bool = False) -> CountedMap:
    """:func:`load_counted`, keeping whether an event log's goals were taken by default and the fit's warnings.

    Examples
    --------
    >>> counted = read_counted("scenarios/events/online-store-2025.csv")
    >>> counted.journey.goals, counted.goals_by_default
    (('purchase',), True)
    """
    if Path(path).suffix.lower() in LOG_SUFFIXES:
        from journeysim.fitting.fit import fit_events  # DuckDB and numba: only for a log

        fit = fit_events(path, goals=goals or (), layout=layout)
        return CountedMap(fit.journey, fit.goals_by_default, tuple(f"{path}: {w}" for w in fit.warnings))
    from journeysim.maps.read import load_journey

    journey = load_journey(path)
    if not counted(journey) and not hand_drawn:
        raise DataError(f"{path}: {NO_COUNTS}")
    return CountedMap(journey)


def load_counted(path: str, goals=(), layout=None, *, hand_drawn: bool = False) -> Journey:
    """A map as :func:`~journeysim.reevaluation.reevaluate` compares it: a map file as it is, an event log
    (:data:`LOG_SUFFIXES`) fitted first with ``goals``, read in ``layout`` (a
    :class:`~journeysim.logs.layout.LogLayout`; ``None``: the standard column names).

    A map without observation counts is refused unless ``hand_drawn`` says it will be given pseudo-counts
    (``prior_strength``).

    Raises
    ------
    DataError
        A map without observation counts (``observations: {entry: n, ...}``), saying how to compare one.

    Examples
    --------
    >>> journey = load_counted("scenarios/events/online-store-2025.csv", ["purchase"])
    >>> journey.observations["entry"] > 0
    True
    >>> load_counted("scenarios/online-store.yaml")
    Traceback (most recent call last):
    journeysim.errors.DataError: scenarios/online-store.yaml: no observation counts (observations: {entry: n, touchpoint: n, ...}); re-evaluation compares fitted maps: fit one with 'journeysim fit LOG -o MAP.yaml', pass the event log itself, or give a hand-drawn map's rows pseudo-counts with --prior-strength N
    """
    return read_counted(path, goals, layout, hand_drawn=hand_drawn).journey


#: Why a map without counts cannot be compared as it is, and what to do.
NO_COUNTS = ("no observation counts (observations: {entry: n, touchpoint: n, ...}); re-evaluation compares fitted "
             "maps: fit one with 'journeysim fit LOG -o MAP.yaml', pass the event log itself, or give a hand-drawn "
             "map's rows pseudo-counts with --prior-strength N")
