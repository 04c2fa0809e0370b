"""Per-customer spread: the first two moments of what one new customer brings, solved exactly.

A journey is a Markov reward process: every visit to touchpoint ``i`` earns
``r_i`` (its ``value`` for money, 1 at a goal for conversions). The total ``X_i``
earned from a visit to ``i`` onwards satisfies ``X_i = r_i + X_next`` (``X_next = 0``
on drop-off), so with ``m1 = E[X]`` and ``m2 = E[X^2]`` per touchpoint

    (I - Q) m1 = r,        (I - Q) m2 = r**2 + 2 r * (Q m1)

and a new customer entering by ``a`` has mean ``a m1`` and second moment ``a m2``;
segments mix with their shares (the variance of the mixture includes the spread of
the segments' means). This is the variance an A/B test on a per-customer metric
faces (:mod:`journeysim.experiments.design`). Referred customers are new customers of
their own and are not counted in their referrer's total.

A *seed* total (``value_per_seed_customer``, ``conversions_per_seed_customer``) adds the
totals of every customer the seed refers, of the customers those refer, and so on
(:mod:`journeysim.engines.branching`). A type-``a`` customer's tree is
``T_a = X + sum_b sum_{j <= N_b} T_b^(j)``, where the ``N_b`` type-``b`` children are
Poisson with mean ``L_b`` (the walk's visits times ``refers``) and the subtrees are
independent copies. Given the walk, ``E[T_a^2 | walk] = (X + L m)^2 + L s`` with
``m``, ``s`` the subtrees' first and second moments, so

    m = (I - M)^-1 x,        s = (I - M)^-1 E[Y^2],        Y = sum over visits of u_i

where ``M`` is the referral matrix, ``x`` each type's own mean and ``u_i = r_i +
refers_i m_(type referred at i)``: the second moment of a Markov reward process again,
one per type. Both are finite when the spectral radius of ``M`` is below 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from journeysim.engines.branching import customer_types, spectral_radius, sustains
from journeysim.engines.compiled import Chain, compile_segments
from journeysim.engines.exact import _start_rows
from journeysim.errors import ScenarioError, excerpt
from journeysim.journey import Journey

__all__ = ["PerCustomerMoments", "per_customer_moments", "MOMENT_METRICS", "SEED_METRICS"]

#: The per-customer totals whose moments are solved, and what one visit to a touchpoint earns.
MOMENT_METRICS = {
    "expected_value": "the touchpoint's value",
    "expected_conversions": "1 at a goal",
    "expected_touches": "1 at every touchpoint",
}
#: Per-seed totals (a seed and every referral generation after them) and the per-customer total they add up.
SEED_METRICS = {
    "value_per_seed_customer": "expected_value",
    "conversions_per_seed_customer": "expected_conversions",
}


@dataclass(frozen=True)
class PerCustomerMoments:
    """Mean, variance and standard deviation of one metric's total per new customer."""

    metric: str
    mean: float
    variance: float
    method: str = ""

    @property
    def sd(self) -> float:
        return math.sqrt(self.variance)

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "mean": self.mean, "variance": self.variance, "sd": self.sd,
                "method": self.method}

    def summary(self) -> str:
        return f"{self.metric} per new customer: mean {self.mean:.6g}, sd {self.sd:.6g}\nmethod: {self.method}"

    def __str__(self) -> str:
        return self.summary()


