"""The agent-based engine: customers moving through the journey on a calendar, with simpy.

New customers arrive by a Poisson process (the map's ``arrivals``), split over
``entry``. Touchpoints may have servers (``capacity``, with ``patience``), a
``budget`` spent at ``cost`` per visit, and edges whose probability rises with
the share of customers who have converted (``social_proof``) or falls with
repeat visits (``fatigue``); ``campaigns`` move customers on given days;
``refers`` brings new customers. Formulas:

* social proof: ``p' = p * (1 + s * C / A)`` with ``C`` the customers converted
  so far and ``A`` those arrived so far; when a row's edges then sum above 1 they
  are scaled to sum to 1 (no drop-off). Evaluated when the customer's visit of
  the edge's source touchpoint starts.
* fatigue: on a customer's k-th visit of the edge's source touchpoint,
  ``p' = p * f**(k - 1)``; what is taken away goes to drop-off.

See :mod:`journeysim.engines.agents.run` for how the run stays fast.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from journeysim._json import plain
from journeysim._text import fmt, format_table, money, rate, wrap
from journeysim.engines.agents.model import compile_model
from journeysim.engines.agents.run import SOCIAL_LAG, SOCIAL_STEP, Run
from journeysim.engines.exact import solve_exact
from journeysim.engines.metrics import JourneyMetrics
from journeysim.engines.workload import (
    MAX_TRANSITIONS,
    OverBudget,
    Workload,
    check_instant,
    check_limit,
    many,
    stopped,
    too_much,
    workload,
)
from journeysim.errors import LimitError, UsageError, excerpt, whole_number
from journeysim.journey import Journey, expect_journey
from journeysim.maps.agents import check_agent_journey
from journeysim.maps.values import UNIT_DAYS

__all__ = ["AgentResult", "simulate_agents"]

#: Runs that take longer than this (seconds) show the progress bar.
PROGRESS_AFTER = 2.0
#: Why a run's rates per customer are undefined, for summaries and errors.
NO_ARRIVALS = "no customers arrived"


@dataclass(frozen=True, kw_only=True, repr=False)
class AgentResult(JourneyMetrics):
    """What happened in one agent-based run.

    The fields of :class:`~journeysim.engines.metrics.JourneyMetrics` are estimated
    per arrived customer (customers still in the journey at the end count with what
    they did so far; ``removal_effects`` come from the exact engine on the same map).
    Counts partition the arrived customers: ``arrived == converted_and_left + exited +
    abandoned + in_journey``. ``daily`` has one row per day; ``touchpoints`` one
    entry per touchpoint. When no customer arrived (``arrived == 0``), the rates
    per customer (``conversion_rate``, ``expected_*``, ``referrals`` and every
    ``visit_rate`` and ``stage_reach`` value) are undefined: ``None``. Per-seed
    metrics are per customer who arrived on their own (``None`` when none did);
    ``removal_effects_value`` comes from the exact engine. What needs each customer's
    whole history (``repeat_rate``, ``bounce_rate``, ``funnel``) and the discounted
    values are not computed by this engine: ``None``.
    """

    days: int
    arrived: int
    referred: int
    converted: int
    revenue: float
    converted_and_left: int
    exited: int
    abandoned: int
    in_journey: int
    daily: tuple[Mapping[str, Any], ...]
    touchpoints: Mapping[str, Mapping[str, Any]]
    engine: str = "agents"
    #: New customers who did not arrive because the entry touchpoint's budget was spent (they are not in
    #: ``arrived``; the touchpoints' ``skipped`` counts them with the customers sent to a spent touchpoint).
    turned_away: int = field(default=0, compare=False)

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "touchpoints", MappingProxyType({k: MappingProxyType(dict(v))
                                                                  for k, v in self.touchpoints.items()}))

    def _engine_dict(self) -> dict[str, Any]:
        return dict(
            days=self.days, arrived=self.arrived, referred=self.referred, converted=self.converted,
            revenue=self.revenue, converted_and_left=self.converted_and_left, exited=self.exited,
            abandoned=self.abandoned, in_journey=self.in_journey, turned_away=self.turned_away,
            daily=plain(self.daily), touchpoints=plain(self.touchpoints),
        )

    def daily_frame(self):
        """The daily table as a pandas DataFrame (one ``in <stage>`` column per stage).

        (:meth:`to_frame` gives the metrics, in the same table every engine gives.)
        """
        import pandas as pd

        return pd.DataFrame(daily_rows(self.daily))

    def summary(self) -> str:
        skipped = sum(t["skipped"] for t in self.touchpoints.values())
        head = [
            ("days", self.days), ("arrived", self.arrived), ("of whom referred", self.referred),
            ("turned away at entry (budget spent)", self.turned_away),
            ("converted", self.converted), ("revenue", money(self.revenue, self.currency)),
            ("converted and left", self.converted_and_left), ("exited", self.exited),
            ("of whom sent to a spent budget", skipped - self.turned_away),
            ("abandoned a queue", self.abandoned), ("still in the journey", self.in_journey),
        ]
        parts = [format_table(f"{self.journey_name or 'journey'}: {self.days} days", ["count", "value"], head)]
        if not self.arrived:
            parts.append(f"conversion rate undefined: {NO_ARRIVALS} in {_days(self.days)}, so the rates per customer "
                         "below are undefined (-); raise the map's arrivals rate or simulate more days")
        parts.append(JourneyMetrics.summary(self))
        queue = lambda t, text: text if t["utilisation"] is not None else "-"  # noqa: E731  (no servers)
        rows = [(name, t["visits"], t["skipped"], queue(t, fmt(t["abandoned"])), queue(t, fmt(t["mean_wait"])),
                 rate(t["utilisation"]), money(t["spend"], self.currency)) for name, t in self.touchpoints.items()]
        headers = ["touchpoint", "visits", "skipped", "abandoned", f"wait ({self.time_unit}s)", "busy", "spend"]
        parts.append(format_table("touchpoints", headers, rows))
        parts.append(wrap("skipped: not shown because its budget was spent; abandoned: gave up waiting for a "
                          "server; wait: mean time to reach a server; busy: utilisation, the share of the servers' "
                          "time spent serving"))
        return "\n".join(parts)

    def _headline(self) -> str:
        return f"{JourneyMetrics._headline(self)}, {self.days} days, {self.arrived} arrived"


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def daily_rows(daily) -> list[dict[str, Any]]:
    """Flatten the daily rows: ``in_stage`` becomes one ``in <stage>`` column per stage."""
    out = []
    for row in daily:
        flat = {k: v for k, v in row.items() if k != "in_stage"}
        flat.update({f"in {s}": n for s, n in row["in_stage"].items()})
        out.append(flat)
    return out


class _Progress:
    """A rich progress bar on stderr, shown only once the run has taken :data:`PROGRESS_AFTER` seconds."""

    def __init__(self, days: int):
        self.days = days
        self.started = time.perf_counter()
        self.bar = None
        self.task = None

    def __call__(self, day: int) -> None:
        if self.bar is None:
            if time.perf_counter() - self.started < PROGRESS_AFTER:
                return
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(TextColumn("simulating"), BarColumn(), TextColumn("day {task.completed}/{task.total}"),
                                TimeRemainingColumn(), console=Console(file=sys.stderr), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("days", total=self.days)
        self.bar.update(self.task, completed=day + 1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def simulate_agents(journey: Journey, days: int, *, rng: np.random.Generator, progress: bool = False,
                    source: str = "<map>", max_transitions: int = MAX_TRANSITIONS["agents"]) -> AgentResult:
    """Simulate customers arriving and moving through ``journey`` for ``days`` days.

    Parameters
    ----------
    journey : Journey
        A map with ``arrivals`` (and optionally capacity, service, patience, budget, cost,
        social_proof, fatigue and campaigns; see docs/agents.md).
    days : int
        Length of the run (>= 1). The clock counts days; delays are converted from
        the map's ``time_unit``.
    rng : numpy.random.Generator
    progress : bool
        Show a progress bar on stderr when the run takes more than a couple of seconds.
    source : str
        Name of the map file, for error messages.
    max_transitions : int
        The most visits the run may make (default :data:`~journeysim.engines.workload.MAX_TRANSITIONS`
        ``["agents"]``, 2e8). Before it starts, the expected arrivals times the expected
        touches of a customer (with the referrals it brings, from the exact engine's
        equations) are checked against it where they are exact (a map without delays);
        the run stops at it whatever happens.

    Returns
    -------
    AgentResult

    Raises
    ------
    MapError
        The journey's agent attributes are invalid for this run (e.g. a campaign
        day outside the run, a budget without a cost).
    LimitError
        The run would make, or made, more than ``max_transitions`` visits, or its
        referrals come all at once without end.

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.25}}, goals=["buy"],
    ...                       extra={"arrivals": {"rate": 100, "per": "day"}})
    >>> r = simulate_agents(j, 30, rng=np.random.default_rng(1))
    >>> r.arrived, r.converted, r.arrived == r.converted_and_left + r.exited + r.abandoned + r.in_journey
    (2958, 716, True)
    """
    expect_journey(journey)
    if not whole_number(days) or days < 1:
        raise UsageError(f"days={excerpt(days)}: the run needs a whole number of days >= 1")
    days = int(days)
    limit = check_limit(max_transitions)
    check_agent_journey(journey, days, source)
    model = compile_model(journey, days, rng, social_step=SOCIAL_STEP)
    _check_work(workload(journey), float(np.sum(model.day_rates)), days, limit, source)
    bar = _Progress(days) if progress else None
    collect = gc.isenabled()
    gc.disable()                        # millions of short-lived customers: cyclic gc only costs time here
    run = Run(model, rng, bar, budget=limit)
    try:
        run.run()
    except OverBudget as exc:
        why = f"; {exc}" if str(exc) else _where(run)
        raise stopped(source, f"{run.arrived:,} customers had arrived, {run.referred:,} of them referred{why}",
                      limit) from None
    finally:
        if collect:
            gc.enable()
        if bar is not None:
            bar.close()
    total = run.converted_left + run.exited + run.abandoned + run.still
    if total != run.arrived:
        raise RuntimeError(f"conservation broken: arrived {run.arrived} != {total} accounted for")
    return _result(journey, model, run)


def _where(run: Run) -> str:
    """Where a run that reached its visit limit spent it, when one touchpoint took nearly all of it (a loop that
    social proof closed, say, which the checks before the run cannot see): ``"; 99.9% of the visits were to 'x'"``."""
    visits = np.asarray(run.visits) + run.batch["visits"]
    total = int(visits.sum())
    top = int(np.argmax(visits)) if total else 0
    if not total or visits[top] < 0.9 * total:
        return ""
    return f"; {visits[top] / total:.1%} of the visits were to {excerpt(run.m.names[top])}"


def _check_work(work: Workload, arrivals: float, days: int, limit: int, source: str) -> None:
    """Refuse a run that must pass ``limit`` visits: more expected arrivals than that, or (without delays, when
    the figures are exact) more expected visits, or referrals that sustain themselves all at once."""
    if work.reproduction >= 1.0 and not work.timed and work.referrers:
        raise LimitError(f"{source}: touchpoint {excerpt(work.referrers[0])}: referrals sustain themselves "
                         f"(reproduction number {work.reproduction:.4g}) and the map has no delays, so every "
                         "generation of referred customers comes at once, without end: give the journey's "
                         "touchpoints delays, or lower refers")
    if work.timed:     # the figures are upper bounds (the run ends): it stops at the limit if it must
        check_instant(work, limit, source)
    each = work.per_seed if work.per_seed is not None else work.touches[0]
    if arrivals > limit:
        what = f"about {many(arrivals)} customers would arrive in {days:,} days, each making a visit at least"
    elif not work.timed and arrivals * each > limit:
        what = (f"touchpoint {excerpt(work.busiest)}: the {many(arrivals)} customers expected in {days:,} days "
                f"would make about {many(arrivals * each)} visits ({many(each)} each, {many(work.busiest_visits)} of "
                f"them of {excerpt(work.busiest)})")
    else:
        return
    raise too_much(source, what, limit)


def _per_customer(count: float, arrived: int) -> float | None:
    """A count per arrived customer; undefined (``None``) when nobody arrived."""
    return count / arrived if arrived else None


def _result(journey: Journey, model, run: Run) -> AgentResult:
    n = run.arrived
    names = model.names
    stages = model.stages
    organic = run.arrived - run.referred
    exact = solve_exact(journey)
    method = (f"agent-based discrete-event simulation (simpy) of {run.arrived} customers over {model.days} days; "
              + ("rates are per arrived customer (those still in the journey count what they did so far); " if n else
                 f"{NO_ARRIVALS} in the run, so every rate per customer is undefined (null); ")
              + "per-seed metrics per customer who arrived on their own; removal_effects and removal_effects_value "
              "from the exact engine on the same map (agent-only attributes ignored); repeat_rate, bounce_rate, "
              "funnel and discounted values not computed by this engine (null)"
              + (f"; social proof reads the converted share as it stood at the start of each step "
                 f"({model.social_step * 24:g} hour(s), then {SOCIAL_LAG:.0%} of the time elapsed, at most a day or "
                 "the shortest budget period)" if model.social_step else ""))
    occupancy = [np.cumsum(diff) for diff in run.occupancy]
    daily = tuple(
        {"day": d, "arrivals": run.daily_arrivals[d], "conversions": run.daily_goals[d],
         "revenue": run.daily_revenue[d], "in_journey": int(sum(o[d + 1] for o in occupancy)),
         "in_stage": {s: int(occupancy[j][d + 1]) for j, s in enumerate(stages)}}
        for d in range(model.days)
    )
    touchpoints = {}
    unit = UNIT_DAYS[journey.time_unit]
    for i, name in enumerate(names):
        capacity = model.capacity[i]
        touchpoints[name] = {
            "visits": run.visits[i],
            "abandoned": run.gave_up[i],
            "mean_wait": (run.wait[i] / run.served[i] / unit if run.served[i] else None) if capacity else 0.0,
            "utilisation": run.busy[i] / (capacity * model.days) if capacity else None,
            "spend": run.visits[i] * model.cost[i],
            "skipped": run.skipped[i],
        }
    return AgentResult(
        conversion_rate=_per_customer(run.converted, n),
        expected_conversions=_per_customer(run.goal_visits, n),
        expected_value=_per_customer(run.revenue, n),
        expected_touches=_per_customer(sum(run.visits), n),
        expected_time_to_conversion=(run.time_to_conversion / run.converted / UNIT_DAYS[journey.time_unit]
                                     if run.converted else None),
        visit_rate={name: _per_customer(run.first[i], n) for i, name in enumerate(names)},
        stage_reach={s: _per_customer(run.reach[j], n) for j, s in enumerate(stages)},
        removal_effects=exact.removal_effects,
        referrals=_per_customer(run.referred, n),
        customers_per_seed=run.arrived / organic if organic else None,
        value_per_seed_customer=run.revenue / organic if organic else None,
        conversions_per_seed_customer=run.goal_visits / organic if organic else None,
        funnel=None,
        removal_effects_value=exact.removal_effects_value,
        time_unit=journey.time_unit,
        journey_name=journey.name,
        currency=journey.extra.get("currency"),
        method=method,
        days=model.days, arrived=run.arrived, referred=run.referred, converted=run.converted,
        revenue=run.revenue, converted_and_left=run.converted_left, exited=run.exited, abandoned=run.abandoned,
        in_journey=run.still, daily=daily, touchpoints=touchpoints, turned_away=run.turned_away,
    )
