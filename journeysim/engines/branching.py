"""Referrals as a multi-type branching process: customer types and what one seed customer brings.

New customers who come on their own are type 0. The customers a touchpoint refers start
where its ``refers`` route says (its entry shares, its segment); a plain number routes
them as new customers (type 0), and touchpoints with the same route share a type. With
``M[a, b]`` the expected type-``b`` customers one type-``a`` customer refers, a *seed*
(one new customer and every referral generation descending from them) brings
``c = e_0 (I - M)^-1`` customers of each type: finite exactly when the spectral radius
of ``M`` is below 1. A per-seed total is then ``c @ x`` for the per-customer
expectations ``x`` of each type.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from journeysim.journey import Journey

__all__ = ["CustomerTypes", "customer_types", "spectral_radius", "sustains", "CRITICAL", "per_seed", "descendants",
           "per_seed_without"]


@dataclass(frozen=True)
class CustomerTypes:
    """The customer types of a journey's referral process.

    Attributes
    ----------
    starts : per type, ``(segment, weight, entry shares)`` for each segment its customers
        join (type 0: the new customers' segment mix and entries).
    route : per touchpoint (map order), the type of the customers it refers.
    referrers : per type, the touchpoints that refer customers of that type.
    """

    starts: tuple[tuple[tuple[str | None, float, Mapping[str, float]], ...], ...]
    route: tuple[int, ...]
    referrers: tuple[tuple[str, ...], ...]

    @property
    def count(self) -> int:
        return len(self.starts)

    @property
    def mass(self) -> np.ndarray:
        """Per type, the share of its customers who have somewhere to start (below 1 once an
        entry touchpoint is removed: the customers who would have started there are lost)."""
        mass = np.array([math.fsum(w * p for _, w, entry in starts for p in entry.values()) for starts in self.starts])
        return np.where(np.abs(mass - 1.0) < 1e-9, 1.0, mass)   # whole, up to rounding


def customer_types(journey: Journey) -> CustomerTypes:
    """Type 0 for new customers, one more type per distinct ``refers`` route.

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.5}, "buy": {"call": 0.5}}, goals=["buy"],
    ...     touchpoint_attributes={"buy": {"refers": 0.2}, "call": {"refers": 1.0, "refer_entry": {"call": 1.0}}})
    >>> t = customer_types(j)
    >>> t.count, t.route, t.referrers
    (2, (0, 0, 1), (('buy',), ('call',)))
    """
    starts = [tuple((s, share, dict(j.entry)) for s, share, j in journey.segment_journeys())]
    keys: dict = {None: 0}
    referrers: list[list[str]] = [[]]
    route = []
    for name, tp in journey.touchpoints.items():
        key = None
        if tp.routed:
            key = (None if tp.refer_entry is None else tuple(sorted(tp.refer_entry.items())), tp.refer_segment)
        if key not in keys:
            keys[key] = len(starts)
            starts.append(tuple(journey.referral_starts(name)))
            referrers.append([])
        route.append(keys[key])
        if tp.refers > 0:
            referrers[keys[key]].append(name)
    return CustomerTypes(tuple(starts), tuple(route), tuple(tuple(r) for r in referrers))


def spectral_radius(M: np.ndarray) -> float:
    """The largest modulus of the eigenvalues of a small square matrix.

    Examples
    --------
    >>> spectral_radius(np.array([[0.0, 2.0], [0.5, 0.0]]))
    1.0
    """
    return float(np.abs(np.linalg.eigvals(M)).max()) if M.size else 0.0


#: A referral matrix whose spectral radius is within this of 1 counts as self-sustaining: at a radius of exactly 1
#: rounding leaves it a hair below, and (I - M)^-1 then gives a finite number of the order of 1e16.
CRITICAL = 1e-12


def sustains(M: np.ndarray) -> bool:
    """Whether the referrals of ``M`` sustain themselves: spectral radius 1 or more (within :data:`CRITICAL`).

    Examples
    --------
    >>> sustains(np.array([[0.5]])), sustains(np.array([[1.0 - 1e-15]]))
    (False, True)
    """
    return spectral_radius(M) >= 1.0 - CRITICAL


def per_seed(M: np.ndarray) -> np.ndarray | None:
    """Expected customers of each type descending from one type-0 seed (the seed included).

    ``None`` when referrals sustain themselves (spectral radius of ``M`` 1 or more).

    Examples
    --------
    >>> per_seed(np.array([[0.5]]))                   # 1 / (1 - K)
    array([2.])
    >>> per_seed(np.array([[0.0, 0.5], [0.0, 0.5]]))  # a seed refers 0.5 of type 1, who refer 0.5 each
    array([1., 1.])
    >>> per_seed(np.array([[1.0]])) is None
    True
    """
    if sustains(M):
        return None
    e0 = np.zeros(len(M))
    e0[0] = 1.0
    return np.linalg.solve((np.eye(len(M)) - M).T, e0)


def descendants(M: np.ndarray, r: np.ndarray) -> np.ndarray | None:
    """Expected customers of each type descending from customers who refer ``r`` directly (rows: several seeds).

    ``r (I - M)^-1``; ``None`` when referrals sustain themselves.

    Examples
    --------
    >>> descendants(np.array([[0.5]]), np.array([[0.2]]))    # 0.2 referred, who bring 0.2 more, ...
    array([[0.4]])
    """
    if sustains(M):
        return None
    return np.linalg.solve((np.eye(len(M)) - M).T, np.atleast_2d(r).T).T


def per_seed_without(M: np.ndarray, x: np.ndarray, dM: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """Per-seed totals ``c_k @ (x - dx[k])`` with ``M - dM[k]``, for every ``k`` at once.

    ``M`` (types x types) must have a spectral radius below 1; ``dM[k]`` and ``dx[k]``
    (nonnegative, at most ``M`` and ``x``) are what removing touchpoint ``k`` takes away.

    Examples
    --------
    >>> M, x = np.array([[0.5]]), np.array([10.0])    # 20 per seed
    >>> per_seed_without(M, x, np.array([[[0.5]], [[0.0]]]), np.array([[0.0], [5.0]]))
    array([10., 10.])
    """
    T = len(M)
    A = np.eye(T)[None] - (M[None] - dM)
    e0 = np.zeros((len(dM), T, 1))
    e0[:, 0] = 1.0
    c = np.linalg.solve(np.swapaxes(A, 1, 2), e0)[..., 0]
    return np.einsum("kt,kt->k", c, x[None] - dx)
