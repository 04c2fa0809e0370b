"""The metrics every engine reports, as one frozen result type."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from journeysim._json import plain
from journeysim._result import Result
from journeysim._text import fmt, format_table, money, rate, wrap

__all__ = ["JourneyMetrics", "METRIC_KEYS"]

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
)


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
    customers_per_seed : ``1 / (1 - K)``, or ``None`` when K >= 1 (growth is unbounded).

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
    engine: str = "exact"
    time_unit: str = field(default="day", compare=False)
    journey_name: str = field(default="", compare=False)
    #: How the numbers were obtained, in words.
    method: str = field(default="", compare=False)
    #: The map's currency (``currency: EUR``), shown beside money in :meth:`summary`; ``None`` when not given.
    currency: str | None = field(default=None, compare=False)

    def __post_init__(self):
        for name in ("visit_rate", "stage_reach", "removal_effects"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

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
        if self.method:
            parts.append(wrap(f"method: {self.method}"))
        return "\n".join(parts)

    def _metric_tables(self) -> list[str]:
        """The headline table, the funnel by stage and the top touchpoints by removal effect, as text."""
        growth = ("unbounded (K >= 1)" if self.customers_per_seed is None and self.referrals is not None
                  else fmt(self.customers_per_seed))
        head = [
            ("conversion rate", rate(self.conversion_rate)),
            ("expected conversions per customer", fmt(self.expected_conversions)),
            ("expected value per customer", money(self.expected_value, self.currency)),
            ("expected touches per customer", fmt(self.expected_touches)),
            (f"mean time to conversion ({self.time_unit}s)", fmt(self.expected_time_to_conversion)),
            ("referrals per customer (K)", fmt(self.referrals)),
            ("customers per seed customer", growth),
        ]
        title = f"{self.journey_name or 'journey'} ({self.engine} engine)"
        parts = [format_table(title, ["metric", "value"], head)]
        if self.stage_reach:
            rows, previous = [], None
            for stage, reach in self.stage_reach.items():
                lost = None if previous is None or reach is None else previous - reach
                rows.append((stage, rate(reach), rate(lost)))
                previous = reach
            parts.append(format_table("funnel by stage", ["stage", "reach", "lost since previous"], rows))
        top = sorted(self.removal_effects.items(), key=lambda kv: -kv[1])[:10]
        if top:
            rows = [(name, rate(effect), rate(self.visit_rate.get(name))) for name, effect in top]
            parts.append(format_table("top touchpoints by removal effect", ["touchpoint", "removal effect", "visit rate"], rows))
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
