"""The exact engine: the journey as an absorbing Markov chain, solved by linear algebra.

Every touchpoint is a transient state and drop-off the absorbing one. With
``N = (I - Q)^-1`` (expected visits) and ``N'`` the same for the chain in which
goals absorb (their rows removed):

* expected visits ``v = a N`` for entry shares ``a``; touches, conversions, value
  and referrals are sums over ``v``;
* visit rate of ``j``: ``v_j / N_jj`` (the hitting probability);
* conversion rate: ``a N' g`` for the goal indicator ``g``;
* removal effect of ``k``: customers who reach a goal either meet ``k`` first or
  not, so ``CR_without_k = CR - f_k x_k`` where ``f_k = (a N')_k / N'_kk`` is the
  probability of meeting ``k`` before any goal and ``x = N' g`` the conversion
  probability from each touchpoint: one factorisation for all touchpoints.

Chains up to :data:`DENSE_LIMIT` touchpoints are inverted densely; larger ones use a
sparse LU factorisation.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from journeysim.engines.compiled import Chain, compile_segments
from journeysim.engines.metrics import JourneyMetrics
from journeysim.journey import Journey

__all__ = ["solve_exact", "conversion_rate", "DENSE_LIMIT"]

#: Above this many touchpoints the engine factorises sparsely instead of inverting. Random
#: graphs fill in under LU, and the diagonal of the inverse costs n sparse solves, so dense wins
#: up to a few thousand touchpoints (5,000: ~10 s dense against minutes sparse).
DENSE_LIMIT = 6000
_BLOCK = 256


class _Solver:
    """Solves with ``I - Q`` (and its transpose) and gives the diagonal of the inverse."""

    def __init__(self, Q: sp.csr_matrix):
        n = Q.shape[0]
        self.n = n
        if n <= DENSE_LIMIT:
            import scipy.linalg as la  # its LAPACK, not numpy's: results must not move in the last digit

            self.inv = la.inv(np.eye(n) - Q.toarray())
            self.lu = None
        else:
            import scipy.sparse.linalg as spla  # only for large maps: it costs a command 0.1 s to load

            self.inv = None
            self.lu = spla.splu((sp.identity(n, format="csc") - Q.tocsc()).tocsc())

    def solve(self, b: np.ndarray) -> np.ndarray:
        """``(I - Q)^-1 b``."""
        return self.inv @ b if self.lu is None else self.lu.solve(b)

    def solve_left(self, a: np.ndarray) -> np.ndarray:
        """``a (I - Q)^-1`` (a row vector)."""
        return a @ self.inv if self.lu is None else self.lu.solve(a, trans="T")

    def diagonal(self) -> np.ndarray:
        """The diagonal of ``(I - Q)^-1``, in blocks of columns for the sparse case."""
        if self.lu is None:
            return np.diag(self.inv).copy()
        diag = np.empty(self.n)
        for start in range(0, self.n, _BLOCK):
            stop = min(start + _BLOCK, self.n)
            rhs = np.zeros((self.n, stop - start))
            rhs[np.arange(start, stop), np.arange(stop - start)] = 1.0
            diag[start:stop] = self.lu.solve(rhs)[np.arange(start, stop), np.arange(stop - start)]
        return diag


def _without_rows(Q: sp.csr_matrix, mask: np.ndarray) -> sp.csr_matrix:
    keep = sp.diags((~mask).astype(float))
    return (keep @ Q).tocsr()


def _segment(chain: Chain, removal: bool) -> dict:
    goal = chain.goal.astype(float)
    full = _Solver(chain.Q)
    visits = full.solve_left(chain.entry)
    absorbing = _Solver(_without_rows(chain.Q, chain.goal))
    x = absorbing.solve(goal)                      # P(convert | at touchpoint i)
    cr = float(chain.entry @ x)
    # Expected time to the first goal, weighted by converting: y_i = sum_k Q_ik (D_ik x_k + y_k).
    b = np.where(chain.goal, 0.0, chain.Q.multiply(chain.edge_delay) @ x)
    timed = float(chain.entry @ absorbing.solve(b))
    out = {
        "conversion_rate": cr,
        "timed": timed,
        "expected_touches": float(visits.sum()),
        "expected_conversions": float(visits @ goal),
        "expected_value": float(visits @ chain.value),
        "referrals": float(visits @ chain.refers),
        "visit_rate": np.clip(visits / full.diagonal(), 0.0, 1.0),
        "stage_reach": {},
        "without": None,
    }
    for stage in dict.fromkeys(s for s in chain.stage if s is not None):
        in_stage = np.array([s == stage for s in chain.stage])
        hit = _Solver(_without_rows(chain.Q, in_stage)).solve(in_stage.astype(float))
        out["stage_reach"][stage] = float(np.clip(chain.entry @ hit, 0.0, 1.0))
    if removal:
        first = absorbing.solve_left(chain.entry) / absorbing.diagonal()   # P(meet k before any goal)
        out["without"] = np.clip(cr - first * x, 0.0, cr)
    return out


def solve_exact(journey: Journey, *, removal_effects: bool = True) -> JourneyMetrics:
    """Solve a journey exactly, per segment, weighted by segment shares.

    Parameters
    ----------
    journey : Journey
    removal_effects : bool
        Compute the removal effect of every non-goal touchpoint (one extra
        factorisation's worth of work, not one per touchpoint).

    Returns
    -------
    JourneyMetrics

    Examples
    --------
    >>> j = Journey.from_rows(
    ...     {"ad": 1.0}, {"ad": {"page": 0.5}, "page": {"buy": 0.4, "ad": 0.2}}, goals=["buy"],
    ...     touchpoint_attributes={"buy": {"value": 40.0}})
    >>> m = solve_exact(j)
    >>> round(m.conversion_rate, 6), round(m.expected_value, 4)   # 0.2 / (1 - 0.1)
    (0.222222, 8.8889)
    >>> round(m.removal_effects["page"], 6)
    1.0
    """
    names = journey.names
    parts = [(share, _segment(chain, removal_effects)) for _, share, chain in compile_segments(journey)]
    total = lambda key: float(sum(share * p[key] for share, p in parts))  # noqa: E731
    cr = total("conversion_rate")
    visit = sum(share * p["visit_rate"] for share, p in parts)
    stages = journey.stage_names()
    stage_reach = {s: float(sum(share * p["stage_reach"].get(s, 0.0) for share, p in parts)) for s in stages}
    removal = {}
    if removal_effects:
        without = sum(share * p["without"] for share, p in parts)
        for i, name in enumerate(names):
            if not journey.touchpoints[name].goal:
                removal[name] = float(np.clip(1.0 - without[i] / cr, 0.0, 1.0)) if cr > 0 else 0.0
    k = total("referrals")
    return JourneyMetrics(
        conversion_rate=cr,
        expected_conversions=total("expected_conversions"),
        expected_value=total("expected_value"),
        expected_touches=total("expected_touches"),
        expected_time_to_conversion=total("timed") / cr if cr > 0 else None,
        visit_rate={n: float(visit[i]) for i, n in enumerate(names)},
        stage_reach=stage_reach,
        removal_effects=removal,
        referrals=k,
        customers_per_seed=1.0 / (1.0 - k) if k < 1.0 else None,
        engine="exact",
        time_unit=journey.time_unit,
        journey_name=journey.name,
        currency=journey.extra.get("currency"),
        method="absorbing Markov chain solved exactly ("
        + ("dense inverse" if len(names) <= DENSE_LIMIT else "sparse LU")
        + "), segments weighted by share; times use mean delays",
    )


def conversion_rate(journey: Journey) -> float:
    """The exact conversion rate alone (no removal effects), for quick comparisons.

    Examples
    --------
    >>> conversion_rate(Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.3}}, goals=["buy"]))
    0.3
    """
    return solve_exact(journey, removal_effects=False).conversion_rate
