"""The metrics every engine reports, as one frozen result type."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from journeysim._json import plain
from journeysim._result import Result
from journeysim._text import fmt, format_table, money, rate, wrap

__all__ = ["JourneyMetrics", "METRIC_KEYS", "SCALAR_METRICS", "funnel_rows"]

#: The JSON keys every engine writes first; an engine's own keys follow, and ``method`` comes last.
METRIC_KEYS = (
    "conversion_rate",
    "expected_conversions",
    "expected_value",
    "expected_touches",
    "expected_time_to_conversion",
    "visit_rate",
    "stage_reach",
    "removal_effects",
    "referrals",
    "customers_per_seed",
    "engine",
    "value_per_seed_customer",
    "conversions_per_seed_customer",
    "repeat_rate",
    "bounce_rate",
    "funnel",
    "discounted_value",
    "discounted_value_per_seed_customer",
    "removal_effects_value",
)

#: The metrics that are one number per journey: what a hypothesis may predict.
SCALAR_METRICS = ("conversion_rate", "expected_conversions", "expected_value", "expected_touches",
                  "expected_time_to_conversion", "referrals", "customers_per_seed", "value_per_seed_customer",
                  "conversions_per_seed_customer", "repeat_rate", "bounce_rate", "discounted_value",
                  "discounted_value_per_seed_customer")

#: The metrics that hold one number per touchpoint or stage.
_MAPPINGS = ("visit_rate", "stage_reach", "removal_effects", "funnel", "removal_effects_value")


@dataclass(frozen=True, repr=False)
class JourneyMetrics(Result):
    """What a journey map implies for one new customer: the result every engine returns.

    The exact engine returns it as is; the sampling engines return subclasses
    (:class:`~journeysim.engines.montecarlo.MonteCarloResult`,
    :class:`~journeysim.engines.agents.AgentResult`) that add what only sampling
    gives, so the metrics have the same names, and the same JSON keys in the same
    order, whichever engine computed them.

    Attributes
    ----------
    conversion_rate : probability of reaching at least one goal.
    expected_conversions, expected_value : expected goal visits (repeats included) and money.
    expected_touches : expected touchpoint visits before the journey ends.
    expected_time_to_conversion : mean time from entry to the first goal among converters
        (``None`` when nobody converts), in ``time_unit``.
    visit_rate, stage_reach : probability of visiting each touchpoint / stage at least once.
    removal_effects : relative drop in ``conversion_rate`` when a non-goal touchpoint is removed.
    referrals : expected new customers each customer brings (the viral coefficient K).
    customers_per_seed : customers one seed brings: the seed (one new customer) and every
        referral generation descending from them (``1 / (1 - K)`` when every referred
        customer starts as a new one does); ``None`` when referrals sustain themselves.
    value_per_seed_customer, conversions_per_seed_customer : value and goal visits of a
        seed and all its referral generations; ``None`` when referrals sustain themselves.
    repeat_rate : probability of a second goal visit given a first (``None`` when nobody converts).
    bounce_rate : probability that the journey ends right after its first touchpoint.
    funnel : per stage (in ``stages`` order), the probability of reaching that stage or any
        later one: it never rises from stage to stage.
    discounted_value, discounted_value_per_seed_customer : ``expected_value`` and
        ``value_per_seed_customer`` with each value discounted to the (seed) customer's first
        touch at the map's ``discount``; ``None`` without one.
    removal_effects_value : relative drop in ``value_per_seed_customer`` when a non-goal
        touchpoint is removed (``None`` when that value is unbounded).
    warnings : what makes a metric undefined or unbounded, in words (not in ``to_dict``).

    A sampling engine that saw no customer (an agent run in which nobody arrived)
    cannot estimate a rate per customer: those fields (and the values of
    ``visit_rate`` and ``stage_reach``) are then ``None``, never a made-up 0.
    """

    conversion_rate: float | None
    expected_conversions: float | None
    expected_value: float | None
    expected_touches: float | None
    expected_time_to_conversion: float | None
    visit_rate: Mapping[str, float | None]
    stage_reach: Mapping[str, float | None]
    removal_effects: Mapping[str, float]
    referrals: float | None
    customers_per_seed: float | None
    value_per_seed_customer: float | None = None
    conversions_per_seed_customer: float | None = None
    repeat_rate: float | None = None
    bounce_rate: float | None = None
    funnel: Mapping[str, float | None] = field(default_factory=dict)
    discounted_value: float | None = None
    discounted_value_per_seed_customer: float | None = None
    removal_effects_value: Mapping[str, float] | None = None
    engine: str = "exact"
    time_unit: str = field(default="day", compare=False)
    journey_name: str = field(default="", compare=False)
    #: How the numbers were obtained, in words.
    method: str = field(default="", compare=False)
    #: The map's currency (``currency: EUR``), shown beside money in :meth:`summary`; ``None`` when not given.
    currency: str | None = field(default=None, compare=False)
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self):
        for name in _MAPPINGS:
            if getattr(self, name) is not None:
                object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        # (once: dataclasses.replace runs this again on warnings that already hold it)
        object.__setattr__(self, "warnings", tuple(dict.fromkeys((*self.warnings, *_overflow_warnings(self)))))

    def to_dict(self) -> dict[str, Any]:
        """:data:`METRIC_KEYS`, then the engine's own keys, then ``method``; JSON-ready."""
        out = {key: plain(getattr(self, key)) for key in METRIC_KEYS}
        out.update(self._engine_dict())
        out["method"] = self.method
        return out

    def _engine_dict(self) -> dict[str, Any]:
        """The keys an engine adds after :data:`METRIC_KEYS` (a sampling engine's subclass overrides it)."""
        return {}

    def summary(self) -> str:
        """Headline metrics, the funnel by stage, the top touchpoints by removal effect and the method."""
        parts = self._metric_tables()
        parts.extend(wrap(f"warning: {w}") for w in self.warnings)
        if self.method:
            parts.append(wrap(f"method: {self.method}"))
        return "\n".join(parts)

    def _metric_tables(self) -> list[str]:
        """The headline table, the funnel by stage and the top touchpoints by removal effect, as text."""
        unbounded = self.customers_per_seed is None and self.referrals is not None

        def seed(value, show=fmt):
            return "unbounded" if value is None and unbounded else show(value)

        head = [
            ("conversion rate", rate(self.conversion_rate)),
            ("expected conversions per customer", fmt(self.expected_conversions)),
            ("expected value per customer", money(self.expected_value, self.currency)),
            ("expected touches per customer", fmt(self.expected_touches)),
            (f"mean time to conversion ({self.time_unit}s)", fmt(self.expected_time_to_conversion)),
            ("repeat rate", rate(self.repeat_rate)),
            ("bounce rate", rate(self.bounce_rate)),
            ("referrals per customer (K)", fmt(self.referrals)),
            ("customers per seed customer", seed(self.customers_per_seed)),
            ("conversions per seed customer", seed(self.conversions_per_seed_customer)),
            ("value per seed customer", seed(self.value_per_seed_customer, lambda v: money(v, self.currency))),
        ]
        if self.discounted_value is not None:
            head += [("discounted value per customer", money(self.discounted_value, self.currency)),
                     ("discounted value per seed customer", money(self.discounted_value_per_seed_customer, self.currency))]
        title = f"{self.journey_name or 'journey'} ({self.engine} engine)"
        parts = [format_table(title, ["metric", "value"], head)]
        if self.stage_reach:
            headers = ["stage", "reach", "this stage or later", "lost since previous"]
            parts.append(format_table("funnel by stage", headers, funnel_rows(self.stage_reach, self.funnel or {})))
        effects = self.removal_effects_value or {}
        top = sorted(self.removal_effects, key=lambda k: -max(self.removal_effects[k], effects.get(k) or 0.0))[:10]
        if top:
            rows = [(name, rate(self.removal_effects[name]), rate(effects.get(name)), rate(self.visit_rate.get(name)))
                    for name in top]
            parts.append(format_table("top touchpoints by removal effect",
                                      ["touchpoint", "on conversion", "on value per seed", "visit rate"], rows))
        return parts

    def _headline(self) -> str:
        return (f"{self.journey_name or 'journey'} ({self.engine}): conversion_rate={fmt(self.conversion_rate)}, "
                f"expected_value={fmt(self.expected_value)}, {len(self.visit_rate)} touchpoints")

    def _table(self):
        """One row per metric, and per touchpoint or stage for the metrics that have one value each."""
        rows = []
        for key in METRIC_KEYS:
            value = getattr(self, key)
            if key == "engine":
                continue
            if isinstance(value, Mapping):
                rows.extend((self.engine, key, name, v) for name, v in value.items())
            else:
                rows.append((self.engine, key, None, value))
        return ("engine", "metric", "name", "value"), rows


