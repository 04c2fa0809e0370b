"""The Markov chain of a path table, as a :class:`Journey`, and its removal effects.

Order ``k`` states are the last (up to) ``k`` touchpoints of a path, as in
ChannelAttribution; order 1 states are the touchpoints themselves. Every path
enters at its first state, moves along its touches and ends in the goal state
(its conversions) or drops off (its nulls). Removal effects are solved exactly by
:mod:`journeysim.engines.exact`: for order 1 straight from its one-factorisation
removal effects, for higher orders by removing every state that contains the
touchpoint.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from journeysim.engines.exact import conversion_rate, solve_exact
from journeysim.journey import Edge, Journey, Touchpoint
from journeysim.logs.paths import PathTable

__all__ = ["markov_journey", "removal_effects", "GOAL_NAME"]

#: Name of the goal state of a chain built from paths (made unique if a touchpoint has it).
GOAL_NAME = "conversion"
_SEP = "\x1f"


def _states(table: PathTable, order: int) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """State id of every touch and the touchpoint tuple of every state."""
    if order == 1:
        return table.touches, [(i,) for i in range(len(table.channels))]
    base = len(table.channels) + 1
    pos = np.arange(len(table.touches)) - np.repeat(table.offsets[:-1], table.lengths)
    code = np.zeros(len(table.touches), dtype=np.int64)
    for lag in range(order):
        shifted = np.zeros(len(table.touches), dtype=np.int64)
        ok = pos >= lag
        shifted[ok] = table.touches[np.flatnonzero(ok) - lag] + 1
        code = code * base + shifted
    uniq, ids = np.unique(code, return_inverse=True)
    tuples = []
    for c in uniq:
        digits = []
        for _ in range(order):
            c, d = divmod(int(c), base)
            if d:
                digits.append(d - 1)
        tuples.append(tuple(digits))
    return ids, tuples


def markov_journey(table: PathTable, order: int = 1, name: str = "") -> tuple[Journey, list[tuple[int, ...]]]:
    """The order-``order`` chain of ``table`` and the touchpoint tuple of each state.

    Rows are maximum-likelihood estimates (departure counts normalised); the goal
    state is :data:`GOAL_NAME` (made unique) and carries the mean conversion value;
    ``observations`` holds the departures seen from each state and ``entry``.

    Examples
    --------
    >>> t = PathTable.from_paths([["a", "b"], ["b"]], [1, 1], [1, 1])
    >>> j, _ = markov_journey(t)
    >>> dict(j.entry), {b: e.p for b, e in j.rows["a"].items()}, dict(j.observations)
    ({'a': 0.5, 'b': 0.5}, {'b': 1.0}, {'entry': 4.0, 'a': 2.0, 'b': 4.0})
    """
    ids, tuples = _states(table, order)
    names = [_SEP.join(table.channels[i] for i in t) if order > 1 else table.channels[t[0]] for t in tuples]
    goal = GOAL_NAME
    while goal in names:
        goal = f"({goal})"
    n = len(names)
    weight = table.conversions + table.nulls
    first, last = table.offsets[:-1], table.offsets[1:] - 1
    entry = np.bincount(ids[first], weights=weight, minlength=n)
    step = np.ones(len(ids), dtype=bool)
    step[last] = False          # a path's last touch moves to the goal or drops off
    src = np.flatnonzero(step)
    counts = sp.coo_matrix((weight[table.path_of_touch[src]], (ids[src], ids[src + 1])), shape=(n, n)).tocsr()
    to_goal = np.bincount(ids[last], weights=table.conversions, minlength=n)
    departures = np.asarray(counts.sum(axis=1)).ravel() + np.bincount(ids[last], weights=weight, minlength=n)
    rows: dict[str, dict[str, Edge]] = {}
    for i in range(n):
        if departures[i] <= 0:
            continue
        lo, hi = counts.indptr[i], counts.indptr[i + 1]
        row = {names[j]: Edge(float(c / departures[i])) for j, c in zip(counts.indices[lo:hi], counts.data[lo:hi])}
        if to_goal[i] > 0:
            row[goal] = Edge(float(to_goal[i] / departures[i]))
        rows[names[i]] = row
    conversions = float(table.conversions.sum())
    mean_value = float(table.value.sum() / conversions) if conversions > 0 else 0.0
    touchpoints = {x: Touchpoint(x) for x in names}
    touchpoints[goal] = Touchpoint(goal, goal=True, value=mean_value)
    total = float(entry.sum())
    observations = {"entry": total, **{names[i]: float(departures[i]) for i in range(n) if departures[i] > 0}}
    journey = Journey(touchpoints=touchpoints, entry={names[i]: float(entry[i] / total) for i in range(n) if entry[i] > 0},
                      rows=rows, name=name, observations=observations)
    return journey, tuples


def removal_effects(table: PathTable, order: int = 1) -> dict[str, float]:
    """Relative drop in the chain's conversion rate when each touchpoint is removed.

    Removing a touchpoint sends whatever flows into it (every state containing it,
    for higher orders) to drop-off.

    Examples
    --------
    >>> t = PathTable.from_paths([["a", "b"], ["b"], ["a"]], [1, 1, 0], [1, 1, 2])
    >>> {k: round(v, 6) for k, v in removal_effects(t).items()}
    {'a': 0.5, 'b': 1.0}
    """
    journey, tuples = markov_journey(table, order)
    if order == 1:
        effects = solve_exact(journey).removal_effects
        return {c: float(effects[c]) for c in table.channels}
    base = conversion_rate(journey)
    names = journey.names
    out = {}
    for k, channel in enumerate(table.channels):
        gone = {names[i] for i, t in enumerate(tuples) if k in t}
        rows = {a: ({} if a in gone else {b: e for b, e in row.items()}) for a, row in journey.rows.items()}
        without = conversion_rate(journey.replace(rows=rows)) if base > 0 else 0.0
        out[channel] = float(np.clip(1.0 - without / base, 0.0, 1.0)) if base > 0 else 0.0
    return out
