"""Power of an A/B test on a per-customer value (revenue per customer): the two-sample t-test.

The analysis compares mean value per customer with Welch's t-test
(:mod:`journeysim.experiments.analysis`), whose statistic has the noncentrality
``lift / sqrt(sd_v**2 / n_v + sd_c**2 / n_c)``. With ``n_v = ratio * n_c`` that is
the equal-variance noncentrality of statsmodels' ``TTestIndPower`` for the effect
size ``d = lift / s``, ``s**2 = (sd_v**2 + ratio * sd_c**2) / (1 + ratio)``, so the
power and sample size come from ``TTestIndPower`` (R's ``power.t.test``: the far tail
of a two-sided test ignored, ``n_v + n_c - 2`` degrees of freedom). The spreads of a
prediction's two maps are the exact engine's per-customer standard deviations
(:func:`journeysim.engines.moments.per_customer_moments`); for ``value_per_seed_customer``
those of a seed customer's whole referral tree, which a test measures when each customer is
credited with the revenue of the customers they refer (a referral code).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from statsmodels.stats.power import TTestIndPower

from journeysim._files import OWN_PROJECT
from journeysim.engines.moments import per_customer_moments
from journeysim.errors import ScenarioError, UsageError, excerpt
from journeysim.whatif.hypothesis import load_hypothesis
from journeysim.whatif.prediction import Prediction, hypothesis_path

__all__ = ["value_power", "value_sample_size", "minimum_detectable_value", "prediction_spreads",
           "VALUE_METRICS", "T_TEST_METHOD"]

#: Metrics an A/B test measures as a mean per customer (the result file's ``revenue`` column): the revenue of
#: the customer, or of the customer and every customer their referrals brought (credited to them).
VALUE_METRICS = ("expected_value", "value_per_seed_customer")

T_TEST_METHOD = ("two-sample t-test power with Welch's noncentrality: effect size lift / s, "
                 "s^2 = (sd_variant^2 + ratio sd_control^2) / (1 + ratio), far tail of a two-sided test ignored "
                 "(statsmodels TTestIndPower, sizes and effects its roots by scipy brentq; R power.t.test)")


def _spread(sd: float, variant_sd: float | None, ratio: float) -> float:
    sd_v = sd if variant_sd is None else variant_sd
    return math.sqrt((sd_v ** 2 + ratio * sd ** 2) / (1 + ratio))


def _check_sd(sd: float, variant_sd: float | None) -> None:
    for name, v in (("sd", sd), ("variant_sd", variant_sd)):
        if v is not None and not (math.isfinite(v) and v > 0):
            raise UsageError(f"{name}={excerpt(v)} must be a number > 0 (the standard deviation of value per customer)")


def value_power(lift_abs, n_variant, *, sd: float, variant_sd: float | None = None, alpha: float = 0.05,
                ratio: float = 1.0, two_sided: bool = True, direction: float | None = None):
    """Probability of a significant result in the direction of ``direction`` (default: of ``lift_abs``).

    Vectorised over ``lift_abs``; ``n_variant`` customers per variant arm, ``n_variant / ratio`` in control.

    Examples
    --------
    >>> round(float(value_power(1.0, 22.02110, sd=1.0)), 5)   # R: power.t.test(n = 22.02110, delta = 1)
    0.9
    """
    _check_sd(sd, variant_sd)
    lift = np.asarray(lift_abs, dtype=float)
    sign = np.sign(direction if direction is not None else lift)
    sign = np.where(sign == 0, 1.0, sign)
    d = sign * lift / _spread(sd, variant_sd, ratio)
    return TTestIndPower().power(d, n_variant, alpha / 2 if two_sided else alpha, ratio=1 / ratio,
                                 alternative="larger")


def value_sample_size(lift_abs: float, *, sd: float, variant_sd: float | None = None, alpha: float = 0.05,
                      power: float = 0.8, ratio: float = 1.0, two_sided: bool = True) -> float:
    """Customers per variant arm (not rounded) for ``power`` at ``alpha``.

    Examples
    --------
    >>> round(value_sample_size(1.0, sd=1.0, power=0.9), 4)   # R: power.t.test(delta = 1, power = .90)
    22.0211
    """
    _check_sd(sd, variant_sd)
    if lift_abs == 0:
        raise UsageError("the lift is 0: no test can detect it (give a non-zero --lift)")
    from scipy import optimize, stats

    d = abs(lift_abs) / _spread(sd, variant_sd, ratio)
    tail = alpha / 2 if two_sided else alpha

    def short(n):
        return float(TTestIndPower().power(d, n, tail, ratio=1 / ratio, alternative="larger")) - power

    # The root of statsmodels' power by brentq, not its solve_power, whose search returns nan outside its own
    # bracket: an effect of several sd needs no more than the smallest test Welch's statistic allows (2 customers
    # in each arm), and a tiny one at a tiny alpha (4e-6 sd at 1.8e-7) more than 1e13. nan at the least size:
    # scipy's noncentral t gives up past a noncentrality of ~3e9, where the power is 1.
    least = max(2.0, 2.0 * ratio)
    at_least = short(least)
    if at_least >= 0 or math.isnan(at_least):
        return least
    # the normal approximation's size, which the t-test needs a little more than
    upper = max(2 * least, 2 * (stats.norm.isf(tail) + stats.norm.isf(1 - power)) ** 2 / d ** 2 * (1 + ratio))
    while short(upper) < 0:
        upper *= 4
    return float(optimize.brentq(short, least, upper, xtol=1e-12, rtol=1e-13))


def minimum_detectable_value(n_variant: float, *, sd: float, variant_sd: float | None = None, alpha: float = 0.05,
                             power: float = 0.8, ratio: float = 1.0, two_sided: bool = True) -> float:
    """The smallest absolute lift in mean value detectable with ``power`` (a magnitude).

    Examples
    --------
    >>> round(minimum_detectable_value(22.02110, sd=2.0, power=0.9), 4)   # delta / sd = 1 at n = 22.0211
    2.0
    """
    from scipy import optimize, stats

    _check_sd(sd, variant_sd)
    tail = alpha / 2 if two_sided else alpha

    def short(d):
        return float(TTestIndPower().power(d, n_variant, tail, ratio=1 / ratio, alternative="larger")) - power

    # brentq on statsmodels' power rather than its solve_power, whose fallback (fsolve) answers with an array at a
    # small alpha (34.5 customers per arm at 4.5e-7), which float() refuses, and misses by 1% at 1e9 customers.
    # The power grows with the effect from `tail` (< power) at 0; the bracket starts from the normal
    # approximation's effect (the t-test needs a little more), so that the noncentralities tried stay small
    # (scipy's noncentral t returns nan for huge ones).
    upper = 1.5 * (stats.norm.isf(tail) + stats.norm.isf(1 - power)) * math.sqrt((1 + ratio) / n_variant)
    while short(upper) < 0:
        upper *= 2
    return float(optimize.brentq(short, 0.0, upper, xtol=1e-14, rtol=1e-13)) * _spread(sd, variant_sd, ratio)


def prediction_spreads(prediction: Prediction, hypothesis: str | None = None, *,
                       within: Any = OWN_PROJECT) -> tuple[float, float, str]:
    """Per-customer standard deviations ``(control, variant)`` for a saved value prediction, and how.

    The coefficient of variation of each map's value per new customer (exact second moments of the
    baseline map and of the variant at the hypothesis's central values) times the prediction's central
    baseline and variant: the spread scales with the mean when the draws move it. The prediction's
    ``hypothesis_file`` must lie inside ``within`` (see :func:`~journeysim.whatif.prediction.hypothesis_path`).
    """
    if prediction.metric not in VALUE_METRICS:
        raise ScenarioError(f"{prediction.source}: key 'metric': {excerpt(prediction.metric)} is not a value per customer "
                            f"({', '.join(VALUE_METRICS)})")
    path, changed = hypothesis_path(prediction, hypothesis, within=within)
    hyp = load_hypothesis(path)
    spreads = []
    for journey, mean in ((hyp.baseline, prediction.baseline), (hyp.variant(), prediction.variant)):
        m = per_customer_moments(journey, prediction.metric)
        if not m.mean > 0:
            raise ScenarioError(f"{path}: {journey.name or 'the map'} brings no value per customer "
                                "(a value test needs goals with a value)")
        spreads.append(m.sd / m.mean * mean)
    what = "per-seed-customer sd (a customer and their referral tree)" if prediction.metric != VALUE_METRICS[0] \
        else "per-customer sd"
    how = (f"{what}: coefficient of variation of {hyp.source}'s baseline map and central variant "
           "(exact second moments, journeysim.engines.moments) times the predicted means")
    if prediction.engine == "agents":
        how += "; capacity and patience, which only the agents engine models, are not in the spread"
    if changed:
        how += f"; warning: {path} changed since the prediction was saved (its sha256 differs from the prediction's)"
    return spreads[0], spreads[1], how
