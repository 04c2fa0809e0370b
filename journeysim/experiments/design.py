"""Designing an A/B test: customers needed, days, detectable effect, assurance.

On a conversion rate the default method is the two-proportion normal approximation with the pooled
variance under H0 and the unpooled variance under H1, the far tail of a
two-sided test ignored: the formula of R's ``power.prop.test`` (statsmodels
``samplesize_proportions_2indep_onetail`` / ``power_proportions_2indep``),
generalised to unequal arms. ``method="arcsine"`` uses Cohen's h with
statsmodels' ``NormalIndPower`` (R's ``pwr.2p2n.test``). With more than two
arms every variant is compared with control at ``alpha / (arms - 1)``
(Bonferroni, which Holm's procedure in the analysis never falls below).

On a value per customer (``sd`` given, or a prediction of ``expected_value`` or
``value_per_seed_customer``) the
test is Welch's t-test on mean value per customer, sized by
:mod:`journeysim.experiments.value_power` with the per-customer standard deviation
(for a prediction, the exact engine's, from second moments of its maps).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import brentq
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    power_proportions_2indep,
    proportion_effectsize,
    samplesize_proportions_2indep_onetail,
)

from journeysim._files import OWN_PROJECT
from journeysim._result import Result
from journeysim._text import count, fmt, format_table, money, pct, points, rate, wrap
from journeysim.errors import ScenarioError, UsageError, excerpt, whole_number
from journeysim.experiments.sequential import SequentialPlan, plan_looks
from journeysim.experiments.value_power import (
    T_TEST_METHOD,
    VALUE_METRICS,
    minimum_detectable_value,
    prediction_spreads,
    value_power,
    value_sample_size,
)
from journeysim.whatif.prediction import Prediction, read_prediction

__all__ = ["ExperimentDesign", "design", "design_experiment", "design_from_prediction", "detection_power",
           "sample_size", "minimum_detectable_rate", "parse_traffic", "DESIGN_METHODS", "DESIGN_METRICS"]

#: The metrics an A/B test measures per customer, hence the predictions ``design`` and ``check`` handle.
DESIGN_METRICS = ("conversion_rate", *VALUE_METRICS)

DESIGN_METHODS = {
    "normal": "two-proportion normal approximation, pooled variance under H0 and unpooled under H1, far tail "
              "ignored (R power.prop.test; statsmodels samplesize_proportions_2indep_onetail, power_proportions_2indep)",
    "arcsine": "Cohen's h = 2 asin(sqrt(p2)) - 2 asin(sqrt(p1)) with a normal test, far tail ignored (statsmodels "
               "proportion_effectsize, NormalIndPower; R pwr.2p2n.test)",
}
_PER_DAY = {"second": 86400.0, "minute": 1440.0, "hour": 24.0, "day": 1.0, "week": 1 / 7}


def parse_traffic(text: str) -> float:
    """Customers per day from ``"2000/day"``, ``"2,000/day"``, ``"90/hour"``, ``"14000/week"`` or a bare number
    (per day).

    Examples
    --------
    >>> parse_traffic("2000/day"), parse_traffic("100/hour"), parse_traffic("700/week"), parse_traffic("2,000/day")
    (2000.0, 2400.0, 100.0, 2000.0)
    """
    m = re.fullmatch(r"\s*(\d{1,3}(?:,\d{3})+(?:\.\d*)?|[0-9.eE+]+)\s*(?:/\s*(\w+?)s?)?\s*", str(text))
    try:
        value = float(m.group(1).replace(",", "")) if m else float("nan")
    except ValueError:
        value = float("nan")
    unit = (m.group(2) if m else None) or "day"
    if not math.isfinite(value) or value <= 0 or unit not in _PER_DAY:
        raise UsageError(f"--traffic {excerpt(text)}: write customers per time, e.g. 2000/day (units: {', '.join(_PER_DAY)})")
    return value * _PER_DAY[unit]


def _positive(v) -> bool:
    """A finite number > 0 (not a bool)."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v) \
        and v > 0


