"""Group sequential designs: interim looks at a running A/B test with Lan-DeMets alpha spending.

A test planned for ``K`` equally spaced looks spends its type I error over the looks with a spending
function ``a(t)`` of the information fraction ``t`` (Lan & DeMets 1983):

* O'Brien-Fleming type: ``a(t) = 2 - 2 Phi(z_{1 - a/2} / sqrt(t))`` (spends almost nothing early);
* Pocock type: ``a(t) = a ln(1 + (e - 1) t)`` (spends evenly).

The boundary ``b_k`` of look ``k`` makes the probability of first crossing at look ``k`` under H0 equal to
``a(t_k) - a(t_{k-1})``. Those probabilities are integrals over the continuation regions of the earlier
looks, computed by the recursive numerical integration of Armitage, McPherson and Rowe (1969) on the
Brownian-motion scale ``W(t) = Z(t) sqrt(t)``; a two-sided test stops at ``|Z| >= b`` and spends ``alpha / 2``
on each side. The maximum sample size is the fixed design's times the inflation factor
``(eta / eta_fixed)^2``, where ``eta`` is the drift at which the sequential test has the planned power.

Examples
--------
>>> plan = plan_looks(5, alpha=0.05)   # two-sided 0.05 spends 0.025 per side
>>> [round(z, 3) for z in plan.z]      # Jennison & Turnbull (2000), table 7.6; gsDesign sfLDOF
[4.877, 3.357, 2.68, 2.29, 2.031]
>>> round(plan.inflation, 4), round(plan.expected_fraction, 3)   # of the maximum, under the effect
(1.0247, 0.804)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from journeysim._result import Result
from journeysim.errors import UsageError, excerpt, whole_number

__all__ = ["SPENDING", "SequentialPlan", "InterimLook", "plan_looks", "interim_look", "crossing_probabilities",
           "spent_alpha", "plan_from_design"]

#: Spending functions ``a(t, alpha)`` for a one-sided level ``alpha``, by their command-line names.
SPENDING = {
    # 2 - 2 Phi(x) as 2 sf(x): Phi(x) rounds to 1 past x ~ 8.3, and an early look of a long plan spent 0 (its
    # boundary came out as 37.05, the bisection's floor, instead of 10.02 for the first of 20 looks)
    "obrien-fleming": lambda t, a: 2.0 * stats.norm.sf(stats.norm.isf(a / 2.0) / np.sqrt(t)),
    "pocock": lambda t, a: a * np.log1p((math.e - 1.0) * np.asarray(t, dtype=float)),
}
_SPENDING_NAMES = {"obrien-fleming": "O'Brien-Fleming-type", "pocock": "Pocock-type"}
#: Simpson points per continuation region: boundaries agree with published tables to 1e-4.
_GRID = 401
#: The lower edge of a one-sided test's continuation region, in standard deviations.
_FAR = 12.0


def spent_alpha(spending: str, fractions, alpha: float) -> np.ndarray:
    """Cumulative one-sided type I error spent by each information fraction.

    Examples
    --------
    >>> [round(float(a), 6) for a in spent_alpha("pocock", [0.5, 1.0], 0.025)]
    [0.015503, 0.025]
    """
    return np.asarray(SPENDING[spending](np.asarray(fractions, dtype=float), alpha), dtype=float)


def _weights(grid: np.ndarray) -> np.ndarray:
    """Simpson's rule on an odd number of equally spaced points."""
    w = np.ones(grid.size)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return w * (grid[1] - grid[0]) / 3.0


def _region(b: float, two_sided: bool, shift: float) -> np.ndarray:
    low = -b if two_sided else min(-b, shift - _FAR)
    return np.linspace(low, b, _GRID)