def _overflow_warnings(m: JourneyMetrics) -> tuple[str, ...]:
    """A warning naming the metrics that are not finite numbers. No metric is infinite or NaN by design (what is
    unbounded or undefined is None), so such a number overflowed double precision: a map's values or referral
    rates too large to compute with (``value: 1e308`` on a goal visited more than once on average)."""
    bad = [key for key in SCALAR_METRICS if isinstance(v := getattr(m, key), float) and not math.isfinite(v)]
    bad += [key for key in _MAPPINGS
            if any(isinstance(v, float) and not math.isfinite(v) for v in (getattr(m, key) or {}).values())]
    if not bad:
        return ()
    return (f"{', '.join(bad)}: not finite (overflowed double precision): the map's values or referral rates are "
            "too large to compute with; these numbers mean nothing (JSON writes them as null)",)


def funnel_rows(stage_reach: Mapping[str, float | None], funnel: Mapping[str, float | None]) -> list[tuple]:
    """``(stage, reach, this stage or later, lost since previous)`` rows, formatted.

    Losses come from the funnel, which never rises, so they are never negative even when
    customers skip a stage (``stage_reach`` may then rise from one stage to the next).

    Examples
    --------
    >>> funnel_rows({"know": 1.0, "like": 0.1, "buy": 0.2}, {"know": 1.0, "like": 0.25, "buy": 0.2})
    [('know', '100.00%', '100.00%', '-'), ('like', '10.00%', '25.00%', '75.00%'), ('buy', '20.00%', '20.00%', '5.00%')]
    """
    rows, previous = [], None
    for stage, reach in stage_reach.items():
        later = funnel.get(stage)
        lost = None if previous is None or later is None else max(previous - later, 0.0)
        rows.append((stage, rate(reach), rate(later), rate(lost)))
        previous = later
    return rows