def _check(baseline, alpha, power, ratio, arms, method, value, two_sided=True, traffic_per_day=None,
           customers=None):
    for name, v in (("alpha", alpha), ("power", power)) + ((("baseline", baseline),) if not value else ()):
        if not 0 < v < 1:
            raise UsageError(f"{name}={v:g} must be between 0 and 1 (exclusive)"
                             + (" (a conversion rate; give sd for a value per customer)" if name == "baseline" else ""))
    if value and not (math.isfinite(baseline) and baseline > 0):
        raise UsageError(f"baseline={baseline:g} must be a mean value per customer > 0")
    if value and method != "normal":
        raise UsageError(f"method={excerpt(method)} sizes tests on conversion rates; a value per customer uses the t-test")
    if not 1e-6 <= ratio <= 1e6:         # NaN and inf too; past a million the arms' sizes overflow int64
        raise UsageError(f"ratio={ratio:g} must be a number from 1e-06 to 1e+06 (customers per variant arm per "
                         "control customer)")
    if not whole_number(arms) or arms < 2:
        raise UsageError(f"arms={excerpt(arms)} must be a whole number of at least 2 (control and one variant)")
    for name, v in (("traffic_per_day", traffic_per_day), ("customers", customers)):
        if v is not None and not _positive(v):
            raise UsageError(f"{name}={excerpt(v)} must be a number > 0")
    tail = alpha / (arms - 1) / (2 if two_sided else 1)
    if not power > tail:
        # a test of no effect at all is significant with probability `tail`: any size, even none, has that power
        raise UsageError(f"power={power:g} must exceed the test's false-positive rate in the lift's direction "
                         f"({tail:g}: alpha{f' / {arms - 1} arms' if arms > 2 else ''}"
                         f"{' / 2 sides' if two_sided else ''}), which a test with no effect already reaches")
    if method not in DESIGN_METHODS:
        raise UsageError(f"method={excerpt(method)}: use one of {', '.join(DESIGN_METHODS)}")


def detection_power(baseline, variant, n_variant, *, alpha=0.05, ratio=1.0, two_sided=True, method="normal",
               direction=None):
    """Probability of a significant result in the direction of ``direction`` (default: of ``variant - baseline``).

    Vectorised over ``baseline`` and ``variant``; ``n_variant`` customers per variant arm, ``n_variant / ratio``
    in control; the far tail of a two-sided test is ignored (as R's ``power.prop.test``).

    Examples
    --------
    >>> round(float(detection_power(0.5, 0.75, 50)), 7)  # R: power.prop.test(n = 50, p1 = .50, p2 = .75)
    0.7401659
    """
    baseline, variant = np.asarray(baseline, float), np.asarray(variant, float)
    sign = np.sign(direction if direction is not None else variant - baseline)
    sign = np.where(sign == 0, 1.0, sign)
    tail_alpha = alpha / 2 if two_sided else alpha
    if method == "arcsine":
        h = sign * proportion_effectsize(variant, baseline)
        return NormalIndPower().power(h, n_variant, tail_alpha, ratio=1 / ratio, alternative="larger")
    # mirror the problem so that the effect of interest is always an increase
    p_var = np.where(sign > 0, variant, 1 - variant)
    p_base = np.where(sign > 0, baseline, 1 - baseline)
    return power_proportions_2indep(p_var - p_base, p_base, n_variant, ratio=1 / ratio, alpha=tail_alpha,
                                    alternative="larger", return_results=False)


