"""Choosing a touchpoint's delay distribution from the gaps after its visits.

The gaps of a log larger than memory never leave DuckDB: it returns their sufficient
statistics (count, sum, sum of logs, sum of squared logs, zeros, min, max), from
which every candidate's maximum-likelihood fit and log-likelihood follow exactly.
The candidates are the map format's distributions; the one with the lowest AIC wins
(``fixed`` when every gap is equal, where its likelihood is unbounded, or when the gaps vary by less than
their sums can resolve).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from scipy import optimize, special

from journeysim.journey import Delay

__all__ = ["GapStats", "DelayChoice", "choose_delay"]


@dataclass(frozen=True)
class GapStats:
    """Sufficient statistics of the gaps (in the map's time unit) after one touchpoint."""

    n: int
    total: float
    log_total: float
    log_square_total: float
    zeros: int
    low: float
    high: float


@dataclass(frozen=True)
class DelayChoice:
    """The chosen delay and the AIC of every candidate that could be fitted."""

    delay: Delay | None
    n: int
    aic: dict[str, float] = field(default_factory=dict)

    @property
    def dist(self) -> str:
        return "none" if self.delay is None else self.delay.dist


def _gamma(g: GapStats) -> tuple[float, float, float] | None:
    mean = g.total / g.n
    c = math.log(mean) - g.log_total / g.n      # > 0 by Jensen unless all gaps are equal
    if not c > 1e-12:
        return None
    # scipy.stats.gamma.fit's root search: a bracket of +/-40% around Minka's closed-form estimate (a fixed
    # bracket such as [1e-8, 1e10] misses the shape of a delay whose gaps vary by a millionth, ~1 / (2 c))
    guess = (3 - c + math.sqrt((c - 3) ** 2 + 24 * c)) / (12 * c)
    shape = optimize.brentq(lambda k: math.log(k) - special.digamma(k) - c, 0.6 * guess, 1.4 * guess)
    scale = mean / shape
    ll = (shape - 1) * g.log_total - g.total / scale - g.n * special.gammaln(shape) - g.n * shape * math.log(scale)
    return shape, scale, ll


def choose_delay(g: GapStats) -> DelayChoice:
    """Fit exponential, lognormal and gamma delays by maximum likelihood and keep the best AIC.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).gamma(4.0, 0.5, size=5000)
    >>> g = GapStats(len(x), x.sum(), np.log(x).sum(), (np.log(x) ** 2).sum(), 0, x.min(), x.max())
    >>> c = choose_delay(g)
    >>> c.dist, round(c.delay.mean, 1), round(c.delay.sd, 1)
    ('gamma', 2.0, 1.0)
    >>> choose_delay(GapStats(3, 1.5, 3 * np.log(0.5), 3 * np.log(0.5) ** 2, 0, 0.5, 0.5)).delay
    Delay(dist='fixed', mean=0.5, sd=None)
    """
    g = GapStats(int(g.n), float(g.total), float(g.log_total), float(g.log_square_total), int(g.zeros),
                 float(g.low), float(g.high))
    if g.n == 0 or g.high <= 0:
        return DelayChoice(None, g.n)
    if g.high - g.low <= 1e-9 * g.high:
        return DelayChoice(Delay("fixed", g.high), g.n, {"fixed": -math.inf})
    mean = g.total / g.n
    fits: dict[str, tuple[Delay, float]] = {
        "exponential": (Delay("exponential", mean), 2 * 1 - 2 * (-g.n * math.log(mean) - g.n)),
    }
    if g.zeros == 0:
        mu = g.log_total / g.n
        var = g.log_square_total / g.n - mu * mu
        if var > 1e-12:
            ll = -g.log_total - g.n / 2 * math.log(2 * math.pi * var) - g.n / 2
            m = math.exp(mu + var / 2)
            fits["lognormal"] = (Delay("lognormal", m, m * math.sqrt(math.expm1(var))), 2 * 2 - 2 * ll)
        gamma = _gamma(g)
        if gamma is not None:
            shape, scale, ll = gamma
            fits["gamma"] = (Delay("gamma", mean, math.sqrt(shape) * scale), 2 * 2 - 2 * ll)
    if g.zeros == 0 and len(fits) == 1:
        # positive gaps whose logs vary by less than a millionth (a send scheduled 30 days on, give or take a
        # second): no spread the sums resolve, and the exponential alone (sd = mean) would be far from them
        return DelayChoice(Delay("fixed", mean), g.n, {"fixed": -math.inf})
    best = min(fits, key=lambda k: fits[k][1])
    return DelayChoice(fits[best][0], g.n, {k: v[1] for k, v in fits.items()})
