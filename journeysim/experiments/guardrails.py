"""Guardrails: metrics a change must not harm by more than a margin, tested for non-inferiority.

A hypothesis names its guardrails (``guardrails: [{metric: bounce_rate, margin: 0.01}]``); each metric has a
direction of harm (a bounce rate harms by rising, a conversion rate by falling). For a guardrail with margin
``m`` and harm upwards, the variant's change ``d = variant - control`` is tested one-sided:

* **holds** when non-inferiority is shown: ``H0: d >= m`` is rejected at ``alpha``;
* **breached** when harm beyond the margin is shown: ``H0: d <= m`` is rejected at ``alpha``;
* **inconclusive** otherwise.

(Mirrored for harm downwards.) Rates are compared with statsmodels' ``test_proportions_2indep`` (Wald, a
difference against the margin), per-customer values with Welch's t-test against the margin (``CompareMeans``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from journeysim.errors import DataError, ScenarioError

__all__ = ["HARM", "Guardrail", "GuardrailTest", "parse_guardrails", "check_guardrail", "guardrail_power"]

#: The direction in which each scalar metric harms: "up" (a rise is harm) or "down" (a fall is harm).
HARM = {
    "conversion_rate": "down", "expected_conversions": "down", "expected_value": "down", "referrals": "down",
    "customers_per_seed": "down", "value_per_seed_customer": "down", "conversions_per_seed_customer": "down",
    "repeat_rate": "down", "discounted_value": "down", "discounted_value_per_seed_customer": "down",
    "bounce_rate": "up", "expected_time_to_conversion": "up",
}


@dataclass(frozen=True)
class Guardrail:
    """A metric, the most harm allowed (``margin``, in the metric's own units) and the direction of harm."""

    metric: str
    margin: float
    harm: str

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "margin": self.margin, "harm": self.harm}


def parse_guardrails(value: Any, source: str, metrics: Sequence[str]) -> tuple[Guardrail, ...]:
    """The ``guardrails`` list of a hypothesis file; every problem is a one-line error naming the file.

    Examples
    --------
    >>> parse_guardrails([{"metric": "bounce_rate", "margin": 0.01}], "h.yaml", ["bounce_rate"])
    (Guardrail(metric='bounce_rate', margin=0.01, harm='up'),)
    >>> parse_guardrails([{"metric": "bounce", "margin": 0.01}], "h.yaml", ["bounce_rate"])
    Traceback (most recent call last):
    ...
    journeysim.errors.ScenarioError: h.yaml: guardrails[0]: unknown metric 'bounce' (did you mean 'bounce_rate'?)
    """
    from journeysim.errors import did_you_mean

    if value is None:
        return ()
    if not isinstance(value, list):
        raise ScenarioError(f"{source}: guardrails: expected a list of {{metric, margin}} (e.g. "
                            "[{metric: bounce_rate, margin: 0.01}])")
    out = []
    for k, item in enumerate(value):
        where = f"{source}: guardrails[{k}]"
        if not isinstance(item, Mapping):
            raise ScenarioError(f"{where}: expected {{metric, margin}}")
        unknown = sorted(set(map(str, item)) - {"metric", "margin", "harm"})
        if unknown:
            raise ScenarioError(f"{where}: unknown key {unknown[0]!r} (allowed: metric, margin, harm)")
        metric = item.get("metric")
        if metric not in metrics:
            raise ScenarioError(f"{where}: unknown metric {metric!r}{did_you_mean(str(metric), metrics)}")
        margin = item.get("margin")
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not math.isfinite(margin) or margin < 0:
            raise ScenarioError(f"{where}: margin {margin!r} must be a number >= 0 (the most harm allowed, in "
                                f"{metric}'s own units)")
        harm = item.get("harm", HARM.get(metric))
        if harm not in ("up", "down"):
            raise ScenarioError(f"{where}: {metric} has no direction of harm; say harm: up or harm: down")
        out.append(Guardrail(str(metric), float(margin), harm))
    return tuple(out)


@dataclass(frozen=True)
class GuardrailTest:
    """The one-sided tests of one guardrail on an A/B result."""

    guardrail: Guardrail
    control: float
    variant: float
    change: float
    pvalue_holds: float
    pvalue_breached: float
    verdict: str
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.guardrail.to_dict(), "control": self.control, "variant": self.variant, "change": self.change,
                "pvalue_noninferiority": self.pvalue_holds, "pvalue_harm": self.pvalue_breached,
                "verdict": self.verdict, "method": self.method}