def sample_size(baseline: float, variant: float, *, alpha=0.05, power=0.8, ratio=1.0, two_sided=True,
                method="normal") -> float:
    """Customers per variant arm (not rounded) for ``power`` at ``alpha``.

    Examples
    --------
    >>> round(sample_size(0.5, 0.75, power=0.9), 4)  # R: power.prop.test(p1 = .50, p2 = .75, power = .90)
    76.7069
    """
    if variant == baseline:
        raise UsageError("the lift is 0: no test can detect it (give a non-zero --lift)")
    if method == "arcsine":
        h = abs(float(proportion_effectsize(variant, baseline)))
        # the far tail ignored, as detection_power does, so that the designed size has the designed power
        tail = alpha / 2 if two_sided else alpha
        # statsmodels' root finder searches from 2 customers per arm up (nan below): a larger h needs no more
        if NormalIndPower().power(h, 2.0, tail, ratio=1 / ratio, alternative="larger") >= power:
            return 2.0
        return float(NormalIndPower().solve_power(h, None, tail, power, ratio=1 / ratio, alternative="larger"))
    return float(samplesize_proportions_2indep_onetail(variant - baseline, baseline, power, ratio=1 / ratio,
                                                       alpha=alpha, alternative="two-sided" if two_sided else "larger"))


def minimum_detectable_rate(baseline: float, n_variant: float, *, alpha=0.05, power=0.8, ratio=1.0, two_sided=True,
                            method="normal", direction: float = 1.0) -> float | None:
    """The variant rate detectable with ``power`` (``None`` if no rate in (0, 1) is), found by brentq.

    Examples
    --------
    >>> round(minimum_detectable_rate(0.5, 50, power=0.9), 4)  # R: power.prop.test(n = 50, p1 = .5, power = .90)
    0.8026
    """
    f = lambda p: float(detection_power(baseline, p, n_variant, alpha=alpha, ratio=ratio, two_sided=two_sided,  # noqa: E731
                                   method=method)) - power
    far = 1 - 1e-12 if direction > 0 else 1e-12
    near = baseline + (1e-12 if direction > 0 else -1e-12)
    if f(far) < 0:
        return None
    return float(brentq(f, near, far, xtol=1e-12))


