"""Removal effects of a counted map, and intervals for their change from posterior draws of two maps.

A touchpoint is judged by whichever of its two removal effects is larger: on the
conversion rate (the first conversion) or on value per seed customer (repeat
purchases and referrals included), so a touchpoint that works after the purchase
is not taken for one that does nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from journeysim.engines.compiled import compile_journey
from journeysim.engines.exact import solve_exact
from journeysim.journey import Journey
from journeysim.reevaluation.counts import posterior_draw

__all__ = ["BASES", "Effects", "effects", "basis", "change_intervals"]

#: What a removal effect is measured on: ``removal_effects`` and ``removal_effects_value``.
BASES = ("conversion", "value per seed customer")


@dataclass(frozen=True)
class Effects:
    """A map's removal effects on each basis, its conversion rate, and each touchpoint's onward conversion
    (the chance of reaching a goal after leaving it)."""

    removal: Mapping[str, Mapping[str, float]]
    conversion_rate: float
    onward: Mapping[str, float]


def effects(journey: Journey) -> Effects:
    """The removal effects, conversion rate and onward conversion of a map without segments.

    Removal effects on value are all 0 when value per seed customer is unbounded (referrals sustain
    themselves): the touchpoints are then judged on conversion.

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"page": 0.5}, "page": {"buy": 0.2}}, goals=["buy"])
    >>> e = effects(j)
    >>> e.conversion_rate, e.removal["conversion"]["page"], e.onward["ad"]
    (0.1, 1.0, 0.1)
    """
    metrics = solve_exact(journey)
    chain = compile_journey(journey)
    Q = chain.Q.toarray()
    absorbing = np.where(chain.goal[:, None], 0.0, Q)
    x = np.linalg.solve(np.eye(chain.n) - absorbing, chain.goal.astype(float))
    on_value = metrics.removal_effects_value or dict.fromkeys(metrics.removal_effects, 0.0)
    return Effects({BASES[0]: dict(metrics.removal_effects), BASES[1]: dict(on_value)}, metrics.conversion_rate,
                   dict(zip(journey.names, map(float, Q @ x))))


def basis(name: str, maps: Sequence[Effects]) -> str:
    """The basis on which ``name``'s removal effect is larger, in any of the maps (conversion on a tie)."""
    def largest(b: str) -> float:
        return max(e.removal[b].get(name, 0.0) for e in maps)

    return BASES[1] if largest(BASES[1]) > largest(BASES[0]) + 1e-12 else BASES[0]


def change_intervals(old: Journey, new: Journey, names: Sequence[str], bases: Mapping[str, str], *, draws: int,
                     level: float, rng: np.random.Generator, priors: tuple[float, float]) -> dict[str, tuple]:
    """Equal-tailed ``level`` intervals of each touchpoint's removal-effect change (new - old, on its basis),
    from ``draws`` posterior draws of both maps (``priors``: each map's Dirichlet prior per outcome)."""
    if not names:
        return {}
    diffs = np.empty((draws, len(names)))
    for d in range(draws):
        a = effects(posterior_draw(old, rng, priors[0])).removal
        b = effects(posterior_draw(new, rng, priors[1])).removal
        diffs[d] = [b[bases[n]][n] - a[bases[n]][n] for n in names]
    diffs[np.abs(diffs) < 1e-12] = 0.0          # rounding noise of effects that are exactly 0 or 1
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(diffs, [tail, 100 - tail], axis=0)
    return {n: (float(lo[i]), float(hi[i])) for i, n in enumerate(names)}
