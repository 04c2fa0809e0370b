"""Referred customers waiting to be simulated, kept per referring visit.

A visit of a touchpoint with ``refers: k`` brings Poisson(k) customers. Spelled out one
start time per customer, a chunk of visits of ``refers: 1000`` would hold a thousand
times the chunk in memory; kept as (time, how many, type) per visit, the memory
follows the visits whatever ``refers`` is, and :func:`take` spells out one piece of
customers at a time, in the order ``numpy.repeat`` gives.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Referred", "take"]

class Referred:
    """Referred customers not simulated yet: per referring visit, its time, how many customers it referred and their
    type. Kept per visit, not per customer, so that the memory follows the visits whatever ``refers`` is; the
    customers are spelled out (:meth:`take`) in the order ``numpy.repeat`` gives, a piece at a time.
    """

    __slots__ = ("times", "counts", "kinds")

    def __init__(self, times: np.ndarray, counts: np.ndarray, kinds: np.ndarray):
        keep = counts > 0
        self.times, self.counts, self.kinds = times[keep], counts[keep].astype(np.int64), kinds[keep]

    @classmethod
    def none(cls) -> Referred:
        return cls(np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.intp))

    @classmethod
    def join(cls, parts: list[Referred]) -> Referred:
        if not parts:
            return cls.none()
        return cls(*(np.concatenate([getattr(p, a) for p in parts]) for a in cls.__slots__))

    def by_type(self) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """``(type, times, counts)`` for each customer type referred."""
        return [(int(k), self.times[self.kinds == k], self.counts[self.kinds == k]) for k in np.unique(self.kinds)]


def take(times: np.ndarray, counts: np.ndarray, n: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """The start times of the first ``n`` customers of ``numpy.repeat(times, counts)``, and the rest as
    ``(times, counts)`` (``None`` when nothing is left), without spelling out the rest.

    Examples
    --------
    >>> head, rest = take(np.array([0.0, 1.0, 2.0]), np.array([2, 10**15, 1]), 4)
    >>> head.tolist(), rest[0].tolist(), rest[1].tolist()
    ([0.0, 0.0, 1.0, 1.0], [1.0, 2.0], [999999999999998, 1])
    >>> take(np.array([0.0]), np.array([3]), 3)[1] is None
    True
    """
    # Counts above n cannot move the cut: capping them keeps the running sum small whatever a visit referred.
    total = np.cumsum(np.minimum(counts, n + 1))
    if total[-1] <= n:
        return np.repeat(times, counts), None
    cut = int(np.searchsorted(total, n))          # the visit whose customers straddle the n-th
    before = int(total[cut - 1]) if cut else 0
    head = np.repeat(times[:cut + 1], np.append(counts[:cut], n - before))
    rest = counts[cut:].copy()
    rest[0] -= n - before
    if rest[0] == 0:
        return head, ((times[cut + 1:], rest[1:]) if len(rest) > 1 else None)
    return head, (times[cut:], rest)