@dataclass(frozen=True, repr=False)
class ExperimentDesign(Result):
    """Customers and days an A/B test needs; ``n_per_arm`` is each variant arm, ``n_control`` the control arm."""

    n_per_arm: int | None
    n_control: int | None
    n_total: int | None
    days: int | None
    alpha: float
    power: float
    baseline: float
    lift_abs: float | None
    lift_rel: float | None
    method: str
    arms: int = 2
    ratio: float = 1.0
    two_sided: bool = True
    traffic_per_day: float | None = None
    customers: int | None = None
    mde_abs: float | None = None
    mde_rel: float | None = None
    power_at_customers: float | None = None
    assurance: float | None = None
    prediction: str | None = None
    #: ``conversion_rate``, or a value per customer (then ``sd`` and ``variant_sd`` are its spreads).
    metric: str = "conversion_rate"
    sd: float | None = None
    variant_sd: float | None = None
    #: Interim looks (``design --looks K``) and the maximum customers per variant arm they need.
    sequential: SequentialPlan | None = None
    max_customers_per_arm: int | None = None
    #: Each guardrail of the prediction: its predicted change and the power of its non-inferiority test.
    guardrails: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def expected_customers_per_arm(self) -> float | None:
        """Customers per variant arm a sequential test expects to use under the design's effect."""
        if self.sequential is None or self.max_customers_per_arm is None:
            return None
        return self.max_customers_per_arm * self.sequential.expected_fraction

    def look_customers(self) -> list[int]:
        """Customers per variant arm at each look (the last look is the maximum)."""
        n = self.max_customers_per_arm
        return [] if self.sequential is None or n is None else [math.ceil(f * n - 1e-9) for f in self.sequential.fractions]

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("n_per_arm", "n_total", "days", "alpha", "power", "baseline",
                                              "lift_abs", "lift_rel", "method")}
        out.update(n_control=self.n_control, arms=self.arms, ratio=self.ratio,
                   alternative="two-sided" if self.two_sided else "one-sided", traffic_per_day=self.traffic_per_day,
                   metric=self.metric)
        if self.sd is not None:
            out.update(sd=self.sd, variant_sd=self.variant_sd)
        if self.customers is not None:
            out.update(customers=self.customers, mde_abs=self.mde_abs, mde_rel=self.mde_rel,
                       power_at_customers=self.power_at_customers)
        if self.prediction is not None:
            out.update(assurance=self.assurance, prediction=self.prediction)
        if self.sequential is not None:
            plan = self.sequential
            out.update(looks=[{"fraction": f, "z": z, "nominal_p": p, "customers_per_arm": n} for f, z, p, n in
                              zip(plan.fractions, plan.z, plan.nominal_p, self.look_customers())],
                       max_customers_per_arm=self.max_customers_per_arm,
                       expected_customers_per_arm=self.expected_customers_per_arm, inflation=plan.inflation,
                       spending=plan.spending)
        if self.guardrails:
            out["guardrails"] = {k: dict(v) for k, v in self.guardrails.items()}
        return out

    def summary(self) -> str:
        if self.sd is None:
            rows = [("baseline conversion rate", rate(self.baseline)),
                    ("lift to detect (absolute / relative)", f"{points(self.lift_abs)} / {pct(self.lift_rel)}")]
        else:
            who = "seed customer" if self.metric == "value_per_seed_customer" else "customer"
            rows = [(f"baseline {self.metric} (mean per {who})", money(self.baseline)),
                    (f"sd per {who} (control / variant)", f"{money(self.sd)} / {money(self.variant_sd)}"),
                    ("lift to detect (absolute / relative)",
                     f"{money(self.lift_abs, signed=True)} / {pct(self.lift_rel)}")]
        sides = "two" if self.two_sided else "one"
        rows += [("alpha / power", f"{rate(self.alpha)} ({sides}-sided) / {rate(self.power)}"),
                 ("arms (variant:control ratio)", f"{self.arms} ({self.ratio:g}:1)"),
                 ("customers per variant arm", fmt(self.n_per_arm)), ("customers in control", fmt(self.n_control)),
                 ("customers in total", fmt(self.n_total))]
        if self.traffic_per_day is not None:
            rows.append((f"days at {count(self.traffic_per_day)} customers/day", fmt(self.days)))
        if self.customers is not None:
            rows += [(f"minimum detectable lift with {count(self.customers)} customers (abs / rel)",
                      f"{points(self.mde_abs) if self.sd is None else money(self.mde_abs, signed=True)} / "
                      f"{pct(self.mde_rel)}"),
                     (f"power with {count(self.customers)} customers", rate(self.power_at_customers))]
        if self.prediction is not None:
            rows.append(("assurance (power averaged over the predicted lift)", rate(self.assurance)))
        title = "A/B test design" + (f" for {self.prediction}" if self.prediction else "")
        parts = [format_table(title, ["quantity", "value"], rows)]
        if self.customers is not None and self.mde_abs is None:
            bound = "0%" if self.lift_abs is not None and self.lift_abs < 0 else "100%"
            parts.append(wrap(f"no lift is detectable with {count(self.customers)} customers at power "
                              f"{rate(self.power)}: even a variant rate of {bound} falls short"))
        if self.sequential is not None:
            plan = self.sequential
            looks = [(str(k + 1), fmt(f), fmt(z), fmt(p), fmt(n)) for k, (f, z, p, n) in
                     enumerate(zip(plan.fractions, plan.z, plan.nominal_p, self.look_customers()))]
            parts.append(format_table(f"interim looks ({plan.spending} spending)",
                                      ["look", "fraction", "z boundary", "nominal p", "customers per arm"], looks))
            parts.append(format_table("sequential cost", ["quantity", "value"], [
                ("maximum customers per variant arm", fmt(self.max_customers_per_arm)),
                ("expected customers per variant arm (at the design's effect)", count(self.expected_customers_per_arm)),
                ("inflation over the fixed design", fmt(plan.inflation))]))
        if self.guardrails:
            parts.append(format_table("guardrails (non-inferiority at the designed size)",
                                      ["metric", "harm allowed", "predicted change", "power"],
                                      [(m, f"{g['harm']} by {fmt(g['margin'])}", f"{g['predicted_change']:+.4g}",
                                        "- (not a rate of customers)" if g["power"] is None else rate(g["power"]))
                                       for m, g in self.guardrails.items()]))
        return "\n".join(parts) + "\n" + wrap(f"method: {self.method}")

    def _headline(self) -> str:
        lift = "-" if self.lift_rel is None else f"{self.lift_rel:+.2%}"
        days = "" if self.days is None else f", {self.days} days"
        return f"baseline {fmt(self.baseline)}, lift {lift}: {fmt(self.n_total)} customers in total{days}"

    def _table(self):
        """One row: every quantity of :meth:`to_dict` as a column."""
        d = self.to_dict()
        return list(d), [tuple(d.values())]