def _observed(arm, metric: str, source: str):
    """``("rate", successes, n)`` or ``("mean", values)`` of ``metric`` in one arm of an A/B result."""
    if metric == "conversion_rate":
        return "rate", arm.conversions, arm.customers
    if metric == "expected_value":
        if arm.revenue is not None:
            return "mean", np.asarray(arm.revenue, dtype=float)
        raise DataError(f"{source}: guardrail expected_value needs per-customer revenue (a revenue column)")
    raise DataError(f"{source}: guardrail {metric!r} cannot be observed in an A/B result file (guardrails can test "
                    "conversion_rate and, with per-customer revenue, expected_value)")


def check_guardrail(guardrail: Guardrail, control, variant, *, alpha: float = 0.05, source: str = "") -> GuardrailTest:
    """Test one guardrail on the control and variant :class:`~journeysim.experiments.results.Arm` s.

    Examples
    --------
    >>> from journeysim.experiments.results import Arm
    >>> g = Guardrail("conversion_rate", 0.005, "down")
    >>> t = check_guardrail(g, Arm("control", 20000, 1000), Arm("chat", 20000, 1010))
    >>> t.verdict, round(t.change, 4), round(t.pvalue_holds, 4)
    ('holds', 0.0005, 0.0059)
    """
    from statsmodels.stats.proportion import test_proportions_2indep
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    sign = 1.0 if guardrail.harm == "up" else -1.0
    limit = sign * guardrail.margin           # the change that would be exactly the margin's harm
    kind, *c = _observed(control, guardrail.metric, source)
    _, *v = _observed(variant, guardrail.metric, source)
    # "holds": H0 is harm of at least the margin; "breached": H0 is harm of at most the margin
    holds_alt, breach_alt = ("smaller", "larger") if sign > 0 else ("larger", "smaller")
    if kind == "rate":
        (xc, nc), (xv, nv) = c, v
        ps = [test_proportions_2indep(xv, nv, xc, nc, value=limit, compare="diff", alternative=alt,
                                      method="wald").pvalue for alt in (holds_alt, breach_alt)]
        control_value, variant_value = xc / nc, xv / nv
        method = "one-sided Wald tests of the difference in proportions against the margin (statsmodels " \
                 "test_proportions_2indep)"
    else:
        compare = CompareMeans(DescrStatsW(v[0]), DescrStatsW(c[0]))
        ps = [compare.ttest_ind(alternative=alt, usevar="unequal", value=limit)[1] for alt in (holds_alt, breach_alt)]
        control_value, variant_value = float(np.mean(c[0])), float(np.mean(v[0]))
        method = "one-sided Welch t-tests of the difference in means against the margin (statsmodels CompareMeans)"
    p_holds, p_breach = (float(p) for p in ps)
    verdict = "holds" if p_holds < alpha else "breached" if p_breach < alpha else "inconclusive"
    return GuardrailTest(guardrail, float(control_value), float(variant_value), float(variant_value - control_value),
                         p_holds, p_breach, verdict, f"{method} at alpha {alpha:g}")


def guardrail_power(guardrail: Guardrail, baseline: float, change: float, n_per_arm: float, *,
                    alpha: float = 0.05, ratio: float = 1.0) -> float | None:
    """Power of a rate guardrail's non-inferiority test with ``n_per_arm`` customers per variant arm, when the
    true change is ``change`` (``None`` for a metric that is not a rate of customers).

    Examples
    --------
    >>> round(guardrail_power(Guardrail("conversion_rate", 0.005, "down"), 0.05, 0.0, 30000), 3)
    0.878
    """
    from statsmodels.stats.power import normal_power_het

    if guardrail.metric not in ("conversion_rate", "bounce_rate", "repeat_rate"):
        return None
    sign = 1.0 if guardrail.harm == "up" else -1.0
    variant = min(max(baseline + change, 1e-12), 1 - 1e-12)
    # The Wald test's statistic is (d - sign * margin) / se with the unpooled se under both hypotheses; with
    # n variant customers per arm (n / ratio in control), se = sd / sqrt(n) for the sd below.
    sd = math.sqrt(variant * (1 - variant) + baseline * (1 - baseline) * ratio)
    distance = sign * guardrail.margin - (variant - baseline)      # how far the truth is on the safe side
    return float(normal_power_het(sign * distance, n_per_arm, alpha, std_null=sd, std_alternative=sd,
                                  alternative="larger"))
