"""A journey compiled once into arrays, for the engines.

Touchpoints are numbered in map order. Segments are compiled one by one:
:func:`compile_segments` returns the chain of each segment with its share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from journeysim.engines.discount import discount_rate, laplace
from journeysim.journey import Journey

__all__ = ["Chain", "compile_journey", "compile_segments", "step_times"]


@dataclass(frozen=True, eq=False)
class Chain:
    """Arrays of one segment's absorbing Markov chain.

    ``Q[i, j]`` is the probability of moving from touchpoint ``i`` to ``j``;
    ``exit[i]`` what row ``i`` leaves to drop-off. ``edge_delay[i, j]`` is the mean
    time spent at ``i`` by customers who then go to ``j``: the touchpoint's ``service``
    (if any) plus the edge's own delay or the touchpoint's; ``delay`` the touchpoint's
    mean time before drop-off (service plus delay). With a map ``discount``,
    ``Q_discounted[i, j]`` is ``Q[i, j]`` times the expected discount factor of that step's
    time (the Laplace transforms at the discount rate of service and delay, which are
    independent, multiplied); otherwise it is ``None``.
    """

    names: tuple[str, ...]
    Q: sp.csr_matrix
    exit: np.ndarray
    entry: np.ndarray
    goal: np.ndarray
    value: np.ndarray
    refers: np.ndarray
    delay: np.ndarray
    edge_delay: sp.csr_matrix
    stage: tuple[str | None, ...]
    Q_discounted: sp.csr_matrix | None = None

    @property
    def n(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        return self.names.index(name)


def compile_journey(journey: Journey) -> Chain:
    """Compile a journey without segments (see :meth:`Journey.for_segment`) into a :class:`Chain`.

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.25}}, goals=["buy"])
    >>> c = compile_journey(j)
    >>> c.Q.toarray(), c.exit
    (array([[0.  , 0.25],
           [0.  , 0.  ]]), array([0.75, 1.  ]))
    """
    if journey.segments:
        raise ValueError("compile one segment at a time: use compile_segments or Journey.for_segment")
    names = journey.names
    index = {n: i for i, n in enumerate(names)}
    n = len(names)
    lam = discount_rate(journey)
    rows, cols, delays, factors = step_times(journey, lam)
    probs = np.array([e.p for row in journey.rows.values() for e in row.values()], dtype=float)
    Q = sp.csr_matrix((probs, (rows, cols)), shape=(n, n), dtype=float)
    D = sp.csr_matrix((delays, (rows, cols)), shape=(n, n), dtype=float)
    Qd = None
    if lam is not None:
        with np.errstate(invalid="ignore"):        # an edge never taken counts nothing, even with an infinite factor
            Qd = sp.csr_matrix((np.where(probs > 0, probs * factors, 0.0), (rows, cols)), shape=(n, n), dtype=float)
    exit_p = np.array([journey.exit_probability(x) for x in names])
    entry = np.zeros(n)
    for name, share in journey.entry.items():
        entry[index[name]] = share
    service = [journey.touchpoints[x].service for x in names]
    tp_delay = np.array([journey.touchpoints[x].mean_delay + (s.mean if s is not None else 0.0)
                         for x, s in zip(names, service)], dtype=float)
    tps = [journey.touchpoints[x] for x in names]
    return Chain(
        names=names,
        Q=Q,
        exit=exit_p,
        entry=entry,
        goal=np.array([t.goal for t in tps], dtype=bool),
        value=np.array([t.value for t in tps], dtype=float),
        refers=np.array([t.refers for t in tps], dtype=float),
        delay=tp_delay,
        edge_delay=D,
        stage=tuple(t.stage for t in tps),
        Q_discounted=Qd,
    )


def step_times(journey: Journey, lam: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Per edge of ``journey.rows`` (in row order): its row and column, the mean time a customer takes on that
    step (the touchpoint's service, then the edge's own delay or the touchpoint's) and, with a discount rate
    ``lam``, the expected discount factor of that time (the product of the two Laplace transforms)."""
    index = {n: i for i, n in enumerate(journey.names)}
    rows, cols, delays, factors = [], [], [], []
    for a, row in journey.rows.items():
        tp = journey.touchpoints[a]
        served = tp.service.mean if tp.service is not None else 0.0
        served_factor = laplace(tp.service, lam) if lam is not None else None
        for b, edge in row.items():
            rows.append(index[a])
            cols.append(index[b])
            delay = edge.delay if edge.delay is not None else tp.delay
            delays.append(served + (delay.mean if delay is not None else 0.0))
            if lam is not None:
                factors.append(served_factor * laplace(delay, lam))
    return (np.array(rows, dtype=int), np.array(cols, dtype=int), np.array(delays, dtype=float),
            np.array(factors, dtype=float) if lam is not None else None)


def compile_segments(journey: Journey) -> list[tuple[str | None, float, Chain]]:
    """``(segment, share, chain)`` for every segment (one ``(None, 1.0, chain)`` without segments)."""
    return [(name, share, compile_journey(j)) for name, share, j in journey.segment_journeys()]
