"""Discounting: the worth of value reached later, from the delays' Laplace transforms.

A map's ``discount: {rate, per}`` says that a unit of value loses the share ``rate`` of
its worth per period ``per``, continuously compounded: value reached ``t`` time units
after the customer's first touch is worth ``exp(-lam t)`` with
``lam = ln(1 + rate) / per`` (``per`` in the map's time units). Along a path the
discount factors of the delays multiply, so the expected discount of one step is the
Laplace transform ``E[exp(-lam D)]`` of its delay ``D``: closed forms for exponential,
fixed and gamma delays, numerical integration (scipy) for lognormal ones.
"""

from __future__ import annotations

import math
from functools import lru_cache

from journeysim.journey import Delay, Journey
from journeysim.maps.values import UNIT_SECONDS

__all__ = ["discount_rate", "laplace"]


def discount_rate(journey: Journey) -> float | None:
    """``lam``, the continuous discount rate per map time unit, or ``None`` without a discount.

    Examples
    --------
    >>> j = Journey.from_rows({"a": 1.0}, {}, goals=["a"], time_unit="day",
    ...                       extra={"discount": {"rate": 0.1, "per": "year"}})
    >>> round(discount_rate(j) * 365.25, 6) == round(math.log(1.1), 6)
    True
    """
    spec = journey.extra.get("discount")
    if spec is None:
        return None
    periods = UNIT_SECONDS[spec.get("per", "year")] / UNIT_SECONDS[journey.time_unit]
    return math.log1p(spec["rate"]) / periods


def laplace(delay: Delay | None, lam: float) -> float:
    """``E[exp(-lam D)]`` for a delay ``D`` (``inf`` where a negative ``lam`` makes it diverge).

    Examples
    --------
    >>> laplace(Delay("exponential", 2.0), 0.5)          # 1 / (1 + lam * mean)
    0.5
    >>> round(laplace(Delay("fixed", 2.0), 0.5), 6)      # exp(-lam * mean)
    0.367879
    >>> round(laplace(Delay("gamma", 2.0, 1.0), 0.5), 6)  # (1 + lam * scale) ** -shape, shape 4, scale 0.5
    0.4096
    >>> round(laplace(Delay("lognormal", 2.0, 1.0), 0.5), 6)
    0.406626
    """
    if delay is None or delay.mean == 0 or lam == 0:
        return 1.0
    if delay.dist == "exponential":
        base = 1.0 + lam * delay.mean
        return 1.0 / base if base > 0 else math.inf
    if delay.dist == "fixed":
        return math.exp(-lam * delay.mean)
    if delay.dist == "gamma":
        shape, scale = delay.gamma_params()
        # log1p: a narrow gamma (shape 1e12, scale 1e-12) has 1 + lam * scale rounded in its 4th digit, and the
        # power raises that to an error of 1e-4 (0.367847 for exp(-1) = 0.367879)
        return math.exp(-shape * math.log1p(lam * scale)) if lam * scale > -1 else math.inf
    return _lognormal(*delay.lognormal_params(), lam)


@lru_cache(maxsize=1024)
def _lognormal(mu: float, sigma: float, lam: float) -> float:
    if lam < 0:
        return math.inf   # a lognormal's tail outgrows any exponential
    from scipy.integrate import quad

    # E[exp(-lam exp(mu + sigma Z))] over the standard normal Z; the integrand is smooth and
    # decays like the normal density on the left and doubly exponentially on the right.
    def integrand(z: float) -> float:
        return math.exp(-0.5 * z * z - lam * math.exp(min(mu + sigma * z, 700.0)))

    # The normal density holds its mass within |z| <= 40 (beyond, exp(-800) is nil), and quadrature over a long or
    # infinite interval can step over a narrow peak: split at the peak's sides and where the discount starts to
    # bite (lam exp(mu + sigma z) = 1), so that no piece hides its mass.
    knee = min(max((-math.log(lam) - mu) / sigma, -40.0), 40.0)
    cuts = sorted({-40.0, -8.0, 0.0, 8.0, 40.0, knee})
    total = sum(quad(integrand, a, b, epsabs=0.0, epsrel=1e-12, limit=200)[0] for a, b in zip(cuts, cuts[1:]))
    return total / math.sqrt(2.0 * math.pi)