def design_experiment(baseline: float, lift: float | None, *, relative: bool = False, alpha: float = 0.05,
                      power: float = 0.8, ratio: float = 1.0, arms: int = 2, two_sided: bool = True,
                      traffic_per_day: float | None = None, customers: int | None = None,
                      method: str = "normal", looks: int | None = None,
                      spending: str = "obrien-fleming", sd: float | None = None, variant_sd: float | None = None,
                      metric: str | None = None) -> ExperimentDesign:
    """Size an A/B test for ``lift`` (absolute, or relative to ``baseline``) and/or ``customers`` in total.

    ``baseline`` is a conversion rate, or with ``sd`` (the standard deviation of value per customer in
    control; ``variant_sd`` in the variant, default the same) a mean value per customer, tested by
    Welch's t-test (``metric`` then names it, default ``expected_value``).

    Examples
    --------
    >>> d = design_experiment(0.05, 0.10, relative=True, traffic_per_day=2000)
    >>> d.n_per_arm, d.n_total, d.days
    (31234, 62468, 32)

    With five interim looks (O'Brien-Fleming-type spending) the test may stop early, at a price in its
    maximum size:

    >>> s = design_experiment(0.05, 0.10, relative=True, looks=5)
    >>> s.max_customers_per_arm, round(s.sequential.inflation, 4), [round(z, 3) for z in s.sequential.z]
    (32006, 1.0247, [4.877, 3.357, 2.68, 2.29, 2.031])

    Revenue per customer of 40 (sd 120): +10 % needs about 2 (1.96 + 0.84)^2 (120 / 4)^2 customers per arm.

    >>> v = design_experiment(40.0, 0.10, relative=True, sd=120.0)
    >>> v.n_per_arm, v.metric
    (14129, 'expected_value')
    """
    value = sd is not None
    if variant_sd is not None and not value:
        raise UsageError("variant_sd needs sd (the control arm's standard deviation of value per customer)")
    _check(baseline, alpha, power, ratio, arms, method, value, two_sided, traffic_per_day, customers)
    if lift is None and customers is None:
        raise UsageError("give the lift to detect (--lift) or the customers available (--customers)")
    alpha_c = alpha / (arms - 1)
    lift_abs = None if lift is None else (baseline * lift if relative else lift)
    variant = None if lift_abs is None else baseline + lift_abs
    if variant is not None and not value and not 0 < variant < 1:
        raise UsageError(f"baseline {baseline:g} + lift {lift_abs:g} = {variant:g} is not a rate in (0, 1)")
    if variant is not None and value and variant < 0:
        raise UsageError(f"baseline {baseline:g} + lift {lift_abs:g} = {variant:g} is not a mean value >= 0")
    if value:
        spread = dict(sd=sd, variant_sd=variant_sd, alpha=alpha_c, ratio=ratio, two_sided=two_sided)
        size = lambda: value_sample_size(lift_abs, power=power, **spread)  # noqa: E731
        power_at = lambda n: float(value_power(lift_abs, n, **spread))  # noqa: E731
        mde_of = lambda n, sign: sign * minimum_detectable_value(n, power=power, **spread)  # noqa: E731
    else:
        kw = dict(alpha=alpha_c, ratio=ratio, two_sided=two_sided, method=method)
        size = lambda: sample_size(baseline, variant, power=power, **kw)  # noqa: E731
        power_at = lambda n: float(detection_power(baseline, variant, n, **kw))  # noqa: E731

        def mde_of(n, sign):
            rate = minimum_detectable_rate(baseline, n, power=power, direction=sign, **kw)
            return None if rate is None else rate - baseline
    fields: dict[str, Any] = dict(n_per_arm=None, n_control=None, n_total=None, days=None)
    plan = None if looks is None else plan_looks(looks, alpha=alpha_c, power=power, two_sided=two_sided,
                                                 spending=spending)
    if plan is not None and variant is None:
        raise UsageError("--looks needs the lift to detect (--lift): the looks are planned for the test's power")
    if variant is not None:
        raw = size()
        if plan is not None:
            fields.update(sequential=plan, max_customers_per_arm=math.ceil(raw * plan.inflation - 1e-9))
        n = math.ceil(raw - 1e-9)
        n_control = math.ceil(n / ratio - 1e-9)
        total = n_control + (arms - 1) * n
        fields.update(n_per_arm=n, n_control=n_control, n_total=total,
                      days=None if traffic_per_day is None else math.ceil(total / traffic_per_day))
    if customers is not None:
        n_var = customers / (1 / ratio + arms - 1)
        if min(n_var, n_var / ratio) < 2 - 1e-9:   # 2 customers in each arm at least: a test needs a spread
            raise UsageError(f"customers={customers} is too few for {arms} arms at ratio {ratio:g} (an arm gets "
                             f"{min(n_var, n_var / ratio):.3g} customers; every arm needs at least 2)")
        mde = mde_of(n_var, 1.0 if lift_abs is None else math.copysign(1.0, lift_abs))
        fields.update(customers=customers, mde_abs=mde, mde_rel=None if mde is None else mde / baseline,
                      power_at_customers=None if variant is None else power_at(n_var))
        if variant is None:
            lift_abs = fields["mde_abs"]
            fields.update(n_per_arm=math.floor(n_var), n_control=math.floor(n_var / ratio), n_total=customers,
                          days=None if traffic_per_day is None else math.ceil(customers / traffic_per_day))
    text = (T_TEST_METHOD if value else DESIGN_METHODS[method]) + (
        f"; alpha/{arms - 1} per comparison (Bonferroni)" if arms > 2 else "")
    if plan is not None:
        text += "; " + plan.method
    if value:
        fields.update(metric=metric or VALUE_METRICS[0], sd=sd, variant_sd=sd if variant_sd is None else variant_sd)
    return ExperimentDesign(alpha=alpha, power=power, baseline=baseline, lift_abs=lift_abs,
                            lift_rel=None if lift_abs is None else lift_abs / baseline, method=text, arms=arms,
                            ratio=ratio, two_sided=two_sided, traffic_per_day=traffic_per_day, **fields)