def _looks(t: np.ndarray, drift: float, two_sided: bool, boundary):
    """Walk the looks: ``boundary(k, tail)`` gives look k's boundary from the function ``tail(b)`` = P(first
    crossing above b at look k); yields ``(b, upper, lower)`` per look."""
    fw = grid = None
    for k in range(t.size):
        if k == 0:
            sd = math.sqrt(t[0])
            mean, scale = np.array([drift * sd]), 1.0
            mass = np.ones(1)
        else:
            d = t[k] - t[k - 1]
            mean = (grid * math.sqrt(t[k - 1]) + drift * d) / math.sqrt(d)   # of W(t_k) / sqrt(d), given Z_{k-1}
            scale, mass = math.sqrt(t[k] / d), fw
        b = boundary(k, lambda b, mean=mean, scale=scale, mass=mass: float(mass @ stats.norm.sf(b * scale - mean)))
        upper = float(mass @ stats.norm.sf(b * scale - mean))
        lower = float(mass @ stats.norm.cdf(-b * scale - mean)) if two_sided else 0.0
        yield b, upper, lower
        if k + 1 < t.size:
            new = _region(b, two_sided, drift * math.sqrt(t[k]))
            dens = mass @ stats.norm.pdf(new[None, :] * scale - mean[:, None]) * scale
            grid, fw = new, dens * _weights(new)


