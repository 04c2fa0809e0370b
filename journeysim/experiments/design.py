"""Designing an A/B test on a conversion rate: customers needed, days, detectable effect, assurance.

The default method is the two-proportion normal approximation with the pooled
variance under H0 and the unpooled variance under H1, the far tail of a
two-sided test ignored: the formula of R's ``power.prop.test`` (statsmodels
``samplesize_proportions_2indep_onetail`` / ``power_proportions_2indep``),
generalised to unequal arms. ``method="arcsine"`` uses Cohen's h with
statsmodels' ``NormalIndPower`` (R's ``pwr.2p2n.test``). With more than two
arms every variant is compared with control at ``alpha / (arms - 1)``
(Bonferroni, which Holm's procedure in the analysis never falls below).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    power_proportions_2indep,
    proportion_effectsize,
    samplesize_proportions_2indep_onetail,
)

from journeysim._result import Result
from journeysim._text import count, fmt, format_table, pct, points, rate, wrap
from journeysim.errors import ScenarioError, UsageError
from journeysim.experiments.sequential import SequentialPlan, plan_looks
from journeysim.whatif.prediction import Prediction, read_prediction

__all__ = ["ExperimentDesign", "design", "design_experiment", "design_from_prediction", "detection_power", "sample_size",
           "minimum_detectable_rate", "parse_traffic", "DESIGN_METHODS"]

DESIGN_METHODS = {
    "normal": "two-proportion normal approximation, pooled variance under H0 and unpooled under H1, far tail "
              "ignored (R power.prop.test; statsmodels samplesize_proportions_2indep_onetail, power_proportions_2indep)",
    "arcsine": "Cohen's h = 2 asin(sqrt(p2)) - 2 asin(sqrt(p1)) with a normal test (statsmodels "
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
        raise UsageError(f"--traffic {text!r}: write customers per time, e.g. 2000/day (units: {', '.join(_PER_DAY)})")
    return value * _PER_DAY[unit]


def _check(baseline, alpha, power, ratio, arms, method):
    for name, v in (("baseline", baseline), ("alpha", alpha), ("power", power)):
        if not 0 < v < 1:
            raise UsageError(f"{name}={v:g} must be between 0 and 1 (exclusive)")
    if not ratio > 0:
        raise UsageError(f"ratio={ratio:g} must be > 0 (customers per variant arm per control customer)")
    if arms < 2:
        raise UsageError(f"arms={arms} must be at least 2 (control and one variant)")
    if method not in DESIGN_METHODS:
        raise UsageError(f"method={method!r}: use one of {', '.join(DESIGN_METHODS)}")


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
        return float(NormalIndPower().solve_power(h, None, alpha, power, ratio=1 / ratio,
                                                  alternative="two-sided" if two_sided else "larger"))
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
    #: Interim looks (``design --looks K``) and the maximum customers per variant arm they need.
    sequential: SequentialPlan | None = None
    max_customers_per_arm: int | None = None

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
                   alternative="two-sided" if self.two_sided else "one-sided", traffic_per_day=self.traffic_per_day)
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
        return out

    def summary(self) -> str:
        rows = [("baseline conversion rate", rate(self.baseline)),
                ("lift to detect (absolute / relative)", f"{points(self.lift_abs)} / {pct(self.lift_rel)}"),
                ("alpha / power", f"{rate(self.alpha)} ({'two' if self.two_sided else 'one'}-sided) / {rate(self.power)}"),
                ("arms (variant:control ratio)", f"{self.arms} ({self.ratio:g}:1)"),
                ("customers per variant arm", fmt(self.n_per_arm)), ("customers in control", fmt(self.n_control)),
                ("customers in total", fmt(self.n_total))]
        if self.traffic_per_day is not None:
            rows.append((f"days at {count(self.traffic_per_day)} customers/day", fmt(self.days)))
        if self.customers is not None:
            rows += [(f"minimum detectable lift with {count(self.customers)} customers (abs / rel)",
                      f"{points(self.mde_abs)} / {pct(self.mde_rel)}"),
                     (f"power with {count(self.customers)} customers", rate(self.power_at_customers))]
        if self.prediction is not None:
            rows.append(("assurance (power averaged over the predicted lift)", rate(self.assurance)))
        title = "A/B test design" + (f" for {self.prediction}" if self.prediction else "")
        parts = [format_table(title, ["quantity", "value"], rows)]
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
                      spending: str = "obrien-fleming") -> ExperimentDesign:
    """Size an A/B test for ``lift`` (absolute, or relative to ``baseline``) and/or ``customers`` in total.

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
    """
    _check(baseline, alpha, power, ratio, arms, method)
    if lift is None and customers is None:
        raise UsageError("give the lift to detect (--lift) or the customers available (--customers)")
    alpha_c = alpha / (arms - 1)
    lift_abs = None if lift is None else (baseline * lift if relative else lift)
    variant = None if lift_abs is None else baseline + lift_abs
    if variant is not None and not 0 < variant < 1:
        raise UsageError(f"baseline {baseline:g} + lift {lift_abs:g} = {variant:g} is not a rate in (0, 1)")
    kw = dict(alpha=alpha_c, ratio=ratio, two_sided=two_sided, method=method)
    fields: dict[str, Any] = dict(n_per_arm=None, n_control=None, n_total=None, days=None)
    plan = None if looks is None else plan_looks(looks, alpha=alpha_c, power=power, two_sided=two_sided,
                                                 spending=spending)
    if plan is not None and variant is None:
        raise UsageError("--looks needs the lift to detect (--lift): the looks are planned for the test's power")
    if variant is not None:
        raw = sample_size(baseline, variant, power=power, **kw)
        if plan is not None:
            fields.update(sequential=plan, max_customers_per_arm=math.ceil(raw * plan.inflation - 1e-9))
        n = math.ceil(raw - 1e-9)
        n_control = math.ceil(n / ratio - 1e-9)
        total = n_control + (arms - 1) * n
        fields.update(n_per_arm=n, n_control=n_control, n_total=total,
                      days=None if traffic_per_day is None else math.ceil(total / traffic_per_day))
    if customers is not None:
        if customers < 2 * arms:
            raise UsageError(f"customers={customers} is too few for {arms} arms")
        n_var = customers / (1 / ratio + arms - 1)
        direction = 1.0 if lift_abs is None else math.copysign(1.0, lift_abs)
        mde = minimum_detectable_rate(baseline, n_var, power=power, direction=direction, **kw)
        fields.update(customers=customers, mde_abs=None if mde is None else mde - baseline,
                      mde_rel=None if mde is None else mde / baseline - 1,
                      power_at_customers=None if variant is None else float(detection_power(baseline, variant, n_var, **kw)))
        if variant is None:
            lift_abs = fields["mde_abs"]
            fields.update(n_per_arm=math.floor(n_var), n_control=math.floor(n_var / ratio), n_total=customers,
                          days=None if traffic_per_day is None else math.ceil(customers / traffic_per_day))
    text = DESIGN_METHODS[method] + (f"; alpha/{arms - 1} per comparison (Bonferroni)" if arms > 2 else "")
    if plan is not None:
        text += "; " + plan.method
    return ExperimentDesign(alpha=alpha, power=power, baseline=baseline, lift_abs=lift_abs,
                            lift_rel=None if lift_abs is None else lift_abs / baseline, method=text, arms=arms,
                            ratio=ratio, two_sided=two_sided, traffic_per_day=traffic_per_day, **fields)


def design_from_prediction(prediction: Prediction, *, baseline: float | None = None, **options) -> ExperimentDesign:
    """Size the test for a saved prediction's central lift and add its assurance.

    The assurance is the probability of a significant result in the predicted direction averaged over
    the prediction's draws, at the designed size (or at ``customers`` when given). With ``baseline``
    the predicted relative lift is applied to that rate instead of the map's.
    """
    draws = prediction.samples
    if not draws:
        raise ScenarioError(f"{prediction.source}: key 'samples': the prediction has no draws, so its assurance "
                            "cannot be computed (save it again with `journeysim predict ... --save`)")
    if baseline is None:
        base, lift = prediction.baseline, prediction.lift_abs
        base_draws, var_draws = draws["baseline"], draws["variant"]
    else:
        base, lift = baseline, baseline * prediction.lift_rel
        base_draws = np.full(len(draws["lift_rel"]), baseline)
        var_draws = baseline * (1 + draws["lift_rel"])
    if lift == 0:
        raise ScenarioError(f"{prediction.source}: the predicted lift is 0; there is nothing to design a test for")
    design = design_experiment(base, lift, **options)
    arms, ratio = design.arms, design.ratio
    n_var = design.n_per_arm if design.customers is None else design.customers / (1 / ratio + arms - 1)
    eps = 1e-12
    power = detection_power(np.clip(base_draws, eps, 1 - eps), np.clip(var_draws, eps, 1 - eps), n_var,
                       alpha=design.alpha / (arms - 1), ratio=ratio, two_sided=design.two_sided,
                       method=options.get("method", "normal"), direction=lift)
    method = design.method + "; assurance: mean power over the prediction's draws (significant in the predicted direction)"
    return dataclasses.replace(design, assurance=float(np.mean(power)), prediction=prediction.source, method=method)


def design(prediction: Prediction | str | os.PathLike | None = None, *, baseline: float | None = None,
           lift: float | None = None, relative: bool = False, alpha: float = 0.05, power: float = 0.8,
           ratio: float = 1.0, arms: int = 2, two_sided: bool = True, traffic: float | str | None = None,
           customers: int | None = None, method: str = "normal", looks: int | None = None,
           spending: str = "obrien-fleming") -> ExperimentDesign:
    """Size an A/B test: for a lift on a baseline conversion rate, or for a prediction (with its assurance).

    The Python side of ``journeysim design``: give ``baseline`` and ``lift``, or a
    ``prediction`` (its central lift is designed for, and the assurance averages the
    power over its draws).

    Parameters
    ----------
    prediction : Prediction or path of a saved prediction, optional
        A prediction (from :func:`~journeysim.whatif.prediction.predict`, or a file
        written by ``journeysim predict --save``).
    baseline : float, optional
        The control conversion rate, in (0, 1); with a prediction it replaces the map's.
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
    options = dict(alpha=alpha, power=power, ratio=ratio, arms=arms, two_sided=two_sided,
                   traffic_per_day=traffic_per_day, customers=customers, method=method, looks=looks,
                   spending=spending)
    if prediction is not None:
        if lift is not None or relative:
            raise UsageError("lift and relative do not apply to a prediction (its predicted lift is used)")
        if not isinstance(prediction, Prediction):
            prediction = read_prediction(prediction)
        return design_from_prediction(prediction, baseline=baseline, **options)
    if baseline is None:
        raise UsageError("give baseline= (the control conversion rate) and lift=, or a prediction")
    return design_experiment(baseline, lift, relative=relative, **options)
