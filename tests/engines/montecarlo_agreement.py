"""z-scores of Monte Carlo estimates against the exact engine (shared by the Monte Carlo tests).

Proportions (conversion rate, visit rates, stage reach, funnel, bounce rate;
the repeat rate among the converted) use the binomial standard error at the
exact value, with one customer's worth of continuity slack; means (touches,
conversions, value, referrals, time to conversion, per-seed totals, discounted
values) use the spread of independent replicates, each with its own stream
from ``SeedSequence.spawn``.
"""

from __future__ import annotations

import math

import numpy as np

from journeysim.engines.exact import solve_exact
from journeysim.engines.montecarlo.engine import simulate_montecarlo

__all__ = ["replicates", "z_scores", "LIMIT"]

#: Agreement bound, in standard errors.
LIMIT = 4.5
MEANS = ("expected_conversions", "expected_value", "expected_touches", "referrals", "customers_per_seed",
         "value_per_seed_customer", "conversions_per_seed_customer", "discounted_value",
         "discounted_value_per_seed_customer")


def replicates(journey, seed: int, runs: int = 32, customers: int = 2000, **kwargs):
    streams = np.random.SeedSequence(seed).spawn(runs)
    return [simulate_montecarlo(journey, customers, rng=np.random.default_rng(s), removal_effects=False, **kwargs)
            for s in streams]


def _z(diff: float, se: float, truth: float) -> float:
    if abs(diff) <= 1e-9 * (1 + abs(truth)):  # equal up to rounding (e.g. fixed delays, certain events)
        return 0.0
    return diff / se if se > 0 else math.inf


def z_scores(journey, runs) -> dict[str, float]:
    """``{metric: z}`` of the pooled replicates against :func:`solve_exact`."""
    exact = solve_exact(journey, removal_effects=False)
    n = sum(r.customers for r in runs)
    out = {}

    def proportion(name, truth, estimates, n=n):
        estimate = float(np.mean(estimates))  # replicates have equal sizes
        slack = 1.0 / n
        diff = max(0.0, abs(estimate - truth) - slack)
        out[name] = _z(diff, math.sqrt(truth * (1 - truth) / n), truth)

    proportion("conversion_rate", exact.conversion_rate, [r.conversion_rate for r in runs])
    for tp, truth in exact.visit_rate.items():
        proportion(f"visit_rate[{tp}]", truth, [r.visit_rate[tp] for r in runs])
    for stage, truth in exact.stage_reach.items():
        proportion(f"stage_reach[{stage}]", truth, [r.stage_reach[stage] for r in runs])
    for stage, truth in exact.funnel.items():
        proportion(f"funnel[{stage}]", truth, [r.funnel[stage] for r in runs])
    proportion("bounce_rate", exact.bounce_rate, [r.bounce_rate for r in runs])
    converted = sum(r.conversions for r in runs)
    if converted and exact.repeat_rate is not None:
        repeaters = sum(r.repeat_rate * r.conversions for r in runs if r.conversions)
        proportion("repeat_rate", exact.repeat_rate, [repeaters / converted], n=converted)
    k = len(runs)
    for name in MEANS:
        truth = getattr(exact, name)
        if truth is None:
            assert all(getattr(r, name) is None for r in runs), name
            continue
        if any(getattr(r, name) is None for r in runs):
            # Near-critical growth: waves cut by the engine's limits, or a sampled referral matrix at radius 1 or
            # more: no per-seed estimate, and the run says why.
            assert all(r.warnings for r in runs if getattr(r, name) is None), name
            continue
        values = np.array([getattr(r, name) for r in runs])
        # Replicates that all agree (a rare event nobody drew) resolve no difference below one customer's worth.
        se = values.std(ddof=1) / math.sqrt(k) or max(1.0, abs(truth)) / n
        out[name] = _z(values.mean() - truth, se, truth)
    if exact.expected_time_to_conversion is not None:
        conv = np.array([r.conversions for r in runs], dtype=float)
        total = np.array([(r.expected_time_to_conversion or 0.0) * r.conversions for r in runs])
        if conv.sum() > 0:
            ratio = total.sum() / conv.sum()
            resid = total - ratio * conv
            se = math.sqrt(k / (k - 1) * (resid ** 2).sum()) / conv.sum()
            truth = exact.expected_time_to_conversion
            out["expected_time_to_conversion"] = _z(ratio - truth, se, truth)
    return out