def crossing_probabilities(z: np.ndarray, fractions: np.ndarray, drift: float = 0.0, *,
                           two_sided: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of first crossing the upper and the lower boundary at each look.

    ``drift`` is ``eta``: the mean of ``Z`` at the final look (``E Z(t) = eta sqrt(t)``). A one-sided test
    has no lower boundary (its lower probabilities are 0).

    Examples
    --------
    >>> up, low = crossing_probabilities(np.array([2.0, 2.0]), np.array([0.5, 1.0]))
    >>> round(float(up[0]), 6) == round(float(stats.norm.sf(2.0)), 6), round(float(up.sum() + low.sum()), 4)
    (True, 0.076)
    """
    z, t = np.asarray(z, dtype=float), np.asarray(fractions, dtype=float)
    out = list(_looks(t, drift, two_sided, lambda k, tail: z[k]))
    return np.array([u for _, u, _ in out]), np.array([lo for _, _, lo in out])


def _boundaries(fractions: np.ndarray, alpha_side: float, spending: str, two_sided: bool) -> np.ndarray:
    spend = np.diff(np.concatenate([[0.0], spent_alpha(spending, fractions, alpha_side)]))

    # An early look may spend (almost) nothing: its boundary is then far out, but finite, so the
    # continuation region stays a grid.
    spend = np.maximum(spend, 1e-300)

    def boundary(k, tail):
        return optimize.brentq(lambda b: tail(b) - spend[k], 0.0, 40.0, xtol=1e-10)

    return np.array([b for b, _, _ in _looks(fractions, 0.0, two_sided, boundary)])


@dataclass(frozen=True, repr=False)
class SequentialPlan(Result):
    """Boundaries of ``K`` interim looks and what they cost in customers.

    Attributes
    ----------
    fractions : information fraction of each look (``k / K``).
    z : the boundary of each look: stop when the test's z statistic reaches it (``|z|`` when two-sided).
    nominal_p : the p-value that crosses the boundary at that look.
    inflation : maximum sample size over the fixed design's, for the same power.
    expected_fraction : expected sample size under the design's effect, as a fraction of the maximum.
    expected_fraction_null : the same when there is no effect.
    """

    spending: str
    alpha: float
    power: float
    two_sided: bool
    fractions: tuple[float, ...]
    z: tuple[float, ...]
    nominal_p: tuple[float, ...]
    inflation: float
    expected_fraction: float
    expected_fraction_null: float

    @property
    def looks(self) -> int:
        return len(self.fractions)

    @property
    def method(self) -> str:
        side = "two-sided, alpha/2 spent on each side" if self.two_sided else "one-sided"
        return (f"{self.looks} equally spaced looks, Lan-DeMets {_SPENDING_NAMES[self.spending]} alpha spending "
                f"({side}); boundaries by the recursive numerical integration of Armitage, McPherson and Rowe; "
                f"maximum sample size = fixed design x inflation {self.inflation:.4f}")

    def decide(self, z: float, look: int) -> str:
        """``"stop"`` when ``z`` crosses look ``look``'s boundary (1-based), else ``"continue"``; at the last
        look a result that does not cross is final: ``"stop: no effect shown"``.

        Examples
        --------
        >>> plan = plan_looks(3)
        >>> [round(z, 2) for z in plan.z]
        [3.71, 2.51, 1.99]
        >>> plan.decide(2.6, 1), plan.decide(2.6, 2), plan.decide(-2.6, 2), plan.decide(1.0, 3)
        ('continue', 'stop', 'stop', 'stop: no effect shown')
        """
        if not 1 <= look <= self.looks:
            raise UsageError(f"look {look} is not one of the plan's looks 1 to {self.looks}")
        crossed = (abs(z) if self.two_sided else z) >= self.z[look - 1]
        if crossed:
            return "stop"
        return "stop: no effect shown" if look == self.looks else "continue"

    def summary(self) -> str:
        from journeysim._text import fmt, format_table

        rows = [(str(k + 1), fmt(f), fmt(z), fmt(p)) for k, (f, z, p) in
                enumerate(zip(self.fractions, self.z, self.nominal_p))]
        table = format_table(f"{self.looks} looks ({self.spending} spending)",
                             ["look", "fraction", "z boundary", "nominal p"], rows)
        return (f"{table}\ninflation over the fixed design: {fmt(self.inflation)}; expected size at the effect: "
                f"{fmt(self.expected_fraction)} of the maximum\nmethod: {self.method}")

    def _headline(self) -> str:
        return f"looks={self.looks} spending={self.spending} inflation={self.inflation:.4f}"

    def _table(self):
        return ["look", "fraction", "z", "nominal_p"], [
            (k + 1, f, z, p) for k, (f, z, p) in enumerate(zip(self.fractions, self.z, self.nominal_p))]

    def to_dict(self) -> dict[str, Any]:
        return {"spending": self.spending, "looks": self.looks, "alpha": self.alpha, "power": self.power,
                "alternative": "two-sided" if self.two_sided else "one-sided",
                "fractions": list(self.fractions), "z": list(self.z), "nominal_p": list(self.nominal_p),
                "inflation": self.inflation, "expected_fraction": self.expected_fraction,
                "expected_fraction_null": self.expected_fraction_null, "method": self.method}


def _expected_fraction(plan_z: np.ndarray, t: np.ndarray, drift: float, two_sided: bool) -> float:
    up, low = crossing_probabilities(plan_z, t, drift, two_sided=two_sided)
    stop = up + low
    return float(np.sum(t[:-1] * stop[:-1]) + (1.0 - np.sum(stop[:-1])))


def plan_looks(looks: int, *, alpha: float = 0.05, power: float = 0.8, two_sided: bool = True,
               spending: str = "obrien-fleming") -> SequentialPlan:
    """Plan ``looks`` equally spaced looks with Lan-DeMets alpha spending.

    Parameters
    ----------
    looks : int
        Number of analyses, the last one included (2 to 20).
    alpha : float
        Type I error of the whole test (two-sided unless ``two_sided`` is false).
    power : float
        Power the maximum sample size must keep at the design's effect.
    two_sided : bool
        Stop for an effect in either direction (``alpha / 2`` spent on each side).
    spending : {"obrien-fleming", "pocock"}
        The spending function.

    Returns
    -------
    SequentialPlan

    Examples
    --------
    >>> p = plan_looks(5, spending="pocock")
    >>> [round(z, 3) for z in p.z]          # gsDesign sfLDPocock, alpha = 0.025 one-sided
    [2.438, 2.427, 2.41, 2.397, 2.386]
    """
    if not whole_number(looks) or not 2 <= looks <= 20:
        raise UsageError(f"looks={excerpt(looks)} must be a whole number from 2 to 20 (the final analysis included)")
    if spending not in SPENDING:
        raise UsageError(f"spending={excerpt(spending)}: use one of {', '.join(SPENDING)}")
    for name, v in (("alpha", alpha), ("power", power)):
        if not 0 < v < 1:
            raise UsageError(f"{name}={v:g} must be between 0 and 1 (exclusive)")
    alpha_side = alpha / 2 if two_sided else alpha
    if not power > alpha_side:   # no effect at all already has that power: no drift solves for it
        raise UsageError(f"power={power:g} must exceed the false-positive rate in the effect's direction "
                         f"({alpha_side:g})")
    t = np.arange(1, looks + 1) / looks
    z = _boundaries(t, alpha_side, spending, two_sided)
    fixed = stats.norm.isf(alpha_side) + stats.norm.isf(1 - power)
    drift = optimize.brentq(lambda eta: crossing_probabilities(z, t, eta, two_sided=two_sided)[0].sum() - power,
                            fixed, 3 * fixed, xtol=1e-10)
    nominal = [float((2 if two_sided else 1) * stats.norm.sf(b)) for b in z]
    return SequentialPlan(spending=spending, alpha=alpha, power=power, two_sided=two_sided,
                          fractions=tuple(float(x) for x in t), z=tuple(float(b) for b in z),
                          nominal_p=tuple(nominal), inflation=float((drift / fixed) ** 2),
                          expected_fraction=_expected_fraction(z, t, drift, two_sided),
                          expected_fraction_null=_expected_fraction(z, t, 0.0, two_sided))


@dataclass(frozen=True, repr=False)
class InterimLook(Result):
    """Look ``look`` of ``of`` at a running test: each variant's z statistic against the look's boundary.

    ``decisions`` maps each variant to ``"stop"`` (the boundary is crossed: the effect is shown),
    ``"continue"``, or at the last look ``"stop: no effect shown"``.
    """

    look: int
    of: int
    boundary: float
    nominal_p: float
    z: dict[str, float]
    decisions: dict[str, str]
    plan: SequentialPlan

    @property
    def method(self) -> str:
        return (f"look {self.look} of {self.of}: two-proportion z statistic (pooled variance, statsmodels "
                f"proportions_ztest) against the boundary of the plan: {self.plan.method}")

    def to_dict(self) -> dict[str, Any]:
        return {"look": self.look, "of": self.of, "spending": self.plan.spending, "boundary": self.boundary,
                "nominal_p": self.nominal_p, "z": dict(self.z), "decisions": dict(self.decisions),
                "method": self.method}

    def summary(self) -> str:
        from journeysim._text import fmt, format_table

        rows = [(name, fmt(self.z[name]), fmt(self.boundary), decision) for name, decision in self.decisions.items()]
        title = f"interim look {self.look} of {self.of} ({self.plan.spending} spending, nominal p {fmt(self.nominal_p)})"
        return format_table(title, ["variant", "z", "boundary", "decision"], rows) + f"\nmethod: {self.method}"

    def _headline(self) -> str:
        return f"look={self.look}/{self.of} " + " ".join(f"{k}={v}" for k, v in self.decisions.items())

    def _table(self):
        return ["variant", "z", "boundary", "decision"], [
            (name, self.z[name], self.boundary, d) for name, d in self.decisions.items()]


def interim_look(analysis, look: int, of: int | None = None, *, spending: str = "obrien-fleming",
                 plan: SequentialPlan | None = None) -> InterimLook:
    """Apply the boundary of look ``look`` of an ``of``-look plan to an analysed A/B result.

    Parameters
    ----------
    analysis : ExperimentAnalysis
        The result so far (:func:`journeysim.experiments.analysis.analyze_experiment`); its ``alpha`` is the
        whole test's, split over the variants (Bonferroni) as ``design`` does.
    look, of : int
        This look (1-based) and the planned number of looks.
    spending : {"obrien-fleming", "pocock"}
    plan : SequentialPlan, optional
        A plan read from a design file instead of ``of`` and ``spending``.

    Returns
    -------
    InterimLook

    Examples
    --------
    >>> from journeysim.experiments import Arm, ExperimentData, analyze_experiment
    >>> ab = ExperimentData("ab.csv", "aggregated", {"control": Arm("control", 8000, 400),
    ...                                              "chat": Arm("chat", 8000, 480)})
    >>> r = interim_look(analyze_experiment(ab), 2, 5)
    >>> round(r.z["chat"], 3), round(r.boundary, 3), r.decisions["chat"]
    (2.774, 3.357, 'continue')
    """
    from statsmodels.stats.proportion import proportions_ztest

    variants = [name for name in analysis.variants if name != analysis.control]
    if plan is None:
        if of is None:
            raise UsageError("give the planned number of looks (--of K) or the design file (--design)")
        plan = plan_looks(of, alpha=analysis.alpha / max(1, len(variants)), spending=spending)
    if not 1 <= look <= plan.looks:
        raise UsageError(f"--look {look} is not one of the plan's looks 1 to {plan.looks}")
    control = analysis.variants[analysis.control]
    z = {}
    for name in variants:
        arm = analysis.variants[name]
        with np.errstate(invalid="ignore", divide="ignore"):   # no conversions at all, or all: z is 0/0
            stat = proportions_ztest([arm.conversions, control.conversions], [arm.customers, control.customers])[0]
        # 0/0 only when both arms sit at the same rate, 0 or 1: no difference seen (analyze's p-value is 1 there)
        z[name] = 0.0 if math.isnan(stat) else float(stat)
    return InterimLook(look=look, of=plan.looks, boundary=plan.z[look - 1], nominal_p=plan.nominal_p[look - 1],
                       z=z, decisions={name: plan.decide(z[name], look) for name in variants}, plan=plan)


def plan_from_design(data: Any, source: str) -> SequentialPlan:
    """The plan of a design file written by ``journeysim design --looks K --json``.

    Examples
    --------
    >>> d = plan_looks(3).to_dict()
    >>> plan_from_design({"looks": [{"fraction": f, "z": z, "nominal_p": p} for f, z, p in
    ...                   zip(d["fractions"], d["z"], d["nominal_p"])], "spending": "pocock", "alpha": 0.05,
    ...                   "alternative": "two-sided", "inflation": 1.1}, "d.json").z == plan_looks(3).z
    True
    """
    from journeysim.errors import ScenarioError, excerpt

    looks = data.get("looks") if isinstance(data, dict) else None
    if not isinstance(looks, list) or len(looks) < 2 or not all(isinstance(x, dict) for x in looks):
        raise ScenarioError(f"{source}: key 'looks': missing; write the design with `journeysim design ... --looks K "
                            "--json > FILE`")
    try:
        fractions = tuple(float(x["fraction"]) for x in looks)
        z = tuple(float(x["z"]) for x in looks)
        nominal = tuple(float(x["nominal_p"]) for x in looks)
    except (KeyError, TypeError, ValueError):
        raise ScenarioError(f"{source}: key 'looks': each look needs numbers 'fraction', 'z' and 'nominal_p'") from None
    if list(fractions) != sorted(fractions) or not all(0 < f <= 1 for f in fractions) or fractions[-1] != 1:
        raise ScenarioError(f"{source}: key 'looks': fractions {list(fractions)} must rise to 1")
    spending = data.get("spending", "obrien-fleming")
    if spending not in SPENDING:
        raise ScenarioError(f"{source}: key 'spending': {excerpt(spending)} (allowed: {', '.join(SPENDING)})")
    return SequentialPlan(spending=spending, alpha=float(data.get("alpha", 0.05)), power=float(data.get("power", 0.8)),
                          two_sided=data.get("alternative", "two-sided") == "two-sided", fractions=fractions, z=z,
                          nominal_p=nominal, inflation=float(data.get("inflation", 1.0)), expected_fraction=math.nan,
                          expected_fraction_null=math.nan)
