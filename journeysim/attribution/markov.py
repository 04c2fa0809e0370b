"""The Markov chain of a path table, as a :class:`Journey`, and its removal effects on conversions and value.

Order ``k`` states are the last (up to) ``k`` touchpoints of a path; order 1 states
are the touchpoints themselves. Every path enters at its first state, moves along
its touches and ends in the goal state (its conversions) or drops off (its nulls).
Transition probabilities are departure counts normalised. This is
ChannelAttribution's chain: its order-``k`` states are the windows of ``k`` touches
(the whole path when it is shorter) with repeats of a state merged, and the
probabilities of every sequence of windows, hence of every removal effect, are the
same.

Removal effects are relative drops when every state containing the touchpoint is
removed (whatever flows into it drops off), in two currencies:

* on conversions: the drop of the conversion probability;
* on value: the drop of the expected conversion value, where a conversion reached
  from state ``s`` is worth the mean value of the conversions whose last state
  before the goal is ``s`` (ChannelAttribution's ``removal_effects_conversion_value``,
  by which it shares ``total_conversion_value``).

Both are solved exactly: order 1 from one inverse for all touchpoints (as
:mod:`journeysim.engines.exact` does: a path either meets ``k`` before converting
or not, so the total without ``k`` is the total less ``f_k y_k``, ``f_k`` the
probability of meeting ``k`` and ``y_k`` the expected conversions or value from
``k``), higher orders by one sparse factorisation per touchpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from journeysim.journey import Edge, Journey, Touchpoint
from journeysim.logs.paths import PathTable

__all__ = ["markov_journey", "removal_effects", "RemovalEffects", "GOAL_NAME"]

#: Name of the goal state of a chain built from paths (made unique if a touchpoint has it).
GOAL_NAME = "conversion"
_SEP = "\x1f"
#: Up to this many states an order-1 chain is inverted densely (all removal effects at once).
_DENSE_LIMIT = 3000


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


@dataclass(frozen=True, eq=False)
class _Chain:
    """Counts of the order-``k`` chain of a path table: state ``i`` is the touchpoint tuple ``tuples[i]``."""

    tuples: list[tuple[int, ...]]
    entry: np.ndarray          # journeys entering at each state
    moves: sp.csr_matrix       # journeys moving from state i to state j
    to_goal: np.ndarray        # conversions from each state (its paths' last state)
    value: np.ndarray          # their value
    departures: np.ndarray     # journeys leaving each state (moves, conversions and drop-offs)


def _chain(table: PathTable, order: int) -> _Chain:
    ids, tuples = _states(table, order)
    n = len(tuples)
    weight = table.conversions + table.nulls
    first, last = table.offsets[:-1], table.offsets[1:] - 1
    step = np.ones(len(ids), dtype=bool)
    step[last] = False          # a path's last touch moves to the goal or drops off
    src = np.flatnonzero(step)
    moves = sp.coo_matrix((weight[table.path_of_touch[src]], (ids[src], ids[src + 1])), shape=(n, n)).tocsr()
    return _Chain(
        tuples=tuples,
        entry=np.bincount(ids[first], weights=weight, minlength=n),
        moves=moves,
        to_goal=np.bincount(ids[last], weights=table.conversions, minlength=n),
        value=np.bincount(ids[last], weights=table.value, minlength=n),
        departures=np.asarray(moves.sum(axis=1)).ravel() + np.bincount(ids[last], weights=weight, minlength=n))


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
    chain = _chain(table, order)
    tuples = chain.tuples
    names = [_SEP.join(table.channels[i] for i in t) if order > 1 else table.channels[t[0]] for t in tuples]
    goal = GOAL_NAME
    while goal in names:
        goal = f"({goal})"
    counts, departures = chain.moves, chain.departures
    rows: dict[str, dict[str, Edge]] = {}
    for i in range(len(names)):
        if departures[i] <= 0:
            continue
        lo, hi = counts.indptr[i], counts.indptr[i + 1]
        row = {names[j]: Edge(float(c / departures[i])) for j, c in zip(counts.indices[lo:hi], counts.data[lo:hi])}
        if chain.to_goal[i] > 0:
            row[goal] = Edge(float(chain.to_goal[i] / departures[i]))
        rows[names[i]] = row
    conversions = float(table.conversions.sum())
    mean_value = float(table.value.sum() / conversions) if conversions > 0 else 0.0
    touchpoints = {x: Touchpoint(x) for x in names}
    touchpoints[goal] = Touchpoint(goal, goal=True, value=mean_value)
    entry, total = chain.entry, float(chain.entry.sum())
    observations = {"entry": total, **{names[i]: float(departures[i]) for i in range(len(names)) if departures[i] > 0}}
    journey = Journey(touchpoints=touchpoints, entry={names[i]: float(entry[i] / total) for i in range(len(names))
                                                      if entry[i] > 0},
                      rows=rows, name=name, observations=observations)
    return journey, tuples


@dataclass(frozen=True)
class RemovalEffects:
    """Removal effects of every touchpoint of a path table, in ``[0, 1]``.

    Attributes
    ----------
    conversions : relative drop of the conversion probability when the touchpoint is removed.
    value : relative drop of the expected conversion value (a conversion from a state
        worth the mean value of the conversions whose last state is that state).
    """

    conversions: Mapping[str, float]
    value: Mapping[str, float]

    def __post_init__(self):
        for name in ("conversions", "value"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))


def _drops(totals: np.ndarray, without: np.ndarray) -> np.ndarray:
    """Relative drops ``1 - without / total`` per column, 0 where the total is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        drop = np.where(totals > 0, 1.0 - without / totals, 0.0)
    return np.clip(drop, 0.0, 1.0)