def design_from_prediction(prediction: Prediction, *, baseline: float | None = None, sd: float | None = None,
                           hypothesis: str | None = None, within: Any = OWN_PROJECT, **options) -> ExperimentDesign:
    """Size the test for a saved prediction's central lift and add its assurance.

    The assurance is the probability of a significant result in the predicted direction averaged over
    the prediction's draws, at the designed size (or at ``customers`` when given). With ``baseline``
    the predicted relative lift is applied to that rate (or mean value) instead of the map's.

    A prediction of ``expected_value`` (or ``value_per_seed_customer``: each customer credited with the
    value of their referral tree) is sized for Welch's t-test on value per customer; its spreads
    are the exact per-customer standard deviations of the hypothesis's maps (the ``hypothesis`` file,
    default the prediction's ``hypothesis_file``), scaled to ``baseline`` when it is given; ``sd``
    replaces the control's (the variant's keeps the map's ratio to it). Other metrics are not measured
    per customer in an A/B test and are refused. ``within``: where the prediction's ``hypothesis_file``
    must lie (see :func:`~journeysim.whatif.prediction.hypothesis_path`).
    """
    if prediction.metric not in DESIGN_METRICS:
        raise ScenarioError(f"{prediction.source}: metric {excerpt(prediction.metric)} is not measured per customer in an "
                            "A/B test; design sizes tests for conversion_rate (two proportions), expected_value and "
                            "value_per_seed_customer (mean value per customer, t-test)")
    value = prediction.metric in VALUE_METRICS
    if not value and (sd is not None or hypothesis is not None):
        raise UsageError(f"{prediction.source}: sd and hypothesis apply to value predictions "
                         f"({', '.join(VALUE_METRICS)}), not to {prediction.metric}")
    draws = prediction.samples
    if not draws:
        raise ScenarioError(f"{prediction.source}: key 'samples': the prediction has no draws, so its assurance "
                            "cannot be computed (save it again with `journeysim predict ... --save`)")
    if baseline is None:
        base, lift = prediction.baseline, prediction.lift_abs
        base_draws, var_draws = draws["baseline"], draws["variant"]
    else:
        if prediction.lift_rel is None:
            raise ScenarioError(f"{prediction.source}: the baseline is 0, so its relative lift cannot be moved to "
                                f"baseline={baseline:g}")
        base, lift = baseline, baseline * prediction.lift_rel
        base_draws = np.full(len(draws["lift_rel"]), baseline)
        var_draws = baseline * (1 + draws["lift_rel"])
    if lift == 0:
        raise ScenarioError(f"{prediction.source}: the predicted lift is 0; there is nothing to design a test for")
    if not value:
        design = design_experiment(base, lift, **options)
        arms, ratio = design.arms, design.ratio
        n_var = design.n_per_arm if design.customers is None else design.customers / (1 / ratio + arms - 1)
        eps = 1e-12
        power = detection_power(np.clip(base_draws, eps, 1 - eps), np.clip(var_draws, eps, 1 - eps), n_var,
                                alpha=design.alpha / (arms - 1), ratio=ratio, two_sided=design.two_sided,
                                method=options.get("method", "normal"), direction=lift)
        how = ""
    else:
        sd_c, sd_v, how = prediction_spreads(prediction, hypothesis, within=within)
        variant_per_control = sd_v / sd_c
        sd_c = sd if sd is not None else sd_c * base / prediction.baseline
        sd_v = sd_c * variant_per_control
        if sd is not None:
            how = f"control's per-customer sd given ({sd:g}), the variant's in the ratio of the maps' ({how})"
        design = design_experiment(base, lift, sd=sd_c, variant_sd=sd_v, metric=prediction.metric, **options)
        arms, ratio = design.arms, design.ratio
        n_var = design.n_per_arm if design.customers is None else design.customers / (1 / ratio + arms - 1)
        power = value_power(var_draws - base_draws, n_var, sd=sd_c, variant_sd=sd_v, alpha=design.alpha / (arms - 1),
                            ratio=ratio, two_sided=design.two_sided, direction=lift)
        how = "; " + how + " (the same spreads for every draw)"
    method = (design.method + "; assurance: mean power over the prediction's draws (significant in the predicted "
              "direction)" + how)
    guardrails = _guardrail_powers(prediction, n_var, design.alpha, ratio)
    if guardrails:
        method += ("; guardrails: power of each one-sided non-inferiority test (normal approximation, unpooled "
                   "variance at the predicted rates; statsmodels normal_power_het) at the designed size and the "
                   "predicted change, rates of customers only")
    return dataclasses.replace(design, assurance=float(np.mean(power)), prediction=prediction.source, method=method,
                               guardrails=guardrails)