def per_customer_moments(journey: Journey, metric: str = "expected_value") -> PerCustomerMoments:
    """Exact mean and variance of ``metric``'s total for one new customer of ``journey``.

    Parameters
    ----------
    journey : Journey
    metric : one of :data:`MOMENT_METRICS`, or of :data:`SEED_METRICS` for a seed customer's whole
        referral tree (refused when referrals sustain themselves)

    Examples
    --------
    A customer reaches ``buy`` (worth 10) with probability 1/2, then buys again with
    probability 1/2 each time: the purchases are geometric, mean 2 and second moment 6,
    so the value has mean 1/2 * 20 = 10 and variance 1/2 * 600 - 100 = 200.

    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.5}, "buy": {"buy": 0.5}}, goals=["buy"],
    ...                       touchpoint_attributes={"buy": {"value": 10.0}})
    >>> m = per_customer_moments(j)
    >>> round(m.mean, 9), round(m.variance, 9)
    (10.0, 200.0)

    A customer buys (worth 10) with probability 1/2 and each purchase refers a Poisson number
    of new customers, 0.4 on average: a seed's tree is worth ``m = 5 / 0.8 = 6.25``, and its
    second moment solves ``s = 0.5 (10 + 0.4 m)^2 + 0.2 s``.

    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.5}}, goals=["buy"],
    ...                       touchpoint_attributes={"buy": {"value": 10.0, "refers": 0.4}})
    >>> m = per_customer_moments(j, "value_per_seed_customer")
    >>> round(m.mean, 9), round(m.variance, 9)     # s = 97.65625
    (6.25, 58.59375)
    """
    if metric in SEED_METRICS:
        return _per_seed_moments(journey, metric)
    if metric not in MOMENT_METRICS:
        raise ValueError(f"metric={excerpt(metric)}: per-customer moments are solved for "
                         f"{', '.join([*MOMENT_METRICS, *SEED_METRICS])}")
    mean = second = 0.0
    for _, share, chain in compile_segments(journey):
        r = _reward(chain, metric)
        lu = spla.splu(sp.identity(chain.n, format="csc") - chain.Q.tocsc())
        m1 = lu.solve(r)
        m2 = lu.solve(r * r + 2.0 * r * (chain.Q @ m1))
        mean += share * float(chain.entry @ m1)
        second += share * float(chain.entry @ m2)
    what = MOMENT_METRICS[metric]
    return PerCustomerMoments(
        metric=metric, mean=mean, variance=max(second - mean * mean, 0.0),
        method=f"exact first and second moments of the Markov reward process (a visit earns {what}; "
               "(I - Q) m2 = r^2 + 2 r (Q m1), sparse LU), segments mixed by share")


def _reward(chain: Chain, metric: str) -> np.ndarray:
    if metric == "expected_value":
        return chain.value
    if metric == "expected_conversions":
        return chain.goal.astype(float)
    return np.ones(chain.n)


def _per_seed_moments(journey: Journey, metric: str) -> PerCustomerMoments:
    """Mean and variance of a seed's whole referral tree (see the module's docstring)."""
    types = customer_types(journey)
    T = types.count
    route = np.array(types.route)
    # Per start row of every type (segment, weight, entry): the segment's chain and LU, the row's entry vector.
    parts = []
    for segment, _, chain in compile_segments(journey):
        lu = spla.splu(sp.identity(chain.n, format="csc") - chain.Q.tocsc())
        refer = chain.refers[:, None] * (route[:, None] == np.arange(T)[None, :])
        parts.append((chain, lu, refer, _start_rows(types, segment, chain)))
    own, M = np.zeros(T), np.zeros((T, T))
    for chain, lu, refer, rows in parts:
        r = _reward(chain, SEED_METRICS[metric])
        onward = lu.solve(np.column_stack([r, refer]))      # per touchpoint: own total and referrals, onwards
        for t, weight, entry in rows:
            own[t] += weight * float(entry @ onward[:, 0])
            M[t] += weight * (entry @ onward[:, 1:])
    if sustains(M):
        raise ScenarioError(f"{journey.name or 'the map'}: referrals sustain themselves (spectral radius "
                            f"{spectral_radius(M):.4g} of the referral matrix), so {metric} has no finite mean or "
                            "spread")
    A = np.eye(T) - M
    m = np.linalg.solve(A, own)                            # each type's tree, in expectation
    second = np.zeros(T)
    for chain, lu, refer, rows in parts:
        u = _reward(chain, SEED_METRICS[metric]) + refer @ m   # a visit earns its own and its referrals' trees
        m1 = lu.solve(u)
        m2 = lu.solve(u * u + 2.0 * u * (chain.Q @ m1))
        for t, weight, entry in rows:
            second[t] += weight * float(entry @ m2)
    s = np.linalg.solve(A, second)
    mean = float(m[0])
    return PerCustomerMoments(
        metric=metric, mean=mean, variance=max(float(s[0]) - mean * mean, 0.0),
        method=f"exact first and second moments of a seed's referral tree (a multi-type branching process with "
               f"Poisson referrals: m = (I - M)^-1 x, s = (I - M)^-1 E[Y^2], Y the Markov reward total of a visit's "
               f"{MOMENT_METRICS[SEED_METRICS[metric]]} plus its referrals' expected trees; sparse LU), "
               "segments mixed by share")
