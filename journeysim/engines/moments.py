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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from journeysim.engines.compiled import compile_segments
from journeysim.journey import Journey

__all__ = ["PerCustomerMoments", "per_customer_moments", "MOMENT_METRICS"]

#: The per-customer totals whose moments are solved, and what one visit to a touchpoint earns.
MOMENT_METRICS = {
    "expected_value": "the touchpoint's value",
    "expected_conversions": "1 at a goal",
    "expected_touches": "1 at every touchpoint",
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
    metric : one of :data:`MOMENT_METRICS`

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
    """
    if metric not in MOMENT_METRICS:
        raise ValueError(f"metric={metric!r}: per-customer moments are solved for {', '.join(MOMENT_METRICS)}")
    mean = second = 0.0
    for _, share, chain in compile_segments(journey):
        if metric == "expected_value":
            r = chain.value
        elif metric == "expected_conversions":
            r = chain.goal.astype(float)
        else:
            r = np.ones(chain.n)
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