def removal_effects(table: PathTable, order: int = 1) -> RemovalEffects:
    """Removal effects of every touchpoint of ``table``'s order-``order`` chain, on conversions and on value.

    Removing a touchpoint sends whatever flows into it (every state containing it,
    for higher orders) to drop-off, and loses the journeys that enter there.

    Examples
    --------
    ``a`` converts for 30 each, ``b`` for 10: removing ``b`` loses half the
    conversions but a quarter of the value.

    >>> t = PathTable.from_paths([["a"], ["b"]], [1, 1], [0, 0], [30, 10])
    >>> r = removal_effects(t)
    >>> dict(r.conversions), dict(r.value)
    ({'a': 0.5, 'b': 0.5}, {'a': 0.75, 'b': 0.25})
    >>> t = PathTable.from_paths([["a", "b"], ["b"], ["a"]], [1, 1, 0], [1, 1, 2])
    >>> {k: round(v, 6) for k, v in removal_effects(t).conversions.items()}
    {'a': 0.5, 'b': 1.0}
    """
    chain = _chain(table, order)
    n = len(chain.tuples)
    if chain.entry.sum() <= 0:       # no journeys at all (every count 0): nothing to lose
        zero = dict.fromkeys(table.channels, 0.0)
        return RemovalEffects(zero, zero)
    leave = np.divide(1.0, chain.departures, out=np.zeros(n), where=chain.departures > 0)
    Q = (sp.diags(leave) @ chain.moves).tocsr()
    # Expected conversions and value collected on leaving each state, one column each.
    R = np.column_stack([chain.to_goal * leave, chain.value * leave])
    a = chain.entry / chain.entry.sum()
    k = len(table.channels)
    if order == 1 and n <= _DENSE_LIMIT:
        N = la.inv(np.eye(n) - Q.toarray())
        y = N @ R
        totals = a @ y
        meet = (a @ N) / np.diag(N)                 # P(a journey meets state i)
        without = totals - meet[:, None] * y
    else:
        totals = a @ spla.splu(sp.identity(n, format="csc") - Q.tocsc()).solve(R)
        member = np.zeros((k, n), dtype=bool)
        for i, states in enumerate(chain.tuples):
            member[list(states), i] = True
        without = np.empty((k, 2))
        for c in range(k):
            keep = sp.diags((~member[c]).astype(float))
            lu = spla.splu((sp.identity(n, format="csc") - (keep @ Q).tocsc()).tocsc())
            without[c] = a @ lu.solve(R * ~member[c][:, None])
    drops = _drops(totals, without)
    return RemovalEffects({c: float(drops[i, 0]) for i, c in enumerate(table.channels)},
                          {c: float(drops[i, 1]) for i, c in enumerate(table.channels)})