def _guardrail_powers(prediction: Prediction, n_per_arm: float, alpha: float, ratio: float) -> dict:
    from journeysim.experiments.guardrails import guardrail_power
    from journeysim.whatif.guardrails import Guardrail

    out = {}
    for metric, g in prediction.guardrails.items():
        rail = Guardrail(metric, float(g["margin"]), g["harm"])
        power = guardrail_power(rail, float(g["baseline"]), float(g["change"]), n_per_arm, alpha=alpha, ratio=ratio)
        out[metric] = {"margin": rail.margin, "harm": rail.harm, "predicted_change": float(g["change"]),
                       "power": power}
    return out


def design(prediction: Prediction | str | os.PathLike | None = None, *, baseline: float | None = None,
           lift: float | None = None, relative: bool = False, alpha: float = 0.05, power: float = 0.8,
           ratio: float = 1.0, arms: int = 2, two_sided: bool = True, traffic: float | str | None = None,
           customers: int | None = None, method: str = "normal", looks: int | None = None,
           spending: str = "obrien-fleming", sd: float | None = None,
           hypothesis: str | os.PathLike | None = None) -> ExperimentDesign:
    """Size an A/B test: for a lift on a baseline conversion rate or mean value, or for a prediction (with its
    assurance).

    The Python side of ``journeysim design``: give ``baseline`` and ``lift``, or a
    ``prediction`` (its central lift is designed for, and the assurance averages the
    power over its draws).

    Parameters
    ----------
    prediction : Prediction or path of a saved prediction, optional
        A prediction (from :func:`~journeysim.whatif.prediction.predict`, or a file
        written by ``journeysim predict --save``).
    baseline : float, optional
        The control conversion rate, in (0, 1), or with ``sd`` the mean value per customer; with a
        prediction it replaces the map's.
    lift : float, optional
        The effect to detect: absolute, or relative to ``baseline`` when ``relative``.
    relative : bool
        ``lift`` is relative (0.10 = +10 %).
    alpha, power : float
        Significance level and power, in (0, 1).
    ratio : float
        Customers in each variant arm per control customer.
    arms : int
        Arms including control; alpha is split over the variants (Bonferroni).
    two_sided : bool
        A two-sided test (else one-sided in the lift's direction).
    traffic : float or str, optional
        Customers entering the test per day, or text such as ``"2000/day"``, ``"90/hour"``.
    customers : int, optional
        Customers available in total: report the minimum detectable effect.
    method : {"normal", "arcsine"}
        ``normal``: R's ``power.prop.test`` formula; ``arcsine``: Cohen's h.
    looks : int, optional
        A group-sequential test with this many equally spaced looks (>= 2).
    spending : {"obrien-fleming", "pocock"}
        With ``looks``: how the looks spend alpha (Lan-DeMets).
    sd : float, optional
        The standard deviation of value per customer in control: the test is Welch's t-test on mean
        value. With an ``expected_value`` prediction it replaces the spread of the maps.
    hypothesis : path, optional
        With an ``expected_value`` prediction: the hypothesis file whose maps give the per-customer
        spread (default: the prediction's ``hypothesis_file``).

    Returns
    -------
    ExperimentDesign

    Examples
    --------
    >>> d = design(baseline=0.05, lift=0.10, relative=True, traffic="2000/day")
    >>> d.n_per_arm, d.days
    (31234, 32)
    >>> round(design("experiments/live-chat.prediction.json").assurance, 3)
    0.793
    """
    traffic_per_day = parse_traffic(traffic) if isinstance(traffic, str) else traffic
    if traffic_per_day is not None and not _positive(traffic_per_day):   # named as the caller gave it
        raise UsageError(f"traffic={excerpt(traffic)} must be customers per day > 0 (a number, or text such as "
                         "'2000/day')")
    options = dict(alpha=alpha, power=power, ratio=ratio, arms=arms, two_sided=two_sided,
                   traffic_per_day=traffic_per_day, customers=customers, method=method, looks=looks,
                   spending=spending)
    if prediction is not None:
        if lift is not None or relative:
            raise UsageError("lift and relative do not apply to a prediction (its predicted lift is used)")
        if not isinstance(prediction, Prediction):
            prediction = read_prediction(prediction)
        return design_from_prediction(prediction, baseline=baseline, sd=sd, hypothesis=hypothesis, **options)
    if hypothesis is not None:
        raise UsageError("hypothesis applies to a prediction (it names the prediction's hypothesis file)")
    if baseline is None:
        raise UsageError("give baseline= (the control conversion rate, or with sd= the mean value per customer) "
                         "and lift=, or a prediction")
    return design_experiment(baseline, lift, relative=relative, sd=sd, **options)
