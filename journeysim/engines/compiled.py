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

__all__ = ["Chain", "compile_journey", "compile_segments"]


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
    rows, cols, probs, delays, factors = [], [], [], [], []
    service = {x: journey.touchpoints[x].service for x in names}
    served = {x: s.mean if s is not None else 0.0 for x, s in service.items()}
    tp_delay = np.array([journey.touchpoints[x].mean_delay + served[x] for x in names], dtype=float)
    lam = discount_rate(journey)
    for a, row in journey.rows.items():
        for b, edge in row.items():
            rows.append(index[a])
            cols.append(index[b])
            probs.append(edge.p)
            delay = edge.delay if edge.delay is not None else journey.touchpoints[a].delay
            delays.append(served[a] + (delay.mean if delay is not None else 0.0))
            if lam is not None:
                factors.append(edge.p * laplace(service[a], lam) * laplace(delay, lam) if edge.p > 0 else 0.0)
    Q = sp.csr_matrix((probs, (rows, cols)), shape=(n, n), dtype=float)
    D = sp.csr_matrix((delays, (rows, cols)), shape=(n, n), dtype=float)
    Qd = sp.csr_matrix((factors, (rows, cols)), shape=(n, n), dtype=float) if lam is not None else None
    exit_p = np.array([journey.exit_probability(x) for x in names])
    entry = np.zeros(n)
    for name, share in journey.entry.items():
        entry[index[name]] = share
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


def compile_segments(journey: Journey) -> list[tuple[str | None, float, Chain]]:
    """``(segment, share, chain)`` for every segment (one ``(None, 1.0, chain)`` without segments)."""
    return [(name, share, compile_journey(j)) for name, share, j in journey.segment_journeys()]
