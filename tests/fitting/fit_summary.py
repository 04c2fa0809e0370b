"""What two fits of one log must agree on, to the last digit (delay means to 9 digits: sums of gaps may be added
in another order)."""

from __future__ import annotations


def fit_summary(fit) -> tuple:
    j = fit.journey
    return (dict(j.entry), dict(j.observations), {k: {d: e.p for d, e in r.items()} for k, r in j.rows.items()},
            {n: (t.value, t.goal, None if t.delay is None else round(t.delay.mean, 9),
                 None if t.delay is None else t.delay.dist) for n, t in j.touchpoints.items()},
            {s: (g.share, dict(g.entry)) for s, g in j.segments.items()}, fit.cut, fit.journeys, fit.goals, fit.events)
